//! The attribute's own arguments: `#[freezeout(head = f, input = 4, output = 2, manual)]`
//! (`input = Tensor<2, Int>` for an input of another kind), and `crate = path` where the
//! library is reached through a re-export.

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::parse::ParseStream;
use syn::parse::Parser;
use syn::{GenericArgument, Ident, LitInt, PathArguments, Result, Type};

/// Parsed options of `#[freezeout(...)]` on the struct.
#[derive(Default)]
pub struct Args {
    /// `head = method`: the method applied to the units' output.
    pub head: Option<Ident>,
    /// `input = R` or `input = Tensor<R, K>`: the model's input (that of the first unit).
    pub input: Option<Input>,
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
        } else if meta.path.is_ident("input") {
            if self.input.is_some() {
                return Err(duplicate());
            }
            self.input = Some(Input::parse(meta.value()?)?);
        } else if meta.path.is_ident("output") {
            if self.output.is_some() {
                return Err(duplicate());
            }
            self.output = Some(meta.value()?.parse()?);
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

/// The model's input: a rank, and a kind other than `Float` if given (`Tensor<2, Int>`).
pub struct Input {
    pub rank: LitInt,
    /// The kind's path as written (`Int`, `burn::tensor::Int`); `None`: `Float`.
    pub kind: Option<syn::Path>,
}

impl Input {
    fn parse(input: ParseStream) -> Result<Self> {
        if input.peek(LitInt) {
            return Ok(Self { rank: input.parse()?, kind: None });
        }
        let ty: Type = input.parse()?;
        let wrong = || {
            syn::Error::new_spanned(
                &ty,
                "expected the input's rank (`input = 4`) or its type (`input = Tensor<2, Int>`)",
            )
        };
        let Type::Path(path) = &ty else { return Err(wrong()) };
        let last = path.path.segments.last().ok_or_else(wrong)?;
        let PathArguments::AngleBracketed(args) = &last.arguments else { return Err(wrong()) };
        if last.ident != "Tensor" || args.args.is_empty() || args.args.len() > 2 {
            return Err(wrong());
        }
        let rank = match &args.args[0] {
            GenericArgument::Const(syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(rank), .. })) => rank.clone(),
            other => return Err(syn::Error::new_spanned(other, "the input's rank must be an integer literal")),
        };
        let kind = match args.args.get(1) {
            None => None,
            Some(GenericArgument::Type(Type::Path(kind))) if kind.qself.is_none() => Some(kind.path.clone()),
            Some(other) => {
                return Err(syn::Error::new_spanned(other, "expected the tensor's kind: `Float`, `Int` or `Bool`"));
            }
        };
        Ok(Self { rank, kind })
    }
}
