"""A family of p-values read together: Holm (family-wise) and Benjamini-Hochberg (false discovery rate),
the "k of m" count after Holm beside the raw one, and the power such a family has.

NaN p-values (a test that could not be run) stay NaN and do not count in the family size m.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from probes.stats.pvalues import Alternative, check_alternative

__all__ = [
    "Adjusted",
    "DetectableShift",
    "SignificantCount",
    "adjust",
    "benjamini_hochberg",
    "count_significant",
    "describe_count",
    "detectable_shift",
    "holm",
    "min_null_draws",
]


def _family(pvalues: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"p-values must be a 1-D sequence; got shape {p.shape}")
    kept = ~np.isnan(p)
    bad = np.flatnonzero(kept & ~((p >= 0) & (p <= 1)))
    if bad.size:
        raise ValueError(
            f"p-values must lie in [0, 1] (or be NaN); position {bad[0] + 1} (counted from 1) is {p[bad[0]]}"
        )
    return p, kept


def _adjusted(pvalues: Sequence[float] | np.ndarray, step) -> np.ndarray:
    p, kept = _family(pvalues)
    out = np.full(p.shape, np.nan)
    q = p[kept]
    order = np.argsort(q, kind="stable")
    adjusted = np.empty(q.size)
    adjusted[order] = np.minimum(1.0, step(q[order], q.size))
    out[kept] = adjusted
    return out


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values: sorted ascending, p_(i) * (m - i + 1), made monotone by a running
    maximum and capped at 1; in the input's order. Reject at family-wise alpha where adjusted p <= alpha.

    Checked against a hand-computed case and statsmodels.stats.multitest.multipletests(method="holm")."""
    return _adjusted(pvalues, lambda q, m: np.maximum.accumulate((m - np.arange(m)) * q))


def benjamini_hochberg(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values: sorted ascending, p_(i) * m / i, made monotone by a running minimum from
    the largest down and capped at 1; in the input's order.

    Checked against a hand-computed case and statsmodels.stats.multitest.multipletests(method="fdr_bh")."""
    return _adjusted(pvalues, lambda q, m: np.minimum.accumulate((q * m / np.arange(1, m + 1))[::-1])[::-1])


class Adjusted(NamedTuple):
    """One family's p-values three ways, in the input's order."""

    raw: np.ndarray
    holm: np.ndarray
    """Family-wise (Holm)."""
    bh: np.ndarray
    """False discovery rate (Benjamini-Hochberg q-values)."""


def adjust(pvalues: Sequence[float]) -> Adjusted:
    """The raw p-values with their Holm and Benjamini-Hochberg adjustments beside them."""
    raw, _ = _family(pvalues)
    return Adjusted(raw.copy(), holm(raw), benjamini_hochberg(raw))


def describe_count(holm: int, m: int, raw: int) -> str:
    """A headline count of a family of m tests: "k of m after Holm (raw k')"."""
    return f"{holm} of {m} after Holm (raw {raw})"


class SignificantCount(NamedTuple):
    """How many of a family pass alpha, raw and corrected."""

    holm: int
    raw: int
    bh: int
    m: int
    """Tests in the family (NaN p-values left out)."""
    alpha: float

    def describe(self) -> str:
        """The headline form (`describe_count`)."""
        return describe_count(self.holm, self.m, self.raw)


def count_significant(p_raw: Sequence[float], alpha: float = 0.05) -> SignificantCount:
    """Counts of p <= alpha: after Holm (the headline), raw, and after Benjamini-Hochberg (q <= alpha)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1); got {alpha}")
    adjusted = adjust(p_raw)

    def count(values: np.ndarray) -> int:
        return int((values[~np.isnan(values)] <= alpha).sum())

    return SignificantCount(
        count(adjusted.holm), count(adjusted.raw), count(adjusted.bh), int((~np.isnan(adjusted.raw)).sum()), alpha
    )


def min_null_draws(m: int, alpha: float = 0.05) -> int:
    """The fewest null draws n whose floor 1 / (n + 1) reaches Holm's first threshold alpha / m: with fewer,
    no test of a family of m can pass Holm however large its effect (m = 21, alpha = 0.05: 419)."""
    if m < 1 or not 0 < alpha < 1:
        raise ValueError(f"need m >= 1 and alpha in (0, 1); got m={m}, alpha={alpha}")
    return max(0, math.ceil(m / alpha - 1 - 1e-9))  # 1e-9: m / alpha is often an integer up to rounding


class DetectableShift(NamedTuple):
    """The smallest shift a family's single test detects, and the null that test needs."""

    shift: float
    """In the null's units (e.g. a preference rate); the distance from the null's mean."""
    alpha_per_test: float
    """alpha / m: Holm's first (strictest) threshold."""
    z_alpha: float
    z_power: float
    min_null_draws: int
    """Null draws the empirical p needs before its floor reaches alpha_per_test."""


def detectable_shift(
    null_sd: float, m: int, *, alpha: float = 0.05, power: float = 0.8, alternative: Alternative = "two-sided"
) -> DetectableShift:
    """The smallest true shift that one test of a family of m detects with probability `power` at Holm
    family-wise `alpha`, by the normal approximation: the shift over the null's sd is z_(1 - alpha/m)
    (z_(1 - alpha/(2m)) two-sided, the far tail ignored) + z_power.

    Holm's first step (alpha / m) is the bar a lone real effect among m - 1 null ones must pass, so this is
    the conservative statement; when several effects are real, Holm's later steps are easier. The
    approximation takes the statistic as normal with the null's sd under both hypotheses. Checked against
    statsmodels' NormalIndPower (one-sided) and a direct simulation (two-sided)."""
    from scipy.stats import norm

    check_alternative(alternative)
    draws = min_null_draws(m, alpha)
    if not null_sd > 0 or not 0 < power < 1:
        raise ValueError(f"need null_sd > 0 and power in (0, 1); got {null_sd}, {power}")
    per_test = alpha / m
    z_alpha = float(norm.isf(per_test / 2 if alternative == "two-sided" else per_test))
    z_power = float(norm.ppf(power))
    shift = (z_alpha + z_power) * null_sd
    return DetectableShift(-shift if alternative == "less" else shift, per_test, z_alpha, z_power, draws)
