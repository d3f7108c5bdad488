//! A typed view of the annotated struct: which fields are units and how many units each holds.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Attribute, Field, Fields, Ident, Item, ItemStruct, LitInt, Result, Type};

/// How a unit field maps to units.
pub enum UnitKind {
    /// One module: one unit.
    Single,
    /// `Vec<M>`: one unit per element, known at run time.
    Vec,
    /// `[M; N]`: one unit per element.
    Array,
}

/// A field marked `#[freezeout(unit)]`.
pub struct UnitField {
    pub ident: Ident,
    pub ty: Type,
    pub kind: UnitKind,
    /// The field also carries `#[module(skip)]`.
    pub skipped: Option<Span>,
    /// `#[freezeout(unit, output = R)]`: the rank of the unit's output (default: its input's).
    pub output: Option<LitInt>,
}

/// The struct as the macro sees it, field attributes of ours already removed.
pub struct Model {
    /// The struct, re-emitted as is (minus our field attributes).
    pub item: ItemStruct,
    /// Unit fields, in declaration (= forward) order.
    pub units: Vec<UnitField>,
}

/// Reads the item. Errors on anything but a struct with named fields; the error carries the
/// struct (when it is one) so that it can still be emitted for `#[derive(Module)]`.
pub fn parse(item: Item) -> std::result::Result<Model, (syn::Error, Option<Box<ItemStruct>>)> {
    let mut item = match item {
        Item::Struct(item) => item,
        Item::Enum(e) => {
            let msg = "#[freezeout] supports structs only, found an enum";
            return Err((syn::Error::new_spanned(e.enum_token, msg), None));
        }
        Item::Union(u) => {
            let msg = "#[freezeout] supports structs only, found a union";
            return Err((syn::Error::new_spanned(u.union_token, msg), None));
        }
        other => {
            let msg = "#[freezeout] goes on a struct that derives Module";
            return Err((syn::Error::new_spanned(other, msg), None));
        }
    };
    let mut units = Vec::new();
    let mut errors: Option<syn::Error> = None;
    let mut push = |e: syn::Error| match errors.as_mut() {
        Some(all) => all.combine(e),
        None => errors = Some(e),
    };
    match &mut item.fields {
        Fields::Named(named) => {
            for field in named.named.iter_mut() {
                match unit_marker(field) {
                    Ok(Some(output)) => units.push(unit_field(field, output)),
                    Ok(None) => {}
                    Err(e) => push(e),
                }
            }
        }
        Fields::Unnamed(fields) => {
            push(syn::Error::new_spanned(fields, "#[freezeout] needs named fields, found a tuple struct"))
        }
        Fields::Unit => {
            push(syn::Error::new_spanned(&item.ident, "#[freezeout] needs named fields, found a unit struct"))
        }
    }
    if !matches!(item.fields, Fields::Named(_)) {
        // Burn's derive panics on these: keep the struct, drop only `Module` from its derives.
        drop_module_derive(&mut item.attrs);
    }
    match errors {
        Some(e) => Err((e, Some(Box::new(item)))),
        None => Ok(Model { item, units }),
    }
}

/// Removes our `#[freezeout(..)]` attributes from the field; for a unit, returns its `output`
/// rank if given (`Some(None)`: a unit without one).
fn unit_marker(field: &mut Field) -> Result<Option<Option<LitInt>>> {
    let mut marker = false;
    let mut output: Option<LitInt> = None;
    let mut result = Ok(());
    field.attrs.retain(|attr| {
        if !attr.path().is_ident("freezeout") {
            return true;
        }
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("unit") {
                if marker {
                    return Err(meta.error("duplicate `unit` marker"));
                }
                marker = true;
            } else if meta.path.is_ident("output") {
                if output.is_some() {
                    return Err(meta.error("duplicate field option `output`"));
                }
                output = Some(meta.value()?.parse()?);
            } else {
                let name = quote::ToTokens::to_token_stream(&meta.path).to_string();
                return Err(meta.error(format!("unknown field option `{name}`, expected `unit` or `output = R`")));
            }
            Ok(())
        });
        if let Err(e) = parsed {
            result = Err(e);
        }
        false
    });
    result?;
    match (marker, output) {
        (true, output) => Ok(Some(output)),
        (false, None) => Ok(None),
        (false, Some(output)) => Err(syn::Error::new_spanned(
            output,
            "`output = R` is the rank of a unit's output: mark the field `unit` too",
        )),
    }
}

fn unit_field(field: &Field, output: Option<LitInt>) -> UnitField {
    let ident = field.ident.clone().expect("named field");
    let kind = match &field.ty {
        Type::Array(_) => UnitKind::Array,
        Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Vec") => UnitKind::Vec,
        _ => UnitKind::Single,
    };
    UnitField { ident, ty: field.ty.clone(), kind, skipped: module_skip(&field.attrs), output }
}

fn module_skip(attrs: &[Attribute]) -> Option<Span> {
    attrs.iter().find_map(|attr| {
        let mut skip = false;
        if attr.path().is_ident("module") {
            let _ = attr.parse_nested_meta(|meta| {
                skip |= meta.path.is_ident("skip");
                Ok(())
            });
        }
        skip.then(|| attr.span())
    })
}

/// Removes `Module` from `#[derive(..)]` lists (other derives stay).
fn drop_module_derive(attrs: &mut [Attribute]) {
    use syn::punctuated::Punctuated;
    for attr in attrs.iter_mut().filter(|a| a.path().is_ident("derive")) {
        let Ok(paths) = attr.parse_args_with(Punctuated::<syn::Path, syn::Token![,]>::parse_terminated) else {
            continue;
        };
        let kept = paths.into_iter().filter(|p| p.segments.last().is_none_or(|s| s.ident != "Module"));
        *attr = syn::parse_quote!(#[derive(#(#kept),*)]);
    }
}
