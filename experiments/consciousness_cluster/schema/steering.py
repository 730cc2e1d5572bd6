"""Types of the steering checks (layer curve, coherence along the alphas), as the steering stage stores them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from interp.models.fields import Number

__all__ = ["CoherencePoint", "HalfComparison", "LayerCurve", "ProjectionShiftLink"]


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
    # The (layer x alpha) grid; None in files from earlier versions, which steered at `alpha` alone.
    grid_alphas: list[float] | None = None
    """The grid's positive alphas, each steered with both signs."""
    grid_select: list[list[Number]] | None = None
    """[layer][alpha] the claim's effect (p(+a) - p(-a)) / 2 on the selection half"""
    grid_held_out: list[list[Number]] | None = None
    """[layer][alpha] the same on the held-out half"""
    grid_coherent: list[list[bool]] | None = None
    """[layer][alpha] both signs' greedy answers coherent (None: coherence not measured)"""
    largest_coherent: list[float | None] | None = None
    """per layer, the largest grid alpha up to which every alpha (both signs) stays coherent (None: not even the
    smallest)"""
    rule: str | None = None
    """how `chosen` was picked: "effect" (largest `select`), "effect_coherent" (largest selection-half effect at
    the layer's largest coherent alpha), or "effect (no coherent setting)" when no cell stayed coherent"""

    @property
    def chosen_held_out(self) -> float:
        return self.held_out[self.layers.index(self.chosen)]

    def at_largest_coherent(self, layer: int, half: str = "held_out") -> float | None:
        """The claim's effect at `layer`'s largest coherent alpha (None: no coherent alpha, or no grid)."""
        grid = self.grid_held_out if half == "held_out" else self.grid_select
        if self.largest_coherent is None or self.grid_alphas is None or grid is None:
            return None
        at = self.largest_coherent[self.layers.index(layer)]
        return None if at is None else grid[self.layers.index(layer)][self.grid_alphas.index(at)]

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
class HalfComparison:
    """The consciousness direction built from one half of the questions against the toaster direction built from
    the other half (no non-conscious row in both), both at the direction's norm, steered at the control alpha."""

    traits: list[str]
    shift: list[Number]
    """per preference, the half consciousness direction's shift (steered minus alpha 0)"""
    toaster_shift: list[Number]
    """the half toaster direction's shift"""
    p: list[Number]
    """per preference, paired t-test over its items of (consciousness half - toaster half), as `alternative` says
    (nan in judge mode: no items to pair)"""
    p_holm: list[Number]
    q_bh: list[Number]
    alternative: str
    alpha: float
    mean_difference: Number
    """mean over preferences of shift - toaster_shift"""
    mean_p: Number
    """Wilcoxon signed-rank test over preferences of shift - toaster_shift, as `alternative` says"""
    n_questions: list[int]
    """questions in the consciousness half and in the toaster half"""

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
