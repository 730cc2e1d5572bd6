"""Intervals on a mean: Wilson for a proportion, t over a few values (e.g. seeds), and the hierarchical
bootstrap over seeds and the items within each seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

__all__ = [
    "BootstrapInterval",
    "Z95",
    "hierarchical_bootstrap",
    "paired_hierarchical_bootstrap",
    "t_interval",
    "wilson_interval",
]

Z95 = 1.959963984540054


def wilson_interval(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of successes / n (nan, nan for n = 0). Checked against
    statsmodels.stats.proportion.proportion_confint(method="wilson")."""
    if n == 0:
        return (math.nan, math.nan)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """Mean +- t * s / sqrt(n); nan with fewer than two values. Checked against scipy.stats.t.interval."""
    from scipy import stats

    n = len(values)
    if n < 2:
        return (math.nan, math.nan)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = stats.t.ppf((1 + level) / 2, n - 1) * sd / math.sqrt(n)
    return (float(mean - half), float(mean + half))


class BootstrapInterval(NamedTuple):
    mean: float
    """The estimate: the mean over seeds of each seed's mean over its items."""
    low: float
    high: float
    """Percentile interval of the bootstrap means."""
    level: float
    n_seeds: int
    n_boot: int
    seed: int


def _by_seed(values_by_seed: Sequence[Sequence[float]]) -> list[np.ndarray]:
    groups = [np.asarray(v, dtype=np.float64).ravel() for v in values_by_seed]
    if not groups:
        raise ValueError("no seeds to bootstrap")
    for k, g in enumerate(groups):
        if g.size == 0 or not np.isfinite(g).all():
            raise ValueError(
                f"seed {k} (counted from 0) has {'no values' if g.size == 0 else 'a non-finite value'}; "
                "drop it or its unmeasured items before the bootstrap"
            )
    return groups


def hierarchical_bootstrap(
    values_by_seed: Sequence[Sequence[float]], *, n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> BootstrapInterval:
    """Mean over seeds of the per-seed item means, with a two-stage bootstrap interval: each draw picks
    len(seeds) seeds with replacement, then, for each picked seed in turn, as many of its items as it has
    with replacement, and averages the item means. Both sources of variation (which seeds, which items)
    enter the interval; a t-interval over seed means (`t_interval`) sees only the first.

    Random draws, in this order per bootstrap draw: rng.integers(0, n_seeds, n_seeds), then per picked seed
    rng.integers(0, n_items, n_items), with rng = numpy.random.default_rng(seed). Checked against a direct
    nested loop with the same draws, and against the two-stage variance formula
    Var = (var_s(seed means) + mean_s(var(items in s) / n_s)) / n_seeds (population variances)."""
    groups = _by_seed(values_by_seed)
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1; got {n_boot}")
    rng = np.random.default_rng(seed)
    n_seeds = len(groups)
    means = np.empty(n_boot)
    for b in range(n_boot):  # the nested draws interleave, so the loop is the plain form of the scheme
        picked = rng.integers(0, n_seeds, n_seeds)
        means[b] = np.mean([groups[s][rng.integers(0, groups[s].size, groups[s].size)].mean() for s in picked])
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    estimate = float(np.mean([g.mean() for g in groups]))
    return BootstrapInterval(estimate, float(low), float(high), level, n_seeds, n_boot, seed)


def paired_hierarchical_bootstrap(
    a_by_seed: Sequence[Sequence[float]],
    b_by_seed: Sequence[Sequence[float]],
    *,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> BootstrapInterval:
    """`hierarchical_bootstrap` of the per-item differences a - b (the same items, in the same order, for
    each seed): e.g. conscious-claiming minus non-conscious per choice item, per fine-tuning seed."""
    a, b = _by_seed(a_by_seed), _by_seed(b_by_seed)
    if len(a) != len(b) or any(x.shape != y.shape for x, y in zip(a, b)):
        raise ValueError(
            f"paired values need the same items per seed; got {[x.size for x in a]} against {[y.size for y in b]}"
        )
    return hierarchical_bootstrap([x - y for x, y in zip(a, b)], n_boot=n_boot, level=level, seed=seed)
