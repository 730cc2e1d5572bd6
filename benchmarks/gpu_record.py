"""What one measurement of the GPU suite returns, its goals, and the closeness check its exactness goals use.

A measurement returns a `Result`: ratios against its alternative in the same run, the goals read
off them (`at_least`) or off a comparison with a plain reference (`exact`), and the raw numbers
behind them. The runner (`benchmarks.gpu_suite`) adds the name, time, budget and peak GPU memory
and writes it as one JSON line.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

__all__ = ["Closeness", "Goal", "Result", "at_least", "closeness_numbers", "compare", "exact"]


@dataclass(frozen=True)
class Goal:
    """One thing a measurement must show, and whether this run showed it."""

    what: str
    """the quantity, e.g. "steered / unsteered tokens/s" or "kernel == reference\""""
    target: str
    """the bar, e.g. ">= 0.98" or "rows bit-exact; rtol 1e-05, atol 0.0001\""""
    value: float | None
    """the measured ratio, or for an exactness goal the worst error over its tolerance (<= 1 passes)"""
    met: bool
    kind: str = "speed"
    """"speed" (a ratio against a bar) or "exact" (a comparison with a plain reference)"""


@dataclass
class Result:
    """A measurement's findings, before the runner adds name, time and memory."""

    ratios: dict[str, float] = field(default_factory=dict)
    goals: list[Goal] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)
    """everything behind the ratios: times, rates, shapes, the errors of each compared field"""

    def record(self) -> dict[str, Any]:
        return {
            "ratios": {k: _finite(v) for k, v in self.ratios.items()},
            "goals": [asdict(goal) | {"value": _finite(goal.value)} for goal in self.goals],
            "met": all(goal.met for goal in self.goals) if self.goals else None,
            "numbers": self.numbers,
        }


def _finite(value):
    """JSON has no NaN or infinity: they are written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def at_least(what: str, value: float, floor: float) -> Goal:
    return Goal(what, f">= {floor:g}", value, bool(value >= floor))


@dataclass(frozen=True)
class Closeness:
    """How far one tensor is from its reference, under `|got - want| <= atol + rtol * |want|`."""

    name: str
    passed: bool
    worst: float
    """the largest `|got - want| / (atol + rtol * |want|)`; 0 for equal tensors, inf for a mismatch of
    shape, dtype, NaN places or (for a bit-exact comparison) any differing element"""
    max_abs: float
    """the largest absolute difference (inf when shapes, dtypes or NaN places differ)"""
    detail: str = ""


def compare(
    name: str, got: torch.Tensor | None, want: torch.Tensor | None, *, rtol: float = 0.0, atol: float = 0.0
) -> Closeness:
    """`got` against the reference `want`: the same shape, dtype and NaN places, every element within
    tolerance. With `rtol = atol = 0` the comparison is bit-exact (NaN matches NaN)."""
    if got is None or want is None:
        same = got is None and want is None
        return Closeness(
            name,
            same,
            0.0 if same else math.inf,
            0.0 if same else math.inf,
            "" if same else "one of the two is missing",
        )
    if got.shape != want.shape or got.dtype != want.dtype:
        return Closeness(
            name, False, math.inf, math.inf, f"got {got.dtype}{tuple(got.shape)}, want {want.dtype}{tuple(want.shape)}"
        )
    if got.numel() == 0:
        return Closeness(name, True, 0.0, 0.0)
    got64, want64 = got.detach().double().cpu(), want.detach().double().cpu()
    if not torch.equal(got64.isnan(), want64.isnan()):
        return Closeness(name, False, math.inf, math.inf, "NaN in different places")
    real = ~want64.isnan()
    diff = (got64 - want64)[real].abs()
    diff = torch.where(diff.isnan(), torch.full_like(diff, math.inf), diff)  # inf - inf
    max_abs = float(diff.max()) if diff.numel() else 0.0
    if rtol == 0 and atol == 0:
        equal = bool((got64[real] == want64[real]).all())
        return Closeness(name, equal, 0.0 if equal else math.inf, max_abs, "" if equal else "not bit-exact")
    ratio = diff / (atol + rtol * want64[real].abs())
    worst = float(ratio.max()) if ratio.numel() else 0.0
    return Closeness(name, worst <= 1.0, worst, max_abs)


def exact(what: str, checks: list[Closeness], target: str) -> Goal:
    """One exactness goal over several compared tensors: met when every one passed."""
    worst = max((check.worst for check in checks), default=0.0)
    return Goal(what, target, worst, all(check.passed for check in checks), kind="exact")


def closeness_numbers(checks: list[Closeness]) -> dict[str, dict[str, Any]]:
    """Each compared tensor's errors, for a result's numbers."""
    return {
        check.name: {
            "passed": check.passed,
            "worst": _finite(check.worst),
            "max_abs": _finite(check.max_abs),
            **({"detail": check.detail} if check.detail else {}),
        }
        for check in checks
    }
