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
from pathlib import Path
from statistics import fmean
from typing import Any

from experiments.consciousness_cluster.schema.steering import CoherencePoint, LayerCurve, ProjectionShiftLink
from interp.models.atomic import kept_json

__all__ = ["CoherencePoint", "LayerCurve", "coherence_sweep", "control_vectors", "layer_curve", "orthogonalize",
           "split_items", "trait_means", "variant_projection_link"]


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


def layer_curve(lm, direction, layers: list[int], identity, *, alpha: float, scale_prompts: list[str],
                trait: str = "claims_conscious", seed: int = 0, batch_size: int = 32,
                progress: bool = False, relative: bool = True, keep: Path | None = None) -> LayerCurve:
    """The forced-choice effect of steering along `direction` at each layer, per unit of alpha: relative
    (units of each layer's mean residual norm over `scale_prompts`, comparable across layers) or, with
    `relative=False`, raw (the same alpha at every layer, for presets whose alphas are raw). With `keep`,
    the curve is kept in that file and read back by a later call with the same settings."""
    from interp.steering import mean_residual_norms
    from interp.sweep import SteeringSetting, sweep_forced_choice
    from probes.specificity import best_layer

    if alpha <= 0:
        raise ValueError(f"alpha must be positive, got {alpha}")
    subset, ids = _one_trait(identity, trait)
    select, held_out = split_items(ids, seed)

    def compute() -> LayerCurve:
        effects: dict[str, list[float]] = {"select": [], "held_out": []}
        norms = mean_residual_norms(lm, scale_prompts, layers) if relative else None  # units of each layer's norm
        settings = []
        for layer in layers:
            v = direction.for_model(lm, layer)
            scale = norms[layer] / float(v.norm()) if relative else 1.0
            settings += [SteeringSetting(v, sign * alpha * scale, f"{layer}{sign:+}", layer=layer) for sign in (1, -1)]
        # every layer's pair in one sweep: one unsteered pass records each layer, the pairs run the blocks above
        swept = sweep_forced_choice(lm, subset, None, settings, batch_size=batch_size, progress=progress)
        for layer in layers:
            p = {sign: {s.item_id: s.p_expressing for s in swept[f"{layer}{sign:+}"]} for sign in (1, -1)}
            for name, half in (("select", select), ("held_out", held_out)):
                effects[name].append((fmean(p[1][i] for i in half) - fmean(p[-1][i] for i in half)) / (2 * alpha))
        chosen = best_layer(dict(zip(layers, effects["select"])))
        return LayerCurve(trait, alpha, list(layers), effects["select"], effects["held_out"], chosen, select, held_out,
                          relative=relative)

    if keep is None:
        return compute()
    key = {"layers": list(layers), "alpha": alpha, "seed": seed, "relative": relative, "trait": trait,
           "norms": [round(float(n), 4) for n in direction.norms]}
    return LayerCurve(**kept_json(keep, key, lambda: dataclasses.asdict(compute())))


def coherence_sweep(lm, vector, layer: int, alphas: list[float], scale: float, chats: list[list[dict]],
                    max_tokens: int = 48, batch_size: int = 16, keep: Path | None = None) -> list[CoherencePoint]:
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
            points.append(CoherencePoint(float(alpha), got.mean_nll, got.repeat, got.coherent_against(reference),
                                         got.answers))
        return points

    if keep is None:
        return compute()
    key = {"layer": layer, "alphas": [float(a) for a in alphas], "raw_scale": scale,
           "norm": round(float(vector.norm()), 4), "chats": chats, "tokens": max_tokens}
    return [CoherencePoint(**p) for p in kept_json(keep, key, lambda: [p.to_json() for p in compute()])]


def trait_means(acts, example_ids: list[str]) -> dict[str, Any]:
    """Mean activation row per trait, the trait read from question ids `{trait}.c03` / `{trait}.o03`."""
    import numpy as np

    acts = np.asarray(acts, dtype=np.float64)
    traits = np.array([i.rsplit(".", 1)[0] for i in example_ids])
    return {t: acts[traits == t].mean(0) for t in dict.fromkeys(traits.tolist())}


def variant_projection_link(means: dict[str, dict[str, Any]], behaviour: dict[str, dict[str, float]],
                            direction, layer: int, n_random: int, seed: int, *, alternative: str = "two-sided",
                            alpha: float = 0.05, power: float = 0.8) -> ProjectionShiftLink:
    """For each variant (every key of `means` but "base") and trait: the mean question activation minus the
    base model's, projected on the unit direction, against the rate shift; random unit directions as the null,
    read as `alternative` (probes.stats.correlation_link: interval on r and detectable r beside the p)."""
    import numpy as np

    from probes.stats import correlation_link, random_directions_like

    variants = [key for key in means if key != "base"]
    traits = [t for t in behaviour["base"] if all(t in means[k] and t in behaviour[k] for k in means)]
    pairs = [(v, t) for v in variants for t in traits
             if np.isfinite(behaviour[v][t]) and np.isfinite(behaviour["base"][t])]
    shifts = np.stack([means[v][t] - means["base"][t] for v, t in pairs])  # [n, d]
    unit = np.asarray(direction, dtype=np.float64).ravel()
    unit = unit / np.linalg.norm(unit)
    randoms = random_directions_like(unit, n_random, seed).astype(np.float64)  # unit norm, like `unit`
    behaviour_shift = [behaviour[v][t] - behaviour["base"][t] for v, t in pairs]
    link = correlation_link(shifts @ unit, behaviour_shift, randoms @ shifts.T, alternative=alternative, alpha=alpha,
                            power=power, seed=seed)
    return ProjectionShiftLink(layer, link.r, link.p.p, link.p.n_null, link.p.null_mean, link.p.null_sd,
                               [v for v, _ in pairs], [t for _, t in pairs], (shifts @ unit).tolist(),
                               behaviour_shift, alternative=alternative, ci_low=link.ci_low, ci_high=link.ci_high,
                               detectable_r=link.detectable_r)
