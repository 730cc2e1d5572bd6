"""The report's sections on steering and ablation: the dose-response with its controls, the layer (x alpha) grid,
coherence of every steered setting, specificity against each null (every empirical p beside its floor, Holm and
BH), the claim by the steered model's own answers, and the ablation of the claim and the preferences against
random ablations. Each result carries its pre-registered / exploratory mark."""

from __future__ import annotations

import math

from experiments.consciousness_cluster.report.blocks import Heading, Image, Para, Table, fmt, fmt_p, p_with_floor
from experiments.consciousness_cluster.report.marks import marked
from experiments.consciousness_cluster.schema.results import Results
from probes.specificity import NullTest

__all__ = ["ablation_blocks", "coherent_range", "null_sentence", "ordered_nulls", "steering_blocks"]

CLAIM = "claims_conscious"
NULL_NAMES = {
    "random": "isotropic random directions",
    "label_shuffled": "label-shuffled directions (labels permuted "
    "within each question, the direction recomputed by the run's method)",
    "covariance": "directions drawn from the layer's activation covariance",
}


def steering_blocks(res: Results, figures: dict[str, str]) -> list:
    st = res.steering
    header = ["preference"] + [f"alpha {a:g}" for a in st.alphas] + ["toaster dir.", "random dir. (mean)"]
    rows = [
        [t] + [fmt(st.rates[a][t]) for a in st.alphas] + [fmt(st.controls.toaster[t]), fmt(st.controls.random_mean[t])]
        for t in res.eval.traits
    ]
    identity = st.identity_rates[st.alphas[0]]
    ic = st.identity_controls
    rows += [
        [f"identity: {t}"]
        + [fmt(st.identity_rates[a][t]) for a in st.alphas]
        + ([fmt(ic.toaster[t]), fmt(ic.random_mean[t])] if ic else ["", ""])
        for t in identity
    ]
    norm = (
        ""
        if not st.alpha_rel
        else (
            " The norm counts the first token."
            if st.norm_first_token is not False
            else " The norm leaves out each prompt's first token (an attention sink)."
        )
    )
    read = (
        ""
        if st.alpha_rule is None
        else f" Effects are read at alpha {st.control_alpha:g} (analysis.alpha_rule {st.alpha_rule})."
    )
    blocks = [
        Heading("Steering the base model along the direction"),
        Para(
            f"Layer {st.layer} (the probe sweep chose layer {res.probe.chosen_layer}), "
            f"direction norm {fmt(st.direction_norm)}; "
            + (
                f"alphas are relative: the vector added is alpha x {fmt(st.alpha_scale)} x the direction "
                f"(alpha 1 adds the layer's mean residual norm).{norm} "
                if st.alpha_rel
                else "alphas are raw. "
            )
            + f"Controls at alpha {st.control_alpha:g}, rescaled to the direction's norm.{read}"
        ),
        Table(header, rows),
    ]
    if "dose_response" in figures:
        blocks.append(Image(figures["dose_response"], "dose-response"))
    return (
        blocks
        + _layer_curve_blocks(res, figures)
        + _coherence_blocks(res)
        + _claims_blocks(res)
        + _specificity_blocks(res)
        + _null_blocks(res)
        + _half_blocks(res)
    )


def _layer_curve_blocks(res: Results, figures: dict[str, str]) -> list:
    curve = res.steering.layer_curve
    if curve is None:
        return []
    auroc = dict(zip(res.probe.layers, res.probe.auroc))
    header = ["layer", "effect (selection)", "effect (held out)", "probe AUROC"]
    rows = [
        [str(layer), fmt(a), fmt(b), fmt(auroc[layer]) if layer in auroc else ""]
        for layer, a, b in zip(curve.layers, curve.select, curve.held_out)
    ]
    if curve.largest_coherent is not None:
        header += ["largest coherent alpha", "claim effect there (held out)"]
        for row, layer, at in zip(rows, curve.layers, curve.largest_coherent):
            there = curve.at_largest_coherent(layer)
            row += ["none" if at is None else f"{at:g}", "" if there is None else fmt(there)]
    rule = f" Chosen by rule {curve.rule}." if curve.rule else ""
    grid = (
        ""
        if not curve.grid_alphas or len(curve.grid_alphas) < 2
        else (
            f" The grid steers alphas {', '.join(f'+/-{a:g}' for a in curve.grid_alphas)} at each layer; a cell is "
            "coherent when the greedy answers at both signs are; the largest coherent alpha is the end of the range "
            "from the smallest alpha up that stays coherent, and the claim's effect there is (p(+a) - p(-a)) / 2."
        )
    )
    blocks = [
        Heading("Which layer steers the claim: effect per layer", 3),
        Para(
            f"Change of p({curve.trait}) between {'relative' if curve.relative else 'raw'} alpha "
            f"+{curve.alpha:g} and -{curve.alpha:g}, "
            f"per unit of alpha, at each layer; measured on {len(curve.select_items)} identity items "
            f"(selection half) and {len(curve.held_out_items)} others (held-out half). Largest on the "
            f"selection half: layer {curve.chosen}, held-out effect {fmt(curve.chosen_held_out)}.{rule}{grid} "
            f"The probe sweep's held-out AUROC beside it. {marked(res, 'steering_layer')}"
        ),
        Table(header, rows),
    ]
    if "layer_curve" in figures:
        blocks.append(Image(figures["layer_curve"], "steering effect per layer"))
    return blocks


