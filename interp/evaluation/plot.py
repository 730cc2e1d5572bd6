"""The per-preference bar chart: one group per trait, one bar per run, error bars = 95% CI."""

from __future__ import annotations

import math
from pathlib import Path

__all__ = ["plot_traits"]


def plot_traits(summaries_by_run: dict, path: str | Path, title: str = "", ylabel: str = "% expressing") -> Path:
    """Grouped vertical bars (percent) per trait, runs side by side in the order given; saves a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = list(summaries_by_run)
    traits: list[str] = []
    for summaries in summaries_by_run.values():
        traits += [s.preference for s in summaries if s.preference not in traits]
    width = 0.8 / max(1, len(runs))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.7 * len(traits) * max(1, len(runs)) ** 0.5 + 2), 4.5))
    for r, run in enumerate(runs):
        by_id = {s.preference: s for s in summaries_by_run[run]}
        xs, heights, errs = [], [], [[], []]
        for t, trait in enumerate(traits):
            s = by_id.get(trait)
            if s is None or math.isnan(s.rate):
                continue
            xs.append(t - 0.4 + width * (r + 0.5))
            heights.append(100 * s.rate)
            low = s.ci_low if s.ci_low is not None and not math.isnan(s.ci_low) else s.rate
            high = s.ci_high if s.ci_high is not None and not math.isnan(s.ci_high) else s.rate
            errs[0].append(100 * max(0.0, s.rate - low))
            errs[1].append(100 * max(0.0, high - s.rate))
        ax.bar(xs, heights, width=width, yerr=errs, capsize=2, label=run)
    ax.set_xticks(range(len(traits)))
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
