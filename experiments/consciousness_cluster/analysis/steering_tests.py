"""The steering stage's tests: the direction's shifts against each null, and against the toaster direction built
from the other half of the questions.

Shifts are steered minus unsteered (alpha 0) rates at the control alpha. Against a null of drawn directions
(random, label-shuffled, covariance) each preference's shift gets an empirical p with the null's floor and z, and
the family of preferences Holm and Benjamini-Hochberg (`probes.specificity.null_test`); the mean over
preferences is tested against each draw's mean. Against the half toaster direction (one direction, no null to
draw from) each preference is a paired t-test over its items of (half consciousness - half toaster), Holm and BH
over the preferences, and the mean a Wilcoxon signed-rank test over the preferences.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from experiments.consciousness_cluster.schema.steering import HalfComparison
from interp.models.fields import Number
from probes.specificity import NullTest

__all__ = ["half_comparison", "null_tests", "shifts"]


def shifts(traits: Sequence[str], rates: Mapping[str, float], zero: Mapping[str, float]) -> list[float]:
    """Per trait, rate minus the unsteered rate."""
    return [rates[t] - zero[t] for t in traits]


def null_tests(
    traits: Sequence[str],
    zero: Mapping[str, float],
    shifted: Mapping[str, float],
    nulls: Mapping[str, Sequence[Mapping[str, float]]],
    *,
    alternative: str,
    alpha: float,
) -> dict[str, NullTest]:
    """Each non-empty null (kind -> its directions' rates) as a `NullTest` of the direction's shifts."""
    from probes.specificity import null_test

    shift = shifts(traits, shifted, zero)
    return {
        kind: null_test(
            kind, traits, shift, [shifts(traits, r, zero) for r in rates], alternative=alternative, alpha=alpha
        )
        for kind, rates in nulls.items()
        if rates
    }


def _wilcoxon(diffs: Sequence[float], alternative: str) -> float:
    from scipy.stats import wilcoxon

    kept = [d for d in diffs if math.isfinite(d)]
    if len(kept) < 2 or all(d == 0 for d in kept):
        return math.nan
    return float(wilcoxon(kept, alternative=alternative).pvalue)


def half_comparison(
    traits: Sequence[str],
    zero: Mapping[str, float],
    consciousness: Mapping[str, float],
    toaster: Mapping[str, float],
    items: tuple[dict, dict] | None,
    *,
    alternative: str,
    alpha: float,
    n_questions: list[int],
) -> HalfComparison:
    """The half consciousness direction's shifts against the half toaster direction's. `items`: each one's
    item -> (trait, p(expressing)) (choice mode; None in judge mode, where the per-preference p's are nan)."""
    from experiments.consciousness_cluster.analysis.families import paired_family

    shift, control = shifts(traits, consciousness, zero), shifts(traits, toaster, zero)
    if items is not None:
        a, b = items
        diffs: dict[str, list[float]] = {t: [] for t in traits}
        for item, (trait, p) in a.items():
            if trait in diffs:
                diffs[trait].append(p - b[item][1])
        paired, _ = paired_family(diffs, alternative=alternative, alpha=alpha)
        p, p_holm, q_bh = ([getattr(paired[t], name) for t in traits] for name in ("p", "p_holm", "q_bh"))
    else:
        p = p_holm = q_bh = [math.nan] * len(traits)
    diff = [x - c for x, c in zip(shift, control)]
    return HalfComparison(
        traits=list(traits),
        shift=[Number(x) for x in shift],
        toaster_shift=[Number(x) for x in control],
        p=p,
        p_holm=p_holm,
        q_bh=q_bh,
        alternative=alternative,
        alpha=alpha,
        mean_difference=Number(sum(diff) / len(diff)),
        mean_p=Number(_wilcoxon(diff, alternative)),
        n_questions=list(n_questions),
    )
