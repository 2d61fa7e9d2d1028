#!/usr/bin/env python3
"""Reference values for allele-stats from scipy and statsmodels.

Reads {"cases": [...]} as JSON on stdin and prints one JSON list with one
result object per case, in order. Undefined results (NaN, inf, exceptions)
become null. Used by tests/scipy_diff.rs; needs `pip install scipy statsmodels`.

Where allele-stats documents a finite fallback for a case scipy leaves as
NaN (pooled rate 0 or 1 → z = 0, p = 1; both Welch arms constant and equal →
t = 0, p = 1, df = null) this script applies the same rule, and only under
the stated condition, so every other output is scipy's or statsmodels' own.
"""

import json
import math
import sys
import warnings

import numpy as np
from scipy import integrate, stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
)

warnings.filterwarnings("ignore")
np.seterr(all="ignore")


def clean(x):
    """JSON-safe: numbers stay numbers, NaN/inf become None, recursively."""
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean(v) for v in x]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return x if math.isfinite(x) else None
    return x


def guarded(fn):
    try:
        return fn()
    except Exception:  # reference undefined here
        return None


def interval(pair):
    low, high = (float(v) for v in pair)
    if not (math.isfinite(low) and math.isfinite(high)):
        return None
    return [low, high]


def ztest(x1, n1, x0, n0):
    if n1 == 0 or n0 == 0:
        return None, None
    pooled = (x1 + x0) / (n1 + n0)
    if pooled in (0.0, 1.0):
        return 0.0, 1.0  # documented fallback, see module doc
    z, p = proportions_ztest([x1, x0], [n1, n0])
    return float(z), float(p)


def wilson(x, n, alpha):
    if n == 0:
        return None
    return interval(proportion_confint(x, n, alpha=alpha, method="wilson"))


def newcombe(x1, n1, x0, n0, alpha):
    if n1 == 0 or n0 == 0:
        return None
    return interval(confint_proportions_2indep(x1, n1, x0, n0, method="newcomb", alpha=alpha))


def rel_ci(x1, n1, x0, n0, alpha):
    if n1 == 0 or n0 == 0 or x1 == 0 or x0 == 0:
        return None
    low, high = confint_proportions_2indep(x1, n1, x0, n0, compare="ratio", method="log", alpha=alpha)
    return interval([low - 1.0, high - 1.0])


def p_better(x1, n1, x0, n0):
    """P(p_T > p_C) under Beta(1,1) priors by numerical integration."""
    treatment = stats.beta(1 + x1, 1 + n1 - x1)
    control = stats.beta(1 + x0, 1 + n0 - x0)
    # integrate over where the treatment density lives, in pieces around
    # its peak so quad cannot step over a narrow posterior
    low, high = treatment.ppf(1e-15), treatment.isf(1e-15)
    points = list(np.linspace(low, high, 41))
    total = 0.0
    for a, b in zip(points[:-1], points[1:]):
        value, _ = integrate.quad(lambda t: treatment.pdf(t) * control.cdf(t), a, b, epsabs=1e-14, epsrel=1e-12, limit=200)
        total += value
    return total


def expected_loss(x1, n1, x0, n0):
    """E[max(p_C - p_T, 0)] = ∫ f_T(t) (μ_C·S_{C+}(t) − t·S_C(t)) dt."""
    a0, b0 = 1 + x0, 1 + n0 - x0
    treatment = stats.beta(1 + x1, 1 + n1 - x1)
    control = stats.beta(a0, b0)
    shifted = stats.beta(a0 + 1, b0)
    mean_control = a0 / (a0 + b0)
    low, high = treatment.ppf(1e-15), treatment.isf(1e-15)
    points = list(np.linspace(low, high, 41))
    total = 0.0
    for a, b in zip(points[:-1], points[1:]):
        value, _ = integrate.quad(
            lambda t: treatment.pdf(t) * (mean_control * shifted.sf(t) - t * control.sf(t)),
            a, b, epsabs=1e-15, epsrel=1e-12, limit=200)
        total += value
    return total


