"""Directions from activation files. The `Direction` type and its file format live in
`interp.models.direction` (re-exported here, where they used to live)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from interp.models.direction import Direction, DirectionError, load_direction, save_direction, toolkit_version

__all__ = ["Direction", "DirectionError", "direction_from_store", "load_direction", "save_direction",
           "toolkit_version"]


def direction_from_store(path: str | Path, layers: Sequence[int], method: str = "mean-diff") -> Direction:
    """Directions for `layers` of an activation file, one row per layer, with the store's model and weights."""
    from probes.directions import direction_from_arrays
    from probes.store import load_layer, store_attrs

    rows = []
    for layer in layers:
        data = load_layer(path, layer)
        rows.append(direction_from_arrays(data.acts, data.row_labels, data.example_index, method))
    attrs = store_attrs(path)
    return Direction(np.stack(rows), tuple(int(x) for x in layers), model=str(attrs.get("model", "")),
                     weights_id=str(attrs.get("weights_id", "")), method=method, dataset=str(path))
