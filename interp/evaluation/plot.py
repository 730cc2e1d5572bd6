"""The per-preference bar chart: one group per trait, one bar per run, error bars = 95% CI.

`grouped_bars` draws the bars themselves and is shared with the replication's cluster figure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

__all__ = ["Bar", "grouped_bars", "plot_traits"]


class Bar(NamedTuple):
    value: float
    low: float
    high: float
    """the interval's ends; whiskers run from `low` to `high` (none where they are NaN)"""


def grouped_bars(
    ax: Any,
    groups: Sequence[str],
    series: Mapping[str, Sequence[Bar | None]],
    colours: Mapping[str, str] | None = None,
    scale: float = 1.0,
) -> dict[str, list[float]]:
    """On `ax`, one group of bars per entry of `groups`, one bar per series side by side in order.

    `series[name][g]` is the bar of group g (None or a NaN value: no bar); values and whiskers are
    multiplied by `scale` (100 for percent). Ticks are set at the group centres, labelled by the caller.
    Returns each series' bar centres, one per group (to draw points over the bars).
    """
    width = 0.8 / max(1, len(series))
    centres = {
        name: [g + (r - (len(series) - 1) / 2) * width for g in range(len(groups))] for r, name in enumerate(series)
    }
    for name, bars in series.items():
        xs, heights = [], []
        errs: list[list[float]] = [[], []]
        for g, bar in enumerate(bars):
            if bar is None or math.isnan(bar.value):
                continue
            low = bar.value if bar.low is None or math.isnan(bar.low) else bar.low
            high = bar.value if bar.high is None or math.isnan(bar.high) else bar.high
            xs.append(centres[name][g])
            heights.append(scale * bar.value)
            errs[0].append(scale * max(0.0, bar.value - low))
            errs[1].append(scale * max(0.0, high - bar.value))
        ax.bar(xs, heights, width=width, yerr=errs, capsize=2, label=name, color=(colours or {}).get(name))
    ax.set_xticks(range(len(groups)))
    return centres


def plot_traits(summaries_by_run: dict, path: str | Path, title: str = "", ylabel: str = "% expressing") -> Path:
    """Grouped vertical bars (percent) per trait, runs side by side in the order given; saves a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = list(summaries_by_run)
    traits: list[str] = []
    for summaries in summaries_by_run.values():
        traits += [s.preference for s in summaries if s.preference not in traits]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.7 * len(traits) * max(1, len(runs)) ** 0.5 + 2), 4.5))
    series = {}
    for run in runs:
        by_id = {s.preference: s for s in summaries_by_run[run]}
        series[run] = [Bar(s.rate, s.ci_low, s.ci_high) if (s := by_id.get(t)) is not None else None for t in traits]
    grouped_bars(ax, traits, series, scale=100)
    ax.set_xticklabels([t.replace("_", " ") for t in traits], rotation=45, ha="right", fontsize=8)
    ax.set_ylim(0, 100)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
