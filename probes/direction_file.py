"""Directions from activation files. The `Direction` type and its file format live in
`interp.models.direction` (re-exported here, where they used to live)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from activations.memory import ActivationRows
from interp.models.direction import Direction, DirectionError, load_direction, save_direction, toolkit_version

__all__ = ["Direction", "DirectionError", "direction_from_store", "load_direction", "save_direction", "toolkit_version"]

if TYPE_CHECKING:
    from probes.store import StoreSource


def direction_from_store(
    source: StoreSource, layers: Sequence[int] | None = None, method: str = "mean-diff"
) -> Direction:
    """Directions for `layers` (default: every layer held) of an activation file, an open store or
    rows in memory (`activations_of`): one row per layer, by `method` (`DIRECTION_METHODS`), with
    the model and weights they were read from."""
    from probes.directions import direction_from_arrays
    from probes.store import reading

    with reading(source) as store:
        layers = list(store.acts_layers if layers is None else layers)
        rows = [direction_from_arrays(*store.layer_data(layer), method) for layer in layers]
        attrs = store.attrs
    dataset = "" if isinstance(source, ActivationRows) else str(source)  # rows in memory come from no file
    return Direction(
        torch.from_numpy(np.stack(rows)),
        tuple(int(x) for x in layers),
        model=str(attrs.get("model", "")),
        weights_id=str(attrs.get("weights_id", "")),
        method=method,
        dataset=dataset,
    )
