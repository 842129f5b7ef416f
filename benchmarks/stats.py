"""Means over seeds, their standard errors, and Welch's interval for a difference of means.

Standard library only (no scipy): the Student t quantile is found by bisection on its CDF,
integrated with Simpson's rule; the tests check it against tabulated values.
"""

from __future__ import annotations

import math
import statistics


def mean_sem(values: list[float]) -> tuple[float, float | None]:
    """(mean, standard error of the mean); the error is None for fewer than 2 values."""
    if not values:
        raise ValueError("mean_sem needs at least one value")
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, None
    return mean, statistics.stdev(values) / math.sqrt(len(values))


def _t_cdf(x: float, df: float, intervals: int = 2000) -> float:
    """P(T <= x) for Student's t with `df` degrees of freedom (df > 0, any real)."""
    if x < 0:
        return 1.0 - _t_cdf(-x, df, intervals)
    log_c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)

    def pdf(t: float) -> float:
        return math.exp(log_c - (df + 1) / 2 * math.log1p(t * t / df))

    h = x / intervals  # Simpson's rule over [0, x]; the density is smooth there
    total = pdf(0.0) + pdf(x)
    total += sum((4 if i % 2 else 2) * pdf(i * h) for i in range(1, intervals))
    return 0.5 + total * h / 3


def t_quantile(p: float, df: float) -> float:
    """The p-quantile of Student's t with `df` (real, > 0) degrees of freedom."""
    if not 0.5 <= p < 1.0 or df <= 0:
        raise ValueError(f"t_quantile needs 0.5 <= p < 1 and df > 0, got p={p}, df={df}")
    lo, hi = 0.0, 1.0
    while _t_cdf(hi, df) < p:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _t_cdf(mid, df) < p else (lo, mid)
    return (lo + hi) / 2


def welch_interval(a: list[float], b: list[float], level: float = 0.95) -> dict:
    """mean(a) - mean(b) with Welch's t interval (unequal variances, Welch-Satterthwaite
    degrees of freedom). `verdict` is "a ahead" / "b ahead" only when the interval excludes
    0, "no difference shown" otherwise; with fewer than 2 values on a side there is no
    interval and no verdict."""
    diff = statistics.fmean(a) - statistics.fmean(b)
    out = {"difference": diff, "interval": f"Welch t, {level:.0%} two-sided",
           "n": [len(a), len(b)]}
    if len(a) < 2 or len(b) < 2:
        return {**out, "ci": None, "se": None, "df": None,
                "verdict": "no interval: needs 2 or more seeds on each side"}
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    se = math.sqrt(va + vb)
    if se == 0.0:  # identical figures on both sides: no spread to build an interval from
        lo = hi = diff
        df = float(len(a) + len(b) - 2)
    else:
        df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
        half = t_quantile(0.5 + level / 2, df) * se
        lo, hi = diff - half, diff + half
    verdict = "a ahead" if lo > 0 else "b ahead" if hi < 0 else "no difference shown"
    return {**out, "ci": [lo, hi], "se": se, "df": df, "verdict": verdict}
