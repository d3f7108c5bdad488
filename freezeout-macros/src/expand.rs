//! Code generation: the `FreezeOut` impl, the freeze point and the freeze-aware forward.

use crate::args::Args;
use crate::krate;
use crate::model::{self, Model, UnitField, UnitKind};
use crate::validate;
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::Item;
use syn::spanned::Spanned;

/// Entry point: on error, the compile error *and* the struct (so `#[derive(Module)]` still runs
/// and the user sees only the real problem).
pub fn freezeout(args: TokenStream, input: TokenStream) -> TokenStream {
    let item: Item = match syn::parse2(input.clone()) {
        Ok(item) => item,
        Err(e) => return with_item(e, input),
    };
    let args = Args::parse(args);
    let model = match model::parse(item) {
        Ok(model) => model,
        Err((e, item)) => {
            let e = merge(args.err(), e);
            return with_item(e, item.map(|i| quote!(#i)).unwrap_or(input));
        }
    };
    let checked = args.and_then(|args| validate::check(&args, &model).map(|()| args));
    match checked {
        Ok(args) => generate(&args, &model),
        Err(e) => {
            let item = &model.item;
            with_item(e, quote!(#item))
        }
    }
}

/// Both the options' error (if any) and the item's, options first.
fn merge(first: Option<syn::Error>, second: syn::Error) -> syn::Error {
    match first {
        Some(mut first) => {
            first.combine(second);
            first
        }
        None => second,
    }
}

fn with_item(e: syn::Error, item: TokenStream) -> TokenStream {
    let e = e.to_compile_error();
    quote!(#e #item)
}

fn generate(args: &Args, model: &Model) -> TokenStream {
    let item = &model.item;
    let name = &item.ident;
    let (impl_g, ty_g, where_c) = item.generics.split_for_impl();
    let fo = krate::library(args.krate.as_ref());
    let tensor = quote!(#fo::__private::burn::tensor::Tensor);

    let names = model.units.iter().map(unit_names);
    let counts = model.units.iter().map(unit_count);
    let prefix = model.units.iter().map(|u| for_each_unit(u, |m| quote!(__p.unit(#m);)));
    let freeze: Vec<TokenStream> = model.units.iter().map(unit_freeze).collect();

    let ranks = validate::ranks(args, model);
    let input = ranks.first().map_or(4, |r| r.0);
    let last = ranks.last().map_or(input, |r| r.1);
    let output = match &args.output {
        Some(l) => quote!(#l),
        None => quote!(2usize),
    };
    let float = quote!(#fo::__private::burn::tensor::Float);
    let kind = match args.input.as_ref().and_then(|i| i.kind.as_ref()) {
        Some(kind) => quote!(#kind),
        None => float.clone(),
    };
    let unit_tensor = quote!(#fo::UnitTensor);

    let chain = if args.manual.is_some() {
        quote!()
    } else {
        let steps = model.units.iter().zip(&ranks).enumerate().map(|(i, (u, &(a, b)))| {
            let ty = &u.ty;
            let k = if i == 0 { &kind } else { &float };
            let step = |m: TokenStream| {
                quote_spanned!(ty.span()=>
                    __chain.step(#m, |__u, x: #tensor<#a, #k>| -> #tensor<#b> { __u.forward(x) });
                )
            };
            for_each_unit(u, step)
        });
        quote! {
            /// Runs the units in forward order: the frozen prefix on the inner backend (no
            /// autodiff at all, BatchNorm in inference mode), the active units with autodiff.
            pub fn forward_units(&self, x: #tensor<#input, #kind>) -> #tensor<#last> {
                self.forward_unit_range(x, 0..usize::MAX).into_tensor()
            }
            /// Runs only the units of `range` on `x`, the input of unit `range.start` (the
            /// frozen ones as in `forward_units`); the output is the input of unit `range.end`.
            /// The prefix cache computes and advances its entries with it.
            ///
            /// # Panics
            /// If `x` is not of the rank and kind unit `range.start` takes.
            pub fn forward_unit_range(
                &self,
                x: impl ::std::convert::Into<#unit_tensor>,
                range: ::std::ops::Range<usize>,
            ) -> #unit_tensor {
                let frozen = #fo::FreezeOut::frozen_units(self);
                let mut __chain = #fo::__private::Chain::range(frozen, x.into(), range);
                #(#steps)*
                __chain.finish()
            }
        }
    };
    // The cache's entry points exist where the forward is generated (not with `manual`).
    let range_methods = |head: &syn::Ident| {
        if args.manual.is_some() {
            return quote!();
        }
        quote! {
            fn forward_unit_range(
                &self,
                x: #unit_tensor,
                range: ::std::ops::Range<usize>,
            ) -> ::std::option::Option<#unit_tensor> {
                ::std::option::Option::Some(self.forward_unit_range(x, range))
            }
            fn forward_from(&self, x: #unit_tensor, unit: usize) -> ::std::option::Option<#tensor<#output>> {
                let units: #tensor<#last> = self.forward_unit_range(x, unit..usize::MAX).into_tensor();
                ::std::option::Option::Some(self.#head(units))
            }
        }
    };
    let head = args.head.as_ref().map(|head| {
        let range_methods = range_methods(head);
        quote! {
            impl #impl_g #name #ty_g #where_c {
                /// Freeze-aware forward: the units (see `forward_units`), then the head.
                pub fn forward(&self, x: #tensor<#input, #kind>) -> #tensor<#output> {
                    self.#head(self.forward_units(x))
                }
            }
            impl #impl_g #fo::FreezeOutForward<#input, #output, #kind> for #name #ty_g #where_c {
                fn forward_freezeout(&self, x: #tensor<#input, #kind>) -> #tensor<#output> {
                    self.forward(x)
                }
                #range_methods
            }
        }
    });

    quote! {
        #item

        impl #impl_g #fo::FreezeOut for #name #ty_g #where_c {
            fn units(&self) -> ::std::vec::Vec<#fo::UnitInfo> {
                let mut __units = #fo::__private::Units::default();
                #(#names)*
                __units.finish()
            }
            fn num_units(&self) -> usize {
                0 #(+ #counts)*
            }
            fn frozen_units(&self) -> usize {
                let mut __p = #fo::__private::Prefix::default();
                #(#prefix)*
                __p.len()
            }
            fn freeze_units(mut self, k: usize) -> Self {
                let mut __f = #fo::__private::Freezer::new(k);
                #(#freeze)*
                self
            }
            fn set_frozen_units(mut self, k: usize) -> Self {
                let mut __f = #fo::__private::Freezer::exact(k);
                #(#freeze)*
                self
            }
        }

        impl #impl_g #name #ty_g #where_c {
            /// Call after unit `unit` in a hand-written forward: detaches the activation at the
            /// end of the frozen prefix so no backward work reaches the frozen units.
            pub fn freeze_point<const D: usize>(&self, unit: usize, x: #tensor<D>) -> #tensor<D> {
                #fo::__private::freeze_point(#fo::FreezeOut::frozen_units(self), unit, x)
            }
            #chain
        }

        #head
    }
}

/// Code run for each module of a unit field (`m` is an expression of type `&M`).
fn for_each_unit(u: &UnitField, body: impl Fn(TokenStream) -> TokenStream) -> TokenStream {
    let field = &u.ident;
    match u.kind {
        UnitKind::Single => body(quote!((&self.#field))),
        UnitKind::Vec | UnitKind::Array => {
            let b = body(quote!(__m));
            quote!(for __m in self.#field.iter() { #b })
        }
    }
}

fn unit_names(u: &UnitField) -> TokenStream {
    let field = &u.ident;
    let name = field.to_string();
    match u.kind {
        UnitKind::Single => quote!(__units.push(::std::string::String::from(#name), &self.#field);),
        UnitKind::Vec | UnitKind::Array => quote! {
            for (__i, __m) in self.#field.iter().enumerate() {
                __units.push(::std::format!("{}.{}", #name, __i), __m);
            }
        },
    }
}

fn unit_count(u: &UnitField) -> TokenStream {
    let field = &u.ident;
    match u.kind {
        UnitKind::Single => quote!(1usize),
        UnitKind::Vec | UnitKind::Array => quote!(self.#field.len()),
    }
}

fn unit_freeze(u: &UnitField) -> TokenStream {
    let field = &u.ident;
    match u.kind {
        UnitKind::Single => quote!(self.#field = __f.unit(self.#field);),
        UnitKind::Vec => quote! {
            self.#field = self.#field.into_iter().map(|__m| __f.unit(__m)).collect();
        },
        UnitKind::Array => quote!(self.#field = self.#field.map(|__m| __f.unit(__m));),
    }
}