def welch(a, b, alpha=0.05):
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        return {"t": None, "df": None, "p": None, "ci": None}
    va, vb = a.var(ddof=1), b.var(ddof=1)
    if va == 0 and vb == 0:
        if a.mean() == b.mean():
            return {"t": 0.0, "df": None, "p": 1.0, "ci": None}  # documented fallback
        return {"t": None, "df": None, "p": None, "ci": None}
    res = stats.ttest_ind(a, b, equal_var=False)
    ci = res.confidence_interval(confidence_level=1 - alpha)
    return {"t": res.statistic, "df": res.df, "p": res.pvalue, "ci": interval([ci.low, ci.high])}


def proportions_case(c):
    x1, n1, x0, n0, alpha = c["x1"], c["n1"], c["x0"], c["n0"], c["alpha"]
    z, p = ztest(x1, n1, x0, n0)
    out = {
        "z": z, "p": p,
        "wilson1": wilson(x1, n1, alpha), "wilson0": wilson(x0, n0, alpha),
        "newcombe": newcombe(x1, n1, x0, n0, alpha),
        "rel_ci": rel_ci(x1, n1, x0, n0, alpha),
    }
    if c.get("bayes"):
        out["p_better"] = guarded(lambda: p_better(x1, n1, x0, n0))
        out["expected_loss"] = guarded(lambda: expected_loss(x1, n1, x0, n0))
    return out


def tails_case(c):
    return {
        "normal_p": [2 * stats.norm.sf(abs(z)) for z in c["z"]],
        "t_p": [2 * stats.t.sf(abs(t), df) for t, df in c["t"]],
        "chi2_sf": [stats.chi2.sf(x, df) for x, df in c["chi2"]],
        "normal_quantile": [stats.norm.ppf(q) for q in c["normal_q"]],
        "t_quantile": [stats.t.ppf(q, df) for q, df in c["t_q"]],
    }


def chisquare_case(c):
    observed = np.asarray(c["observed"], dtype=float)
    weights = np.asarray(c["weights"], dtype=float)
    expected = observed.sum() * weights / weights.sum()
    res = stats.chisquare(observed, expected)
    return {"statistic": res.statistic, "p": res.pvalue}


def bh_case(c):
    return {"adjusted": list(multipletests(c["p"], method="fdr_bh")[1])}


def power_case(c):
    analysis = NormalIndPower()
    out = {"power": analysis.power(c["effect"], c["nobs1"], c["alpha"], ratio=c["ratio"])}
    out["nobs1"] = guarded(lambda: float(analysis.solve_power(
        effect_size=c["effect"], alpha=c["alpha"], power=c["power"], ratio=c["ratio"])))
    return out


