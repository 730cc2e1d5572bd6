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
    """One steering of a sweep: `alpha * vector` added to the output of the sweep's layer at every
    position, as `steer(lm, vector, layer, alpha)` does."""

    vector: Any
    """[d_model] tensor or array, or a `Direction` (its row for the sweep's layer); None: unsteered."""
    alpha: float
    """The raw multiple of `vector`; 0: unsteered."""
    name: str
    """Its key in the sweep's results (unique within a sweep)."""

    @property
    def unsteered(self) -> bool:
        return self.vector is None or self.alpha == 0


def _vectors(lm, layer: int, settings: Sequence[SteeringSetting]) -> dict[str, torch.Tensor]:
    """Each steered setting's [d_model] float32 vector (a `Direction`'s row for `layer`), checked."""
    from interp.models import Direction

    names = [s.name for s in settings]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"setting names must be unique; repeated: {', '.join(twice)}")
    vectors = {}
    for s in settings:
        if not math.isfinite(s.alpha):
            raise ValueError(f"setting {s.name!r}: alpha {s.alpha} is not a finite number")
        if s.unsteered:
            continue
        vector = s.vector.for_model(lm, layer) if isinstance(s.vector, Direction) else torch.as_tensor(s.vector)
        if vector.shape != (lm.d_model,) or not bool(torch.isfinite(vector).all()):
            raise ValueError(f"setting {s.name!r}: the vector must be [{lm.d_model}] finite values; "
                             f"got shape {tuple(vector.shape)}")
        vectors[s.name] = vector.detach().float().cpu()
    return vectors


def run_sweep(lm, layer: int, settings: Sequence[SteeringSetting], procedure: Callable[[Stack], list[T]], *,
              rows_per_copy: int, max_rows: int, prompt_only: bool = False,
              progress: bool = False) -> dict[str, T]:
    """Each setting's result of `procedure` (which runs under a `Stack` and answers per copy), by name.

    The plain run goes first, recording block `layer`'s output of every pass (`Recorder`); the unsteered
    settings take its result as it is. The steered settings then run as copies of stacked runs
    (`Replayer`), as many per run as keep `copies * rows_per_copy <= max_rows` (at least one)."""
    if max_rows < 1 or rows_per_copy < 1:
        raise ValueError(f"max_rows and rows_per_copy must be >= 1, got {max_rows} and {rows_per_copy}")
    layer = lm.resolve_layer(layer)
    vectors = _vectors(lm, layer, settings)
    recorder = Recorder(lm, layer, prompt_only)
    (plain,) = procedure(Stack(1, recorder))
    results = {s.name: plain for s in settings if s.unsteered}
    steered = [s for s in settings if not s.unsteered]
    per_run = max(1, max_rows // rows_per_copy)
    chunks = [steered[i:i + per_run] for i in range(0, len(steered), per_run)]
    from tqdm.auto import tqdm

    for chunk in tqdm(chunks, disable=not progress, desc=f"steering sweep at layer {layer}"):
        vectors_SD = torch.stack([vectors[s.name] for s in chunk])
        alphas_S = torch.tensor([float(s.alpha) for s in chunk], dtype=torch.float32)
        replayer = Replayer(lm, layer, recorder, vectors_SD, alphas_S)
        answers = procedure(Stack(len(chunk), replayer))
        if not replayer.finished():
            raise RuntimeError("the stacked run made fewer forward passes than the recorded plain run")
        results.update((s.name, answer) for s, answer in zip(chunk, answers))
    return {s.name: results[s.name] for s in settings}
