//! Exact rational arithmetic for the schedule constants.
//!
//! `t_i = s(t0 + (1 - t0) i / N)`, the budgets `t_i T` and the initial rates `α / t_i` are computed
//! as exact fractions from the *decimal* values the user typed (`0.8` is 4/5, not the nearest
//! binary double), then rounded to `f64` once. So the reference default gives `t_0 = 0.512`,
//! a budget of exactly `51200` iterations and `α_0 = 0.1953125`, with no float noise
//! (`0.8_f64.powi(3)` is `0.5120000000000001`).

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{ToPrimitive, Zero};

/// The exact value of the shortest decimal that round-trips to `x` (what `{}` prints).
///
/// Returns `None` for non-finite input.
pub(crate) fn decimal(x: f64) -> Option<BigRational> {
    if !x.is_finite() {
        return None;
    }
    // Rust's `Display` for f64 prints the shortest round-trip decimal, never in exponent form.
    let text = format!("{x}");
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    let numerator: BigInt = format!("{int_part}{frac_part}").parse().ok()?;
    let denominator = num_traits::pow(BigInt::from(10u8), frac_part.len());
    let value = BigRational::new(numerator, denominator);
    Some(if negative { -value } else { value })
}

/// Correctly rounded conversion to `f64`.
pub(crate) fn to_f64(x: &BigRational) -> f64 {
    x.to_f64().unwrap_or(f64::NAN)
}

/// `floor(x)` for a non-negative rational, saturating at `u64::MAX`.
pub(crate) fn floor_u64(x: &BigRational) -> u64 {
    if x <= &BigRational::zero() {
        return 0;
    }
    x.floor().to_integer().to_u64().unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_is_the_typed_value_not_the_binary_one() {
        let r = decimal(0.8).unwrap();
        assert_eq!(r, BigRational::new(4.into(), 5.into()));
        assert_eq!(to_f64(&(r.clone() * &r * &r)), 0.512);
        assert_eq!(decimal(-1.25).unwrap(), BigRational::new((-5).into(), 4.into()));
        assert_eq!(decimal(3.0).unwrap(), BigRational::from_integer(3.into()));
        assert!(decimal(f64::NAN).is_none());
    }

    #[test]
    fn floor_saturates_and_clamps() {
        assert_eq!(floor_u64(&BigRational::new(7.into(), 2.into())), 3);
        assert_eq!(floor_u64(&BigRational::new((-7).into(), 2.into())), 0);
        assert_eq!(floor_u64(&decimal(1e30).unwrap()), u64::MAX);
    }
}
