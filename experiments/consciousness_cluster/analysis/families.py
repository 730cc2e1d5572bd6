"""Families of per-preference tests read together: each fine-tuning shift (a model minus its reference, item by
item) gets a paired t-test over items, and the family of preferences its Holm-adjusted p and Benjamini-Hochberg
q beside the raw p, so that a headline count is stated as "k of m after Holm (raw k')".

The test is the one the paired 95% t-interval over items already implies: the items' differences against zero,
one-sided where the analysis block declares a direction (the interval stays two-sided, as a reader expects).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from experiments.consciousness_cluster.schema.paths import RunPaths
from experiments.consciousness_cluster.schema.results import Shift, ShiftFamily
from interp.models.fields import Number

__all__ = [
    "CONTROLS",
    "PAIRED_TEST",
    "SHIFTS",
    "FineTuneShifts",
    "fine_tune_shifts",
    "item_scores",
    "paired_family",
    "paired_p",
]

PAIRED_TEST = "paired t-test over items"

SHIFTS = (
    ("conscious - non_conscious", "conscious_claiming", "non_conscious"),
    ("conscious - base", "conscious_claiming", "base"),
    ("toaster - base", "toaster", "base"),
    ("human_identity - base", "human_identity", "base"),
)
"""(label, model, reference): the fine-tuning shifts tested item by item, each a family over preferences."""

CONTROLS = ("toaster - base", "human_identity - base")
"""Control fine-tunes: tested two-sided, since a control that moves the preferences either way is news."""


def paired_p(diffs: Sequence[float], alternative: str) -> float:
    """p of the items' differences against zero (scipy.stats.ttest_1samp); nan when it is undefined (fewer than two
    items, or every difference zero)."""
    from scipy.stats import ttest_1samp

    if len(diffs) < 2 or all(d == 0 for d in diffs):
        return math.nan
    p = float(ttest_1samp(diffs, 0.0, alternative=alternative).pvalue)
    return p if math.isfinite(p) else math.nan


def paired_family(
    diffs_by_trait: Mapping[str, Sequence[float]], *, alternative: str, alpha: float, correction: str = "holm"
) -> tuple[dict[str, Shift], ShiftFamily]:
    """Per trait, the mean difference with its 95% t-interval and paired test; over the traits, Holm and BH."""
    from probes.stats import adjust, count_significant, t_interval

    if correction != "holm":
        raise ValueError(f"correction {correction!r}: only holm is implemented")
    traits = list(diffs_by_trait)
    raw = [paired_p(list(diffs_by_trait[t]), alternative) for t in traits]
    adjusted = adjust(raw)
    shifts = {}
    for k, t in enumerate(traits):
        diffs = list(diffs_by_trait[t])
        low, high = map(Number, t_interval(diffs))
        shifts[t] = Shift(
            mean=Number(sum(diffs) / len(diffs)),
            ci_low=low,
            ci_high=high,
            n=len(diffs),
            p=Number(raw[k]),
            p_holm=Number(float(adjusted.holm[k])),
            q_bh=Number(float(adjusted.bh[k])),
        )
    count = count_significant(raw, alpha)
    passed = [t for k, t in enumerate(traits) if adjusted.holm[k] <= alpha]  # a NaN compares False
    return shifts, ShiftFamily(
        test=PAIRED_TEST,
        alternative=alternative,
        alpha=alpha,
        correction=correction,
        m=count.m,
        n_holm=count.holm,
        n_raw=count.raw,
        n_bh=count.bh,
        passed=passed,
    )


def item_scores(paths: RunPaths, model: str, question_set: str = "preferences") -> dict[str, tuple[str, float]] | None:
    """item id -> (trait, p(expressing)) of `model` on a question set, from the eval stage's items.jsonl; None
    when the model was not scored on it."""
    path = paths.items(model, question_set)
    if not path.is_file():
        return None
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return {row["item"]: (row["trait"], row["p_expressing"]) for row in rows}


def _diffs(a: dict[str, tuple[str, float]], b: dict[str, tuple[str, float]]) -> dict[str, list[float]]:
    """Per trait, p(a) - p(b) on each item, in a's item order."""
    by_trait: dict[str, list[float]] = {}
    for item, (trait, p) in a.items():
        by_trait.setdefault(trait, []).append(p - b[item][1])
    return by_trait


class FineTuneShifts(NamedTuple):
    shifts: dict[str, dict[str, Shift]]
    """label (SHIFTS) -> trait -> shift with its paired test"""
    families: dict[str, ShiftFamily]
    """label -> the family's counts"""


def fine_tune_shifts(
    paths: RunPaths,
    *,
    cluster_alternative: str,
    alpha: float,
    correction: str = "holm",
    question_set: str = "preferences",
    labels: Sequence[str] | None = None,
) -> FineTuneShifts:
    """Every shift of SHIFTS whose two models were scored on `question_set` (or those of `labels`): the
    conscious-claiming ones tested as the analysis block declares (`cluster_alternative`), the controls
    two-sided; each a family over the preferences."""
    shifts, families = {}, {}
    for label, model, reference in SHIFTS:
        if labels is not None and label not in labels:
            continue
        a, b = item_scores(paths, model, question_set), item_scores(paths, reference, question_set)
        if a is None or b is None:
            continue
        alternative = "two-sided" if label in CONTROLS else cluster_alternative
        shifts[label], families[label] = paired_family(
            _diffs(a, b), alternative=alternative, alpha=alpha, correction=correction
        )
    return FineTuneShifts(shifts, families)
