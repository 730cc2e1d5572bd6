"""Directions from labelled activations: difference of means, PCA of paired differences,
logistic and mass-mean probes.

Every method returns a `[d_model]` float32 vector pointing from the negative class (label 0)
towards the positive class (label 1). Difference of means keeps its natural length
(mu+ - mu-); the other methods give a unit direction u scaled to the mean difference's
projection on it, `u * ((mu+ - mu-) . u)`, so one alpha means the same shift along the
direction whichever method found it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from jaxtyping import Float, Int

from activations.stream import mean_difference as _mean_difference_of_sums

__all__ = [
    "DIRECTION_METHODS",
    "direction_from_arrays",
    "logistic_direction",
    "mass_mean_direction",
    "mean_difference",
    "mean_difference_from_sums",
    "paired_differences",
    "pca_direction",
    "register_direction_method",
]

DirectionFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _check(acts: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    acts = np.asarray(acts, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64)
    if acts.ndim != 2 or labels.shape != (acts.shape[0],):
        raise ValueError(f"expected acts [n, d] and labels [n]; got {acts.shape} and {labels.shape}")
    if not ((labels == 1).any() and (labels == 0).any()):
        raise ValueError("both classes (labels 0 and 1) need at least one row")
    return acts, labels


def mean_difference(
    acts: Float[np.ndarray, "rows d_model"], labels: Int[np.ndarray, " rows"]
) -> Float[np.ndarray, " d_model"]:
    """mu(label 1) - mu(label 0) over rows."""
    acts, labels = _check(acts, labels)
    return _mean_difference_of_sums(
        np.stack([acts[labels == c].sum(0) for c in (0, 1)]), [(labels == c).sum() for c in (0, 1)]
    )


def mean_difference_from_sums(class_sum, class_count) -> np.ndarray:
    """Difference of means from streaming per-class sums: `class_sum[c]` is `[d]` (or `[L, d]`),
    `class_count[c]` the number of rows summed, for c in {0, 1}. Returns sum1/n1 - sum0/n0."""
    counts = [float(np.asarray(class_count[c])) for c in (0, 1)]
    if min(counts) <= 0:
        raise ValueError(f"both classes need a positive count; got {counts}")
    return _mean_difference_of_sums(np.stack([np.asarray(class_sum[c], dtype=np.float64) for c in (0, 1)]), counts)


def _scaled(unit: np.ndarray, acts: np.ndarray, labels: np.ndarray) -> np.ndarray:
    unit = unit / np.linalg.norm(unit)
    diff = mean_difference(acts, labels).astype(np.float64)
    return (unit * float(diff @ unit)).astype(np.float32)


def paired_differences(
    acts: Float[np.ndarray, "rows d_model"], labels: Int[np.ndarray, " rows"], example_index: Int[np.ndarray, " rows"]
) -> Float[np.ndarray, "pairs d_model"]:
    """`[n_pairs, d]`: each positive example's mean row minus its paired negative example's.

    Examples are paired in order of first appearance: the k-th positive example with the k-th
    negative one (contrast-pair files store each prompt's two answers in that order)."""
    acts, labels = _check(acts, labels)
    examples, first = np.unique(example_index, return_index=True)
    order = examples[np.argsort(first)]
    means = {e: acts[example_index == e].mean(0) for e in order}
    label_of = {e: labels[example_index == e][0] for e in order}
    pos = [means[e] for e in order if label_of[e] == 1]
    neg = [means[e] for e in order if label_of[e] == 0]
    n = min(len(pos), len(neg))
    return np.stack(pos[:n]) - np.stack(neg[:n])


def pca_direction(
    acts: Float[np.ndarray, "rows d_model"], labels: Int[np.ndarray, " rows"], example_index: Int[np.ndarray, " rows"]
) -> Float[np.ndarray, " d_model"]:
    """First principal axis of the paired differences, sign towards the positive class.

    The PCA is uncentred: centring would remove the mean difference, which is the shared
    component the pairs are built to expose."""
    diffs = paired_differences(acts, labels, example_index)
    _, _, vt = np.linalg.svd(diffs, full_matrices=False)
    unit = vt[0] * np.sign(vt[0] @ diffs.mean(0) or 1.0)
    return _scaled(unit, acts, labels)


def logistic_direction(
    acts: Float[np.ndarray, "rows d_model"],
    labels: Int[np.ndarray, " rows"],
    example_index: Int[np.ndarray, " rows"] | None = None,
    *,
    C: float = 1.0,
) -> Float[np.ndarray, " d_model"]:
    """The weight vector of an L2 logistic probe (scikit-learn, lbfgs)."""
    from probes.logistic import fit_sklearn

    acts, labels = _check(acts, labels)
    return _scaled(fit_sklearn(acts, labels, C=C).weight.astype(np.float64), acts, labels)


def mass_mean_direction(
    acts: Float[np.ndarray, "rows d_model"],
    labels: Int[np.ndarray, " rows"],
    example_index: Int[np.ndarray, " rows"] | None = None,
    *,
    shrinkage: float = 0.1,
) -> Float[np.ndarray, " d_model"]:
    """The mass-mean probe with its covariance correction (Marks & Tegmark, 2023, "iid" form):
    Sigma^-1 (mu+ - mu-), Sigma the pooled within-class covariance shrunk towards its mean
    eigenvalue (`shrinkage` in [0, 1]) so that it stays invertible when rows < d_model."""
    acts, labels = _check(acts, labels)
    theta = mean_difference(acts, labels).astype(np.float64)
    centred = np.concatenate([acts[labels == c] - acts[labels == c].mean(0) for c in (0, 1)])
    sigma = centred.T @ centred / max(len(centred) - 2, 1)
    target = np.trace(sigma) / sigma.shape[0]
    sigma = (1 - shrinkage) * sigma + shrinkage * target * np.eye(sigma.shape[0])
    return _scaled(np.linalg.solve(sigma, theta), acts, labels)


DIRECTION_METHODS: dict[str, DirectionFn] = {
    "mean-diff": lambda acts, labels, examples: mean_difference(acts, labels),
    "pca": pca_direction,
    "logistic": logistic_direction,
    "mass-mean": mass_mean_direction,
}


def register_direction_method(name: str, fn: DirectionFn, *, overwrite: bool = False) -> None:
    """Add a method: `fn(acts [n, d], labels [n], example_index [n]) -> [d]`."""
    if name in DIRECTION_METHODS and not overwrite:
        raise ValueError(f"direction method {name!r} exists; pass overwrite=True to replace it")
    DIRECTION_METHODS[name] = fn


def direction_from_arrays(
    acts: Float[np.ndarray, "rows d_model"],
    labels: Int[np.ndarray, " rows"],
    example_index: Int[np.ndarray, " rows"] | None = None,
    method: str = "mean-diff",
) -> Float[np.ndarray, " d_model"]:
    """One layer's direction by a registered method (`DIRECTION_METHODS`)."""
    try:
        fn = DIRECTION_METHODS[method]
    except KeyError:
        raise ValueError(f"unknown method {method!r}; use one of {', '.join(DIRECTION_METHODS)}") from None
    if example_index is None:
        example_index = np.arange(len(labels))
    return np.asarray(fn(acts, labels, np.asarray(example_index)), dtype=np.float32)
