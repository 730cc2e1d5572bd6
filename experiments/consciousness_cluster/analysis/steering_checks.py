"""Checks around the steering sweep: which layer steers the identity claim most, and where the model stays coherent.

Layer choice by effect: a probe separates the teacher-forced contrast at almost every layer of a
real model (held-out AUROC near 1), so the probe sweep cannot pick the layer to steer. The steering
effect can: at each layer, the change of p(claims to be conscious) between alpha = +a and -a, per
unit of relative alpha, on the identity items. The items are split in two seeded halves; the layer
is chosen on one half and its effect is reported on the other, so the reported effect is not the
maximum of noisy estimates.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from pathlib import Path
from statistics import fmean
from typing import Any, Literal

from experiments.consciousness_cluster.schema.steering import CoherencePoint, LayerCurve, ProjectionShiftLink
from interp.models.atomic import kept_json
from interp.models.fields import Number

__all__ = [
    "CoherencePoint",
    "LayerCurve",
    "choose_layer",
    "coherence_sweep",
    "control_vectors",
    "layer_curve",
    "orthogonalize",
    "split_items",
    "trait_means",
    "variant_projection_link",
]


def split_items(item_ids: list[str], seed: int) -> tuple[list[str], list[str]]:
    """Two halves of the ids (a seeded shuffle of the sorted ids; the first half one larger when odd)."""
    ids = sorted(item_ids)
    random.Random(seed).shuffle(ids)
    half = (len(ids) + 1) // 2
    return sorted(ids[:half]), sorted(ids[half:])


def orthogonalize(v, against):
    """`v` (a tensor) without its component along `against`, rescaled to the norm of `v`."""
    unit = against / against.norm()
    rest = v - (v @ unit) * unit
    if float(rest.norm()) <= 1e-6 * float(v.norm()):
        raise ValueError("the vector lies along the control direction; nothing is left after orthogonalising")
    return rest * (v.norm() / rest.norm())


def control_vectors(v, toaster, n_random: int, generator, orthogonalized: bool = False) -> dict[str, Any]:
    """The controls steered beside `v`, all of its norm: "toaster" (the toaster direction rescaled),
    "orthogonalized" (`v` without its toaster component, when asked for) and "random_00".. (`n_random`
    Gaussian directions drawn from the torch `generator`, in that order)."""
    import torch

    vectors = {"toaster": toaster * (v.norm() / toaster.norm())}
    if orthogonalized:
        vectors["orthogonalized"] = orthogonalize(v, toaster)
    for i in range(n_random):
        r = torch.randn(v.shape, generator=generator)
        vectors[f"random_{i:02d}"] = r * (v.norm() / r.norm())
    return vectors


def _one_trait(question_set, trait_id: str):
    trait = question_set.trait(trait_id)
    return dataclasses.replace(question_set, traits=(trait,)), [item.id for item in trait.choice_items]


def layer_curve(
    lm,
    direction,
    layers: list[int],
    identity,
    *,
    alpha: float,
    scale_prompts: list[str],
    trait: str = "claims_conscious",
    seed: int = 0,
    batch_size: int = 32,
    progress: bool = False,
    relative: bool = True,
    keep: Path | None = None,
    grid: list[float] | None = None,
    coherence_chats: list[list[dict]] | None = None,
    coherence_tokens: int = 48,
    rule: str = "effect",
    first_token: bool = False,
) -> LayerCurve:
    """The forced-choice effect of steering along `direction` at each layer: per unit of `alpha` (relative:
    units of each layer's mean residual norm over `scale_prompts`, comparable across layers; `relative=False`:
    raw, the same alpha at every layer), and, over the (layer x alpha) grid of `grid` (with `alpha`), the claim's
    change (p(+a) - p(-a)) / 2 with, given `coherence_chats`, each cell's coherence (both signs). `rule`
    "effect_coherent" chooses the layer among coherent cells only (see `choose_layer`). With `keep`, the curve is
    kept in that file and read back by a later call with the same settings."""
    if alpha <= 0:
        raise ValueError(f"alpha must be positive, got {alpha}")
    if rule == "effect_coherent" and not coherence_chats:
        raise ValueError("the effect_coherent rule needs coherence_chats to tell coherent cells")
    alphas = sorted({float(alpha), *(float(a) for a in grid or [])})
    subset, ids = _one_trait(identity, trait)
    select, held_out = split_items(ids, seed)

    def compute() -> LayerCurve:
        settings = _grid_settings(lm, direction, layers, alphas, scale_prompts if relative else None, first_token)
        claim = _grid_claims(lm, subset, settings, layers, alphas, (select, held_out), batch_size, progress)
        coherent = (
            None
            if not coherence_chats
            else _grid_coherence(lm, settings, layers, alphas, coherence_chats, coherence_tokens, batch_size)
        )
        at = alphas.index(float(alpha))
        per_unit = {half: [Number(row[at] / alpha) for row in claim[half]] for half in claim}
        largest = None if coherent is None else [_largest_coherent(alphas, row) for row in coherent]
        chosen, used = choose_layer(layers, per_unit["select"], claim["select"], alphas, largest, rule)
        return LayerCurve(
            trait,
            alpha,
            list(layers),
            per_unit["select"],
            per_unit["held_out"],
            chosen,
            select,
            held_out,
            relative=relative,
            grid_alphas=alphas,
            grid_select=claim["select"],
            grid_held_out=claim["held_out"],
            grid_coherent=coherent,
            largest_coherent=largest,
            rule=used,
        )

    if keep is None:
        return compute()
    key = {
        "layers": list(layers),
        "alpha": alpha,
        "seed": seed,
        "relative": relative,
        "trait": trait,
        "norms": [round(float(n), 4) for n in direction.norms],
        "grid": alphas,
        "chats": coherence_chats,
        "tokens": coherence_tokens,
        "rule": rule,
        "first_token": first_token,
    }
    return LayerCurve(**kept_json(keep, key, lambda: dataclasses.asdict(compute())))


def _grid_settings(lm, direction, layers, alphas, scale_prompts, first_token) -> dict:
    """(layer, alpha, sign) -> its steering setting; alphas in units of each layer's mean residual norm over
    `scale_prompts`, or raw when None."""
    from interp.steering import mean_residual_norms
    from interp.sweep import SteeringSetting

    norms = None if scale_prompts is None else mean_residual_norms(lm, scale_prompts, layers, first_token=first_token)
    settings = {}
    for layer in layers:
        v = direction.for_model(lm, layer)
        scale = 1.0 if norms is None else norms[layer] / float(v.norm())
        for a in alphas:
            for sign in (1, -1):
                settings[layer, a, sign] = SteeringSetting(v, sign * a * scale, f"{layer}@{a:g}{sign:+}", layer=layer)
    return settings


def _grid_claims(lm, subset, settings, layers, alphas, halves, batch_size, progress) -> dict[str, list[list[Number]]]:
    """ "select" / "held_out" -> [layer][alpha] (p(+a) - p(-a)) / 2 on that half of the items."""
    from interp.sweep import sweep_forced_choice

    # every cell in one sweep: one unsteered pass records each layer, the cells run the blocks above
    swept = sweep_forced_choice(lm, subset, None, list(settings.values()), batch_size=batch_size, progress=progress)
    out: dict[str, list[list[Number]]] = {"select": [], "held_out": []}
    for name, half in zip(out, halves):
        for layer in layers:
            row = []
            for a in alphas:
                p = {
                    sign: {s.item_id: s.p_expressing for s in swept[settings[layer, a, sign].name]} for sign in (1, -1)
                }
                row.append(Number((fmean(p[1][i] for i in half) - fmean(p[-1][i] for i in half)) / 2))
            out[name].append(row)
    return out


def _grid_coherence(lm, settings, layers, alphas, chats, tokens, batch_size) -> list[list[bool]]:
    """[layer][alpha]: the greedy answers at +a and at -a both coherent against the unsteered answers."""
    from interp.evaluation.coherence import coherence_of
    from interp.sweep import SteeringSetting, sweep_generate

    reference = SteeringSetting(None, 0.0, "reference", layer=layers[0])
    answers = sweep_generate(
        lm, chats, None, [reference, *settings.values()], max_new_tokens=tokens, batch_size=batch_size
    )
    plain = coherence_of(lm, chats, answers["reference"], batch_size)
    ok = {
        key: coherence_of(lm, chats, answers[s.name], batch_size).coherent_against(plain) for key, s in settings.items()
    }
    return [[ok[layer, a, 1] and ok[layer, a, -1] for a in alphas] for layer in layers]


def _largest_coherent(alphas: list[float], coherent: list[bool]) -> float | None:
    """The largest alpha up to which every alpha is coherent (None: not even the smallest)."""
    largest = None
    for a, ok in zip(alphas, coherent):
        if not ok:
            break
        largest = a
    return largest


def choose_layer(
    layers: list[int],
    per_unit: Sequence[float],
    grid: Sequence[Sequence[float]],
    alphas: list[float],
    largest: list[float | None] | None,
    rule: str,
) -> tuple[int, str]:
    """(the layer, the rule used). "effect": the largest per-unit effect on the selection half. "effect_coherent":
    the largest selection-half effect at each layer's largest coherent alpha, over the layers that have one
    (none: "effect (no coherent setting)", by per-unit effect). Ties: the shallowest."""
    from probes.specificity import best_layer

    if rule == "effect_coherent":
        candidates = {
            layer: grid[i][alphas.index(at)]
            for i, (layer, at) in enumerate(zip(layers, largest or []))
            if at is not None
        }
        if candidates:
            return best_layer(candidates), rule
        rule = "effect (no coherent setting)"
    return best_layer(dict(zip(layers, per_unit))), rule


def coherence_sweep(
    lm,
    vector,
    layer: int,
    alphas: list[float],
    scale: float,
    chats: list[list[dict]],
    max_tokens: int = 48,
    batch_size: int = 16,
    keep: Path | None = None,
) -> list[CoherencePoint]:
    """Coherence of the steered model at each alpha (raw alpha = alpha * scale), against alpha 0. With
    `keep`, the points are kept in that file and read back by a later call with the same settings."""
    from interp.evaluation.coherence import coherence_of
    from interp.sweep import SteeringSetting, sweep_generate

    def compute() -> list[CoherencePoint]:
        # every alpha's greedy answers in one sweep (the unsteered pass shared), each scored unsteered
        settings = [SteeringSetting(None, 0.0, "reference")]
        settings += [SteeringSetting(vector, a * scale, f"alpha_{i}") for i, a in enumerate(alphas)]
        answers = sweep_generate(lm, chats, layer, settings, max_new_tokens=max_tokens, batch_size=batch_size)
        reference = coherence_of(lm, chats, answers["reference"], batch_size)
        points = []
        for i, alpha in enumerate(alphas):
            got = reference if alpha == 0 else coherence_of(lm, chats, answers[f"alpha_{i}"], batch_size)
            points.append(
                CoherencePoint(
                    float(alpha), Number(got.mean_nll), Number(got.repeat), got.coherent_against(reference), got.answers
                )
            )
        return points

    if keep is None:
        return compute()
    key = {
        "layer": layer,
        "alphas": [float(a) for a in alphas],
        "raw_scale": scale,
        "norm": round(float(vector.norm()), 4),
        "chats": chats,
        "tokens": max_tokens,
    }
    return [CoherencePoint(**p) for p in kept_json(keep, key, lambda: [p.to_json() for p in compute()])]


def trait_means(acts, example_ids: list[str]) -> dict[str, Any]:
    """Mean activation row per trait, the trait read from question ids `{trait}.c03` / `{trait}.o03`."""
    import numpy as np

    acts = np.asarray(acts, dtype=np.float64)
    traits = np.array([i.rsplit(".", 1)[0] for i in example_ids])
    return {t: acts[traits == t].mean(0) for t in dict.fromkeys(traits.tolist())}


def variant_projection_link(
    means: dict[str, dict[str, Any]],
    behaviour: dict[str, dict[str, float]],
    direction,
    layer: int,
    n_random: int,
    seed: int,
    *,
    alternative: Literal["greater", "less", "two-sided"] = "two-sided",
    alpha: float = 0.05,
    power: float = 0.8,
) -> ProjectionShiftLink:
    """For each variant (every key of `means` but "base") and trait: the mean question activation minus the
    base model's, projected on the unit direction, against the rate shift; random unit directions as the null,
    read as `alternative` (probes.stats.correlation_link: interval on r and detectable r beside the p)."""
    import numpy as np

    from probes.stats import correlation_link, random_directions_like

    variants = [key for key in means if key != "base"]
    traits = [t for t in behaviour["base"] if all(t in means[k] and t in behaviour[k] for k in means)]
    pairs = [
        (v, t) for v in variants for t in traits if np.isfinite(behaviour[v][t]) and np.isfinite(behaviour["base"][t])
    ]
    shifts = np.stack([means[v][t] - means["base"][t] for v, t in pairs])  # [n, d]
    unit = np.asarray(direction, dtype=np.float64).ravel()
    unit = unit / np.linalg.norm(unit)
    randoms = random_directions_like(unit, n_random, seed).astype(np.float64)  # unit norm, like `unit`
    behaviour_shift = [behaviour[v][t] - behaviour["base"][t] for v, t in pairs]
    link = correlation_link(
        shifts @ unit, behaviour_shift, randoms @ shifts.T, alternative=alternative, alpha=alpha, power=power, seed=seed
    )
    return ProjectionShiftLink(
        layer,
        Number(link.r),
        Number(link.p.p),
        link.p.n_null,
        Number(link.p.null_mean),
        Number(link.p.null_sd),
        [v for v, _ in pairs],
        [t for _, t in pairs],
        (shifts @ unit).tolist(),
        [Number(x) for x in behaviour_shift],
        alternative=alternative,
        ci_low=Number(link.ci_low),
        ci_high=Number(link.ci_high),
        detectable_r=Number(link.detectable_r),
    )
