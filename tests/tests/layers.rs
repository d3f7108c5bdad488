//! The workspace's modules run one way: in each library crate, the graph of its top-level
//! modules (an edge for every `crate::module` path or re-exported item a module names in code)
//! has no circle, and `freezeout-core`'s modules sit in the declared layers, each naming only
//! modules of lower layers: the schedule math at the bottom, the loops on top.
//!
//! `cargo test --workspace --test layers -- --nocapture` prints each crate's graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `freezeout-core`'s layers, bottom first: a module may name modules of lower layers only.
const CORE_LAYERS: &[&[&str]] = &[
    &["schedule", "device", "unit_tensor"],
    &["policy", "freeze", "data"],
    &["drift", "models", "cache"],
    &["driver"],
    &["task"],
    &["train", "learner"],
    &["weights"],
];

type Graph = BTreeMap<String, BTreeMap<String, String>>;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `.rs` files under `path` (a file or a directory), tests left out.
fn sources(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            files.extend(sources(&p));
        } else if p.extension().is_some_and(|e| e == "rs") && p.file_name().is_some_and(|n| n != "tests.rs") {
            files.push(p);
        }
    }
    files
}

/// A source's code: comments and `#[cfg(test)] mod tests` left out.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or_default();
    // Comment lines are blanked, not dropped, so that line numbers stay the file's.
    text.lines().map(|l| if l.trim_start().starts_with("//") { "" } else { l }).collect::<Vec<_>>().join("\n")
}

/// The identifiers that follow `crate::` (also inside `crate::{a, b::c}`).
fn crate_paths(code: &str) -> Vec<String> {
    let mut names = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        let group = rest.strip_prefix('{').map(|g| &g[..g.find('}').unwrap_or(g.len())]);
        let heads: Vec<&str> = match group {
            Some(g) => g.split(',').collect(),
            None => vec![rest],
        };
        for head in heads {
            let ident: String = head.trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !ident.is_empty() {
                names.push(ident);
            }
        }
    }
    names
}

/// The top-level module graph of the library crate at `dir`: module → (named module → where).
fn graph(dir: &Path) -> Graph {
    let src = dir.join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let modules: BTreeSet<String> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let name = p.file_stem()?.to_str()?.to_string();
            (p.is_dir() || p.extension().is_some_and(|e| e == "rs")).then_some(name)
        })
        .filter(|m| m != "lib")
        .collect();
    // Items the crate root re-exports (`pub use module::{A, B};`) stand for their module.
    let mut reexported = BTreeMap::new();
    for line in code(&lib).lines().filter(|l| l.starts_with("pub use ")) {
        let path = line.trim_start_matches("pub use ").trim_end_matches(';');
        if let Some((module, items)) = path.split_once("::") {
            for item in items.trim_matches(|c| c == '{' || c == '}').split(',') {
                let item = item.trim().rsplit("::").next().unwrap_or_default().to_string();
                reexported.insert(item, module.to_string());
            }
        }
    }
    let mut graph = Graph::new();
    for module in &modules {
        let path = if src.join(module).is_dir() { src.join(module) } else { src.join(format!("{module}.rs")) };
        let edges = graph.entry(module.clone()).or_default();
        for file in sources(&path) {
            let text = code(&std::fs::read_to_string(&file).unwrap());
            for (n, line) in text.lines().enumerate() {
                for name in crate_paths(line) {
                    let target = if modules.contains(&name) { Some(&name) } else { reexported.get(&name) };
                    if let Some(t) = target.filter(|t| *t != module) {
                        let at = format!("{}:{}", file.strip_prefix(&src).unwrap().display(), n + 1);
                        edges.entry(t.clone()).or_insert(at);
                    }
                }
            }
        }
    }
    graph
}

/// A circle of `graph`, if it has one (each edge with the line that makes it).
fn circle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(m: &str, graph: &Graph, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == m) {
            let mut circle = path[i..].to_vec();
            circle.push(m.to_string());
            return Some(circle);
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_string());
        for next in graph.get(m).into_iter().flat_map(|e| e.keys()) {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|m| visit(m, graph, &mut Vec::new(), &mut done))
        .map(|c| c.windows(2).map(|w| format!("{} → {} ({})", w[0], w[1], graph[&w[0]][&w[1]])).collect())
}

fn print(name: &str, graph: &Graph) {
    println!("{name}:");
    for (m, edges) in graph {
        println!("  {m} → {}", edges.keys().cloned().collect::<Vec<_>>().join(", "));
    }
}

#[test]
fn no_library_crate_has_a_module_circle() {
    for krate in ["freezeout-core", "freezeout-macros", "bench-harness"] {
        let g = graph(&workspace().join(krate));
        print(krate, &g);
        assert!(g.len() > 2, "{krate}: found only {} modules; is the source layout still src/<module>?", g.len());
        if let Some(c) = circle(&g) {
            panic!("{krate}: a module circle:\n  {}", c.join("\n  "));
        }
    }
}

#[test]
fn each_core_module_names_only_lower_layers() {
    let g = graph(&workspace().join("freezeout-core"));
    let layer = |m: &str| CORE_LAYERS.iter().position(|l| l.contains(&m));
    let unlisted: Vec<&String> = g.keys().filter(|m| layer(m).is_none()).collect();
    assert!(unlisted.is_empty(), "modules missing from CORE_LAYERS (place each in a layer): {unlisted:?}");
    let mut upward = Vec::new();
    for (m, edges) in &g {
        for (to, at) in edges {
            if layer(to) >= layer(m) {
                upward.push(format!(
                    "{m} (layer {}) names {to} (layer {}) at {at}",
                    layer(m).unwrap(),
                    layer(to).unwrap()
                ));
            }
        }
    }
    assert!(upward.is_empty(), "imports that do not run downward:\n  {}", upward.join("\n  "));
}

/// The bottom layers are pure math: `schedule` and `policy` name no Burn type (as their docs
/// say), so they run and test without a device.
#[test]
fn the_schedule_and_the_policies_are_pure() {
    let src = workspace().join("freezeout-core/src");
    for module in ["schedule", "policy"] {
        for file in sources(&src.join(module)) {
            let text = code(&std::fs::read_to_string(&file).unwrap());
            if let Some((n, line)) = text.lines().enumerate().find(|(_, l)| l.contains("burn::")) {
                panic!("{}:{}: {module} names Burn: {line}", file.display(), n + 1);
            }
        }
    }
}

/// The scanner itself: a grouped `use` and a re-exported item are edges; comments are not.
#[test]
fn the_scanner_sees_grouped_paths_and_skips_comments() {
    assert_eq!(crate_paths("use crate::{cache::PrefixCache, FreezeOut};"), ["cache", "FreezeOut"]);
    assert_eq!(crate_paths("let x = crate::drift::relative_change(a, b);"), ["drift"]);
    assert_eq!(code("/// see [`crate::train`]\nuse crate::data;"), "\nuse crate::data;");
    let g: Graph = [("a", "b"), ("b", "c"), ("c", "a")]
        .into_iter()
        .map(|(m, t)| (m.to_string(), BTreeMap::from([(t.to_string(), format!("{m}.rs:1"))])))
        .collect();
    assert_eq!(circle(&g).map(|c| c.len()), Some(3));
}
