"""`ActivationStore`: reading an activation file (single-process or joined shards) lazily.

Rows come back as float values: float16 and float32 as stored, bfloat16 widened to float32
bit-exactly (or as `torch.bfloat16` with `as_torch=True`); `raw_acts` is the one way to the stored
bit patterns. Only committed rows are visible, and a file whose run has not finished is refused
unless opened with `allow_partial=True`. Names and dtype rules come from `activations.schema`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import h5py
import numpy as np

from activations import schema
from activations.schema import StoreFormatError

__all__ = ["ActivationStore", "IncompleteStoreError", "LayerData", "NonFiniteRowsError"]


class IncompleteStoreError(ValueError):
    """The file's run has not finished (`complete` is false) and the reader did not opt in to its committed rows."""


class NonFiniteRowsError(ValueError):
    """Rows that are NaN or infinite reached a reader that computes directions or probes from them."""


class LayerData(NamedTuple):
    acts: np.ndarray
    """[n_rows, d_model] float32"""
    row_labels: np.ndarray
    """[n_rows] int64, the label of each row's example"""
    example_index: np.ndarray
    """[n_rows] int64"""


class ActivationStore:
    """A read-only view of an activation file.

    >>> store = ActivationStore("acts.h5")            # doctest: +SKIP
    >>> x = store.acts(12, rows=slice(0, 100))        # doctest: +SKIP  [100, d_model]

    A store can stand wherever a path to it is taken (`probes.load_layer`, `sweep_store`, ...):
    `str()` and `os.fspath()` give its path, and those readers read it as it was opened.
    """

    def __init__(self, path: str | Path, *, allow_partial: bool = False):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: no such activation file")
        self._file = h5py.File(self.path, "r", swmr=True) if _is_swmr(self.path) else h5py.File(self.path, "r")
        try:
            if schema.INDEX_EXAMPLE not in self._file:
                raise StoreFormatError(
                    f"{self.path}: missing /{schema.INDEX_EXAMPLE} (not an activation file in the documented layout)"
                )
            # A file written without the writer's counters has every row valid.
            self.n_rows = int(self._file.attrs.get(schema.ROWS_COMMITTED, self._file[schema.INDEX_EXAMPLE].shape[0]))
            if not (allow_partial or self.complete):
                raise IncompleteStoreError(self._incomplete_message())
        except BaseException:
            self._file.close()
            raise

    def _incomplete_message(self) -> str:
        attrs = self._file.attrs
        done, total = attrs.get(schema.EXAMPLES_COMMITTED, "?"), attrs.get("n_examples", "?")
        return (
            f"{self.path} is incomplete ({done} of {total} examples, {self.n_rows} rows committed: its run was "
            "interrupted or is still going); rerun the same `interp cache` command to finish it (it resumes), "
            "or use the committed rows with allow_partial=True (--partial on the command line)"
        )

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> ActivationStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"ActivationStore({str(self.path)!r}, layers={self.layers}, n_rows={self.n_rows}, "
            f"positions={self.attrs.get('positions')!r}, complete={self.complete})"
        )

    def __fspath__(self) -> str:
        return str(self.path)

    __str__ = __fspath__

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
        """Whether the run finished (a file written without the writer's counters counts as finished)."""
        return bool(self._file.attrs.get(schema.COMPLETE, True))

    @property
    def layers(self) -> list[int]:
        """The layers the run extracted (in stream mode they have statistics but no rows)."""
        if "layers" in self._file.attrs:
            return [int(layer) for layer in self._file.attrs["layers"]]
        return self.acts_layers

    @property
    def acts_layers(self) -> list[int]:
        """The layers whose rows are stored, ascending (empty in stream mode)."""
        found = (schema.layer_of(key) for key in self._file.get(schema.ACTS, {}))
        return sorted(layer for layer in found if layer is not None)

    @property
    def stored_dtype(self) -> str:
        return str(self._file.attrs["dtype"])

    @property
    def example_index(self) -> np.ndarray:
        """[n_rows] int64 global example index of each row."""
        return self._file[schema.INDEX_EXAMPLE][: self.n_rows]

    @property
    def positions(self) -> np.ndarray:
        """[n_rows] int32 token position of each row inside its example (-1 for a response mean)."""
        return self._file[schema.INDEX_POSITION][: self.n_rows]

    @property
    def labels(self) -> np.ndarray | None:
        """[n_examples] int64 label per example (-1 unlabelled), None when no labels were given."""
        return self._file[schema.LABEL][...] if schema.LABEL in self._file else None

    @property
    def row_labels(self) -> np.ndarray | None:
        """[n_rows] label of each row's example."""
        labels = self.labels
        return None if labels is None else labels[self.example_index]

    def examples(self, field: str) -> np.ndarray:
        """A per-example column: prompt, response, label, id, messages, extra, n_tokens, ..."""
        values = self._file[schema.EXAMPLES][field]
        return values.asstr()[...] if h5py.check_string_dtype(values.dtype) else values[...]

    def groups(self) -> np.ndarray | None:
        """[n_examples] int64 `/examples/group` (examples held out together), None when not given."""
        if schema.GROUP not in self._file:
            return None
        groups = self._file[schema.GROUP][...].astype(np.int64)
        labels = self.labels
        if labels is not None and groups.shape != labels.shape:
            raise StoreFormatError(f"{self.path}: /{schema.GROUP} has shape {groups.shape}; expected {labels.shape}")
        return groups

    def _dataset(self, layer: int) -> h5py.Dataset:
        name = schema.acts_path(layer)
        if name not in self._file:
            stored = (
                "no activation rows (stream mode)" if schema.ACTS not in self._file else f"layers {self.acts_layers}"
            )
            raise KeyError(f"{self.path}: layer {layer} is not stored; the file has {stored}")
        return self._file[name]

    def _read(self, layer: int, rows: slice | np.ndarray | None) -> tuple[np.ndarray, str]:
        dataset = self._dataset(layer)
        if rows is None:
            rows = slice(0, self.n_rows)
        elif isinstance(rows, slice):
            rows = slice(*rows.indices(self.n_rows))
        else:
            rows = np.asarray(rows)
        return dataset[rows], schema.storage_of(dataset)

    def acts(self, layer: int, rows: slice | np.ndarray | None = None, as_torch: bool = False):
        """Rows of one layer as float values, `[n, d_model]`; a slice or index array reads only those.

        numpy: float16 and float32 as stored, bfloat16 as float32 (bit-exact). `as_torch=True`: a
        tensor in the storage dtype (`torch.bfloat16` for bfloat16).
        """
        raw, storage = self._read(layer, rows)
        return schema.decode_torch(raw, storage) if as_torch else schema.decode(raw, storage)

    def raw_acts(self, layer: int, rows: slice | np.ndarray | None = None) -> np.ndarray:
        """Rows as stored on disk: for bfloat16 the uint16 bit patterns (`schema.decode` reads them)."""
        return self._read(layer, rows)[0]

    def iter_batches(self, layer: int, batch_size: int = 4096, as_torch: bool = False) -> Iterator:
        """Consecutive row blocks of one layer, each `[<= batch_size, d_model]`."""
        for start in range(0, self.n_rows, batch_size):
            yield self.acts(layer, slice(start, start + batch_size), as_torch=as_torch)

    def projections(self, layer: int) -> np.ndarray:
        """[n_rows, K] float32 projections onto the directions given at extraction."""
        return self._file[schema.proj_path(layer)][: self.n_rows]

    def _labels_or_refuse(self) -> np.ndarray:
        labels = self.labels
        if labels is None:
            raise StoreFormatError(
                f"{self.path} has no /{schema.LABEL}: cache with labels (a 'label' of 1 or 0 "
                "on each prompts line) to compute directions or probes from it"
            )
        return labels.astype(np.int64)

    def layer_data(self, layer: int) -> LayerData:
        """One layer's rows as float32 with each row's label and example: what directions and probes read.

        Refuses a file without labels, and NaN or infinite rows (naming their examples).
        """
        labels = self._labels_or_refuse()
        example_index = self.example_index.astype(np.int64)
        if example_index.size and (example_index.min() < 0 or example_index.max() >= labels.shape[0]):
            raise StoreFormatError(
                f"{self.path}: /{schema.INDEX_EXAMPLE} points past /{schema.LABEL} ({labels.shape[0]} examples)"
            )
        acts = np.ascontiguousarray(self.acts(layer), dtype=np.float32)
        self._check_finite(layer, acts, example_index)
        return LayerData(acts, labels[example_index], example_index)

    def mean_by_label(self, layer: int, batch_size: int = 4096) -> dict[int, np.ndarray]:
        """Float64 mean row per label (unlabelled rows skipped), read in blocks; NaN or infinite rows refused."""
        row_labels = self._labels_or_refuse()[self.example_index]
        example_index = self.example_index
        classes = sorted(int(c) for c in np.unique(row_labels) if c >= 0)
        sums = {c: np.zeros(self._dataset(layer).shape[1]) for c in classes}
        for start in range(0, self.n_rows, batch_size):
            block = self.acts(layer, slice(start, start + batch_size), as_torch=True).double().numpy()
            self._check_finite(layer, block, example_index[start : start + batch_size])
            block_labels = row_labels[start : start + batch_size]
            for c in classes:
                sums[c] += block[block_labels == c].sum(0)
        return {c: sums[c] / int((row_labels == c).sum()) for c in classes}

    def _check_finite(self, layer: int, values_ND: np.ndarray, example_N: np.ndarray) -> None:
        bad_N = ~np.isfinite(values_ND).all(axis=1)
        if not bad_N.any():
            return
        examples = np.unique(example_N[bad_N])
        ids = self.examples("id") if f"{schema.EXAMPLES}/id" in self._file else None
        named = [f"{e + 1}" + (f" (id {ids[e]!r})" if ids is not None and ids[e] else "") for e in examples[:5]]
        more = f" and {len(examples) - 5} more" if len(examples) > 5 else ""
        overflow = schema.storage_of(self._dataset(layer)) == "float16" and np.isinf(values_ND[bad_N]).any()
        hint = (
            "float16 storage overflows above 65504: cache again with --store-dtype bfloat16 or float32"
            if overflow
            else "drop or fix those examples and cache again"
        )
        raise NonFiniteRowsError(
            f"{self.path}: layer {layer} has NaN or infinite values in {int(bad_N.sum())} "
            f"row(s), of example(s) {', '.join(named)}{more} (counted from 1); {hint}"
        )


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
            return not bool(handle.attrs.get(schema.COMPLETE, True))
    except OSError:
        return True