def readout_case(c):
    alpha = c.get("alpha", 0.05)
    has_value = c["value"] is not None
    arms = c["variations"]
    ids = [arm["variation_id"] for arm in arms]
    control_index = ids.index(c["control"])
    conv = [np.array([u["converted"] for u in arm["users"]], dtype=float) for arm in arms]
    vals = [np.array([u.get("value", 0.0) for u in arm["users"]], dtype=float) for arm in arms]
    variations = []
    for arm_id, cv, vv in zip(ids, conv, vals):
        n = len(cv)
        variations.append({
            "variation_id": arm_id, "n": n, "conversions": int(cv.sum()),
            "rate": cv.mean() if n else None,
            "value_sum": vv.sum() if has_value else None,
            "value_mean": (vv.mean() if n else None) if has_value else None,
        })
    counts = [len(cv) for cv in conv]
    srm_p = guarded(lambda: stats.chisquare(counts).pvalue) if sum(counts) > 0 and len(counts) > 1 else None
    x0, n0 = int(conv[control_index].sum()), len(conv[control_index])
    comparisons = []
    for i, arm_id in enumerate(ids):
        if i == control_index:
            continue
        x1, n1 = int(conv[i].sum()), len(conv[i])
        r1 = x1 / n1 if n1 else None
        r0 = x0 / n0 if n0 else None
        lift_abs = r1 - r0 if (r1 is not None and r0 is not None) else None
        z, p = ztest(x1, n1, x0, n0)
        w = welch(vals[i], vals[control_index], alpha) if has_value else {"t": None, "df": None, "p": None}
        comparisons.append({
            "variation_id": arm_id,
            "lift_abs": lift_abs,
            "lift_abs_ci": newcombe(x1, n1, x0, n0, alpha),
            "lift_rel": lift_abs / r0 if (lift_abs is not None and r0) else None,
            "lift_rel_ci": rel_ci(x1, n1, x0, n0, alpha),
            "z": z, "p": p,
            "welch_t": w["t"], "welch_df": w["df"], "welch_p": w["p"],
            "p_better": guarded(lambda: p_better(x1, n1, x0, n0)) if (n1 and n0) else None,
        })
    out = {
        "experiment_id": c["experiment_id"], "metric": c["metric"], "value": c["value"],
        "control": c["control"], "srm_p": srm_p,
        "variations": variations, "comparisons": comparisons,
    }
    covs = [[u.get("covariate") for u in arm["users"]] for arm in arms]
    observed = [x for arm in covs for x in arm if x is not None]
    if observed:
        x_bar = float(np.mean(observed))
        xs = [np.array([x_bar if x is None else x for x in arm], dtype=float) for arm in covs]
        ys = vals if has_value else conv
        x_all, y_all = np.concatenate(xs), np.concatenate(ys)
        dx = x_all - x_all.mean()
        if np.sum(dx * dx) > 0:
            theta = np.sum(dx * (y_all - y_all.mean())) / np.sum(dx * dx)
            adj = [y - theta * (x - x_all.mean()) for x, y in zip(xs, ys)]
            # allele-stats snaps an adjusted mean that is 0 up to rounding
            # (|mean| ≤ 1e-12 of the terms it cancels from) to exactly 0
            means_adj = []
            for x, y, a in zip(xs, ys, adj):
                if len(a) == 0:
                    means_adj.append(None)
                    continue
                scale = abs(y.mean()) + abs(theta) * (abs(x.mean()) + abs(x_all.mean()))
                means_adj.append(0.0 if abs(a.mean()) <= 1e-12 * scale else a.mean())
            adj_all = np.concatenate(adj)
            cuped_vars = [{"variation_id": arm_id, "n": len(y),
                           "mean": y.mean() if len(y) else None,
                           "mean_adjusted": m}
                          for arm_id, y, m in zip(ids, ys, means_adj)]
            cuped_cmp = []
            c_adj = adj[control_index]
            for i, arm_id in enumerate(ids):
                if i == control_index:
                    continue
                t_adj = adj[i]
                w = welch(t_adj, c_adj, alpha)
                both = len(t_adj) > 0 and len(c_adj) > 0
                cuped_cmp.append({
                    "variation_id": arm_id,
                    "lift_abs": means_adj[i] - means_adj[control_index] if both else None,
                    "lift_abs_ci": w["ci"],
                    "lift_rel": (means_adj[i] / means_adj[control_index] - 1) if (both and means_adj[control_index] != 0) else None,
                    "welch_t": w["t"], "welch_df": w["df"], "welch_p": w["p"],
                })
            var_y = np.sum((y_all - y_all.mean()) ** 2)
            out["cuped"] = {
                "metric": "value" if has_value else "conversion",
                "theta": theta,
                "variance_reduction": (1 - np.sum((adj_all - adj_all.mean()) ** 2) / var_y) if var_y > 0 else 0.0,
                "covariate_coverage": len(observed) / len(x_all),
                "variations": cuped_vars, "comparisons": cuped_cmp,
            }
    return out


HANDLERS = {
    "proportions": proportions_case,
    "welch": lambda c: welch(c["a"], c["b"], c.get("alpha", 0.05)),
    "tails": tails_case,
    "chisquare": chisquare_case,
    "bh": bh_case,
    "power": power_case,
    "readout": readout_case,
}


def main():
    cases = json.load(sys.stdin)["cases"]
    results = [clean(HANDLERS[c["kind"]](c)) for c in cases]
    json.dump(results, sys.stdout, allow_nan=False)


if __name__ == "__main__":
    main()
