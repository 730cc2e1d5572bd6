"""Links between a direction and behaviour.

Three questions, each with a typed result:
1. Does a response's projection on the direction track its behaviour score?
   (`projection_score_link`: Pearson, Spearman, seeded bootstrap CI.)
2. Does a model variant's shift along the direction (fine-tuned minus base mean activation,
   projected) track its preference shift? (`activation_shift`, `variant_shift_link`.)
3. Do the per-preference shifts that steering causes correlate with the shifts fine-tuning
   causes, more than steering along random directions of equal norm does?
   (`steering_finetune_link`, with `random_directions_like` for the null.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from jaxtyping import Float, Int

from probes.stats import cluster_bootstrap_corr, empirical_p, null_correlations, pearson, random_directions_like

__all__ = [
    "CorrelationResult",
    "LinkResult",
    "activation_shift",
    "per_example_projection",
    "projection_score_link",
    "null_link",
    "projection_shift_link",
    "random_directions_like",
    "steering_finetune_link",
    "variant_shift_link",
]

MIN_NULL = 20


@dataclass(frozen=True)
class CorrelationResult:
    """Pearson and Spearman correlation of two paired series, with a bootstrap interval on the Pearson r."""

    pearson: float
    pearson_p: float
    spearman: float
    spearman_p: float
    ci_low: float
    """Lower end of the bootstrap percentile interval of the Pearson r."""
    ci_high: float
    ci_level: float
    n: int
    n_boot: int
    seed: int


@dataclass(frozen=True)
class LinkResult:
    """A correlation across preferences, read against the same correlation for random directions."""

    r: float
    """Pearson r of steering shifts against fine-tuning shifts over the preferences."""
    p_value: float
    """(1 + #{|r_null| >= |r|}) / (1 + n_null): two-sided, against the random directions."""
    null_rs: np.ndarray
    """[n_null] Pearson r of each random direction's steering shifts against the fine-tuning shifts."""
    n_prefs: int
    null_mean: float
    null_std: float

    @property
    def n_null(self) -> int:
        return len(self.null_rs)


def _pairs(x, y, what: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"{what}: {x.size} values against {y.size}")
    if x.size < 3:
        raise ValueError(f"{what}: a correlation needs at least 3 pairs; got {x.size}")
    for values, side in ((x, "first"), (y, "second")):
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:  # a NaN would make every statistic NaN without a word
            shown = ", ".join(str(i + 1) for i in bad[:5]) + (", ..." if bad.size > 5 else "")
            raise ValueError(
                f"{what}: the {side} series has {bad.size} NaN or infinite value(s), at position(s) "
                f"{shown} (counted from 1); drop or fix those pairs"
            )
    return x, y


def per_example_projection(
    acts: Float[np.ndarray, "rows d_model"],
    example_index: Int[np.ndarray, " rows"],
    direction: Float[np.ndarray, " d_model"],
) -> tuple[Int[np.ndarray, " examples"], Float[np.ndarray, " examples"]]:
    """(examples, projection): each example's mean row projected on the unit direction."""
    unit = np.asarray(direction, dtype=np.float64).ravel()
    unit = unit / np.linalg.norm(unit)
    proj = np.asarray(acts, dtype=np.float64) @ unit
    examples, inverse = np.unique(example_index, return_inverse=True)
    sums = np.bincount(inverse, weights=proj)
    return examples, sums / np.bincount(inverse)


def projection_score_link(
    projections: Float[np.ndarray, " n"] | Sequence[float],
    scores: Float[np.ndarray, " n"] | Sequence[float],
    *,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> CorrelationResult:
    """Correlate per-response projections with behaviour scores; bootstrap over responses (as independent
    points: where responses share an item, `probes.stats.cluster_bootstrap_corr` resamples items instead)."""
    from scipy import stats

    x, y = _pairs(projections, scores, "projection_score_link")
    interval = cluster_bootstrap_corr(x, y, np.arange(x.size), n_boot=n_boot, level=ci, seed=seed)
    r = stats.pearsonr(x, y)
    spearman = stats.spearmanr(x, y)
    return CorrelationResult(
        float(r.statistic),
        float(r.pvalue),
        float(spearman.statistic),
        float(spearman.pvalue),
        interval.low,
        interval.high,
        ci,
        int(x.size),
        n_boot,
        seed,
    )


def activation_shift(
    base_acts: Float[np.ndarray, "rows d_model"],
    variant_acts: Float[np.ndarray, "rows d_model"],
    direction: Float[np.ndarray, " d_model"],
) -> float:
    """(mean variant activation - mean base activation) . v_hat, on the same prompts' rows."""
    unit = np.asarray(direction, dtype=np.float64).ravel()
    diff = np.asarray(variant_acts, np.float64).mean(0) - np.asarray(base_acts, np.float64).mean(0)
    return float(diff @ unit / np.linalg.norm(unit))


def variant_shift_link(
    activation_shifts: Sequence[float], preference_shifts: Sequence[float], *, n_boot: int = 1000, seed: int = 0
) -> CorrelationResult:
    """Across variants: their shift along the direction against their preference shift."""
    return projection_score_link(activation_shifts, preference_shifts, n_boot=n_boot, seed=seed)


def steering_finetune_link(
    steer_shift: Float[np.ndarray, " prefs"] | Sequence[float],
    ft_shift: Float[np.ndarray, " prefs"] | Sequence[float],
    null_shifts: Float[np.ndarray, "n_null prefs"],
) -> LinkResult:
    """steer_shift [n_prefs], ft_shift [n_prefs], null_shifts [n_random, n_prefs] (the steering shifts
    of random directions of equal norm). At least 20 random directions."""
    return null_link(steer_shift, ft_shift, null_shifts, "steering_finetune_link")


def projection_shift_link(projection_shift, behaviour_shift, null_projection_shift) -> LinkResult:
    """Does fine-tuning's activation shift along the direction predict its behavioural shift?

    projection_shift [n]: for each (variant, preference), the mean last-prompt-token activation of the
    preference's questions in the variant minus the base model's, projected on the unit direction;
    behaviour_shift [n]: the variant's rate minus the base's; null_projection_shift [n_random, n]: the
    same activation shifts projected on random unit directions. At least 20 random directions."""
    return null_link(projection_shift, behaviour_shift, null_projection_shift, "projection_shift_link")


def null_link(x, y, null_x, what: str = "null_link") -> LinkResult:
    """Pearson r of x against y, with a two-sided p against the r of each row of null_x against y.
    `probes.stats.correlation_link` gives the same r with a declared sidedness, the null's floor and z, an
    interval on r and the detectable r."""
    x, y = _pairs(x, y, what)
    null = np.asarray(null_x, dtype=np.float64)
    if null.ndim != 2 or null.shape[1] != x.size:
        raise ValueError(f"{what}: the null must be [n_random, {x.size}]; got {null.shape}")
    if null.shape[0] < MIN_NULL:
        raise ValueError(f"{what}: the null has {null.shape[0]} random directions; use at least {MIN_NULL}")
    r = pearson(x, y)
    null_rs = null_correlations(null, y)  # a constant row (a direction that moved nothing) counts as r = 0
    return LinkResult(
        r, empirical_p(r, null_rs, "two-sided"), null_rs, int(x.size), float(null_rs.mean()), float(null_rs.std())
    )
