"""Host side of the pipeline: a writer thread that turns finished batches into committed HDF5 rows.

The forward loop hands each batch's outputs (already on their way to pinned host memory on
GPU) to a bounded queue, so device-to-host copies and disk writes overlap the next forward while
memory stays capped. The thread reorders rows into input example order and commits one window
of examples at a time; an error in it is raised in the caller at the next hand-off.
"""

from __future__ import annotations

import queue
import threading
from typing import NamedTuple

import h5py
import numpy as np
import torch

from activations import schema

__all__ = ["BatchOutput", "StoreSink", "WindowWriter"]

_STOP = object()


class BatchOutput(NamedTuple):
    example_B: np.ndarray
    """[batch] global example index of each batch element"""
    counts_B: np.ndarray
    """[batch] rows each element produced"""
    position_N: np.ndarray
    """[n_rows] token position of each row inside its example (-1 for a mean)"""
    rows: dict[int, torch.Tensor]
    """layer -> [n_rows, d_model] host tensor in the storage dtype (possibly still being copied)"""
    proj: dict[int, torch.Tensor]
    """layer -> [n_rows, K] float32 projections"""
    stats: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
    """layer -> (class sum, class sum of squares, class count)"""
    event: object | None
    """CUDA event marking the end of the copies, None on CPU"""


class StoreSink:
    """Appends whole windows to an open file and commits them (counters after the data, then flush)."""

    def __init__(self, handle: h5py.File, layers: list[int]):
        self.handle = handle
        self.layers = layers

    def commit(
        self,
        examples: np.ndarray,
        positions: np.ndarray,
        rows: dict[int, np.ndarray],
        proj: dict[int, np.ndarray],
        stats: dict[int, list[np.ndarray]],
        n_examples: int,
    ) -> None:
        handle = self.handle
        start = int(handle.attrs[schema.ROWS_COMMITTED])
        stop = start + len(examples)
        for name, values in ((schema.INDEX_EXAMPLE, examples), (schema.INDEX_POSITION, positions)):
            handle[name].resize((stop,))
            handle[name][start:stop] = values
        for path, arrays in ((schema.acts_path, rows), (schema.proj_path, proj)):
            for layer, values in arrays.items():
                dataset = handle[path(layer)]
                dataset.resize(stop, axis=0)
                dataset[start:stop] = values
        slot = int(handle.attrs[schema.STATS_SLOT])
        for layer, window_stats in stats.items():
            group = handle[schema.stats_path(layer)]
            for field, value in zip(schema.STATS_FIELDS, window_stats):
                running = group[schema.running(field)]
                running[(slot + 1) % 2] = value + (running[slot] if slot >= 0 else 0)
        handle.flush()  # rows and totals are on disk before the counters that make them visible
        if stats:
            handle.attrs[schema.STATS_SLOT] = (slot + 1) % 2
        handle.attrs[schema.ROWS_COMMITTED] = stop
        handle.attrs[schema.EXAMPLES_COMMITTED] = int(handle.attrs[schema.EXAMPLES_COMMITTED]) + n_examples
        handle.flush()


class _Window:
    def __init__(self):
        self.pieces: dict[int, tuple] = {}
        self.stats: dict[int, list[np.ndarray]] = {}

    def add(self, item: BatchOutput) -> None:
        rows = {layer: schema.encode(t, schema.storage_for(t.dtype)) for layer, t in item.rows.items()}
        proj = {layer: t.numpy() for layer, t in item.proj.items()}
        offsets = np.concatenate([[0], np.cumsum(item.counts_B)])
        for b, example in enumerate(item.example_B.tolist()):
            span = slice(offsets[b], offsets[b + 1])
            self.pieces[example] = (
                item.position_N[span],
                {l: a[span] for l, a in rows.items()},
                {l: a[span] for l, a in proj.items()},
            )
        for layer, parts in item.stats.items():
            arrays = [p.numpy().astype(np.float64 if i < 2 else np.int64) for i, p in enumerate(parts)]
            if layer in self.stats:
                arrays = [a + b for a, b in zip(self.stats[layer], arrays)]
            self.stats[layer] = arrays

    def flush_to(self, sink: StoreSink, window: range) -> None:
        order = [self.pieces.pop(example) for example in window]
        counts = [len(piece[0]) for piece in order]
        examples = np.repeat(np.asarray(window, dtype=np.int64), counts)
        positions = np.concatenate([piece[0] for piece in order]).astype(np.int32)
        rows = {l: np.concatenate([piece[1][l] for piece in order]) for l in (order[0][1] if order else {})}
        proj = {l: np.concatenate([piece[2][l] for piece in order]) for l in (order[0][2] if order else {})}
        sink.commit(examples, positions, rows, proj, self.stats, len(window))
        self.stats = {}


class WindowWriter:
    """A thread fed by a queue of fixed depth; `submit` batches, `end_window` to commit, `close` to finish."""

    def __init__(self, sink: StoreSink, depth: int = 2):
        self.sink = sink
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self.window = _Window()
        self.thread = threading.Thread(target=self._run, name="interp-hdf5-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            if item is _STOP:
                return
            if self.error is not None:
                continue  # keep draining so the producer never blocks on a dead consumer
            try:
                if isinstance(item, range):
                    self.window.flush_to(self.sink, item)
                else:
                    if item.event is not None:
                        item.event.synchronize()
                    self.window.add(item)
            except BaseException as err:  # handed to the caller at its next submit/close
                self.error = err

    def _put(self, item) -> None:
        if self.error is not None:
            raise RuntimeError(f"writing activations failed: {self.error}") from self.error
        self.queue.put(item)

    def submit(self, item: BatchOutput) -> None:
        self._put(item)

    def end_window(self, window: range) -> None:
        self._put(window)

    def close(self) -> None:
        self.queue.put(_STOP)
        self.thread.join()
        if self.error is not None:
            raise RuntimeError(f"writing activations failed: {self.error}") from self.error
