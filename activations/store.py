"""`ActivationStore`: reading an activation file (single-process or joined shards) lazily.

Rows come back as numpy arrays in the storage dtype, or as torch tensors with bfloat16 decoded
back to `torch.bfloat16`. Only committed rows are visible, so a partial file reads consistently.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

__all__ = ["ActivationStore"]


class ActivationStore:
    """A read-only view of an activation file.

    >>> store = ActivationStore("acts.h5")            # doctest: +SKIP
    >>> x = store.acts(12, rows=slice(0, 100))        # doctest: +SKIP  [100, d_model]
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: no such activation file")
        self._file = h5py.File(self.path, "r", swmr=True) if _is_swmr(self.path) else h5py.File(self.path, "r")
        self.n_rows = int(self._file.attrs["rows_committed"])

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> ActivationStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"ActivationStore({str(self.path)!r}, layers={self.layers}, n_rows={self.n_rows}, "
                f"positions={self.attrs.get('positions')!r}, complete={self.complete})")

    @property
    def h5(self) -> h5py.File:
        """The open h5py file, for datasets the methods here do not cover (stats, directions)."""
        return self._file

    @property
    def attrs(self) -> dict[str, Any]:
        return {key: _plain(value) for key, value in self._file.attrs.items()}

    @property
    def config(self) -> dict[str, Any]:
        return json.loads(self._file.attrs["config"])

    @property
    def complete(self) -> bool:
        return bool(self._file.attrs["complete"])

    @property
    def layers(self) -> list[int]:
        return [int(layer) for layer in self._file.attrs["layers"]]

    @property
    def stored_dtype(self) -> str:
        return str(self._file.attrs["dtype"])

    @property
    def example_index(self) -> np.ndarray:
        """[n_rows] int64 global example index of each row."""
        return self._file["index/example"][: self.n_rows]

    @property
    def positions(self) -> np.ndarray:
        """[n_rows] int32 token position of each row inside its example (-1 for a response mean)."""
        return self._file["index/position"][: self.n_rows]

    @property
    def labels(self) -> np.ndarray | None:
        """[n_examples] int64 label per example (-1 unlabelled), None when no labels were given."""
        return self._file["examples/label"][...] if "examples/label" in self._file else None

    @property
    def row_labels(self) -> np.ndarray | None:
        """[n_rows] label of each row's example."""
        labels = self.labels
        return None if labels is None else labels[self.example_index]

    def examples(self, field: str) -> np.ndarray:
        """A per-example column: prompt, response, label, id, messages, extra, n_tokens, ..."""
        values = self._file["examples"][field]
        return values.asstr()[...] if h5py.check_string_dtype(values.dtype) else values[...]

    def _dataset(self, layer: int) -> h5py.Dataset:
        name = f"acts/layer_{layer}"
        if name not in self._file:
            stored = "no activation rows (stream mode)" if "acts" not in self._file else f"layers {self.layers}"
            raise KeyError(f"{self.path}: layer {layer} is not stored; the file has {stored}")
        return self._file[name]

    def acts(self, layer: int, rows: slice | np.ndarray | None = None, as_torch: bool = False):
        """Rows of one layer, `[n, d_model]`; a slice or index array reads only those rows."""
        dataset = self._dataset(layer)
        if rows is None:
            rows = slice(0, self.n_rows)
        elif isinstance(rows, slice):
            rows = slice(*rows.indices(self.n_rows))
        else:
            rows = np.asarray(rows)
        values = dataset[rows]
        return self._decode(values, dataset) if as_torch else values

    def _decode(self, values: np.ndarray, dataset: h5py.Dataset) -> torch.Tensor:
        if dataset.attrs.get("storage_dtype") == "bfloat16":
            return torch.from_numpy(values.view(np.int16)).view(torch.bfloat16)
        return torch.from_numpy(values)

    def iter_batches(self, layer: int, batch_size: int = 4096, as_torch: bool = False) -> Iterator:
        """Consecutive row blocks of one layer, each `[<= batch_size, d_model]`."""
        for start in range(0, self.n_rows, batch_size):
            yield self.acts(layer, slice(start, start + batch_size), as_torch=as_torch)

    def projections(self, layer: int) -> np.ndarray:
        """[n_rows, K] float32 projections onto the directions given at extraction."""
        return self._file[f"proj/layer_{layer}"][: self.n_rows]

    def mean_by_label(self, layer: int, batch_size: int = 4096) -> dict[int, np.ndarray]:
        """Float64 mean row per label (unlabelled rows skipped), read in blocks."""
        row_labels = self.row_labels
        if row_labels is None:
            raise ValueError(f"{self.path}: no labels were stored with the examples")
        classes = sorted(int(c) for c in np.unique(row_labels) if c >= 0)
        sums = {c: np.zeros(self._dataset(layer).shape[1]) for c in classes}
        for start in range(0, self.n_rows, batch_size):
            block = self.acts(layer, slice(start, start + batch_size), as_torch=True).double().numpy()
            block_labels = row_labels[start:start + batch_size]
            for c in classes:
                sums[c] += block[block_labels == c].sum(0)
        return {c: sums[c] / int((row_labels == c).sum()) for c in classes}


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _is_swmr(path: Path) -> bool:
    # A file still being written needs SWMR reading; a finished or joined one opens plainly.
    try:
        with h5py.File(path, "r") as handle:
            return not bool(handle.attrs.get("complete", True))
    except OSError:
        return True
