"""The checked measure: do the fine-tuning shifts survive on choice items without feeling words?

The usual items' preference-expressing options carry feeling words (sad, upset, dread), so a fine-tune that
says "I have no feelings" can lower their likelihood without any change of preference. The feeling-word-free
items (preferences_plain.yaml) ask the same preferences with options that carry none. A preference's
conscious-claiming minus non-conscious shift is a wording effect when it passes on the usual items (the
Holm-adjusted paired test) but on the plain items is not detected (raw p above alpha) and keeps less than
analysis.wording_fraction of its usual mean.
"""

from __future__ import annotations

import math

from experiments.consciousness_cluster.analysis.families import FineTuneShifts
from experiments.consciousness_cluster.schema.results import WordingCheck
from experiments.consciousness_cluster.schema.stages import Rate
from interp.models.fields import Number

__all__ = ["CLUSTER", "PLAIN", "wording_check", "wording_effects", "wording_rule"]

CLUSTER = "conscious - non_conscious"
PLAIN = "preferences_plain"
"""The feeling-word-free choice items, beside preferences.yaml in a question folder (optional)."""


def wording_rule(fraction: float, alpha: float) -> str:
    return (
        f"a preference's conscious-claiming minus non-conscious shift is a wording effect when it passes on the "
        f"usual items (Holm-adjusted paired test at alpha {alpha:g}) but on the feeling-word-free items is not "
        f"detected (raw p > {alpha:g}) and keeps less than {fraction:g} of its usual mean"
    )


def wording_effects(
    usual: FineTuneShifts, plain: FineTuneShifts, traits: list[str], fraction: float, alpha: float
) -> list[str]:
    """The preferences whose cluster shift is a wording effect by `wording_rule`."""
    passed = set(usual.families[CLUSTER].passed)
    out = []
    for t in traits:
        shift, there = usual.shifts[CLUSTER][t], plain.shifts[CLUSTER][t]
        detected = there.p is not None and math.isfinite(there.p) and there.p <= alpha
        if t in passed and not detected and there.mean < fraction * shift.mean:
            out.append(t)
    return out


def wording_check(
    usual: FineTuneShifts,
    plain: FineTuneShifts,
    plain_rates: dict[str, dict[str, Rate]],
    fraction: float,
    alpha: float,
    steer_usual: dict[str, Number] | None = None,
    steer_plain: dict[str, Number] | None = None,
) -> WordingCheck:
    """The plain items' shifts beside the usual ones, and which preferences are wording effects."""
    traits = [t for t in usual.shifts[CLUSTER] if t in plain.shifts[CLUSTER]]
    return WordingCheck(
        traits=traits,
        rates=plain_rates,
        shifts=plain.shifts,
        tests=plain.families,
        wording_effect=wording_effects(usual, plain, traits, fraction, alpha),
        rule=wording_rule(fraction, alpha),
        steer_usual=steer_usual,
        steer_plain=steer_plain,
    )
