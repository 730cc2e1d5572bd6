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
from dataclasses import dataclass
from statistics import fmean
from typing import Any

__all__ = ["LayerCurve", "CoherencePoint", "layer_curve", "coherence_sweep", "split_items"]


@dataclass(frozen=True)
class LayerCurve:
    trait: str
    alpha: float
    """The relative alpha a: the effect is (p(+a) - p(-a)) / 2a."""
    layers: list[int]
    select: list[float]
    """Effect per layer on the selection half of the items."""
    held_out: list[float]
    """Effect per layer on the other half."""
    chosen: int
    """The layer with the largest effect on the selection half."""
    select_items: list[str]
    held_out_items: list[str]

    @property
    def chosen_held_out(self) -> float:
        return self.held_out[self.layers.index(self.chosen)]

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LayerCurve:
        return cls(**data)


@dataclass(frozen=True)
class CoherencePoint:
    alpha: float
    mean_nll: float
    repeat: float
    coherent: bool
    """Within the margin of the unsteered model's answers (alpha 0) and not looping."""
    answers: list[str]

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CoherencePoint:
        return cls(**data)


def split_items(item_ids: list[str], seed: int) -> tuple[list[str], list[str]]:
    """Two halves of the ids (a seeded shuffle of the sorted ids; the first half one larger when odd)."""
    ids = sorted(item_ids)
    random.Random(seed).shuffle(ids)
    half = (len(ids) + 1) // 2
    return sorted(ids[:half]), sorted(ids[half:])


def _one_trait(question_set, trait_id: str):
    trait = question_set.trait(trait_id)
    return dataclasses.replace(question_set, traits=(trait,)), [item.id for item in trait.choice_items]


def layer_curve(lm, direction, layers: list[int], identity, *, alpha: float, scale_prompts: list[str],
                trait: str = "claims_conscious", seed: int = 0, batch_size: int = 32,
                progress: bool = False) -> LayerCurve:
    """The forced-choice effect of steering along `direction` at each layer, per unit of relative alpha."""
    from tqdm.auto import tqdm

    from interp.evaluation import forced_choice
    from interp.steering import relative_alpha, steer
    from probes.specificity import best_layer

    if alpha <= 0:
        raise ValueError(f"alpha must be positive, got {alpha}")
    subset, ids = _one_trait(identity, trait)
    select, held_out = split_items(ids, seed)
    effects: dict[str, list[float]] = {"select": [], "held_out": []}
    for layer in tqdm(layers, disable=not progress, desc="layer curve"):
        v = direction.for_model(lm, layer)
        scale = relative_alpha(lm, v, layer, scale_prompts)
        p = {}
        for sign in (1.0, -1.0):
            with steer(lm, v, layer=layer, alpha=sign * alpha * scale):
                p[sign] = {s.item_id: s.p_expressing for s in forced_choice(lm, subset, batch_size=batch_size)}
        for name, half in (("select", select), ("held_out", held_out)):
            effects[name].append((fmean(p[1.0][i] for i in half) - fmean(p[-1.0][i] for i in half)) / (2 * alpha))
    chosen = best_layer(dict(zip(layers, effects["select"])))
    return LayerCurve(trait, alpha, list(layers), effects["select"], effects["held_out"], chosen, select, held_out)


def coherence_sweep(lm, vector, layer: int, alphas: list[float], scale: float, chats: list[list[dict]],
                    max_tokens: int = 48, batch_size: int = 16) -> list[CoherencePoint]:
    """Coherence of the steered model at each alpha (raw alpha = alpha * scale), against alpha 0."""
    from interp.evaluation.coherence import coherence
    from interp.steering import steer

    reference = coherence(lm, chats, max_tokens=max_tokens, batch_size=batch_size)
    points = []
    for alpha in alphas:
        got = reference if alpha == 0 else coherence(
            lm, chats, intervention=lambda a=alpha: steer(lm, vector, layer=layer, alpha=a * scale),
            max_tokens=max_tokens, batch_size=batch_size)
        points.append(CoherencePoint(float(alpha), got.mean_nll, got.repeat, got.coherent_against(reference),
                                     got.answers))
    return points
