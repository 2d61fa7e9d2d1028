//! `f64` written exactly as its `Display` writes it, from `ryu`'s shortest
//! digits: a trace shows the score of every candidate that was not selected,
//! and the standard formatter was a large share of a decision's time.

/// Appends `value` as `format!("{value}")` would write it: the shortest
/// digits that read back as the same number, never in exponent form.
pub fn push_f64(out: &mut String, value: f64) {
    if !value.is_finite() {
        return display(out, value);
    }
    let magnitude = value.abs();
    // ryu writes whole numbers as `1.0` and `Display` as `1`; they are rare
    // as scores
    if magnitude.fract() == 0.0 {
        return display(out, value);
    }
    if tie_possible(magnitude) {
        return display(out, value);
    }
    let mut buffer = ryu::Buffer::new();
    let text = buffer.format_finite(value);
    // between 1e-5 and 1e16 ryu writes plain decimals, which for a number
    // with a fraction are `Display`'s digits exactly; it writes exponents
    // outside that range, where `Display` does not
    if text.bytes().any(|b| b == b'e') {
        return display(out, value);
    }
    out.push_str(text);
}

fn display(out: &mut String, value: f64) {
    use std::fmt::Write as _;
    let _ = write!(out, "{value}");
}

/// Whether two shortest spellings of `value` (positive, with a fraction)
/// can be equally close to it. That needs its exact decimal expansion to be
/// at most one digit longer than the shortest round-trip form (at most 18
/// significant digits), which only fractions `m / 2^k` with a small odd `m`
/// and a small `k` have; scores, with their long expansions, never do.
fn tie_possible(value: f64) -> bool {
    // value = mantissa × 2^-shift with an odd mantissa; its exact
    // expansion has as many significant digits as mantissa × 5^shift
    let bits = value.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i64;
    let fraction = bits & ((1 << 52) - 1);
    let (mut mantissa, mut shift) = if exponent == 0 {
        (fraction, 1074)
    } else {
        (fraction | (1 << 52), 1075 - exponent)
    };
    let zeros = i64::from(mantissa.trailing_zeros()).min(shift);
    mantissa >>= zeros;
    shift -= zeros;
    let mut exact = u128::from(mantissa);
    for _ in 0..shift {
        exact *= 5;
        if exact >= 1_000_000_000_000_000_000 {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::push_f64;

    fn written(value: f64) -> String {
        let mut out = String::new();
        push_f64(&mut out, value);
        out
    }

    #[test]
    fn edge_values_match_display() {
        for value in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.1,
            1.5,
            100.0,
            1e15,
            1e16,
            1.5e16,
            123456789012345680.0,
            1e-5,
            1e-6,
            1.25e-7,
            0.047619047619047616,
            // a tie: halfway between two 16-digit spellings
            f64::from_bits(4_829_192_129_591_911_938),
            0.125,
            2.5,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            assert_eq!(written(value), format!("{value}"), "{value:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        #[test]
        fn any_f64_matches_display(bits in any::<u64>()) {
            let value = f64::from_bits(bits);
            prop_assert_eq!(written(value), format!("{value}"));
        }

        #[test]
        fn scores_match_display(score in 0.0f64..1_000.0) {
            prop_assert_eq!(written(score), format!("{score}"));
        }
    }
}
