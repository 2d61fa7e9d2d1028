//! The Wilson score interval's lower bound, for ranking things by approval.
//!
//! Sorting ideas by raw approval puts one lucky 1-of-1 above a solid
//! 95-of-100; sorting by the lower bound of a confidence interval for the
//! approval rate does not (Evan Miller, "How not to sort by average
//! rating"). Wilson's interval stays inside [0, 1] and behaves at small n,
//! where the normal approximation does not.

use thiserror::Error;

/// Why a Wilson bound could not be computed.
#[derive(Clone, Debug, Error, PartialEq)]
pub enum WilsonError {
    /// More approvals than votes.
    #[error("`up` ({up}) exceeds `n` ({n})")]
    UpExceedsN {
        /// Approvals given.
        up: u64,
        /// Votes given.
        n: u64,
    },
    /// The confidence level is not strictly between 0 and 1.
    #[error("confidence must be strictly between 0 and 1, got `{0}`")]
    Confidence(f64),
}

/// Lower bound of the two-sided Wilson score interval for `up` successes in
/// `n` trials at the given `confidence` (0.95 for a 95 % interval), as
/// `statsmodels.stats.proportion.proportion_confint(up, n, 1 - confidence,
/// method="wilson")[0]` computes it.
///
/// With no votes there is no evidence, and the bound is 0.
///
/// ```
/// use allele_listen::wilson_lower_bound;
/// let lucky = wilson_lower_bound(1, 1, 0.95)?;
/// let solid = wilson_lower_bound(95, 100, 0.95)?;
/// assert!(solid > lucky);
/// # Ok::<(), allele_listen::WilsonError>(())
/// ```
pub fn wilson_lower_bound(up: u64, n: u64, confidence: f64) -> Result<f64, WilsonError> {
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(WilsonError::Confidence(confidence));
    }
    if up > n {
        return Err(WilsonError::UpExceedsN { up, n });
    }
    if up == 0 {
        // no approvals (or no votes): the exact bound is 0, which the
        // formula below only reaches up to rounding (2.8e-17 for 0 of 10)
        return Ok(0.0);
    }
    // u64 → f64 is exact up to 2^53 votes, far beyond any real tally
    let trials = n as f64;
    let rate = up as f64 / trials;
    let z = standard_normal_quantile(1.0 - (1.0 - confidence) / 2.0);
    let z2 = z * z;
    let denominator = 1.0 + z2 / trials;
    let center = (rate + z2 / (2.0 * trials)) / denominator;
    let half_width =
        z * (rate * (1.0 - rate) / trials + z2 / (4.0 * trials * trials)).sqrt() / denominator;
    Ok((center - half_width).clamp(0.0, 1.0))
}

/// Evaluates a polynomial given its coefficients from the highest degree down.
fn horner(x: f64, coefficients: &[f64]) -> f64 {
    coefficients.iter().fold(0.0, |acc, &c| acc * x + c)
}

