"""The report's section on the links between the direction and behaviour, and the sentence the summary quotes.

A link that passes its declared test is said to be detected (that the steering profile correlates with the
fine-tune's beyond random directions is said of the steering / fine-tuning link only then, and no more: a
correlation over preferences, not each preference reproduced); one that does not is "not detected, with power to see
r >= X", X the smallest r this run's own null lets the test detect, never "does not hold".
"""

from __future__ import annotations

import math

from experiments.consciousness_cluster.report.blocks import Heading, Image, Para, fmt, fmt_p, p_with_floor
from experiments.consciousness_cluster.report.marks import marked
from experiments.consciousness_cluster.schema.results import Results
from experiments.consciousness_cluster.schema.stages import LinkStats, ProjectionScore
from experiments.consciousness_cluster.schema.steering import ProjectionShiftLink

__all__ = ["link_blocks", "link_verdict", "power_phrase"]

REPRODUCES = "the steering profile over the preferences correlates with the fine-tune's beyond random directions"


def power_phrase(detectable_r: float | None, n_null: int, alpha: float) -> str:
    """What a null result could have seen: "with power to see r >= 0.52", or why it could see nothing."""
    if detectable_r is None:
        return "its power was not computed (a results.json from before the analysis block)"
    if not math.isfinite(detectable_r):
        return (
            f"and this null of {n_null} draws is too small to reject at alpha {alpha:g} at all (its floor "
            f"1/{n_null + 1} is above alpha)"
        )
    return f"with power to see r >= {fmt(detectable_r)}"


def link_verdict(res: Results) -> str:
    """The steering / fine-tuning link in one sentence, by its declared test."""
    link, test = res.link, res.link.test
    if test is None:
        return (
            f"Steering vs fine-tuning shift: r = {fmt(link.r)}, p = {fmt_p(link.p_value)} (two-sided, against "
            "conscious-claiming minus base; a results.json from before the analysis block)"
        )
    if test.passed:
        return (
            f"The link is detected: r = {fmt(link.r)} [{fmt(test.ci_low)}, {fmt(test.ci_high)}], "
            f"p = {fmt_p(link.p_value)} ({test.alternative}); {REPRODUCES}"
        )
    return (
        f"The link is not detected, {power_phrase(test.detectable_r, link.n_null, test.alpha)}: r = {fmt(link.r)} "
        f"[{fmt(test.ci_low)}, {fmt(test.ci_high)}], p = {fmt_p(link.p_value)} ({test.alternative}); the "
        "steering profile is not shown to match the fine-tune's"
    )


def _declared_text(res: Results, test: LinkStats) -> str:
    link = res.link
    target = test.target.replace("_", " ").replace("conscious minus", "conscious-claiming minus")
    return (
        f"Target: the fine-tuning shift {target} (analysis.link_target), declared {test.alternative} "
        f"(analysis.link_alternative). Pearson r over {len(link.steer_shift)} preferences = {fmt(link.r)}, "
        f"{test.ci_level:.0%} bootstrap interval over preferences [{fmt(test.ci_low)}, {fmt(test.ci_high)}]; "
        f"against the steering shifts of {link.n_null} random directions of equal norm, "
        f"{p_with_floor(link.p_value, link.n_null)}, z = {fmt(test.z)}. Power: against this null the test "
        f"(critical r {fmt(test.critical_r)}) detects a true r of {fmt(test.detectable_r)} or more with "
        f"probability {test.power:g} at alpha {test.alpha:g}. {link_verdict(res)}. "
        f"Conscious-claiming minus reference, mean question activation projected on the direction: "
        f"{fmt(link.variant_projection)}."
    )


def _projection_score_text(ps: ProjectionScore) -> str:
    text = (
        f"Per-response projection vs score: each model's last-token activation of each preference question "
        f"at layer {ps.layer}, projected on the direction, against that model's score on the question "
        f"({ps.n} responses, base model and variants pooled): Pearson r = {fmt(ps.pearson)} "
        f"[{fmt(ps.ci_low)}, {fmt(ps.ci_high)}] "
    )
    if ps.resampled != "items":
        return text + f"({ps.ci_level:.0%} bootstrap over responses, as if independent), Spearman {fmt(ps.spearman)}."
    if ps.within_r is None or ps.within_ci_low is None or ps.within_ci_high is None:
        raise ValueError("a projection score resampled over items has no within-item r (within_r is unset)")
    return text + (
        f"({ps.ci_level:.0%} bootstrap over the {ps.n_items} items, each item's responses together), "
        f"Spearman {fmt(ps.spearman)}. Within items, across models (projection and score each centred on "
        f"the item's mean: does the model whose activation moves more on an item also move its score "
        f"more there?): r = {fmt(ps.within_r)} [{fmt(ps.within_ci_low)}, {fmt(ps.within_ci_high)}]."
    )


def _projection_shift_text(res: Results, ps: ProjectionShiftLink) -> str:
    text = (
        f"Fine-tuning shift predicted by projection: for each variant and preference, the mean last-token "
        f"activation of the preference's questions (variant minus base) at layer {ps.layer}, projected on the "
        f"direction, against the rate shift: Pearson r = {fmt(ps.r)} over {len(ps.projection)} (variant, "
        f"preference) pairs"
    )
    if ps.alternative is None:
        return text + (
            f"; against {ps.n_null} random directions p = {fmt_p(ps.p_value)} (two-sided; null r "
            f"{fmt(ps.null_mean)} +/- {fmt(ps.null_std)})."
        )
    if ps.ci_low is None or ps.ci_high is None:
        raise ValueError("a projection shift link with a declared alternative has no interval (ci_low is unset)")
    alpha = res.link.test.alpha if res.link.test else 0.05
    found = (
        "detected"
        if math.isfinite(ps.p_value) and ps.p_value <= alpha
        else f"not detected, {power_phrase(ps.detectable_r, ps.n_null, alpha)}"
    )
    return text + (
        f", 95% interval [{fmt(ps.ci_low)}, {fmt(ps.ci_high)}]; against {ps.n_null} random unit "
        f"directions {p_with_floor(ps.p_value, ps.n_null)} ({ps.alternative}; null r {fmt(ps.null_mean)} "
        f"+/- {fmt(ps.null_std)}): {found}."
    )


def link_blocks(res: Results, figures: dict[str, str]) -> list:
    link = res.link
    first = _declared_text(res, link.test) if link.test is not None else link_verdict(res) + "."
    blocks = [Heading("Steering shift vs fine-tuning shift"), Para(f"{first} {marked(res, 'link')}")]
    if link.projection_score is not None:  # runs finished before this link existed lack it
        blocks.append(
            Para(
                f"{_projection_score_text(link.projection_score)} {marked(res, 'per_response')} "
                f"(the within-item analysis: {marked(res, 'within_item')})"
            )
        )
    if link.projection_shift is not None:
        blocks.append(Para(f"{_projection_shift_text(res, link.projection_shift)} {marked(res, 'projection_shift')}"))
    if "steer_vs_finetune" in figures:
        blocks.append(Image(figures["steer_vs_finetune"], "steering vs fine-tuning"))
    return blocks
