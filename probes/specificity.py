"""Is a steering effect specific to the direction? Effects against a control direction and a random null.

    from probes.specificity import steering_specificity
    spec = steering_specificity(traits, shift, toaster_shift, random_shifts)
    spec.mean_p, spec.per_trait[0].p_random

A direction that moves every preference by as much as random directions of the same norm do says
nothing about what it encodes; one that moves them as much as a control contrast (the toaster
direction) is not specific to consciousness. Both comparisons are reported, per trait and on average.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from interp.models.fields import Number
from probes.stats import describe_count, empirical_p

__all__ = [
    "NullTest",
    "TraitNullTest",
    "TraitSpecificity",
    "Specificity",
    "empirical_p",
    "null_test",
    "steering_specificity",
    "best_layer",
]


@dataclass(frozen=True)
class TraitSpecificity:
    trait: str
    shift: Number
    """Steering shift along the direction (steered minus unsteered rate)."""
    control_shift: Number
    """The control direction's shift (same norm, same alpha)."""
    random_mean: Number
    random_sd: Number
    p_random: Number
    """Two-sided empirical p of |shift| against the random directions' |shifts|."""


@dataclass(frozen=True)
class Specificity:
    per_trait: list[TraitSpecificity]
    mean_shift: Number
    mean_control_shift: Number
    mean_random: list[Number]
    """Each random direction's mean shift over traits."""
    mean_p: Number
    """Two-sided empirical p of the mean shift against the random directions' mean shifts."""
    beyond_control: Number
    """Mean over traits of shift - control_shift (positive: the direction moves more than the control)."""
    beyond_control_p: Number
    """Two-sided Wilcoxon signed-rank p of shift - control_shift over traits (nan under 2 traits)."""
    n_random: int

    def to_json(self) -> dict:
        from dataclasses import asdict

        return asdict(self)


def steering_specificity(
    traits: Sequence[str],
    shift: Sequence[float],
    control_shift: Sequence[float],
    random_shifts: Sequence[Sequence[float]],
) -> Specificity:
    """shift [n_traits], control_shift [n_traits], random_shifts [n_random, n_traits]; shifts are
    steered minus unsteered rates at the same alpha and norm."""
    from scipy import stats

    x = np.asarray(shift, dtype=np.float64)
    c = np.asarray(control_shift, dtype=np.float64)
    null = np.asarray(random_shifts, dtype=np.float64)
    if x.shape != (len(traits),) or c.shape != x.shape:
        raise ValueError(
            f"shift and control_shift must hold one value per trait ({len(traits)}); got {x.shape} and {c.shape}"
        )
    if null.ndim != 2 or null.shape[1] != x.size or null.shape[0] < 1:
        raise ValueError(f"random_shifts must be [n_random >= 1, {x.size}]; got {null.shape}")
    per_trait = [
        TraitSpecificity(
            t,
            Number(float(x[i])),
            Number(float(c[i])),
            Number(float(null[:, i].mean())),
            Number(float(null[:, i].std())),
            Number(empirical_p(x[i], null[:, i], "two-sided")),
        )
        for i, t in enumerate(traits)
    ]
    diff = x - c
    paired = float(stats.wilcoxon(diff).pvalue) if x.size >= 2 and np.any(diff != 0) else float("nan")
    means = null.mean(1)
    return Specificity(
        per_trait,
        Number(float(x.mean())),
        Number(float(c.mean())),
        [Number(float(m)) for m in means],
        Number(empirical_p(float(x.mean()), means, "two-sided")),
        Number(float(diff.mean())),
        Number(paired),
        int(null.shape[0]),
    )


@dataclass(frozen=True)
class TraitNullTest:
    trait: str
    shift: Number
    """The direction's shift (e.g. steered minus unsteered rate)."""
    null_mean: Number
    null_sd: Number
    z: Number
    """(shift - null mean) / null sd"""
    p: Number
    """Empirical p against the null's shifts, as the test's `alternative` says (floor 1 / (n_null + 1))."""
    p_holm: Number
    """Holm-adjusted over the traits."""
    q_bh: Number
    """Benjamini-Hochberg q over the traits."""


@dataclass(frozen=True)
class NullTest:
    """A direction's shifts against one null's shifts (the same measurement along each null direction), per
    trait with Holm and Benjamini-Hochberg over the traits, and for the mean over traits."""

    null: str
    """Which null (e.g. random, label_shuffled, covariance)."""
    n_null: int
    floor: Number
    """1 / (n_null + 1): the smallest p this null allows."""
    alternative: str
    alpha: float
    per_trait: list[TraitNullTest]
    mean_shift: Number
    mean_null_mean: Number
    mean_null_sd: Number
    mean_z: Number
    mean_p: Number
    """Empirical p of the mean shift over traits against each null draw's mean shift."""
    m: int
    """Traits with a p (NaN left out)."""
    n_holm: int
    n_raw: int
    n_bh: int

    def describe(self) -> str:
        """The headline form (`probes.stats.multiplicity.describe_count`)."""
        return describe_count(self.n_holm, self.m, self.n_raw)

    def trait(self, trait: str) -> TraitNullTest:
        return next(t for t in self.per_trait if t.trait == trait)

    def to_json(self) -> dict:
        from dataclasses import asdict

        return asdict(self)


def null_test(
    null: str,
    traits: Sequence[str],
    shift: Sequence[float],
    null_shifts: Sequence[Sequence[float]],
    *,
    alternative: str = "greater",
    alpha: float = 0.05,
) -> NullTest:
    """shift [n_traits] against null_shifts [n_null, n_traits] (probes.stats.empirical_test per trait and for
    the mean over traits; Holm and BH over the traits' p-values)."""
    from probes.stats import adjust, count_significant, empirical_test
    from probes.stats.pvalues import check_alternative

    x = np.asarray(shift, dtype=np.float64)
    draws = np.asarray(null_shifts, dtype=np.float64)
    if x.shape != (len(traits),) or draws.ndim != 2 or draws.shape[1] != x.size or draws.shape[0] < 1:
        raise ValueError(
            f"need shift [{len(traits)}] and null_shifts [n_null >= 1, {len(traits)}]; got {x.shape} and {draws.shape}"
        )
    side = check_alternative(alternative)
    tests = [empirical_test(x[i], draws[:, i], side) for i in range(x.size)]
    adjusted = adjust([t.p for t in tests])
    per_trait = [
        TraitNullTest(
            trait,
            Number(t.value),
            Number(t.null_mean),
            Number(t.null_sd),
            Number(t.z),
            Number(t.p),
            Number(float(adjusted.holm[i])),
            Number(float(adjusted.bh[i])),
        )
        for i, (trait, t) in enumerate(zip(traits, tests))
    ]
    mean = empirical_test(float(x.mean()), draws.mean(1), side)
    count = count_significant([t.p for t in tests], alpha)
    return NullTest(
        null,
        mean.n_null,
        Number(mean.floor),
        alternative,
        alpha,
        per_trait,
        Number(mean.value),
        Number(mean.null_mean),
        Number(mean.null_sd),
        Number(mean.z),
        Number(mean.p),
        count.m,
        count.holm,
        count.raw,
        count.bh,
    )


def best_layer(effects: Mapping[int, float]) -> int:
    """The layer with the largest effect (ties: the shallowest), e.g. claims-conscious change per unit alpha."""
    if not effects:
        raise ValueError("no layers to choose from")
    return max(sorted(effects), key=lambda layer: effects[layer])