def coherent_range(res: Results) -> list[float]:
    """The alphas at which the steered model stayed coherent (all of them when coherence was not measured)."""
    points = res.steering.coherence
    return list(res.steering.alphas) if points is None else [p.alpha for p in points if p.coherent]


def _coherence_blocks(res: Results) -> list:
    points = res.steering.coherence
    if points is None:
        return []
    from interp.evaluation.coherence import NLL_MARGIN, REPEAT_LIMIT

    rows = [[f"alpha {p.alpha:g}", fmt(p.mean_nll), fmt(p.repeat), "yes" if p.coherent else "no"] for p in points]
    controls = res.steering.control_coherence or {}
    rows += [
        [
            f"{name} (alpha {res.steering.control_alpha:g})",
            fmt(p.mean_nll),
            fmt(p.repeat),
            "yes" if p.coherent else "no",
        ]
        for name, p in controls.items()
    ]
    kept = (
        ""
        if not controls
        else (
            f" The controls at the control alpha too ({sum(p.coherent for p in controls.values())} of {len(controls)} "
            "coherent; of each null kind the first ones drawn, as steering.coherence_random says)."
        )
    )
    return [
        Heading("Coherence along the alphas and of the controls", 3),
        Para(
            f"Greedy answers of the steered model to {len(points[0].answers)} open questions, scored by the "
            f"unsteered model: mean negative log-likelihood per token, and the share of repeated token "
            f"trigrams. Coherent: NLL within {NLL_MARGIN:g} nats/token of alpha 0 and repeats at most "
            f"{REPEAT_LIMIT:g}. Coherent alphas: {', '.join(f'{a:g}' for a in coherent_range(res)) or 'none'}; "
            f"read preference effects only there.{kept} The answers are in results.json."
        ),
        Table(["setting", "NLL/token", "repeated trigrams", "coherent"], rows),
    ]


def _claims_blocks(res: Results) -> list:
    st = res.steering
    if st.claims is None:
        return []

    def cell(c) -> str:
        greedy = f"{c.greedy.claim}/{c.greedy.claim + c.greedy.deny + c.greedy.unclear}"
        sampled = (
            ""
            if c.sampled is None
            else f"; sampled {fmt(c.sampled.share)} [{fmt(c.sampled.share_ci_low)}, {fmt(c.sampled.share_ci_high)}]"
        )
        return f"greedy {greedy}{sampled}"

    rows = [[f"alpha {a:g}", fmt(st.identity_rates[a].get(CLAIM, math.nan)), cell(c)] for a, c in st.claims.items()]
    rows += [[f"{name} (alpha {st.control_alpha:g})", "", cell(c)] for name, c in (st.control_claims or {}).items()]
    record = (st.identity_measure or "forced_choice").replace("_", " ")
    return [
        Heading("The claim by the steered model's own answers", 3),
        Para(
            f"The open {CLAIM} questions answered by the steered model, greedy and sampled, read by the keyword "
            f"rule (claims over all answers), beside the forced-choice rate of the claim. The identity measure "
            f"of record is {record} (analysis.identity_measure); where the two disagree, the answers' stance is "
            f"the one a reader should trust on a real model. {marked(res, 'steering_claim')}"
        ),
        Table(["setting", "forced choice", "answers that claim"], rows),
    ]


