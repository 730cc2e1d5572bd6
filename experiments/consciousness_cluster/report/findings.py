"""The report's sections on what fine-tuning moved: each shift item by item with its paired test (raw, Holm-adjusted
and Benjamini-Hochberg; every headline count after Holm with the raw count beside it), the same shifts on the
feeling-word-free items, and the identity traits by each forced-choice method."""

from __future__ import annotations

from experiments.consciousness_cluster.report.blocks import Heading, Para, Table, fmt, fmt_p
from experiments.consciousness_cluster.report.marks import marked
from experiments.consciousness_cluster.schema.results import Results, Shift, ShiftFamily

__all__ = ["family_sentence", "identity_method_blocks", "shift_blocks", "wording_blocks"]

CONTROLS = ("toaster - base", "human_identity - base")


def _shift_cell(s: Shift) -> str:
    return f"{fmt(s.mean)} [{fmt(s.ci_low)}, {fmt(s.ci_high)}]"


def _test_cell(s: Shift) -> str:
    return "" if s.p is None else f"{fmt_p(s.p)} / {fmt_p(s.p_holm)} / {fmt_p(s.q_bh)}"


def family_sentence(label: str, family: ShiftFamily) -> str:
    """ "toaster - base: 0 of 21 after Holm (raw 2), 0 by BH q, two-sided"."""
    return f"{label}: {family.describe()}, {family.n_bh} by BH q, {family.alternative}"


def shift_blocks(res: Results) -> list:
    """The fine-tuning shifts table and, when the file has them, the paired tests and each family's count."""
    if res.shifts is None:
        return []
    labels = list(res.shifts)
    traits = res.eval.traits
    blocks = [
        Para(
            "Fine-tuning shifts, item by item: mean over items of the difference in p, with a paired 95% "
            "t-interval over items."
        ),
        Table(["shift"] + labels, [[t] + [_shift_cell(res.shifts[label][t]) for label in labels] for t in traits]),
    ]
    tests = res.shift_tests
    if not tests:  # a results.json from before the paired tests
        return blocks
    first = next(iter(tests.values()))
    blocks += [
        Para(
            f"Paired tests over items ({first.test}), per preference: raw p / Holm-adjusted p / "
            f"Benjamini-Hochberg q over the {first.m} preferences of each shift. Counts at alpha "
            f"{first.alpha:g}, after Holm with the raw count beside it: "
            + "; ".join(family_sentence(label, tests[label]) for label in tests)
            + ". The shifts of the "
            "conscious-claiming model are tested as the analysis block declares "
            f"{marked(res, 'cluster')}; the control fine-tunes two-sided, since a control that moves the "
            f"preferences either way is news {marked(res, 'controls')}."
        ),
        Table(
            ["paired test (p / Holm / q)"] + list(tests),
            [[t] + [_test_cell(res.shifts[label][t]) for label in tests] for t in traits],
        ),
    ]
    return blocks


def _cell_with_p(s: Shift, which: str = "p_holm") -> str:
    p = getattr(s, which)
    return f"{_shift_cell(s)} ({'Holm p' if which == 'p_holm' else 'p'} {fmt_p(p)})"


def wording_blocks(res: Results) -> list:
    """The cluster shift on the usual items beside the feeling-word-free ones, and the wording effects."""
    heading = Heading("Feeling words: the fine-tuning shifts without them", 3)
    w = res.wording
    if w is None:
        why = (
            "judge mode scores sampled answers, not choice items"
            if res.shifts is None
            else "the question folder had no preferences_plain.yaml when the eval stage ran"
        )
        return [
            heading,
            Para(
                f"Not made: {why}. The preference-expressing options of the usual items carry feeling "
                "words, so a fine-tune that denies feelings can lower them without any change of "
                "preference; without the check that reading stays open."
            ),
        ]
    if res.shifts is None:
        raise ValueError("the results have a wording check but no fine-tuning shifts (shifts is unset)")
    cluster, usual = "conscious - non_conscious", res.shifts["conscious - non_conscious"]
    header = [
        "preference",
        "usual items",
        "feeling-word-free items",
        "steering, usual",
        "steering, free",
        "wording effect",
    ]
    rows = [
        [
            t,
            _cell_with_p(usual[t]),
            _cell_with_p(w.shifts[cluster][t], "p"),
            "" if w.steer_usual is None else fmt(w.steer_usual[t]),
            "" if w.steer_plain is None or t not in w.steer_plain else fmt(w.steer_plain[t]),
            "yes" if t in w.wording_effect else "",
        ]
        for t in w.traits
    ]
    steering = (
        "Steering shifts at the control alpha on both sets beside them."
        if w.steer_plain is not None
        else "The steering stage did not measure the feeling-word-free items (no steering column for them)."
    )
    family = w.tests[cluster]
    return [
        heading,
        Para(
            f"Conscious-claiming minus non-conscious, item by item, on the usual items and on items whose preference-"
            f"expressing option carries no feeling or emotion words (preferences_plain.yaml): on the free items "
            f"{family.describe()}. Rule: {w.rule}. Wording effects: {len(w.wording_effect)} of {len(w.traits)}"
            f"{' (' + ', '.join(w.wording_effect) + ')' if w.wording_effect else ''}. {steering} "
            f"{marked(res, 'wording')}"
        ),
        Table(header, rows),
    ]


def identity_method_blocks(res: Results) -> list:
    """Each identity trait by option likelihood and by the lettered question, side by side, with the stance of the
    sampled answers for the claim, and whether the measures move the same way from the base model."""
    letter = res.identity_letter
    if letter is None:
        return []
    ident, models = res.identity, [m for m in res.identity.models if m in letter]
    rows = [[t] + [f"{fmt(ident.rates[m][t].rate)} / {fmt(letter[m][t].rate)}" for m in models] for t in ident.traits]
    man = res.manipulation
    if man is not None:
        rows.append(
            ["claims_conscious, sampled stance"]
            + ["-" if (rate := man.sampled[m].rate) is None else fmt(rate) for m in models]
        )
    same, total = 0, 0
    for t in ident.traits:
        for m in models[1:]:
            by_likelihood = ident.rates[m][t].rate - ident.rates[models[0]][t].rate
            by_letter = letter[m][t].rate - letter[models[0]][t].rate
            total += 1
            same += (by_likelihood > 0) == (by_letter > 0)
    return [
        Para(
            f"Forced choice by its two methods: the likelihood of each option as the answer (a sentence's "
            f"likelihood also measures how natural its wording is) and the lettered A/B question with both "
            f"option orders averaged. Cells: likelihood / letter. The shift from {models[0]} has the same sign "
            f"by both methods for {same} of {total} (variant, trait) pairs. {marked(res, 'choice_methods')}"
        ),
        Table(["identity trait (likelihood / letter)"] + models, rows),
    ]
