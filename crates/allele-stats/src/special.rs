//! Log-beta with full precision for large arguments.
//!
//! `ln Γ(a) + ln Γ(b) − ln Γ(a+b)` cancels catastrophically when the
//! arguments are large (a Beta posterior after 10⁹ users has ln Γ ≈ 2·10¹⁰,
//! so the difference keeps only ~6 significant digits). Following R's
//! `lbeta`, the large-argument branch uses Stirling's series remainder, whose
//! terms are small and do not cancel.

use statrs::function::gamma::ln_gamma;

/// Remainder of Stirling's series: `ln Γ(x) − [(x − ½) ln x − x + ½ ln 2π]`,
/// accurate to ~1e-16 for `x ≥ 10`.
fn stirling_remainder(x: f64) -> f64 {
    let inverse = 1.0 / x;
    let inverse_squared = inverse * inverse;
    // Bernoulli-number coefficients B_{2k} / (2k(2k−1)), Horner in 1/x²
    let series = 1.0 / 12.0
        + inverse_squared
            * (-1.0 / 360.0
                + inverse_squared
                    * (1.0 / 1260.0
                        + inverse_squared
                            * (-1.0 / 1680.0
                                + inverse_squared
                                    * (1.0 / 1188.0 + inverse_squared * (-691.0 / 360_360.0)))));
    series * inverse
}

const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

/// `ln B(a, b)` for `a, b > 0`.
#[must_use]
pub fn ln_beta(a: f64, b: f64) -> f64 {
    let small = a.min(b);
    let large = a.max(b);
    let sum = small + large;
    if small >= 10.0 {
        let correction =
            stirling_remainder(small) + stirling_remainder(large) - stirling_remainder(sum);
        -0.5 * large.ln()
            + LN_SQRT_2PI
            + correction
            + (small - 0.5) * (small / sum).ln()
            + large * (-small / sum).ln_1p()
    } else if large >= 10.0 {
        let correction = stirling_remainder(large) - stirling_remainder(sum);
        ln_gamma(small) + correction + small - small * sum.ln()
            + (large - 0.5) * (-small / sum).ln_1p()
    } else {
        ln_gamma(small) + ln_gamma(large) - ln_gamma(sum)
    }
}