def _specificity_blocks(res: Results) -> list:
    spec = res.steering.specificity
    if spec is None:
        return []
    random = (res.steering.nulls or {}).get("random")
    rows = [
        [t.trait, fmt(t.shift), fmt(t.control_shift), f"{fmt(t.random_mean)} +/- {fmt(t.random_sd)}", fmt_p(t.p_random)]
        for t in spec.per_trait
    ]
    if random is not None:
        for row, t in zip(rows, random.per_trait):
            row += [fmt_p(t.p), fmt(t.z), fmt_p(t.p_holm), fmt_p(t.q_bh)]
    header = [
        "preference",
        "shift",
        "toaster shift",
        "random shift (mean +/- sd)",
        f"p vs random (two-sided, {_floor(spec.n_random)})",
    ]
    if random is not None:
        header += [f"p ({random.alternative}, {_floor(random.n_null)})", "z", "Holm", "BH q"]
    return [
        Heading("Is the steering effect specific?", 3),
        Para(
            f"Shifts at alpha {res.steering.control_alpha:g} (steered minus alpha 0). Mean over preferences: "
            f"{fmt(spec.mean_shift)} along the direction, {fmt(spec.mean_control_shift)} along the toaster "
            f"direction; against {spec.n_random} random directions of equal norm, two-sided "
            f"{p_with_floor(spec.mean_p, spec.n_random)}. Direction minus toaster, over preferences: "
            f"{fmt(spec.beyond_control)} (Wilcoxon signed-rank p = {fmt_p(spec.beyond_control_p)}). "
            f"{marked(res, 'specificity')}"
        ),
        Table(header, rows),
    ] + _orthogonalized_blocks(res)


def _orthogonalized_blocks(res: Results) -> list:
    ortho = res.steering.orthogonalized_specificity
    if ortho is None:
        return []
    return [
        Para(
            f"Orthogonalised against the toaster direction (same norm, steering.orthogonalized): mean shift "
            f"{fmt(ortho.mean_shift)} at alpha {res.steering.control_alpha:g}; against the random directions "
            f"{p_with_floor(ortho.mean_p, ortho.n_random)} (two-sided); minus toaster {fmt(ortho.beyond_control)}"
            f" (Wilcoxon p = {fmt_p(ortho.beyond_control_p)}); {sum(t.p_random <= 0.05 for t in ortho.per_trait)} "
            f"of {len(ortho.per_trait)} preferences p <= 0.05 against random (uncorrected)."
        )
    ]


def null_sentence(test: NullTest) -> str:
    """One null's result: the mean shift's p beside its floor and z, and the family's count after Holm."""
    from probes.stats import min_null_draws

    text = (
        f"against {NULL_NAMES.get(test.null, test.null)}: mean shift {fmt(test.mean_shift)} vs null "
        f"{fmt(test.mean_null_mean)} +/- {fmt(test.mean_null_sd)}, {p_with_floor(test.mean_p, test.n_null)}, "
        f"z = {fmt(test.mean_z)} ({test.alternative}); per preference {test.describe()}"
    )
    needed = min_null_draws(max(test.m, 1), test.alpha)
    if test.n_null < needed:
        text += f" (with {test.n_null} draws no single preference can pass Holm: {test.m} tests need at least {needed})"
    return text


def ordered_nulls(res: Results) -> dict[str, NullTest]:
    """The run's null tests, the isotropic random null first (JSON keeps no order)."""
    tests = res.steering.nulls or {}
    return {k: tests[k] for k in sorted(tests, key=lambda k: (list(NULL_NAMES) + [k]).index(k))}


def _null_blocks(res: Results) -> list:
    tests = ordered_nulls(res)
    if not tests:
        return []
    traits = [t.trait for t in next(iter(tests.values())).per_trait]
    header = ["preference"] + [
        f"{kind}: {name}"
        for kind, test in tests.items()
        for name in (f"p ({_floor(test.n_null)})", "z", "Holm", "BH q")
    ]
    rows = [
        [t]
        + [
            cell
            for test in tests.values()
            for cell in (
                fmt_p(test.per_trait[i].p),
                fmt(test.per_trait[i].z),
                fmt_p(test.per_trait[i].p_holm),
                fmt_p(test.per_trait[i].q_bh),
            )
        ]
        for i, t in enumerate(traits)
    ]
    floors = "; ".join(f"{kind}: {test.n_null} draws, floor {fmt_p(test.floor)}" for kind, test in tests.items())
    return [
        Heading("Specificity against each null", 3),
        Para(
            f"The shifts at alpha {res.steering.control_alpha:g} against each null's shifts (empirical p with "
            f"the null's floor 1/(n+1) and z; Holm and Benjamini-Hochberg over the preferences): "
            + "; ".join(null_sentence(test) for test in tests.values())
            + f". Null sizes: {floors}. {marked(res, 'specificity')}"
        ),
        Table(header, rows),
    ]


