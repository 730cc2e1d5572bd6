"""Types of the steering checks (layer curve, coherence along the alphas), as the steering stage stores them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from interp.models.fields import Number

__all__ = ["CoherencePoint", "LayerCurve", "ProjectionShiftLink"]


@dataclass(frozen=True)
class LayerCurve:
    trait: str
    alpha: float
    """The relative alpha a: the effect is (p(+a) - p(-a)) / 2a."""
    layers: list[int]
    select: list[Number]
    """Effect per layer on the selection half of the items."""
    held_out: list[Number]
    """Effect per layer on the other half."""
    chosen: int
    """The layer with the largest effect on the selection half."""
    select_items: list[str]
    held_out_items: list[str]
    relative: bool = True
    """alpha in units of each layer's mean residual norm (True) or raw, the same at every layer (False)."""

    @property
    def chosen_held_out(self) -> float:
        return self.held_out[self.layers.index(self.chosen)]

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class CoherencePoint:
    alpha: float
    mean_nll: Number
    repeat: Number
    coherent: bool
    """Within the margin of the unsteered model's answers (alpha 0) and not looping."""
    answers: list[str]

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ProjectionShiftLink:
    """Fine-tuning's activation shift along the direction against its behavioural shift, over variants x
    preferences (probes.link.projection_shift_link), with random unit directions as the null."""

    layer: int
    r: Number
    p_value: Number
    """against the random directions' r, as `alternative` says (two-sided in files from earlier versions)"""
    n_null: int
    null_mean: Number
    null_std: Number
    variants: list[str]
    """the variant of each point"""
    traits: list[str]
    """the preference of each point"""
    projection: list[Number]
    """each point's mean question activation, variant minus base, projected on the unit direction"""
    behaviour: list[Number]
    """each point's rate, variant minus base"""
    alternative: str | None = None
    """the declared sidedness (analysis.link_alternative); None in earlier files: two-sided"""
    ci_low: Number | None = None
    ci_high: Number | None = None
    """bootstrap 95% interval of r over the points"""
    detectable_r: Number | None = None
    """the smallest true r detected at the block's power and alpha against this null (nan: too small a null)"""

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
