//! `#[freezeout]`: FreezeOut units for Burn modules.
//!
//! Place it **above** `#[derive(Module)]` and mark the unit fields, in forward order:
//!
//! ```ignore
//! #[freezeout(head = classify)]
//! #[derive(Module, Debug)]
//! pub struct Net {
//!     #[freezeout(unit)] stem: Conv2d,        // unit 0
//!     #[freezeout(unit)] blocks: Vec<Block>,  // units 1..=len, one per element
//!     bn: BatchNorm,                          // head: never frozen
//!     fc: Linear,
//! }
//! ```
//!
//! Options: `head = method` (generate `forward` = units then `self.method(x)`), `input = R`
//! (rank of the tensor threaded through the units, default 4), `output = R` (rank of the head's
//! output, default 2), `manual` (no generated forward: write it yourself and call
//! `self.freeze_point(unit, x)` after each unit), `crate = path` (the library's path where a crate
//! re-exports it; by default the name your `Cargo.toml` gives `burn-freezeout`, renamed or not).
//! See `burn_freezeout::FreezeOut`.

#![warn(missing_docs)]

mod args;
mod expand;
mod krate;
mod model;
mod validate;

use proc_macro::TokenStream;

/// Turns a Burn module struct into a FreezeOut model. See the crate docs.
#[proc_macro_attribute]
pub fn freezeout(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::freezeout(args.into(), input.into()).into()
}
