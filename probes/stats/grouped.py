"""Tests that respect grouping: answers sampled per question are not independent, so the question (not the
answer) is the unit a test resamples or permutes.

- `sign_flip_test`: over questions, on per-question differences (e.g. a variant's claim rate minus the base
  model's on each question): under the null each difference is as likely negative as positive. Exact (all
  2^Q sign patterns) for up to `max_exact` questions, Monte Carlo beyond.
- `stratified_permutation_test`: over answers, permuting the model label only within each question, so
  every question keeps its answers and its count per model; the statistic is the difference of means within
  each question averaged over questions (weights: the question's answers), whose permutation mean is 0.

Both compare statistics with ties within 1e-12 counted as ties (sums of the same values in another order
can differ in the last bit).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from probes.stats.nulls import permute_within_groups
from probes.stats.pvalues import Alternative, EmpiricalP, check_alternative, empirical_test

__all__ = ["PermutationTest", "sign_flip_test", "stratified_permutation_test"]

_DECIMALS = 12


class PermutationTest(NamedTuple):
    statistic: float
    p: EmpiricalP
    """The statistic against its permutation null (n_null = the permutations other than the observed one)."""
    exact: bool
    """True when every permutation was enumerated: p is then the exact permutation p."""


def _test(observed: float, null: np.ndarray, alternative: Alternative, exact: bool) -> PermutationTest:
    rounded = float(np.round(observed, _DECIMALS))
    return PermutationTest(float(observed), empirical_test(rounded, np.round(null, _DECIMALS), alternative), exact)


def sign_flip_test(
    a_Q, b_Q, *, alternative: Alternative = "greater", n_perm: int = 9999, max_exact: int = 16, seed: int = 0
) -> PermutationTest:
    """Paired permutation test over units (questions): the statistic is mean(a - b); its null flips the
    sign of each unit's difference. With Q <= max_exact units every one of the 2^Q patterns is enumerated
    (p = #{patterns at least as extreme} / 2^Q, the observed one included); beyond, n_perm random patterns
    (rng.choice([-1, 1], (n_perm, Q)), rng = numpy.random.default_rng(seed)) give (1 + hits) / (1 + n_perm).

    Checked against a plain enumeration with itertools.product and scipy.stats.permutation_test
    (permutation_type="samples")."""
    check_alternative(alternative)
    a, b = np.asarray(a_Q, dtype=np.float64).ravel(), np.asarray(b_Q, dtype=np.float64).ravel()
    if a.shape != b.shape or a.size == 0 or not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError(f"sign_flip_test: a and b must be finite, one value per unit each; got {a.size} and {b.size}")
    d = a - b
    exact = d.size <= max_exact
    if exact:  # row 0 is the all-plus pattern: the observed statistic
        signs = 1 - 2 * ((np.arange(2**d.size)[:, None] >> np.arange(d.size)) & 1)
    else:
        signs = np.vstack([np.ones(d.size), np.random.default_rng(seed).choice([-1.0, 1.0], (n_perm, d.size))])
    stats = signs @ d / d.size
    return _test(stats[0], stats[1:], alternative, exact)


def stratified_permutation_test(
    values_N, labels_N, strata_N, *, alternative: Alternative = "greater", n_perm: int = 9999, seed: int = 0
) -> PermutationTest:
    """Permutation test of label 1 against label 0 (e.g. a variant's answers against the base model's)
    with the labels permuted within each stratum (question). Statistic: per stratum, mean(values of label 1)
    - mean(values of label 0), averaged over the strata that hold both labels, weighted by their size.
    p = (1 + hits) / (1 + n_perm) over n_perm permutations (`permute_within_groups`, rng =
    numpy.random.default_rng(seed)).

    Checked against a plain enumeration of every within-stratum relabelling of a small case."""
    check_alternative(alternative)
    values = np.asarray(values_N, dtype=np.float64).ravel()
    labels, strata = np.asarray(labels_N).ravel(), np.asarray(strata_N).ravel()
    if not values.shape == labels.shape == strata.shape or not np.isin(labels, (0, 1)).all():
        raise ValueError(
            "stratified_permutation_test: values, labels (0 or 1) and strata need one entry per answer; "
            f"got {values.size}, {labels.size}, {strata.size}"
        )
    _, stratum = np.unique(strata, return_inverse=True)
    n1 = np.bincount(stratum, weights=labels)
    n0 = np.bincount(stratum) - n1
    both = (n1 > 0) & (n0 > 0)
    if not both.any():
        raise ValueError("stratified_permutation_test: no stratum holds answers of both labels")
    weight = np.where(both, n1 + n0, 0) / np.where(both, n1 + n0, 0).sum()

    def statistic(lab: np.ndarray) -> float:
        s1 = np.bincount(stratum, weights=values * lab, minlength=n1.size)
        s0 = np.bincount(stratum, weights=values * (1 - lab), minlength=n1.size)
        with np.errstate(invalid="ignore", divide="ignore"):
            diff = np.where(both, s1 / n1 - s0 / n0, 0.0)
        return float((weight * diff).sum())

    rng = np.random.default_rng(seed)
    null = np.array([statistic(permute_within_groups(labels, stratum, rng)) for _ in range(n_perm)])
    return _test(statistic(labels), null, alternative, False)
