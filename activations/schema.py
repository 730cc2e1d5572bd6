"""The HDF5 activation file's schema: dataset names, root attributes, storage dtypes and their encoding.

Every reader and writer of the file (`h5file`, `writer`, `store`, `stream`, `shards`, and the
probes through `ActivationStore`) takes its names and dtype rules from here, so the layout the
README documents is spelled once:

    /acts/layer_{l}           [n_rows, d_model]   storage dtype (bfloat16 as uint16 bit patterns)
    /index/example            [n_rows] int64      global example index of each row
    /index/position           [n_rows] int32      token position in its example (-1: a response mean)
    /examples/{field}         [n_examples]        prompt, response, messages, id, extra (str);
                                                  label, group, n_tokens, n_prompt_tokens (int)
    /proj/layer_{l}           [n_rows, K] float32 projections onto the directions given
    /stats/layer_{l}/{sum,sumsq,count}            per-label totals (two-slot `running_*` while writing)
    /directions/layer_{l}     [d_model] float32   mean of label 1 minus mean of label 0
"""

from __future__ import annotations

import re
from typing import NamedTuple

import h5py
import numpy as np
import torch

__all__ = [
    "ACTS",
    "COMPLETE",
    "DIRECTIONS",
    "EXAMPLES",
    "EXAMPLES_COMMITTED",
    "FORMAT_VERSION",
    "GROUP",
    "IDENTITY_ATTRS",
    "INDEX",
    "INDEX_EXAMPLE",
    "INDEX_POSITION",
    "LABEL",
    "PROJ",
    "ROWS_COMMITTED",
    "STATS",
    "STATS_FIELDS",
    "STATS_SLOT",
    "STORAGE_ATTR",
    "STORAGE_DTYPES",
    "StorageDtype",
    "StoreFormatError",
    "acts_path",
    "decode",
    "decode_torch",
    "direction_path",
    "encode",
    "layer_of",
    "new_counters",
    "proj_path",
    "running",
    "stats_path",
    "storage_for",
    "storage_of",
]

FORMAT_VERSION = 1

# Dataset names.
ACTS, PROJ, STATS, DIRECTIONS, EXAMPLES, INDEX = "acts", "proj", "stats", "directions", "examples", "index"
INDEX_EXAMPLE, INDEX_POSITION = f"{INDEX}/example", f"{INDEX}/position"
LABEL, GROUP = f"{EXAMPLES}/label", f"{EXAMPLES}/group"
STATS_FIELDS = ("sum", "sumsq", "count")
"""the finished per-label totals of `/stats/layer_{l}`"""
_LAYER = re.compile(r"^layer_(-?\d+)$")


def acts_path(layer: int) -> str:
    return f"{ACTS}/layer_{layer}"


def proj_path(layer: int) -> str:
    return f"{PROJ}/layer_{layer}"


def stats_path(layer: int) -> str:
    return f"{STATS}/layer_{layer}"


def direction_path(layer: int) -> str:
    return f"{DIRECTIONS}/layer_{layer}"


def running(field: str) -> str:
    """The two-slot dataset that holds a total while the run is in progress."""
    return f"running_{field}"


def layer_of(key: str) -> int | None:
    """`layer_12` -> 12; None for a name that is not a layer's."""
    match = _LAYER.match(key)
    return int(match.group(1)) if match else None


# Root attributes. The counters make rows visible: only the first `rows_committed` rows are valid,
# and `complete` turns true once the run has finished; `stats_slot` is the valid `running_*` slot.
ROWS_COMMITTED, EXAMPLES_COMMITTED = "rows_committed", "examples_committed"
COMPLETE, STATS_SLOT = "complete", "stats_slot"
IDENTITY_ATTRS = (
    "model",
    "weights_id",
    "layers",
    "positions",
    "dtype",
    "store",
    "examples_sha256",
    "example_start",
    "n_examples",
    "directions_sha256",
)
"""what makes a run the same run: a resume with any of these different is refused"""


def new_counters() -> dict:
    """The root attributes of a file that holds no rows yet."""
    return {ROWS_COMMITTED: 0, EXAMPLES_COMMITTED: 0, COMPLETE: False, "format_version": FORMAT_VERSION, STATS_SLOT: -1}


class StoreFormatError(ValueError):
    """A file that is not an activation file in the documented layout, or lacks what a reader needs."""


class StorageDtype(NamedTuple):
    disk: np.dtype
    """what h5py stores"""
    torch: torch.dtype
    """what the capture casts rows to before they are stored"""


STORAGE_DTYPES = {
    "float16": StorageDtype(np.dtype(np.float16), torch.float16),
    "bfloat16": StorageDtype(np.dtype(np.uint16), torch.bfloat16),  # numpy has no bfloat16: its bit pattern
    "float32": StorageDtype(np.dtype(np.float32), torch.float32),
}
STORAGE_ATTR = "storage_dtype"
"""attribute of each `/acts/layer_{l}` naming its storage dtype"""
_LEGACY_BF16_ATTR = "bf16_as_uint16"  # what files written before `storage_dtype` carry


def storage_for(dtype: torch.dtype) -> str:
    """The storage dtype whose rows the capture hands over as `dtype`."""
    for name, storage in STORAGE_DTYPES.items():
        if storage.torch == dtype:
            return name
    raise ValueError(f"no storage dtype holds {dtype}; rows are stored as {', '.join(STORAGE_DTYPES)}")


def storage_of(dataset: h5py.Dataset) -> str:
    """The storage dtype of an `/acts` dataset, from its attribute (or, failing that, its numpy dtype)."""
    name = dataset.attrs.get(STORAGE_ATTR)
    if name is not None:
        name = name.decode() if isinstance(name, bytes) else str(name)
        if name not in STORAGE_DTYPES:
            raise StoreFormatError(
                f"{dataset.file.filename}: {dataset.name} has {STORAGE_ATTR} {name!r}; "
                f"known: {', '.join(STORAGE_DTYPES)}"
            )
        return name
    if bool(dataset.attrs.get(_LEGACY_BF16_ATTR, False)):
        return "bfloat16"
    for candidate, dtype in STORAGE_DTYPES.items():
        if dataset.dtype == dtype.disk and candidate != "bfloat16":
            return candidate
    raise StoreFormatError(
        f"{dataset.file.filename}: {dataset.name} is {dataset.dtype} with no {STORAGE_ATTR} "
        f"attribute; rows are stored as {', '.join(STORAGE_DTYPES)}"
    )


def encode(values: np.ndarray | torch.Tensor, storage: str) -> np.ndarray:
    """Rows as stored: cast to the storage dtype (torch's rounding), bfloat16 as its uint16 bit pattern."""
    tensor = values if isinstance(values, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(values))
    tensor = tensor.detach().to("cpu", STORAGE_DTYPES[storage].torch)
    if storage == "bfloat16":
        return tensor.view(torch.int16).numpy().view(np.uint16)
    return tensor.numpy()


def decode(raw: np.ndarray, storage: str) -> np.ndarray:
    """Stored rows as float values: float16/float32 as they are, bfloat16 widened to float32 bit-exactly.

    A bfloat16 is the top half of a float32, so shifting its bits up 16 places is the float32 of the
    same value (NaN and infinity included).
    """
    if storage == "bfloat16":
        return (np.asarray(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
    return raw


def decode_torch(raw: np.ndarray, storage: str) -> torch.Tensor:
    """Stored rows as a tensor in the storage dtype (bfloat16 as `torch.bfloat16`, no copy)."""
    if storage == "bfloat16":
        return torch.from_numpy(np.ascontiguousarray(raw).view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(raw)
