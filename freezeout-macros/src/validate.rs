//! Misuse that is a compile error, each with a span pointing at the culprit.

use crate::args::Args;
use crate::model::{Model, UnitKind};
use syn::{Error, GenericArgument, PathArguments, Result, Type};

/// Checks the options, the placement and the unit fields; all errors at once.
pub fn check(args: &Args, model: &Model) -> Result<()> {
    if !derives_module(model) {
        // Below the derive (or without it), nothing else can work: report only this.
        return Err(Error::new_spanned(&model.item.ident, "#[freezeout] must be placed above #[derive(Module)]"));
    }
    let mut errors: Vec<Error> = Vec::new();
    if model.units.is_empty() {
        errors.push(Error::new_spanned(
            &model.item.ident,
            "no unit fields: mark the units with #[freezeout(unit)], in forward order",
        ));
    }
    for unit in &model.units {
        if let Some(span) = unit.skipped {
            errors.push(Error::new(span, "a unit field cannot be #[module(skip)]"));
        }
        let element = match (&unit.kind, &unit.ty) {
            (UnitKind::Array, Type::Array(a)) => &*a.elem,
            (UnitKind::Vec, ty) => vec_element(ty).unwrap_or(ty),
            (_, ty) => ty,
        };
        if let Some(what) = not_a_module(element) {
            errors.push(Error::new_spanned(element, format!("unit field must be a module, {what}")));
        }
    }
    if let (Some(span), Some(head)) = (args.manual, &args.head) {
        let mut e = Error::new_spanned(head, "`head` and `manual` exclude each other");
        e.combine(Error::new(span, "`manual` given here: write `forward` yourself"));
        errors.push(e);
    }
    let field_ranks = model.units.iter().filter_map(|u| u.output.as_ref());
    let ranks = [args.input.as_ref().map(|i| &i.rank), args.output.as_ref()].into_iter().flatten().chain(field_ranks);
    let mut ranks_ok = true;
    for rank in ranks {
        match rank.base10_parse::<usize>() {
            Ok(1..=8) => {}
            _ => {
                ranks_ok = false;
                errors.push(Error::new_spanned(rank, "tensor rank must be between 1 and 8"));
            }
        }
    }
    if ranks_ok {
        errors.extend(chain_errors(args, model));
    }
    if let (None, Some(output)) = (&args.head, &args.output) {
        errors.push(Error::new_spanned(output, "`output` needs `head = method`"));
    }
    let mut errors = errors.into_iter();
    match errors.next() {
        None => Ok(()),
        Some(mut first) => {
            errors.for_each(|e| first.combine(e));
            Err(first)
        }
    }
}

/// Units that cannot be chained: the elements of a `Vec` or array run one after another, so
/// they keep the rank; the first unit alone takes an input of another kind than `Float`.
fn chain_errors(args: &Args, model: &Model) -> Vec<Error> {
    let mut errors = Vec::new();
    for (i, (unit, (input, output))) in model.units.iter().zip(ranks(args, model)).enumerate() {
        let many = !matches!(unit.kind, UnitKind::Single);
        if let (true, Some(lit)) = (many && input != output, &unit.output) {
            errors.push(Error::new_spanned(
                lit,
                format!(
                    "the elements of a unit `{}` run one after another, so each must give what it takes: a rank-{input} \
                     tensor here; give the change of rank a unit field of its own",
                    if matches!(unit.kind, UnitKind::Vec) { "Vec" } else { "array" }
                ),
            ));
        }
        if let (0, true, Some(kind)) = (i, many, args.input.as_ref().and_then(|i| i.kind.as_ref())) {
            let kind = quote::ToTokens::to_token_stream(kind).to_string().replace(' ', "");
            errors.push(Error::new_spanned(
                &unit.ty,
                format!(
                    "the first unit takes the model's `{kind}` input, which only its first element could: make \
                     the first unit a single module (e.g. the embedding)"
                ),
            ));
        }
    }
    errors
}

/// Each unit field's input and output rank, in forward order: the first takes the model's
/// input (`input`, default 4), every other the previous one's output; a unit gives its `output`
/// if set, else the rank it takes. Call only with valid rank literals.
pub fn ranks(args: &Args, model: &Model) -> Vec<(usize, usize)> {
    let rank = |lit: &syn::LitInt| lit.base10_parse::<usize>().expect("validated rank");
    let mut at = args.input.as_ref().map_or(4, |i| rank(&i.rank));
    model
        .units
        .iter()
        .map(|u| {
            let input = at;
            at = u.output.as_ref().map_or(input, rank);
            (input, at)
        })
        .collect()
}

/// Whether `#[derive(.., Module, ..)]` is still on the item, i.e. below our attribute.
fn derives_module(model: &Model) -> bool {
    model.item.attrs.iter().filter(|a| a.path().is_ident("derive")).any(|attr| {
        let mut found = false;
        let _ = attr.parse_nested_meta(|meta| {
            found |= meta.path.segments.last().is_some_and(|s| s.ident == "Module");
            Ok(())
        });
        found
    })
}

fn vec_element(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let PathArguments::AngleBracketed(args) = &p.path.segments.last()?.arguments else {
        return None;
    };
    args.args.iter().find_map(|a| match a {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    })
}

/// `Some(reason)` for types that are certainly not a Burn module.
fn not_a_module(ty: &Type) -> Option<String> {
    const PRIMITIVES: &[&str] = &[
        "bool", "char", "str", "String", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128",
        "isize", "f32", "f64",
    ];
    let shown = quote::ToTokens::to_token_stream(ty).to_string().replace(' ', "");
    match ty {
        Type::Path(p) if p.qself.is_none() => {
            let last = p.path.segments.last()?;
            let name = last.ident.to_string();
            if PRIMITIVES.contains(&name.as_str()) {
                Some(format!("found the primitive `{shown}`"))
            } else if name == "Param" || name == "Tensor" {
                Some(format!("found `{shown}`: wrap the parameter in a module"))
            } else if name == "Option" {
                Some(format!("found `{shown}`: optional units are not supported"))
            } else if name == "Vec" {
                Some(format!("found nested `{shown}`"))
            } else {
                None
            }
        }
        Type::Tuple(_) => Some(format!("found the tuple `{shown}`")),
        Type::Reference(_) | Type::Ptr(_) => Some(format!("found the reference `{shown}`")),
        Type::Array(_) | Type::Slice(_) => Some(format!("found nested `{shown}`")),
        _ => None,
    }
}
