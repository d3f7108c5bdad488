//! The cache's byte budget: its default (a share of the machine's memory), its check, and byte
//! counts as `--cache-mem` reads and the reports print them.

use super::{CacheConfig, CacheError};

impl CacheConfig {
    /// The budget in bytes, checked: above 0 and at most the machine's memory.
    pub fn budget(&self) -> Result<u64, CacheError> {
        let total = machine_memory();
        let budget = self.mem.unwrap_or_else(|| default_budget(total));
        if budget == 0 {
            return Err(CacheError::Budget("a budget of 0 bytes holds nothing: give e.g. --cache-mem 4G".into()));
        }
        if let Some(total) = total.filter(|&t| budget > t) {
            return Err(CacheError::Budget(format!(
                "{} exceeds this machine's memory ({}): give at most that, e.g. --cache-mem {}",
                bytes_text(budget),
                bytes_text(total),
                bytes_text(default_budget(Some(total)))
            )));
        }
        Ok(budget)
    }
}

/// The default budget: 40% of the machine's memory (`MemTotal`), 4 GiB where it is unknown.
pub fn default_budget(machine: Option<u64>) -> u64 {
    machine.map_or(4 << 30, |m| m / 10 * 4)
}

/// The machine's memory in bytes (Linux: `/proc/meminfo`), if known.
pub(super) fn machine_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// `bytes` as a short text (`1.5 GiB`).
pub fn bytes_text(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{bytes} B") } else { format!("{v:.1} {}", units[u]) }
}

/// Parses a byte count: `4G`, `512M`, `1.5GiB`, `1000000`.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        u => return Err(format!("`{text}`: unknown unit `{u}` (use e.g. 512M or 4G)")),
    };
    let n: f64 = number.parse().map_err(|_| format!("`{text}` is not a byte count (e.g. 512M or 4G)"))?;
    Ok((n * scale as f64) as u64)
}