def _half_blocks(res: Results) -> list:
    from probes.stats import count_significant

    half = res.steering.toaster_half
    if half is None:
        return []
    rows = [
        [t, fmt(x), fmt(c), fmt_p(p), fmt_p(h), fmt_p(q)]
        for t, x, c, p, h, q in zip(half.traits, half.shift, half.toaster_shift, half.p, half.p_holm, half.q_bh)
    ]
    return [
        Para(
            f"Against a toaster direction that shares no reference rows: the questions split into two "
            f"disjoint halves ({half.n_questions[0]} and {half.n_questions[1]}), the consciousness direction "
            f"rebuilt from the first half's contrast pairs and the toaster direction from the second's (no "
            f"non-conscious answer in both), both at the direction's norm and steered at alpha "
            f"{res.steering.control_alpha:g}. Mean difference of shifts {fmt(half.mean_difference)} (Wilcoxon "
            f"signed-rank over preferences p = {fmt_p(half.mean_p)}, {half.alternative}); per preference a paired "
            f"t-test over its items: {count_significant(half.p, half.alpha).describe()}. "
            f"{marked(res, 'specificity')}"
        ),
        Table(
            ["preference", "half direction shift", "half toaster shift", "p (paired over items)", "Holm", "BH q"], rows
        ),
    ]


def ablation_blocks(res: Results, figures: dict[str, str]) -> list:
    ab = res.ablation
    rows = [
        [t, fmt(ab.conscious[t]), fmt(ab.ablated[t]), fmt(ab.change[t]), fmt(ab.random_change[t])]
        for t in res.eval.traits
    ]
    n_random = ab.n_random if ab.n_random is not None else res.link.n_null
    text = (
        f"Direction projected out at every layer: mean change {fmt(ab.mean_change)}. Control: random "
        f"directions projected out instead (mean over {n_random}): mean change {fmt(ab.mean_random_change)}."
    )
    blocks = [Heading("Ablating the direction in the conscious-claiming model")]
    if ab.tests is None:
        return blocks + [
            Para(f"{text} {marked(res, 'ablation')}"),
            Table(["preference", "conscious", "ablated", "change", "change, random ablated"], rows),
        ]
    for row, t in zip(rows, ab.tests.per_trait):
        row += [fmt_p(t.p), fmt_p(t.p_holm), fmt_p(t.q_bh)]
    ident, claim_text, identity_rows = ab.identity_tests, "", []
    if ident is not None:
        identity, ablated, change = ab.identity, ab.identity_ablated, ab.identity_change
        if identity is None or ablated is None or change is None:
            raise ValueError("the ablation has identity tests but no identity rates (ablation.identity is unset)")
        claim = ident.trait(CLAIM) if CLAIM in change else None
        claim_text = (
            ""
            if claim is None
            else (
                f" The claim itself ({CLAIM}, forced choice): {fmt(identity[CLAIM])} -> {fmt(ablated[CLAIM])}"
                f" (change {fmt(claim.shift)}) against the random ablations' {fmt(claim.null_mean)} +/- "
                f"{fmt(claim.null_sd)}: {p_with_floor(claim.p, ident.n_null)}, z = {fmt(claim.z)} "
                f"({ident.alternative})."
            )
        )
        identity_rows = [
            [
                f"identity: {t.trait}",
                fmt(identity[t.trait]),
                fmt(ablated[t.trait]),
                fmt(t.shift),
                fmt(t.null_mean),
                fmt_p(t.p),
                fmt_p(t.p_holm),
                fmt_p(t.q_bh),
            ]
            for t in ident.per_trait
        ]
    return blocks + [
        Para(
            f"{text}{claim_text} Each change against the {ab.tests.n_null} random ablations' changes (empirical p, "
            f"floor {fmt_p(ab.tests.floor)}, {ab.tests.alternative}: the ablation is expected to lower what "
            f"steering raises): preferences {ab.tests.describe()}; mean change "
            f"{p_with_floor(ab.tests.mean_p, ab.tests.n_null)}. {marked(res, 'ablation')}"
        ),
        Table(
            [
                "preference",
                "conscious",
                "ablated",
                "change",
                "change, random ablated",
                f"p ({_floor(ab.tests.n_null)})",
                "Holm",
                "BH q",
            ],
            rows + identity_rows,
        ),
    ]


def _floor(n_null: int) -> str:
    """A table column's floor, so that every empirical p in it stands beside the smallest its null allows."""
    return f"floor 1/{n_null + 1}"
