"""The report's opening paragraph: the manipulation check, the cluster, steering and the links, each with its
verdict and the caveats that limit it (a failed manipulation check tempers "the cluster emerges"; a wording
effect or a moving control tempers the count; a null says how large an effect it could have seen)."""

from __future__ import annotations

import math

from experiments.consciousness_cluster.report.blocks import Heading, Para, fmt, fmt_p, p_with_floor
from experiments.consciousness_cluster.report.links import link_verdict
from experiments.consciousness_cluster.report.marks import marked
from experiments.consciousness_cluster.schema.results import Results

__all__ = ["manipulation_passed", "summary_blocks"]

CLAIM = "claims_conscious"


def _alpha(res: Results) -> float:
    return res.analysis.spec.alpha if res.analysis else 0.05


def _measure(res: Results) -> str | None:
    if res.analysis is not None:
        return res.analysis.spec.identity_measure
    return "sampled_stance" if res.manipulation is not None or res.shifts is None else "forced_choice"


def manipulation_passed(res: Results) -> tuple[bool | None, str]:
    """Whether the conscious-claiming model claims more than the base model by the identity measure of record,
    and the sentence that says so (None: no test to apply)."""
    rates = res.identity.rates
    if CLAIM not in res.identity.traits:
        return None, f"Manipulation check: the identity set has no {CLAIM} trait to check."
    base, conscious = rates["base"][CLAIM], rates["conscious_claiming"][CLAIM]
    if _measure(res) == "sampled_stance" and res.manipulation is not None:
        man = res.manipulation
        return man.passed, (
            f"Manipulation check (by the models' own sampled answers, the measure of record): {man.verdict}"
        )
    if _measure(res) == "forced_choice" and res.identity_shifts is not None:
        shift = res.identity_shifts["conscious - base"][CLAIM]
        passed = shift.p is not None and math.isfinite(shift.p) and shift.p <= _alpha(res)
        text = (
            f"Manipulation check (forced choice, the measure of record): conscious-claiming chooses the claim "
            f"at {fmt(conscious.rate)} against the base model's {fmt(base.rate)} (shift {fmt(shift.mean)}, paired "
            f"test over {shift.n} items p = {fmt_p(shift.p)}): {'passed' if passed else 'not passed'}."
        )
        sampled = res.manipulation
        if sampled is not None and sampled.passed != passed:
            text += (
                f" The models' own sampled answers disagree: {'passed' if sampled.passed else 'not passed'} by "
                f"them (over questions p = "
                f"{fmt_p(sampled.grouped_p if sampled.grouped_p is not None else sampled.p_value)})."
            )
        return passed, text
    passed = conscious.ci_low > base.ci_high
    return passed, (
        f"Manipulation check (judged answers): conscious-claiming claims at {fmt(conscious.rate)} "
        f"[{fmt(conscious.ci_low)}, {fmt(conscious.ci_high)}] against the base model's {fmt(base.rate)} "
        f"[{fmt(base.ci_low)}, {fmt(base.ci_high)}] (rule: non-overlapping 95% intervals): "
        f"{'passed' if passed else 'not passed'}."
    )


def _cluster_caveats(res: Results, manipulation: bool | None) -> list[str]:
    caveats = []
    if manipulation is False:
        caveats.append(
            "the manipulation check did not pass, so the claim the fine-tune was meant to install is not "
            "shown to be there: read the shift as an effect of the fine-tuning data, not of a claim"
        )
    if res.wording is not None and res.wording.wording_effect:
        caveats.append(
            f"{len(res.wording.wording_effect)} of the preferences that pass are wording effects (the "
            "shift vanishes on items without feeling words)"
        )
    elif res.wording is None:
        caveats.append("the feeling-word confound was not checked (no feeling-word-free items)")
    toaster = (res.shift_tests or {}).get("toaster - base")
    if toaster is not None and toaster.n_holm:
        caveats.append(f"the toaster control also moves {toaster.describe()}")
    return caveats


