"""Synthetic activation files in the documented HDF5 layout, written with plain h5py.

Examples come in contrast pairs (example 2k positive, 2k + 1 negative) that share a large
per-pair offset; the positive one is shifted by `strength[l]` times a planted unit direction.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import h5py
import numpy as np


class Planted(NamedTuple):
    acts: dict[int, np.ndarray]  # layer -> [n_rows, d]
    example_index: np.ndarray  # [n_rows]
    labels: np.ndarray  # [n_examples]
    direction: np.ndarray  # [d], unit

    @property
    def row_labels(self) -> np.ndarray:
        return self.labels[self.example_index]


def planted(n_pairs: int = 40, rows_per_example: int = 3, d: int = 16, strengths=(0.0, 0.6, 4.0, 4.0),
            seed: int = 0, offset: float = 0.0) -> Planted:
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


def to_bf16_bits(x: np.ndarray) -> np.ndarray:
    """float32 to bfloat16 bit patterns (round to nearest even), as uint16."""
    bits = x.astype(np.float32).view(np.uint32)
    rounded = bits + 0x7FFF + ((bits >> 16) & 1)
    return (rounded >> 16).astype(np.uint16)


def write_store(path: Path, data: Planted, *, bf16: bool = False, model: str = "tiny-test",
                pair_groups: bool = False) -> Path:
    with h5py.File(path, "w") as handle:
        for layer, acts in data.acts.items():
            stored = to_bf16_bits(acts) if bf16 else acts
            dataset = handle.create_dataset(f"acts/layer_{layer}", data=stored, chunks=(min(64, len(acts)), acts.shape[1]))
            dataset.attrs["bf16_as_uint16"] = bf16
        handle["index/example"] = data.example_index.astype(np.int64)
        handle["index/position"] = np.zeros(len(data.example_index), dtype=np.int32)
        handle["examples/label"] = data.labels.astype(np.int64)
        if pair_groups:
            handle["examples/group"] = np.arange(len(data.labels), dtype=np.int64) // 2
        handle.attrs["layers"] = np.array(sorted(data.acts), dtype=np.int64)
        handle.attrs["model"] = model
        handle.attrs["complete"] = True
    return path
