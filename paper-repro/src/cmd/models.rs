//! `paper-repro models`: the presets, their units, parameters and forward cost.

use burn_freezeout::models::Preset;

/// Prints the table.
pub fn run() -> anyhow::Result<()> {
    println!("{:<20} {:>6} {:>14} {:>14} {:>16}", "preset", "units", "params (C10)", "params (C100)", "fwd MMAC/image");
    for preset in Preset::LISTED {
        let (s10, s100) = (preset.spec(10), preset.spec(100));
        let macs = s10.macs();
        println!(
            "{:<20} {:>6} {:>14} {:>14} {:>16.1}",
            preset.to_string(),
            s10.units.len(),
            s10.params(),
            s100.params(),
            macs as f64 / 1e6
        );
    }
    println!("\nAny densenet-bc-L-k (L = 4 mod 6), wrn-D-W (D = 4 mod 6) and vit-D-W (W a multiple of 32) also work.");
    println!("Parameter counts are computed layer by layer and equal those of the built Burn modules (checked in");
    println!("tests); a ViT's MACs count its projections, feed-forward layers and attention's two products.");
    Ok(())
}
