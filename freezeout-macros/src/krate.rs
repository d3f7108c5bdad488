//! The path the generated code names the library by: `crate = path` when given (a re-export),
//! else the name the user's `Cargo.toml` gives `burn-freezeout` (it may be renamed), else
//! `::burn_freezeout`.

use proc_macro_crate::{FoundCrate, crate_name};
use proc_macro2::{Span, TokenStream};
use quote::quote;

/// The library's package name on crates.io.
const PACKAGE: &str = "burn-freezeout";

/// `::name` of the library as the crate being compiled depends on it, or `explicit`.
pub fn library(explicit: Option<&syn::Path>) -> TokenStream {
    if let Some(path) = explicit {
        return quote!(#path);
    }
    let name = match crate_name(PACKAGE) {
        Ok(FoundCrate::Name(name)) => name,
        // The library itself (its models, examples, tests and doc tests): it names itself
        // `burn_freezeout` (`extern crate self as burn_freezeout`), which every target of the
        // package can reach.
        Ok(FoundCrate::Itself) | Err(_) => "burn_freezeout".to_string(),
    };
    let ident = syn::Ident::new(&name, Span::call_site());
    quote!(::#ident)
}
