//! Property-based fuzzing for panics: the CIFAR record parser and the whole loader on arbitrary
//! bytes, and the run-config parser on arbitrary and near-valid TOML. Errors are fine; panics
//! are not. (`PROPTEST_CASES=20000 cargo test -p freezeout-tests --test fuzz` fuzzes longer.)

use bench_harness::run::RunConfig;
use burn_freezeout::cache::{CacheConfig, CacheFloat, CacheMode};
use burn_freezeout::data::{self, CifarKind, cifar::parse_records};
use burn_freezeout::{AdaptiveConfig, PolicyConfig};
use proptest::prelude::*;
use std::path::Path;

/// A config with every optional setting present, as TOML. Every field is named (no
/// `..RunConfig::default()`), so a new setting does not compile until it is set here too.
fn full_config() -> toml::Value {
    let d = RunConfig::default();
    let full = RunConfig {
        model: d.model,
        dataset: d.dataset,
        epochs: d.epochs,
        batch_size: d.batch_size,
        lr: d.lr,
        t0: d.t0,
        scaling: d.scaling,
        scale_lr: d.scale_lr,
        // The drift policy writes every field of `[adaptive]` (the gradient-norm default omits
        // `signal` and `patience`).
        policy: PolicyConfig::Adaptive(AdaptiveConfig::drift()),
        layer_decay: Some(0.75),
        seed: d.seed,
        val: d.val,
        train_limit: Some(1),
        test_limit: Some(1),
        dropout: d.dropout,
        optimizer: d.optimizer,
        momentum: d.momentum,
        weight_decay: d.weight_decay,
        device: d.device,
        float: d.float,
        checkpoint_every: d.checkpoint_every,
        keep_checkpoints: d.keep_checkpoints,
        max_loss: Some(1.0),
        // On, with every setting given (an off cache writes no `[cache]` table).
        cache: CacheConfig::new(CacheMode::Reuse).with_float(CacheFloat::Bf16).with_mem(1 << 30),
        // Off (the default writes no `augment` key).
        augment: false,
        // Set (the defaults, none, write no keys).
        init: Some("runs/pretrained".into()),
        new_head: Some(10),
        classes: Some(vec![5, 6, 7, 8, 9]),
    };
    toml::Value::try_from(&full).unwrap()
}

/// Every key a `config.toml` can hold (read off a config with every optional setting present,
/// so a new setting is fuzzed without editing a list), the adaptive policy's as dotted keys,
/// and one unknown key.
fn config_keys() -> Vec<String> {
    let toml::Value::Table(table) = full_config() else { unreachable!("a struct is a table") };
    let mut keys = Vec::new();
    for (key, value) in &table {
        match value {
            toml::Value::Table(inner) => keys.extend(inner.keys().map(|k| format!("{key}.{k}"))),
            _ => keys.push(key.clone()),
        }
    }
    keys.push("bogus".into());
    keys
}

#[test]
fn the_fuzzed_keys_are_every_setting_of_a_run() {
    let keys = config_keys();
    for key in [
        "model",
        "baseline",
        "optimizer",
        "float",
        "max_loss",
        "keep_checkpoints",
        "adaptive.threshold",
        "adaptive.ramp",
        "adaptive.signal",
        "adaptive.patience",
        "cache.mode",
        "cache.float",
        "cache.mem",
        "augment",
        "init",
        "new_head",
        "classes",
    ] {
        assert!(keys.iter().any(|k| k == key), "{key} missing from {keys:?}");
    }
    // Each key set alone to a well-typed value parses: the list names real settings.
    for key in keys.iter().filter(|k| *k != "bogus") {
        let parsed: Result<RunConfig, _> = toml::from_str(&format!("{key} = {}\n", value_of(key)));
        assert!(parsed.is_ok(), "{key}: {parsed:?}");
    }
}

/// A well-typed value of `key` (the default config's, or one of the adaptive policy's).
fn value_of(key: &str) -> toml::Value {
    key.split('.').fold(full_config(), |v, k| v[k].clone())
}

fn kind() -> impl Strategy<Value = CifarKind> {
    prop_oneof![Just(CifarKind::Cifar10), Just(CifarKind::Cifar100)]
}

proptest! {
    #[test]
    fn record_parser_never_panics(kind in kind(), bytes in prop::collection::vec(any::<u8>(), 0..4 * 3074), records in 0usize..5) {
        let file = Path::new("fuzz.bin");
        match parse_records(kind, file, &bytes, records) {
            Ok(split) => {
                prop_assert_eq!(split.len(), records);
                prop_assert!(split.labels.iter().all(|&l| (l as usize) < kind.classes()));
            }
            Err(e) => prop_assert!(e.to_string().contains("fuzz.bin")),
        }
    }

    #[test]
    fn whole_records_with_random_labels(kind in kind(), labels in prop::collection::vec(any::<(u8, u8)>(), 1..6)) {
        let mut bytes = Vec::new();
        for &(coarse, fine) in &labels {
            if kind == CifarKind::Cifar100 { bytes.push(coarse); }
            bytes.push(fine);
            bytes.extend(std::iter::repeat_n(7u8, 3072));
        }
        let ok = labels.iter().all(|&(c, f)| (f as usize) < kind.classes() && (kind == CifarKind::Cifar10 || c < 20));
        prop_assert_eq!(parse_records(kind, Path::new("x.bin"), &bytes, labels.len()).is_ok(), ok);
    }

    #[test]
    fn loader_on_random_files_errs_cleanly(kind in kind(), sizes in prop::collection::vec(0usize..5000, 6), seed in any::<u8>()) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(kind.dir_name());
        std::fs::create_dir_all(&dir).unwrap();
        let names: &[&str] = match kind {
            CifarKind::Cifar10 => &["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"],
            CifarKind::Cifar100 => &["train.bin", "test.bin"],
        };
        for (name, size) in names.iter().zip(&sizes) {
            if *size % 7 != 0 {
                std::fs::write(dir.join(name), vec![seed; *size]).unwrap();
            }
        }
        let e = data::load(&dir, kind).unwrap_err().to_string();
        prop_assert!(e.contains(&dir.display().to_string()), "{}", e);
    }

    #[test]
    fn config_parser_never_panics(text in ".{0,200}") {
        if let Ok(c) = toml::from_str::<RunConfig>(&text) {
            let _ = c.validate();
        }
    }

    #[test]
    fn near_valid_configs_never_panic(
        key in prop::sample::select(config_keys()),
        value in prop::sample::select(vec!["0", "-1", "1e400", "nan", "inf", "-0.0", "0.5", "1", "18446744073709551616",
            "\"cubic\"", "\"drift\"", "\"wrn-40-4\"", "\"densenet-bc-5-12\"", "\"\"", "true", "[1, 2]", "{ a = 1 }"]),
    ) {
        let text = format!("{key} = {value}\n");
        if let Ok(c) = toml::from_str::<RunConfig>(&text) {
            let _ = c.validate();
        }
    }
}