/// Φ⁻¹(p) for 0 < p < 1, by Wichura's algorithm AS 241 (PPND16), which is
/// accurate to about 1e-16 relative.
#[expect(
    clippy::excessive_precision,
    reason = "the published AS 241 coefficients, to 17 significant digits"
)]
fn standard_normal_quantile(p: f64) -> f64 {
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180625 - q * q;
        let numerator = horner(
            r,
            &[
                2.509_080_928_730_122_7e3,
                3.343_057_558_358_812_8e4,
                6.726_577_092_700_870_1e4,
                4.592_195_393_154_987_1e4,
                1.373_169_376_550_946_1e4,
                1.971_590_950_306_551_4e3,
                1.331_416_678_917_843_8e2,
                3.387_132_872_796_366_6,
            ],
        );
        let denominator = horner(
            r,
            &[
                5.226_495_278_852_854_6e3,
                2.872_908_573_572_194_3e4,
                3.930_789_580_009_271_1e4,
                2.121_379_430_158_659_6e4,
                5.394_196_021_424_751_1e3,
                6.871_870_074_920_579_1e2,
                4.231_333_070_160_091_1e1,
                1.0,
            ],
        );
        return q * numerator / denominator;
    }
    let tail = if q < 0.0 { p } else { 1.0 - p };
    let r = (-tail.ln()).sqrt();
    let magnitude = if r <= 5.0 {
        let r = r - 1.6;
        horner(
            r,
            &[
                7.745_450_142_783_414_1e-4,
                2.272_384_498_926_918_5e-2,
                2.417_807_251_774_506_1e-1,
                1.270_458_252_452_368_4,
                3.647_848_324_763_204_6,
                5.769_497_221_460_691_4,
                4.630_337_846_156_545_3,
                1.423_437_110_749_683_6,
            ],
        ) / horner(
            r,
            &[
                1.050_750_071_644_416_8e-9,
                5.475_938_084_995_344_9e-4,
                1.519_866_656_361_645_7e-2,
                1.481_039_764_274_800_7e-1,
                6.897_673_349_851_000_0e-1,
                1.676_384_830_183_803_8,
                2.053_191_626_637_758_8,
                1.0,
            ],
        )
    } else {
        let r = r - 5.0;
        horner(
            r,
            &[
                2.010_334_399_292_288_1e-7,
                2.711_555_568_743_487_6e-5,
                1.242_660_947_388_078_4e-3,
                2.653_218_952_657_612_3e-2,
                2.965_605_718_285_048_9e-1,
                1.784_826_539_917_291_3,
                5.463_784_911_164_114_4,
                6.657_904_643_501_103_8,
            ],
        ) / horner(
            r,
            &[
                2.044_263_103_389_939_8e-15,
                1.421_511_758_316_445_9e-7,
                1.846_318_317_510_054_7e-5,
                7.868_691_311_456_132_6e-4,
                1.487_536_129_085_061_5e-2,
                1.369_298_809_227_358_1e-1,
                5.998_322_065_558_879_4e-1,
                1.0,
            ],
        )
    };
    if q < 0.0 { -magnitude } else { magnitude }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn quantiles_match_published_values() {
        // Φ⁻¹ values from standard tables (and scipy.stats.norm.ppf)
        for (p, z) in [
            (0.975, 1.959_963_984_540_054),
            (0.5, 0.0),
            (0.9, 1.281_551_565_544_600_5),
            (0.995, 2.575_829_303_548_900_4),
            (1e-10, -6.361_340_902_404_056),
            (1e-300, -37.047_096_299_361_2),
        ] {
            let got = standard_normal_quantile(p);
            assert!(
                (got - z).abs() <= 1e-14 * z.abs().max(1.0),
                "p={p}: {got} vs {z}"
            );
        }
    }

    #[test]
    fn rejects_impossible_input() {
        assert_eq!(
            wilson_lower_bound(3, 2, 0.95),
            Err(WilsonError::UpExceedsN { up: 3, n: 2 })
        );
        assert!(wilson_lower_bound(1, 2, 1.0).is_err());
        assert!(wilson_lower_bound(1, 2, f64::NAN).is_err());
        assert_eq!(wilson_lower_bound(0, 0, 0.95), Ok(0.0));
        assert_eq!(wilson_lower_bound(0, 10, 0.95), Ok(0.0));
    }

    proptest! {
        #[test]
        fn bound_is_a_probability_below_the_rate(n in 1u64..1_000_000, share in 0.0..=1.0f64, confidence in 0.5..0.9999f64) {
            let up = ((n as f64) * share) as u64;
            let bound = wilson_lower_bound(up, n, confidence);
            prop_assert!(bound.is_ok());
            let bound = bound.unwrap_or(f64::NAN);
            prop_assert!((0.0..=1.0).contains(&bound));
            prop_assert!(bound <= up as f64 / n as f64 + 1e-12);
        }
    }
}
