"""A sweep's settings and its driver: the plain run once, then the steered settings stacked as copies."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

from interp.evaluation.stacking import Stack
from interp.sweep.replay import Recorder, Replayer

__all__ = ["SteeringSetting", "run_sweep"]

T = TypeVar("T")


@dataclass(frozen=True)
class SteeringSetting:
    """One steering of a sweep: `alpha * vector` added to the output of block `layer` (the sweep's layer
    unless the setting names its own) at every position, as `steer(lm, vector, layer, alpha)` does."""

    vector: Any
    """[d_model] tensor or array, or a `Direction` (its row for the layer); None: unsteered."""
    alpha: float
    """The raw multiple of `vector`; 0: unsteered."""
    name: str
    """Its key in the sweep's results (unique within a sweep)."""
    layer: int | None = None
    """The block whose output it steers; None: the sweep's layer."""

    @property
    def unsteered(self) -> bool:
        return self.vector is None or self.alpha == 0


@dataclass(frozen=True)
class _Steered:
    name: str
    layer: int
    vector_D: torch.Tensor
    alpha: float


def _steered(lm, layer: int | None, settings: Sequence[SteeringSetting]) -> list[_Steered]:
    """The steered settings, each with its layer and its [d_model] float32 vector, checked."""
    from interp.models import Direction

    names = [s.name for s in settings]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"setting names must be unique; repeated: {', '.join(twice)}")
    out = []
    for s in settings:
        if not math.isfinite(s.alpha):
            raise ValueError(f"setting {s.name!r}: alpha {s.alpha} is not a finite number")
        if s.layer is None and layer is None:
            raise ValueError(f"setting {s.name!r} names no layer and the sweep has none")
        if s.unsteered:
            continue
        at = lm.resolve_layer(s.layer if s.layer is not None else layer)
        vector = s.vector.for_model(lm, at) if isinstance(s.vector, Direction) else torch.as_tensor(s.vector)
        if vector.shape != (lm.d_model,) or not bool(torch.isfinite(vector).all()):
            raise ValueError(
                f"setting {s.name!r}: the vector must be [{lm.d_model}] finite values; got shape {tuple(vector.shape)}"
            )
        out.append(_Steered(s.name, at, vector.detach().float().cpu(), float(s.alpha)))
    return out


def run_sweep(
    lm,
    layer: int | None,
    settings: Sequence[SteeringSetting],
    procedure: Callable[[Stack], list[T]],
    *,
    rows_per_copy: int,
    max_rows: int,
    prompt_only: bool = False,
    progress: bool = False,
) -> dict[str, T]:
    """Each setting's result of `procedure` (which runs under a `Stack` and answers per copy), by name.

    The plain run goes first, recording the output of every steered block for each pass (`Recorder`); the
    unsteered settings take its result as it is. The steered settings then run as copies of stacked runs
    (`Replayer`), one layer at a time, as many per run as keep `copies * rows_per_copy <= max_rows`."""
    if max_rows < 1 or rows_per_copy < 1:
        raise ValueError(f"max_rows and rows_per_copy must be >= 1, got {max_rows} and {rows_per_copy}")
    if layer is not None:
        layer = lm.resolve_layer(layer)
    steered = _steered(lm, layer, settings)
    recorder = Recorder(lm, sorted({s.layer for s in steered}), prompt_only)
    (plain,) = procedure(Stack(1, recorder))
    results = {s.name: plain for s in settings if s.unsteered}
    per_run = max(1, max_rows // rows_per_copy)
    runs = [
        chunk
        for at in sorted({s.layer for s in steered})
        for group in [[s for s in steered if s.layer == at]]
        for chunk in (group[i : i + per_run] for i in range(0, len(group), per_run))
    ]
    from tqdm.auto import tqdm

    for chunk in tqdm(runs, disable=not progress, desc="steering sweep"):
        alphas_S = torch.tensor([s.alpha for s in chunk], dtype=torch.float32)
        replayer = Replayer(lm, chunk[0].layer, recorder, torch.stack([s.vector_D for s in chunk]), alphas_S)
        answers = procedure(Stack(len(chunk), replayer))
        if not replayer.finished():
            raise RuntimeError("the stacked run made fewer forward passes than the recorded plain run")
        results.update((s.name, answer) for s, answer in zip(chunk, answers))
    return {s.name: results[s.name] for s in settings}
