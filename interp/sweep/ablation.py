"""Forced choice under many ablations in one batch: each copy of the batch projects out its own directions.

Ablation projects a direction out of every layer it names, so no block is shared between settings (unlike a
steering sweep); stacking still runs a null of many random ablations as rows of one batch instead of one
pass each. Copy c of a stacked batch (rows c * n .. c * n + n - 1) projects out ablation c's row of
directions at each layer (`ablate` with per-row directions).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from interp.evaluation.choice import ChoiceScore, forced_choice_stacked
from interp.evaluation.questions import QuestionSet
from interp.evaluation.stacking import PLAIN, Stack
from interp.steering import ablate

__all__ = ["ablation_forced_choice"]


class _Ablating:
    """The forward of a stacked run whose copy c projects out `units_LCD[:, c]` at each of `layers`."""

    def __init__(self, lm, layers: list[int], units_LCD: torch.Tensor) -> None:
        self.lm, self.layers, self.units_LCD = lm, layers, units_LCD

    def __call__(self, **inputs):
        copies = self.units_LCD.shape[1]
        rows = inputs["input_ids"].shape[0]
        if rows % copies:
            raise RuntimeError(f"a stacked pass of {rows} rows does not hold {copies} copies")
        with ablate(self.lm, self.units_LCD.repeat_interleave(rows // copies, dim=1), self.layers):
            return self.lm.model(**inputs)


def _rows(lm, vectors, n_layers: int) -> torch.Tensor:
    """`[n_layers, d_model]` float32 from one vector for every layer or one row per layer."""
    rows = torch.as_tensor(vectors).detach().float().cpu()
    rows = rows.reshape(1, -1).expand(n_layers, -1) if rows.ndim == 1 else rows
    if rows.shape != (n_layers, lm.d_model):
        raise ValueError(
            f"an ablation needs [{lm.d_model}] or [{n_layers}, {lm.d_model}] directions (one per "
            f"layer); got {tuple(rows.shape)}"
        )
    return rows


def ablation_forced_choice(
    lm,
    question_set: QuestionSet,
    layers: Sequence[int],
    ablations: Mapping[str, torch.Tensor | None],
    *,
    method: str = "likelihood",
    batch_size: int = 32,
    max_rows: int = 256,
    traits: list[str] | None = None,
    system: str | None = None,
    progress: bool = False,
) -> dict[str, list[ChoiceScore]]:
    """`forced_choice` under each ablation, by name: the records `with ablate(lm, vectors, layers):
    forced_choice(...)` gives, within float rounding. `ablations` maps a name to its directions, `[d_model]`
    (one for every layer) or `[len(layers), d_model]` (row i at `layers[i]`), or to None (nothing ablated).

    The ablations run as copies of one stacked batch, as many per run as keep copies x `batch_size` <=
    `max_rows`; a plain unablated pass serves every None."""
    layers = [lm.resolve_layer(layer) for layer in layers]
    named = {name: _rows(lm, v, len(layers)) for name, v in ablations.items() if v is not None}
    out: dict[str, list[ChoiceScore]] = {}
    if len(named) < len(ablations):
        plain = forced_choice_stacked(lm, question_set, PLAIN, batch_size, method, traits, system)[0]
        out.update((name, plain) for name, v in ablations.items() if v is None)
    names = list(named)
    per_run = max(1, max_rows // batch_size)
    from tqdm.auto import tqdm

    for start in tqdm(range(0, len(names), per_run), disable=not progress, desc="ablations"):
        chunk = names[start : start + per_run]
        units_LCD = torch.stack([named[name] for name in chunk], dim=1)
        stack = Stack(len(chunk), _Ablating(lm, layers, units_LCD))
        out.update(zip(chunk, forced_choice_stacked(lm, question_set, stack, batch_size, method, traits, system)))
    return {name: out[name] for name in ablations}
