"""Per-trait summaries with confidence intervals, the summary CSV and baseline shifts.

Intervals (95%):
- judge mode, per sample: Wilson score interval over all kept samples pooled (`ci_low`, `ci_high`);
  with several seeds also a t-interval over the per-seed rates (`seed_ci_low`, `seed_ci_high`).
- choice mode: t-interval over items of p_expressing (`ci_kind` = `t_items`).
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from interp.models.atomic import atomic_open
from probes.stats import t_interval, wilson_interval  # re-exported: callers import them from here too

__all__ = [
    "TraitSummary",
    "add_shift",
    "read_summary_csv",
    "summarize_choice",
    "summarize_judged",
    "summary_table",
    "t_interval",
    "wilson_interval",
    "write_summary_csv",
]


@dataclass(frozen=True)
class TraitSummary:
    preference: str
    """The trait id."""
    n: int
    """Items (choice) or kept, defined samples (judge) behind the rate."""
    rate: float
    ci_low: float
    ci_high: float
    ci_kind: str
    """wilson_samples | t_items."""
    seed_ci_low: float | None = None
    seed_ci_high: float | None = None
    n_seeds: int = 1
    dropped_incoherent: int = 0
    undefined: int = 0
    shift_pp: float | None = None
    """Rate minus the baseline run's rate, in percentage points."""

    @property
    def trait_id(self) -> str:
        return self.preference


def summarize_choice(scores: Iterable) -> list[TraitSummary]:
    """Rate = mean p_expressing over a trait's items; 95% t-interval over items, clipped to [0, 1]."""
    by_trait: dict[str, list[float]] = defaultdict(list)
    for score in scores:
        by_trait[score.trait_id].append(score.p_expressing)
    out = []
    for trait, ps in by_trait.items():
        low, high = t_interval(ps)
        if not math.isnan(low):  # max() would turn nan into a bound
            low, high = max(0.0, low), min(1.0, high)
        out.append(TraitSummary(trait, len(ps), sum(ps) / len(ps), low, high, "t_items"))
    return out


def summarize_judged(values: Iterable[tuple[str, int, float | None, bool]]) -> list[TraitSummary]:
    """From (trait id, seed, binary value or None, dropped as incoherent) per sample."""
    kept: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    dropped: dict[str, int] = defaultdict(int)
    undefined: dict[str, int] = defaultdict(int)
    order: dict[str, None] = {}
    for trait, seed, value, incoherent in values:
        order[trait] = None
        if incoherent:
            dropped[trait] += 1
        elif value is None:
            undefined[trait] += 1
        else:
            kept[trait][seed].append(value)
    out = []
    for trait in order:
        per_seed = kept[trait]
        pooled = [v for vs in per_seed.values() for v in vs]
        n = len(pooled)
        rate = sum(pooled) / n if n else math.nan
        low, high = wilson_interval(sum(pooled), n)
        seed_low = seed_high = None
        if len(per_seed) > 1:
            seed_low, seed_high = t_interval([sum(vs) / len(vs) for vs in per_seed.values() if vs])
        out.append(
            TraitSummary(
                trait,
                n,
                rate,
                low,
                high,
                "wilson_samples",
                seed_low,
                seed_high,
                max(1, len(per_seed)),
                dropped[trait],
                undefined[trait],
            )
        )
    return out


def summary_table(summaries: Sequence[TraitSummary]) -> str:
    """The summaries as an aligned text table: trait, rate, its 95% interval, n (and the shift from a baseline)."""
    width = max([len("trait"), *(len(s.preference) for s in summaries)])
    shifted = any(s.shift_pp is not None for s in summaries)
    lines = [f"{'trait':<{width}}   rate   95% interval      n" + ("   shift (pp)" if shifted else "")]
    for s in summaries:
        line = f"{s.preference:<{width}}  {s.rate:5.3f}   [{s.ci_low:5.3f}, {s.ci_high:5.3f}]  {s.n:>5}"
        if shifted:
            line += f"   {s.shift_pp:+9.1f}" if s.shift_pp is not None else "           -"
        lines.append(line)
    return "\n".join(lines)


def add_shift(summaries: list[TraitSummary], baseline: list[TraitSummary]) -> list[TraitSummary]:
    """Each summary with `shift_pp` against the baseline's trait of the same id (None where it has none)."""
    base = {s.preference: s.rate for s in baseline}
    return [
        replace(s, shift_pp=100 * (s.rate - base[s.preference]) if s.preference in base else None) for s in summaries
    ]


COLUMNS = [f.name for f in fields(TraitSummary)]


def write_summary_csv(summaries: Sequence[TraitSummary], path: str | Path) -> Path:
    path = Path(path)
    with atomic_open(path, newline="") as handle:  # never a half-written summary
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for s in summaries:
            writer.writerow({k: ("" if v is None else v) for k, v in asdict(s).items()})
    return path


def read_summary_csv(path: str | Path) -> list[TraitSummary]:
    out = []
    with Path(path).open(newline="") as handle:
        for row in csv.DictReader(handle):
            values: dict[str, Any] = {}
            for f in fields(TraitSummary):
                text = row.get(f.name, "")
                if f.name in ("preference", "ci_kind"):
                    values[f.name] = text
                elif f.name in ("n", "n_seeds", "dropped_incoherent", "undefined"):
                    values[f.name] = int(text) if text else 0
                else:
                    values[f.name] = float(text) if text else None
            out.append(TraitSummary(**values))
    return out