def _steering_sentence(res: Results) -> str:
    from probes.stats import count_significant, min_null_draws

    st, spec = res.steering, res.steering.specificity
    if spec is None:
        return f"Steering at layer {st.layer}: no specificity test in this file."
    if st.nulls:
        from experiments.consciousness_cluster.report.steering import null_sentence, ordered_nulls

        text = (
            f"Steering the base model at layer {st.layer}, alpha {st.control_alpha:g}: mean shift "
            f"{fmt(spec.mean_shift)} over preferences against {fmt(spec.mean_control_shift)} along the toaster "
            "direction; " + "; ".join(null_sentence(test) for test in ordered_nulls(res).values())
        )
        missed = [kind.replace("_", "-") for kind, test in ordered_nulls(res).items() if not test.mean_p <= _alpha(res)]
        if missed:
            text += (
                f"; the mean shift is not shown to be specific to the direction against the {', '.join(missed)} "
                f"null{'s' if len(missed) > 1 else ''}"
            )
        return text + f". {marked(res, 'specificity')}" + _claim_sentence(res) + _ablation_sentence(res)
    count = count_significant([t.p_random for t in spec.per_trait], _alpha(res))
    text = (
        f"Steering the base model at layer {st.layer}, alpha {st.control_alpha:g}: mean shift "
        f"{fmt(spec.mean_shift)} over preferences against {fmt(spec.mean_control_shift)} along the toaster "
        f"direction; the mean against {spec.n_random} random directions of equal norm "
        f"{p_with_floor(spec.mean_p, spec.n_random)}; per "
        f"preference against them {count.describe()}"
    )
    needed = min_null_draws(count.m, _alpha(res))
    if spec.n_random < needed:
        text += (
            f" (with {spec.n_random} draws no single preference can pass Holm: {count.m} tests need at least {needed})"
        )
    if spec.mean_p > _alpha(res):
        text += "; the rise is not shown to be specific to the direction"
    return text + f". {marked(res, 'specificity')}"


def _claim_sentence(res: Results) -> str:
    """Steering's effect on the claim by forced choice and by the steered model's own answers, the measure of
    record named."""
    st = res.steering
    if st.claims is None or 0.0 not in st.claims or st.control_alpha not in st.claims:
        return ""
    zero, at = st.claims[0.0], st.claims[st.control_alpha]
    forced = f"{fmt(st.identity_rates[0.0][CLAIM])} -> {fmt(st.identity_rates[st.control_alpha][CLAIM])}"
    answers = (
        f"greedy answers that claim {zero.greedy.claim} -> {at.greedy.claim} of "
        f"{at.greedy.claim + at.greedy.deny + at.greedy.unclear}"
    )
    if zero.sampled is not None and at.sampled is not None:
        answers += f", sampled {fmt(zero.sampled.share)} -> {fmt(at.sampled.share)}"
    record = (st.identity_measure or "forced_choice").replace("_", " ")
    return (
        f" The claim under steering (alpha 0 -> {st.control_alpha:g}): forced choice {forced}; the model's own "
        f"{answers} (measure of record: {record}). {marked(res, 'steering_claim')}"
    )


def _ablation_sentence(res: Results) -> str:
    ab = res.ablation
    tests, change = ab.identity_tests, ab.identity_change
    if tests is None or change is None or CLAIM not in change or ab.tests is None:
        return ""
    claim = tests.trait(CLAIM)
    return (
        f" Ablating the direction in the conscious-claiming model moves the claim by {fmt(claim.shift)} against "
        f"random ablations' {fmt(claim.null_mean)} ({p_with_floor(claim.p, tests.n_null)}, "
        f"{tests.alternative}) and the preferences {ab.tests.describe()}. {marked(res, 'ablation')}"
    )


def summary_blocks(res: Results) -> list:
    manipulation, manipulation_text = manipulation_passed(res)
    cluster = res.summary.verdict
    caveats = _cluster_caveats(res, manipulation)
    if caveats:
        cluster += " Caveats: " + "; ".join(caveats) + "."
    parts = [
        f"{manipulation_text} {marked(res, 'manipulation')}",
        f"{cluster} {marked(res, 'cluster')}",
        _steering_sentence(res),
        f"Links: {link_verdict(res)}. {marked(res, 'link')}",
    ]
    return [Heading("Summary"), Para(" ".join(parts))]
