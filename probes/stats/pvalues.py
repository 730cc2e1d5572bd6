"""Empirical p-values against a drawn null, each with the size of that null, its floor and a z-score.

    from probes.stats import empirical_test
    test = empirical_test(shift, null_shifts, "greater")
    test.p, test.n_null, test.floor, test.z

A null of n draws cannot give a p below 1 / (n + 1): a p on that floor says "the best the draws allow", so the
floor and the draw count travel with every p. Sidedness: "greater" counts null values >= the value, "less"
null values <= it, and "two-sided" compares magnitudes (|null| >= |value|), which assumes a null centred on
zero (shifts and correlations under a random direction are).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple, cast

import numpy as np

__all__ = ["ALTERNATIVES", "Alternative", "EmpiricalP", "check_alternative", "empirical_p", "empirical_test"]

Alternative = Literal["greater", "less", "two-sided"]
ALTERNATIVES: tuple[str, ...] = ("greater", "less", "two-sided")


class EmpiricalP(NamedTuple):
    """An empirical p-value and the null it was read from."""

    p: float
    """(1 + #{null at least as extreme as the value}) / (1 + n_null); nan for a non-finite value."""
    n_null: int
    """Finite null draws counted (non-finite ones, a rate that could not be measured, are left out)."""
    floor: float
    """1 / (n_null + 1): the smallest p this null can give."""
    z: float
    """(value - null mean) / null sd (ddof 1); nan when the null has under two draws or no spread."""
    alternative: str
    """greater | less | two-sided (magnitudes)."""
    value: float
    null_mean: float
    null_sd: float


def check_alternative(alternative: str) -> Alternative:
    """`alternative` as an `Alternative`; a ValueError naming the allowed ones for anything else."""
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative: {alternative!r} is not one of {', '.join(ALTERNATIVES)}")
    return cast(Alternative, alternative)


def empirical_test(
    value: float, null: Sequence[float] | np.ndarray, alternative: Alternative = "greater"
) -> EmpiricalP:
    """The empirical p of `value` against `null` [n] (see the module docstring for the sidedness), with the
    null's size, floor, mean, sd and the value's z-score.

    Checked against a hand count (tests/probes/test_stats.py) and, for calibration, against exchangeable draws:
    with the value drawn from the null's own distribution, P(p <= 0.05) stays near 0.05."""
    check_alternative(alternative)
    draws = np.asarray(null, dtype=np.float64)
    if draws.ndim != 1 or draws.size == 0:
        raise ValueError(f"null must be a non-empty 1-D sequence; got shape {draws.shape}")
    draws = draws[np.isfinite(draws)]
    n = int(draws.size)
    mean = float(draws.mean()) if n else float("nan")
    sd = float(draws.std(ddof=1)) if n > 1 else float("nan")
    value = float(value)
    z = (value - mean) / sd if sd > 0 else float("nan")
    if not np.isfinite(value) or n == 0:
        return EmpiricalP(float("nan"), n, 1 / (n + 1), float("nan"), alternative, value, mean, sd)
    if alternative == "greater":
        hits = int((draws >= value).sum())
    elif alternative == "less":
        hits = int((draws <= value).sum())
    else:
        hits = int((np.abs(draws) >= abs(value)).sum())
    return EmpiricalP((1 + hits) / (1 + n), n, 1 / (n + 1), z, alternative, value, mean, sd)


def empirical_p(value: float, null: Sequence[float] | np.ndarray, alternative: Alternative = "greater") -> float:
    """(1 + #{null at least as extreme}) / (1 + n): one-sided ("greater", "less") or "two-sided" (|x|).

    Non-finite null values (a rate that could not be measured) are left out; a non-finite value, or a
    null with nothing left, gives nan rather than a p-value from fewer draws than it claims. The p alone;
    `empirical_test` gives it with the null's size, floor and the z-score."""
    return empirical_test(value, null, alternative).p
