"""The HDF5 activation file on disk: creating it, appending committed windows, resuming after a kill.

Writes run in HDF5's single-writer/multiple-reader mode, whose ordered metadata flushes keep
the file readable whatever instant the process dies at; a resume clears the "open for write"
flag that a killed writer leaves behind, checks the run is the same one, and truncates any rows
past `rows_committed`.
"""

from __future__ import annotations

import ctypes
import glob
import json
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from activations import schema
from activations.stream import LayerStats, finalize_stats

__all__ = ["StoreMismatchError", "create_file", "finish_file", "open_existing"]

_CHUNK_BYTES = 1 << 20


class StoreMismatchError(ValueError):
    """An existing file was written by a different run (model, layers, positions, ...)."""


def _chunk_rows(width: int, itemsize: int) -> int:
    return int(max(16, min(4096, _CHUNK_BYTES // max(1, width * itemsize))))


def _growing(group: h5py.Group, name: str, width: int | None, dtype, compression: str | None) -> h5py.Dataset:
    shape, maxshape = ((0,), (None,)) if width is None else ((0, width), (None, width))
    rows = _chunk_rows(width or 1, np.dtype(dtype).itemsize)
    chunks = (rows,) if width is None else (rows, width)
    return group.create_dataset(
        name, shape=shape, maxshape=maxshape, chunks=chunks, dtype=dtype, compression=compression
    )


def _write_examples(group: h5py.Group, table: dict[str, list]) -> None:
    for name, values in table.items():
        if values and isinstance(values[0], str):
            group.create_dataset(name, data=np.array(values, dtype=object), dtype=h5py.string_dtype())
        else:
            group.create_dataset(name, data=np.asarray(values))


def create_file(
    path: Path,
    attrs: dict[str, Any],
    examples: dict[str, list],
    layers: list[int],
    d_model: int,
    storage: str,
    compression: str | None,
    store_rows: bool,
    n_classes: int,
    n_directions: int,
) -> h5py.File:
    """A fresh file with every dataset and attribute in place, switched to SWMR writing."""
    handle = h5py.File(path, "w", libver="latest")
    handle.attrs.update({k: v for k, v in attrs.items() if v is not None})
    handle.attrs.update(schema.new_counters())
    _write_examples(handle.create_group(schema.EXAMPLES), examples)
    _growing(handle, schema.INDEX_EXAMPLE, None, np.int64, None)
    _growing(handle, schema.INDEX_POSITION, None, np.int32, None)
    for layer in layers:
        if store_rows:
            acts = _growing(handle, schema.acts_path(layer), d_model, schema.STORAGE_DTYPES[storage].disk, compression)
            acts.attrs[schema.STORAGE_ATTR] = storage
        if n_directions:
            _growing(handle, schema.proj_path(layer), n_directions, np.float32, None)
        if n_classes:
            # Two slots: a commit writes the new totals into the slot not in use, then flips
            # `stats_slot` with the row counters, so a kill mid-commit never tears the totals.
            stats = handle.require_group(schema.stats_path(layer))
            stats.create_dataset(schema.running("sum"), data=np.zeros((2, n_classes, d_model)))
            stats.create_dataset(schema.running("sumsq"), data=np.zeros((2, n_classes, d_model)))
            stats.create_dataset(schema.running("count"), data=np.zeros((2, n_classes), dtype=np.int64))
    handle.swmr_mode = True
    return handle


def _libhdf5() -> ctypes.CDLL | None:
    folder = Path(h5py.__file__).parent
    candidates = glob.glob(str(folder.parent / "h5py.libs" / "libhdf5-*")) + glob.glob(str(folder / "libhdf5*"))
    candidates = [c for c in candidates if "_hl" not in os.path.basename(c)]
    try:
        return ctypes.CDLL(candidates[0]) if candidates else ctypes.CDLL("libhdf5.so")
    except OSError:
        return None


def _open_clearing_flags(path: Path) -> h5py.File:
    """Open read-write, clearing the superblock's "open for write" flag a killed SWMR writer leaves set.

    This is what the `h5clear -s` tool does, through the same file-access property it uses.
    """
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_LATEST, h5py.h5f.LIBVER_LATEST)
    lib = _libhdf5()
    if lib is not None:
        flag = ctypes.c_bool(True)
        lib.H5Pset(ctypes.c_int64(fapl.id), b"clear_status_flags", ctypes.byref(flag))
    return h5py.File(h5py.h5f.open(os.fsencode(path), h5py.h5f.ACC_RDWR, fapl=fapl))


def _mismatch(stored: h5py.AttributeManager, attrs: dict[str, Any]) -> list[str]:
    differences = []
    for key in schema.IDENTITY_ATTRS:
        want, have = attrs.get(key), stored.get(key)
        if want is None and have is None:
            continue
        same = have is not None and want is not None and np.array_equal(np.asarray(have), np.asarray(want))
        if not same:
            differences.append(f"{key}: file has {_show(have)}, this run wants {_show(want)}")
    return differences


def _show(value: Any) -> str:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    return json.dumps(value.item() if isinstance(value, np.generic) else value, default=str)


def open_existing(path: Path, attrs: dict[str, Any]) -> h5py.File:
    """Reopen a partial file of the same run for appending, truncated to its committed rows."""
    try:
        handle = _open_clearing_flags(path)
    except OSError as err:
        raise StoreMismatchError(
            f"{path}: exists but cannot be opened as HDF5 ({err}); replace it "
            "(--overwrite; overwrite=True in Python) or choose another --out"
        ) from None
    differences = _mismatch(handle.attrs, attrs)
    if differences:
        handle.close()
        raise StoreMismatchError(
            f"{path} holds a different run, refusing to mix rows ("
            + "; ".join(differences)
            + "); replace it (--overwrite; overwrite=True in Python) or "
            "choose another --out"
        )
    rows = int(handle.attrs[schema.ROWS_COMMITTED])
    for group in (schema.ACTS, schema.PROJ):
        for dataset in handle.get(group, {}).values():
            dataset.resize(rows, axis=0)
    for name in (schema.INDEX_EXAMPLE, schema.INDEX_POSITION):
        handle[name].resize((rows,))
    handle.swmr_mode = True
    return handle


def finish_file(path: Path, layers: list[int]) -> tuple[dict[int, LayerStats], int]:
    """Mark a file whose rows are all committed complete, with its final statistics; (stats, rows)."""
    with h5py.File(path, "r+", libver="latest") as handle:  # out of SWMR mode to add the final datasets
        stats = finalize_stats(handle, layers)
        handle.attrs[schema.COMPLETE] = True
        return stats, int(handle.attrs[schema.ROWS_COMMITTED])
