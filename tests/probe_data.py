"""Synthetic activations, planted and known, written to files by the toolkit's own activation writer.

Examples come in contrast pairs (example 2k positive, 2k + 1 negative) that share a large
per-pair offset; the positive one is shifted by `strength[l]` times a planted unit direction.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np


class Planted(NamedTuple):
    acts: dict[int, np.ndarray]  # layer -> [n_rows, d]
    example_index: np.ndarray  # [n_rows]
    labels: np.ndarray  # [n_examples]
    direction: np.ndarray  # [d], unit

    @property
    def row_labels(self) -> np.ndarray:
        return self.labels[self.example_index]


def planted(
    n_pairs: int = 40,
    rows_per_example: int = 3,
    d: int = 16,
    strengths=(0.0, 0.6, 4.0, 4.0),
    seed: int = 0,
    offset: float = 0.0,
) -> Planted:
    rng = np.random.default_rng(seed)
    direction = rng.normal(size=d)
    direction /= np.linalg.norm(direction)
    n_examples = 2 * n_pairs
    labels = np.tile([1, 0], n_pairs)
    example_index = np.repeat(np.arange(n_examples), rows_per_example)
    pair_offset = rng.normal(scale=offset, size=(n_pairs, d))[example_index // 2]
    acts = {}
    for layer, strength in enumerate(strengths):
        noise = rng.normal(size=(len(example_index), d))
        shift = strength * labels[example_index][:, None] * direction
        acts[layer] = (pair_offset + noise + shift).astype(np.float32)
    return Planted(acts, example_index, labels, direction)


def write_store(
    path: Path,
    data: Planted,
    *,
    dtype: str = "float32",
    model: str = "tiny-test",
    pair_groups: bool = False,
    committed: int | None = None,
) -> Path:
    """`data` written by the activation writer (`create_file`, `StoreSink.commit`, `finish_file`), the
    path every `interp cache` run takes after the forward pass. `committed`: commit only the rows of
    that many examples and stop, as a killed run leaves its file."""
    from activations import schema
    from activations.h5file import create_file, finish_file
    from activations.writer import StoreSink

    layers, d = sorted(data.acts), data.direction.shape[0]
    n_examples = len(data.labels)
    attrs = {
        "model": model,
        "layers": np.asarray(layers, dtype=np.int64),
        "positions": "all",
        "dtype": dtype,
        "n_examples": n_examples,
        "d_model": d,
    }
    table = {"label": data.labels.tolist()}
    if pair_groups:
        table["group"] = (np.arange(n_examples) // 2).tolist()
    committed = n_examples if committed is None else committed
    rows = data.example_index < committed
    examples = data.example_index[rows].astype(np.int64)
    positions = (np.arange(len(examples)) - np.searchsorted(examples, examples)).astype(np.int32)
    handle = create_file(path, attrs, table, layers, d, dtype, None, True, 0, 0)
    try:
        encoded = {layer: schema.encode(acts[rows], dtype) for layer, acts in data.acts.items()}
        StoreSink(handle, layers).commit(examples, positions, encoded, {}, {}, committed)
    finally:
        handle.close()
    if committed == n_examples:
        finish_file(path, layers)
    return path
