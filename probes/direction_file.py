"""Direction files: safetensors with one tensor, `direction` `[n_layers or 1, d_model]` float32,
and metadata whose values are JSON strings.

Metadata keys: `model`, `layers` (list of ints, one per row of `direction`), `method`,
`dataset` (the activation file it came from), `norms` (the L2 norm of each row) and
`created_by` (the toolkit's name and version); callers may add more keys.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

__all__ = ["Direction", "direction_from_store", "load_direction", "save_direction", "toolkit_version"]


class Direction(NamedTuple):
    vector: Any  # torch.Tensor [n_layers or 1, d_model] float32
    layers: list[int]
    meta: dict[str, Any]

    def for_layer(self, layer: int):
        """The `[d_model]` row stored for `layer`; a one-row file that names no layer serves any layer."""
        if not self.layers and self.vector.shape[0] == 1:
            return self.vector[0]
        if layer not in self.layers:
            raise KeyError(f"no direction stored for layer {layer}; the file has layers {self.layers}")
        return self.vector[self.layers.index(layer)]


def toolkit_version() -> str:
    try:
        return f"interp {version('interp-cluster')}"
    except PackageNotFoundError:
        return "interp 0.0.0+local"


def save_direction(path: str | Path, direction, meta: Mapping[str, Any]) -> Path:
    """Write `direction` ([d] or [n_layers, d]) with `meta` (must name `layers` when it has several rows)."""
    import torch
    from safetensors.torch import save_file

    vector = torch.as_tensor(np.asarray(direction, dtype=np.float32) if not torch.is_tensor(direction)
                             else direction.detach().float().cpu())
    vector = vector.reshape(1, -1) if vector.ndim == 1 else vector
    if vector.ndim != 2:
        raise ValueError(f"direction must be [d] or [n_layers, d]; got shape {tuple(vector.shape)}")
    full = dict(meta)
    layers = full.get("layers", full.get("layer"))
    layers = [int(layers)] if isinstance(layers, (int, np.integer)) else [int(x) for x in (layers or [])]
    if layers and len(layers) != vector.shape[0]:
        raise ValueError(f"{len(layers)} layers given for a direction with {vector.shape[0]} rows")
    full.pop("layer", None)
    full["layers"] = layers
    full["norms"] = [float(n) for n in vector.norm(dim=1)]
    full.setdefault("created_by", toolkit_version())
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"direction": vector.contiguous()}, str(path),
              metadata={key: json.dumps(value) for key, value in full.items()})
    return path


def load_direction(path: str | Path) -> Direction:
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such direction file")
    with safe_open(str(path), framework="pt") as handle:
        if "direction" not in handle.keys():
            raise KeyError(f"{path}: no 'direction' tensor (found {list(handle.keys())})")
        vector = handle.get_tensor("direction").float()
        raw = handle.metadata() or {}
    meta = {}
    for key, value in raw.items():
        try:
            meta[key] = json.loads(value)
        except json.JSONDecodeError:
            meta[key] = value  # files from other tools may hold plain strings
    if vector.ndim == 1:
        vector = vector[None]
    layers = [int(x) for x in meta.get("layers", [])]
    if not layers and vector.shape[0] > 1:
        raise KeyError(f"{path}: {vector.shape[0]} direction rows but no 'layers' metadata naming their layers")
    return Direction(vector, layers, meta)


def direction_from_store(path: str | Path, layers: Sequence[int], method: str = "mean-diff") -> Direction:
    """Directions for `layers` of an activation file, one row per layer, with their metadata."""
    import torch

    from probes.directions import direction_from_arrays
    from probes.store import load_layer, store_attrs

    rows = []
    for layer in layers:
        data = load_layer(path, layer)
        rows.append(direction_from_arrays(data.acts, data.row_labels, data.example_index, method))
    model = store_attrs(path).get("model", "")
    meta = {"model": str(model), "layers": [int(x) for x in layers], "method": method, "dataset": str(path)}
    vector = torch.from_numpy(np.stack(rows))
    meta["norms"] = [float(n) for n in vector.norm(dim=1)]
    meta["created_by"] = toolkit_version()
    return Direction(vector, meta["layers"], meta)
