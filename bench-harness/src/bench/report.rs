//! Where a benchmark's step times go while it measures: stderr lines, a progress bar, or nowhere.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

/// Where step times go while measuring: one line per step on stderr (`--verbose`; the GPU
/// script parses them), else a progress bar when stderr is a terminal, else nowhere.
pub struct Reporter {
    verbose: bool,
    bar: Option<ProgressBar>,
}

impl Reporter {
    /// `steps` steps to come, shown under `label`.
    pub fn new(verbose: bool, steps: u64, label: String) -> Self {
        let bar = (!verbose && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(steps);
            bar.set_style(
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            bar.set_prefix(label);
            bar
        });
        Self { verbose, bar }
    }

    /// Reports nothing.
    pub fn silent() -> Self {
        Self { verbose: false, bar: None }
    }

    /// One step: `what` names it (`step <model> <i> frozen <k>`).
    pub fn step(&self, what: std::fmt::Arguments, ms: f64, loss: f32) {
        if self.verbose {
            eprintln!("{what}: {ms:.1} ms (loss {loss:.3})");
        } else if let Some(bar) = &self.bar {
            bar.inc(1);
            bar.set_message(format!("{what}: {ms:.0} ms"));
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
