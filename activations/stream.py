"""Running statistics of the pass: per-label sums, difference-of-means directions, projections.

In stream mode (`store=False`) these are the whole output: the file holds `/index/*`,
`/examples/*`, `/stats/layer_{l}/{sum,sumsq,count}` (float64 `[n_classes, d_model]` and int64
`[n_classes]`), `/directions/layer_{l}` (float32 `[d_model]`, mean of label 1 minus mean of
label 0) and, when directions were given, `/proj/layer_{l}` (float32 `[n_rows, K]`).
While a run is in progress the totals live in two-slot `running_*` datasets (the valid slot is
the root attribute `stats_slot`); they become `sum`/`sumsq`/`count` when the run completes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch

from activations import schema
from interp.models.direction import Direction, DirectionError

__all__ = [
    "DirectionsError",
    "LayerStats",
    "NonFiniteStatisticsError",
    "finalize_stats",
    "load_directions",
    "mean_difference",
]


# A directions file that is missing, malformed or does not fit the model and layers: the one
# error of direction files, under the name this module has always exported.
DirectionsError = DirectionError


@dataclass(frozen=True)
class LayerStats:
    sum: np.ndarray
    """[n_classes, d_model] float64 sum of rows per label"""
    sumsq: np.ndarray
    """[n_classes, d_model] float64 sum of squared rows per label"""
    count: np.ndarray
    """[n_classes] int64 rows per label"""
    direction: np.ndarray
    """[d_model] float32 mean of label-1 rows minus mean of label-0 rows"""


def mean_difference(total, count) -> np.ndarray:
    """Mean of class 1 minus mean of class 0 from per-class sums, in float64, returned as float32.

    `total[c]` is the sum of class c's rows (`[d_model]`, or any shape such as `[n_layers, d_model]`)
    and `count[c]` how many rows it sums; NaN where a class has no rows. The one implementation of
    the difference of means: the probes' row and sum versions call it.
    """
    total = np.asarray(total, dtype=np.float64)
    count = np.asarray(count, dtype=np.float64).reshape((-1,) + (1,) * (total.ndim - 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        means = total / count
    return (means[1] - means[0]).astype(np.float32)


class NonFiniteStatisticsError(ValueError):
    """The per-class running sums of a layer hold NaN or infinite values (the model produced them)."""


def finalize_stats(handle: h5py.File, layers: list[int]) -> dict[int, LayerStats]:
    """Turn the committed running totals into `sum`/`sumsq`/`count` and a direction per layer.

    Needs the file open outside SWMR mode (it creates datasets); running it twice is harmless.
    """
    result: dict[int, LayerStats] = {}
    if schema.STATS not in handle:
        return result
    slot = int(handle.attrs[schema.STATS_SLOT])
    for layer in layers:
        group = handle[schema.stats_path(layer)]
        for field in schema.STATS_FIELDS:
            if schema.running(field) in group:
                running = group[schema.running(field)]
                value = running[slot] if slot >= 0 else np.zeros_like(running[0])
                if field in group:
                    del group[field]
                group[field] = value
                del group[schema.running(field)]
        total, total_sq, count = (group[field][...] for field in schema.STATS_FIELDS)
        if not (np.isfinite(total).all() and np.isfinite(total_sq).all()):
            raise NonFiniteStatisticsError(
                f"layer {layer}: the running statistics are NaN or infinite, so some "
                "activations were; the file is left incomplete. Load the model in float32 "
                "(float16 overflows first) and rerun, or look for examples that make the "
                "model produce NaN"
            )
        direction = mean_difference(total, count)
        if schema.direction_path(layer) in handle:
            del handle[schema.direction_path(layer)]
        handle[schema.direction_path(layer)] = direction
        result[layer] = LayerStats(total, total_sq, count, direction)
    return result


def load_directions(path: str | Path, layers: list[int], d_model: int) -> tuple[dict[int, torch.Tensor], str]:
    """Directions to project onto, per layer (`[K, d_model]` each), from a direction file; and its sha256.

    A file whose rows name their layers gives each layer its own row (K = 1); a file of rows tied
    to no layer (`[d_model]` or `[K, d_model]`) gives every layer all of its rows.
    """
    direction = Direction.load(path)
    if direction.d_model != d_model:
        raise DirectionsError(f"{path}: directions have width {direction.d_model}, the model's d_model is {d_model}")
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    if not direction.layers:
        return {layer: direction.vectors for layer in layers}, digest
    missing = [layer for layer in layers if layer not in direction.layers]
    if missing:
        raise DirectionsError(
            f"{path}: no direction for layer(s) {missing}; the file holds layers {list(direction.layers)}"
        )
    return {layer: direction.at(layer)[None] for layer in layers}, digest
