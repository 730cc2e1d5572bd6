"""A minimal reader of the HDF5 activation layout, in plain h5py.

Layout (see the README): `/acts/layer_{l}` `[n_rows, d_model]`; `/index/example` (int64) names
the example of each row; `/examples/label` holds one integer per example (1 = positive). A
dataset whose attribute `bf16_as_uint16` is true stores bfloat16 bit patterns as uint16.
Optional: `/examples/group`, one integer per example; examples sharing a group (the two
answers to one contrast prompt) are held out together by the layer sweep.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = ["LayerData", "decode_bf16", "list_layers", "load_groups", "load_layer", "store_attrs"]

_LAYER = re.compile(r"^layer_(\d+)$")


class LayerData(NamedTuple):
    acts: np.ndarray  # [n_rows, d_model] float32
    row_labels: np.ndarray  # [n_rows] int64, the label of each row's example
    example_index: np.ndarray  # [n_rows] int64


def decode_bf16(raw: np.ndarray) -> np.ndarray:
    """bfloat16 bit patterns (uint16) to float32: they are the top half of a float32."""
    return (raw.astype(np.uint32) << 16).view(np.float32)


def _open(path: str | Path):
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such activation file")
    handle = h5py.File(path, "r")
    for needed in ("acts", "index/example", "examples/label"):
        if needed not in handle:
            handle.close()
            raise KeyError(f"{path}: missing /{needed} (not an activation file in the documented layout)")
    return handle


def list_layers(path: str | Path) -> list[int]:
    """The layers stored in a file, ascending."""
    with _open(path) as handle:
        return sorted(int(m.group(1)) for name in handle["acts"] if (m := _LAYER.match(name)))


def store_attrs(path: str | Path) -> dict:
    """The root attributes (model id, layers, ...) as plain Python values."""
    with _open(path) as handle:
        return {key: (value.item() if hasattr(value, "item") and np.ndim(value) == 0 else value)
                for key, value in handle.attrs.items()}


def load_layer(path: str | Path, layer: int) -> LayerData:
    """One layer's activations as float32, with each row's label and example index."""
    with _open(path) as handle:
        name = f"acts/layer_{layer}"
        if name not in handle:
            raise KeyError(f"{path}: no /{name}; stored layers are {list_layers(path)}")
        dataset = handle[name]
        raw = dataset[()]
        acts = decode_bf16(raw) if bool(dataset.attrs.get("bf16_as_uint16", False)) else raw.astype(np.float32)
        example_index = handle["index/example"][()].astype(np.int64)
        labels = handle["examples/label"][()].astype(np.int64)
    if acts.shape[0] != example_index.shape[0]:
        raise ValueError(f"{path}: /{name} has {acts.shape[0]} rows but /index/example has {example_index.shape[0]}")
    if example_index.size and (example_index.min() < 0 or example_index.max() >= labels.shape[0]):
        raise ValueError(f"{path}: /index/example points past /examples/label ({labels.shape[0]} examples)")
    return LayerData(np.ascontiguousarray(acts), labels[example_index], example_index)


def load_groups(path: str | Path) -> np.ndarray | None:
    """`/examples/group` (one int per example) when the file has it, else None."""
    with _open(path) as handle:
        if "examples/group" not in handle:
            return None
        groups = handle["examples/group"][()].astype(np.int64)
        n_examples = handle["examples/label"].shape[0]
    if groups.shape != (n_examples,):
        raise ValueError(f"{path}: /examples/group has shape {groups.shape}; expected ({n_examples},)")
    return groups
