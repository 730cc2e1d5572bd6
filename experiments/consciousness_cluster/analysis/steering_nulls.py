"""The steering stage's structured nulls, built at the steering layer from the cached contrast rows.

Beside isotropic random directions (the weakest null), three nulls that keep more of the activations' structure:
- label-shuffled: the direction recomputed by the run's own method (direction.method) on the same rows with the
  conscious / non-conscious labels permuted within each question (probes.stats.label_shuffled_directions; an
  example's rows keep one label);
- covariance: N(0, Sigma) directions, Sigma the sample covariance of the contrast rows at the layer
  (probes.stats.covariance_directions);
- disjoint halves: the questions split in two (probes.stats.disjoint_halves, each question a group); the
  consciousness direction from the first half's rows, the toaster direction from the second half's, so that the
  two share no non-conscious row (their common reference in the full directions).
Each is rescaled to the norm of the direction it stands beside, so its shifts are compared at equal norm.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = [
    "ContrastRows",
    "HalfDirections",
    "contrast_rows",
    "covariance_null",
    "half_directions",
    "label_shuffled_null",
    "rescaled",
]


class ContrastRows(NamedTuple):
    """One layer of a contrast store, row by row."""

    acts: np.ndarray
    """[N, D] float32"""
    labels: np.ndarray
    """[N] 1 conscious (or toaster), 0 non-conscious"""
    examples: np.ndarray
    """[N] example index of each row"""
    groups: np.ndarray
    """[N] question group of each row's example"""
    prompts: np.ndarray
    """[N] the prompt of each row's example"""


def contrast_rows(store: str | Path, layer: int) -> ContrastRows:
    """A contrast store's rows at `layer` with each row's label, example, question group and prompt."""
    from activations import ActivationStore

    with ActivationStore(store) as s:
        acts, labels, examples = s.layer_data(layer)
        groups = s.groups()
        prompts = s.examples("prompt")
    if groups is None:
        raise ValueError(
            f"{store}: no /examples/group; the label-shuffled null permutes labels within questions "
            "(rerun the cache stage: contrast examples carry their question's group)"
        )
    return ContrastRows(acts, labels, examples, groups[examples], prompts[examples])


def rescaled(vectors_ND: np.ndarray, norm: float) -> np.ndarray:
    """Each row rescaled to `norm` (float32)."""
    vectors = np.asarray(vectors_ND, dtype=np.float64)
    lengths = np.linalg.norm(vectors, axis=-1, keepdims=True)
    if not (lengths > 0).all():
        raise ValueError("a null direction came out zero; it cannot be rescaled to the direction's norm")
    return (vectors / lengths * float(norm)).astype(np.float32)


def _method(method: str, examples: np.ndarray):
    from probes.directions import direction_from_arrays

    return lambda acts, labels: direction_from_arrays(acts, labels, examples, method)


def label_shuffled_null(rows: ContrastRows, method: str, n: int, seed: int, norm: float) -> np.ndarray:
    """[n, D]: the direction by `method` with the labels permuted within each question, rescaled to `norm`."""
    from probes.stats import label_shuffled_directions

    if n == 0:
        return np.zeros((0, rows.acts.shape[1]), dtype=np.float32)
    draws = label_shuffled_directions(
        rows.acts, rows.labels, rows.groups, _method(method, rows.examples), n, seed, examples_N=rows.examples
    )
    return rescaled(draws, norm)


def covariance_null(rows: ContrastRows, n: int, seed: int, norm: float) -> np.ndarray:
    """[n, D]: N(0, Sigma) of the rows, rescaled to `norm`."""
    from probes.stats import covariance_directions

    return covariance_directions(rows.acts, n, norm, seed)


class HalfDirections(NamedTuple):
    consciousness: np.ndarray
    """[D] from the first half's consciousness rows, rescaled to the norm"""
    toaster: np.ndarray
    """[D] from the second half's toaster rows, rescaled to the norm"""
    first: list[str]
    """the prompts of the first half"""
    second: list[str]
    """the prompts of the second half"""


def half_directions(
    consciousness: ContrastRows, toaster: ContrastRows, method: str, seed: int, norm: float
) -> HalfDirections:
    """The questions of both stores split into two disjoint halves; the consciousness direction from the rows of
    the first half, the toaster direction from the rows of the second (every row of a question, both labels, goes
    with its question: no non-conscious row is in both)."""
    from probes.stats import disjoint_halves

    prompts = np.array(sorted(set(consciousness.prompts.tolist()) | set(toaster.prompts.tolist())), dtype=object)
    halves = disjoint_halves(len(prompts), seed)
    first, second = set(prompts[halves.first].tolist()), set(prompts[halves.second].tolist())

    def direction(rows: ContrastRows, keep: set[str], name: str) -> np.ndarray:
        mask = np.array([p in keep for p in rows.prompts.tolist()])
        if len(set(rows.labels[mask].tolist())) < 2:
            raise ValueError(f"the {name} half holds rows of one label only; too few contrast pairs to split")
        return _method(method, rows.examples[mask])(rows.acts[mask], rows.labels[mask])

    vectors = rescaled(
        np.stack([direction(consciousness, first, "consciousness"), direction(toaster, second, "toaster")]), norm
    )
    return HalfDirections(vectors[0], vectors[1], sorted(first), sorted(second))
