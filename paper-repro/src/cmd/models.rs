//! `paper-repro models`: the presets, their units, parameters and forward cost.

use burn_freezeout::data::text::VOCAB;
use burn_freezeout::models::Preset;

/// Prints the table.
pub fn run() -> anyhow::Result<()> {
    println!(
        "{:<20} {:>6} {:>14} {:>14} {:>16}",
        "preset", "units", "params (C10)", "params (C100)", "fwd MMAC/sample"
    );
    for preset in Preset::LISTED {
        // A language model's outputs are its vocabulary (bytes), whatever the dataset.
        let (first, second) = match preset.is_text() {
            true => (preset.spec(VOCAB), None),
            false => (preset.spec(10), Some(preset.spec(100))),
        };
        println!(
            "{:<20} {:>6} {:>14} {:>14} {:>16.1}",
            preset.to_string(),
            first.units.len(),
            first.params(),
            second.map_or("(text)".into(), |s| s.params().to_string()),
            first.macs() as f64 / 1e6
        );
    }
    println!("\nAny densenet-bc-L-k (L = 4 mod 6), wrn-D-W (D = 4 mod 6), vit-D-W and gpt-D-W (W a multiple of 32)");
    println!("also work. Parameter counts are computed layer by layer and equal those of the built Burn modules");
    println!("(checked in tests); a transformer's MACs count its projections, feed-forward layers and attention's");
    println!("two products; a sample is an image, or a language model's window of 64 bytes (vocabulary: 256 bytes).");
    Ok(())
}
