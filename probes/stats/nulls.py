"""Null directions: isotropic, label-shuffled, covariance-matched, and disjoint halves for a control.

A direction's effect means something only against what directions that do not encode the contrast do:
- `random_directions_like`: isotropic Gaussian directions of equal norm (the weakest null);
- `label_shuffled_directions`: the same method on the same rows with the labels permuted within question
  groups, so the null keeps the rows' structure and loses only the label;
- `covariance_directions`: N(0, Sigma) directions, Sigma the rows' own sample covariance, scaled to a norm,
  so the null moves along the axes the activations actually vary on;
- `disjoint_halves`: two disjoint halves of a set of rows, so that a control direction (the toaster) and the
  consciousness direction share no reference rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

__all__ = [
    "Halves",
    "covariance_directions",
    "covariance_draws",
    "disjoint_halves",
    "label_shuffled_directions",
    "permute_within_groups",
    "random_directions_like",
]


def random_directions_like(vector: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """[n, d] Gaussian directions, each rescaled to the norm of `vector`."""
    vector = np.asarray(vector, dtype=np.float64).ravel()
    draws = np.random.default_rng(seed).normal(size=(n, vector.size))
    return (draws / np.linalg.norm(draws, axis=1, keepdims=True) * np.linalg.norm(vector)).astype(np.float32)


def permute_within_groups(labels_U: np.ndarray, groups_U: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`labels_U` permuted uniformly within each group (one rng.random(U) call): every group keeps its own
    multiset of labels. Rows sharing a group value form one group; pass one value for all for an
    unrestricted permutation."""
    keys = rng.random(len(labels_U))
    slots = np.lexsort((np.arange(labels_U.shape[0]), groups_U))  # each group's positions, in order
    shuffled = np.lexsort((keys, groups_U))  # each group's positions, in a random order
    out = np.empty_like(labels_U)
    out[slots] = labels_U[shuffled]
    return out


def _units(
    labels_N: np.ndarray, groups_N: np.ndarray, examples_N: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(unit labels, unit groups, row -> unit): rows of one example move together."""
    if examples_N is None:
        return labels_N, groups_N, np.arange(labels_N.shape[0])
    examples = np.asarray(examples_N)
    _, first, inverse = np.unique(examples, return_index=True, return_inverse=True)
    for name, values in (("label", labels_N), ("group", groups_N)):
        if (values != values[first][inverse]).any():
            row = int(np.flatnonzero(values != values[first][inverse])[0])
            raise ValueError(
                f"row {row} (counted from 0) has another {name} than the rest of example "
                f"{examples[row]!r}; an example's rows must share its {name}"
            )
    return labels_N[first], groups_N[first], inverse


def label_shuffled_directions(
    acts_ND: np.ndarray,
    labels_N: np.ndarray,
    groups_N: np.ndarray,
    method_fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
    n: int,
    seed: int = 0,
    *,
    examples_N: np.ndarray | None = None,
) -> np.ndarray:
    """[n, D]: `method_fn(acts_ND, permuted labels)` for n permutations of the labels within each group.

    `method_fn(acts, labels) -> [D]` is the method that built the direction (bind any further argument, e.g.
    the example index, in a closure). With `examples_N`, labels are permuted per example (all rows of an
    example keep one label). Draws: numpy.random.default_rng(seed), one `permute_within_groups` per draw.
    Checked against the method applied to labels permuted by a plain per-group loop with the same draws."""
    acts = np.asarray(acts_ND)
    labels, groups = np.asarray(labels_N), np.asarray(groups_N)
    if acts.ndim != 2 or labels.shape != (acts.shape[0],) or groups.shape != labels.shape:
        raise ValueError(
            f"expected acts [N, D], labels [N] and groups [N]; got {acts.shape}, {labels.shape}, {groups.shape}"
        )
    unit_labels, unit_groups, row_unit = _units(labels, groups, examples_N)
    rng = np.random.default_rng(seed)
    out = [
        np.asarray(method_fn(acts, permute_within_groups(unit_labels, unit_groups, rng)[row_unit])) for _ in range(n)
    ]
    return np.stack(out).reshape(n, -1) if out else np.zeros((0, acts.shape[1]), dtype=np.float32)


def covariance_draws(acts_ND: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """[n, D] draws from N(0, Sigma), Sigma the sample covariance (ddof 1) of the rows, as
    z @ centred_rows / sqrt(N - 1) with z ~ N(0, I_N): Cov = centred^T centred / (N - 1) = Sigma, and no
    D x D matrix is formed (D may exceed N; the draws then lie in the rows' span). Checked: the sample
    covariance of many draws matches numpy.cov of the rows."""
    acts = np.asarray(acts_ND, dtype=np.float64)
    if acts.ndim != 2 or acts.shape[0] < 2:
        raise ValueError(f"need acts [N >= 2, D]; got {acts.shape}")
    centred = acts - acts.mean(0)
    z = np.random.default_rng(seed).standard_normal((n, acts.shape[0]))
    return z @ centred / np.sqrt(acts.shape[0] - 1)


def covariance_directions(acts_ND: np.ndarray, n: int, norm: float, seed: int = 0) -> np.ndarray:
    """[n, D] float32: `covariance_draws` each rescaled to `norm` (the direction's own norm)."""
    draws = covariance_draws(acts_ND, n, seed)
    lengths = np.linalg.norm(draws, axis=1, keepdims=True)
    if n and not (lengths > 0).all():
        raise ValueError("the rows have no variance: covariance-matched directions are undefined")
    return (draws / lengths * float(norm)).astype(np.float32)


class Halves(NamedTuple):
    first: np.ndarray
    """Sorted row indices of one half."""
    second: np.ndarray
    """Sorted row indices of the other: disjoint from `first`, together all rows."""


def disjoint_halves(n_rows: int, seed: int = 0, *, groups: np.ndarray | None = None) -> Halves:
    """Split rows 0..n_rows-1 at random into two disjoint halves covering them all (sizes differ by at most
    one). With `groups` [n_rows], whole groups (e.g. all rows of one question) go to one half, and the
    halves hold ceil(G / 2) and floor(G / 2) of the G groups. E.g. the consciousness direction from one half
    of the non-conscious rows and the toaster direction from the other."""
    if groups is None:
        groups = np.arange(n_rows)
    groups = np.asarray(groups)
    if groups.shape != (n_rows,):
        raise ValueError(f"groups must hold one value per row ({n_rows}); got shape {groups.shape}")
    values = np.unique(groups)
    if values.size < 2:
        raise ValueError(f"two halves need at least two groups (rows); got {values.size}")
    picked = np.random.default_rng(seed).permutation(values)[: (values.size + 1) // 2]
    in_first = np.isin(groups, picked)
    return Halves(np.flatnonzero(in_first), np.flatnonzero(~in_first))
