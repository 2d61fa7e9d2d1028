//! `f64` written exactly as its `Display` writes it, from `ryu`'s shortest
//! digits: a trace shows the score of every candidate that was not selected,
//! and the standard formatter was a large share of a decision's time.

/// Appends `value` as `format!("{value}")` would write it: the shortest
/// digits that read back as the same number, never in exponent form.
pub fn push_f64(out: &mut String, value: f64) {
    if !value.is_finite() {
        out.push_str(if value.is_nan() {
            "NaN"
        } else if value > 0.0 {
            "inf"
        } else {
            "-inf"
        });
        return;
    }
    if tie_possible(value) {
        // the standard formatter rounds a tie half up, ryu half to even
        use std::fmt::Write as _;
        let _ = write!(out, "{value}");
        return;
    }
    let mut buffer = ryu::Buffer::new();
    let text = buffer.format_finite(value);
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    // ryu writes `d.ddd`, `ddd.d` or `0.000ddd`, with `e<exp>` outside
    // [1e-5, 1e16)
    let (mantissa, exponent) = match text.split_once('e') {
        Some((mantissa, exponent)) => (mantissa, exponent.parse::<i64>().unwrap_or(0)),
        None => (text, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    // the significant digits, with the decimal point after `point` of them
    let mut digits = [0u8; 32];
    let mut len = 0;
    for byte in whole.bytes().chain(fraction.bytes()).take(digits.len()) {
        if let Some(slot) = digits.get_mut(len) {
            *slot = byte;
            len += 1;
        }
    }
    let all = digits.get(..len).unwrap_or_default();
    let leading = all.iter().take_while(|b| **b == b'0').count();
    let significant = all.get(leading..).unwrap_or_default();
    let trailing = significant.iter().rev().take_while(|b| **b == b'0').count();
    let significant = significant
        .get(..significant.len() - trailing)
        .unwrap_or_default();
    if negative {
        out.push('-');
    }
    // ryu writes only ASCII digits
    let Ok(significant) = std::str::from_utf8(significant) else {
        return;
    };
    if significant.is_empty() {
        out.push('0');
        return;
    }
    let point = whole.len() as i64 - leading as i64 + exponent;
    let count = significant.len() as i64;
    if point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', point.unsigned_abs() as usize));
        out.push_str(significant);
    } else if point >= count {
        out.push_str(significant);
        out.extend(std::iter::repeat_n('0', (point - count) as usize));
    } else {
        let (int, frac) = significant.split_at(point as usize);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    }
}

/// Whether two shortest spellings of `value` can be equally close to it.
/// That needs its exact decimal expansion to be at most one digit longer
/// than the shortest round-trip form (at most 18 significant digits), which
/// only integers from 2^53 up and fractions `m / 2^k` with a small odd `m`
/// and small `k` have; scores, with their long expansions, never do.
fn tie_possible(value: f64) -> bool {
    let value = value.abs();
    if value >= 9_007_199_254_740_992.0 {
        return true;
    }
    if value.fract() == 0.0 {
        // an integer below 2^53 is its own shortest form
        return false;
    }
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
