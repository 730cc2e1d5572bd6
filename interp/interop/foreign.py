"""Directions from other steering tools, with each tool's layer index mapped to the toolkit's.

The toolkit's layer L is the output of block L (`lm.layers[L]`), Hugging Face's
`output_hidden_states[L + 1]`.

- persona_vectors saves `torch.save`d `[n_layers + 1, d_model]` tensors whose row L is
  `hidden_states[L]`, the output of block L - 1, and steers row L at block L - 1
  (`ActivationSteerer(layer_idx=layer - 1)`): row L is the toolkit's layer L - 1. Row 0 (the
  embeddings) has no toolkit layer and is left out. Its last row was measured after the final
  norm (Hugging Face's `hidden_states[-1]`) but is applied, there and here, to block n - 1's output.
- steering-vectors' `SteeringVector.layer_activations[k]` (layer_type "decoder_block") is
  recorded from and added to the output of decoder block k: the toolkit's layer k. Negative k
  counts from the last block, as Python indexing does there.
- repeng's `ControlVector.directions[k]` is measured at `hidden_states[k + 1]` and added to the
  output of `model.layers[k]`: the toolkit's layer k (negative k as above).

Only tensors and plain objects are read; `.pt` files are loaded with `weights_only=True`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from interp.models.direction import Direction, DirectionError

__all__ = ["from_repeng", "from_steering_vector", "load_persona_vectors"]


def load_persona_vectors(path: str | Path, *, model: str = "") -> Direction:
    """A persona_vectors `.pt` file (`[n_layers + 1, d_model]`, row L = `hidden_states[L]`) as a
    `Direction` holding the toolkit's layers 0..n_layers - 1 (row L -> layer L - 1).

    `model` records the model the vectors were made on (the file does not say)."""
    path = Path(path)
    if not path.is_file():
        raise DirectionError(f"{path}: no such persona_vectors file")
    try:
        tensor = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:  # the safe unpickler raises several types on foreign or damaged files
        raise DirectionError(
            f"{path}: not a tensor saved with torch.save ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''})"
        ) from None
    if not isinstance(tensor, torch.Tensor) or tensor.ndim != 2 or tensor.shape[0] < 2:
        what = f"shape {list(tensor.shape)}" if isinstance(tensor, torch.Tensor) else type(tensor).__name__
        raise DirectionError(
            f"{path}: holds {what}; persona_vectors files hold one [n_layers + 1, d_model] "
            "tensor (row 0 the embeddings, row L the output of block L - 1)"
        )
    if not tensor.is_floating_point():
        raise DirectionError(f"{path}: holds {tensor.dtype} values; expected floating point")
    meta = {
        "model": model,
        "method": "persona_vectors",
        "layers": list(range(tensor.shape[0] - 1)),
        "imported_from": {
            "format": "persona-vectors",
            "file": str(path),
            "rule": "row L = hidden_states[L] = the toolkit's layer L - 1; row 0 dropped",
        },
    }
    try:
        return Direction.from_metadata(tensor[1:].float(), meta)
    except DirectionError as err:
        raise DirectionError(f"{path}: {err}") from None


def _layer_rows(rows: object, what: str, n_layers: int | None) -> tuple[list[int], torch.Tensor]:
    """Sorted toolkit layers and their `[n, d_model]` rows from a {block index: vector} mapping."""
    if not isinstance(rows, Mapping) or not rows:
        raise DirectionError(f"{what}: expected a non-empty {{layer: vector}} mapping, got {rows!r}")
    layers: list[int] = []
    for key in rows:
        if isinstance(key, bool) or not isinstance(key, int | np.integer):
            raise DirectionError(f"{what}: layer key {key!r} is not an integer")
        layer = int(key)
        if layer < 0:
            if n_layers is None:
                raise DirectionError(
                    f"{what}: layer {layer} counts from the last block; pass n_layers (the model's depth) to resolve it"
                )
            layer += n_layers
            if layer < 0:
                raise DirectionError(f"{what}: layer {key} is out of range for {n_layers} layers")
        layers.append(layer)
    if len(set(layers)) != len(layers):
        raise DirectionError(f"{what}: layers {sorted(rows)} name one block twice")
    vectors = [
        torch.as_tensor(
            np.asarray(value.detach().cpu() if torch.is_tensor(value) else value), dtype=torch.float32
        ).reshape(-1)
        for value in rows.values()
    ]
    if len({v.shape[0] for v in vectors}) > 1:
        raise DirectionError(f"{what}: vectors of different widths {sorted({v.shape[0] for v in vectors})}")
    order = sorted(range(len(layers)), key=layers.__getitem__)
    return [layers[i] for i in order], torch.stack([vectors[i] for i in order])


def _direction(layers: list[int], vectors: torch.Tensor, what: str, meta: dict[str, Any]) -> Direction:
    try:
        return Direction.from_metadata(vectors, {**meta, "layers": layers})
    except DirectionError as err:
        raise DirectionError(f"{what}: {err}") from None


def from_steering_vector(vector, *, n_layers: int | None = None, model: str = "") -> Direction:
    """A steering-vectors `SteeringVector` (`layer_activations[k]` at decoder block k) as a `Direction`
    (the toolkit's layer k). `n_layers` resolves negative block indices."""
    what = "steering-vectors SteeringVector"
    layer_type = getattr(vector, "layer_type", "decoder_block")
    if layer_type != "decoder_block":
        raise DirectionError(
            f"{what}: layer_type {layer_type!r} is not the residual stream; only "
            "'decoder_block' vectors (added to a block's output) map to the toolkit's layers"
        )
    layers, vectors = _layer_rows(getattr(vector, "layer_activations", None), what, n_layers)
    return _direction(
        layers,
        vectors,
        what,
        {"model": model, "method": "steering-vectors", "imported_from": {"format": "steering-vectors"}},
    )


def from_repeng(vector, *, n_layers: int | None = None, model: str = "") -> Direction:
    """A repeng `ControlVector` (`directions[k]` added to the output of `model.layers[k]`) as a
    `Direction` (the toolkit's layer k). `n_layers` resolves negative block indices."""
    what = "repeng ControlVector"
    layers, vectors = _layer_rows(getattr(vector, "directions", None), what, n_layers)
    hint = str(getattr(vector, "model_type", "") or "")
    return _direction(
        layers,
        vectors,
        what,
        {"model": model, "method": "repeng", "imported_from": {"format": "repeng", "model_hint": hint}},
    )
