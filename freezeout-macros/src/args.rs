//! The attribute's own arguments: `#[freezeout(head = f, input = 4, output = 2, manual)]`, and
//! `crate = path` where the library is reached through a re-export.

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::{Ident, LitInt, Result};

/// Parsed options of `#[freezeout(...)]` on the struct.
#[derive(Default)]
pub struct Args {
    /// `head = method`: the method applied to the units' output.
    pub head: Option<Ident>,
    /// `input = R`: rank of the tensor threaded through the units.
    pub input: Option<LitInt>,
    /// `output = R`: rank of the head's output.
    pub output: Option<LitInt>,
    /// `manual`: the user writes the forward pass.
    pub manual: Option<Span>,
    /// `crate = path`: the library's path, for a crate that re-exports it.
    pub krate: Option<syn::Path>,
}

impl Args {
    /// Parses the tokens inside `#[freezeout(...)]`.
    pub fn parse(tokens: TokenStream) -> Result<Self> {
        let mut args = Args::default();
        syn::meta::parser(|meta| args.option(meta)).parse2(tokens)?;
        Ok(args)
    }

    fn option(&mut self, meta: ParseNestedMeta) -> Result<()> {
        let duplicate = || meta.error(format!("duplicate freezeout option `{}`", name(&meta)));
        if meta.path.is_ident("head") {
            if self.head.is_some() {
                return Err(duplicate());
            }
            self.head = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("input") || meta.path.is_ident("output") {
            let slot = if meta.path.is_ident("input") { &mut self.input } else { &mut self.output };
            if slot.is_some() {
                return Err(duplicate());
            }
            *slot = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("crate") {
            if self.krate.is_some() {
                return Err(duplicate());
            }
            self.krate = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("manual") {
            if self.manual.is_some() {
                return Err(duplicate());
            }
            self.manual = Some(syn::spanned::Spanned::span(&meta.path));
        } else {
            return Err(meta.error(format!(
                "unknown freezeout option `{}`, expected `head`, `input`, `output`, `manual` or `crate`",
                name(&meta)
            )));
        }
        Ok(())
    }
}

fn name(meta: &ParseNestedMeta) -> String {
    quote::ToTokens::to_token_stream(&meta.path).to_string().replace(' ', "")
}
