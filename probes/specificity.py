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
from probes.stats import empirical_p

__all__ = ["TraitSpecificity", "Specificity", "empirical_p", "steering_specificity", "best_layer"]


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


def steering_specificity(traits: Sequence[str], shift: Sequence[float], control_shift: Sequence[float],
                         random_shifts: Sequence[Sequence[float]]) -> Specificity:
    """shift [n_traits], control_shift [n_traits], random_shifts [n_random, n_traits]; shifts are
    steered minus unsteered rates at the same alpha and norm."""
    from scipy import stats

    x = np.asarray(shift, dtype=np.float64)
    c = np.asarray(control_shift, dtype=np.float64)
    null = np.asarray(random_shifts, dtype=np.float64)
    if x.shape != (len(traits),) or c.shape != x.shape:
        raise ValueError(f"shift and control_shift must hold one value per trait ({len(traits)}); "
                         f"got {x.shape} and {c.shape}")
    if null.ndim != 2 or null.shape[1] != x.size or null.shape[0] < 1:
        raise ValueError(f"random_shifts must be [n_random >= 1, {x.size}]; got {null.shape}")
    per_trait = [TraitSpecificity(t, float(x[i]), float(c[i]), float(null[:, i].mean()), float(null[:, i].std()),
                                  empirical_p(x[i], null[:, i], "two-sided")) for i, t in enumerate(traits)]
    diff = x - c
    paired = (float(stats.wilcoxon(diff).pvalue) if x.size >= 2 and np.any(diff != 0) else float("nan"))
    means = null.mean(1)
    return Specificity(per_trait, float(x.mean()), float(c.mean()), [float(m) for m in means],
                       empirical_p(float(x.mean()), means, "two-sided"), float(diff.mean()), paired, int(null.shape[0]))


def best_layer(effects: Mapping[int, float]) -> int:
    """The layer with the largest effect (ties: the shallowest), e.g. claims-conscious change per unit alpha."""
    if not effects:
        raise ValueError("no layers to choose from")
    return max(sorted(effects), key=lambda layer: effects[layer])
