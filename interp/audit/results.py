"""From inspect logs to the audit's results: one score per transcript, then per dimension and variant
the mean over the transcripts tagged with that dimension (tag-matched, as the paper does) with a 95%
t-interval over transcripts, in `summary.csv` and a figure.

Scores are read from the logs, never kept elsewhere: the logs are the one record of an audit.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from interp.audit.seeds import VARIANTS
from interp.evaluation.summary import t_interval
from interp.models.atomic import atomic_open

__all__ = [
    "DimensionSummary",
    "FailedTranscript",
    "TranscriptScore",
    "plot_audit",
    "read_audit_csv",
    "read_transcript_scores",
    "summarize_audit",
    "write_audit_csv",
]


@dataclass(frozen=True)
class TranscriptScore:
    sample_id: str
    epoch: int
    dimension: str
    variant: str
    score: float
    """The judge's 1-10 score of the tagged dimension."""


@dataclass(frozen=True)
class FailedTranscript:
    """A transcript without a score: it errored (or was cut short) and is rerun on resume."""

    sample_id: str
    epoch: int
    dimension: str
    variant: str
    error: str


@dataclass(frozen=True)
class DimensionSummary:
    dimension: str
    variant: str
    """self_report or behaviour."""
    n: int
    """Scored transcripts tagged with the dimension."""
    mean: float
    """Mean 1-10 score."""
    ci_low: float
    ci_high: float
    """95% t-interval over transcripts (NaN below two)."""
    failed: int = 0
    """Transcripts tagged with the dimension that have no score (an error; rerun to retry them)."""


def read_transcript_scores(log_file: str | Path) -> tuple[list[TranscriptScore], list[FailedTranscript]]:
    """The scored transcripts of one inspect log, and those without a score."""
    from inspect_ai.log import read_eval_log

    log = read_eval_log(str(log_file), exclude_fields={"messages", "events", "attachments", "store"})
    scored, failed = [], []
    for sample in log.samples or []:
        meta = sample.metadata or {}
        score = next(iter((sample.scores or {}).values()), None)
        value = score.value if score is not None else None
        if isinstance(value, dict):  # a judge that scores every dimension (Petri's): the tagged one counts
            value = value.get(meta.get("dimension"))
        if sample.error is None and isinstance(value, (int, float)) and not isinstance(value, bool):
            scored.append(
                TranscriptScore(str(sample.id), sample.epoch, meta["dimension"], meta["variant"], float(value))
            )
        else:
            error = sample.error.message if sample.error is not None else "no score"
            failed.append(
                FailedTranscript(
                    str(sample.id), sample.epoch, meta.get("dimension", "?"), meta.get("variant", "?"), error
                )
            )
    return scored, failed


def summarize_audit(
    scores: Iterable[TranscriptScore], failed: Iterable[FailedTranscript] = (), order: Sequence[str] | None = None
) -> list[DimensionSummary]:
    """Per (dimension, variant): mean and 95% t-interval over the transcripts tagged with the dimension.

    Rows follow `order` (dimension ids; others after, in order of appearance), self-report first."""
    by_key: dict[tuple[str, str], list[float]] = defaultdict(list)
    for s in scores:
        by_key[(s.dimension, s.variant)].append(s.score)
    missing: dict[tuple[str, str], int] = defaultdict(int)
    for f in failed:
        missing[(f.dimension, f.variant)] += 1
        by_key.setdefault((f.dimension, f.variant), [])
    rank = {d: i for i, d in enumerate(order or [])}
    seen = {d: len(rank) + i for i, d in enumerate(dict.fromkeys(d for d, _ in by_key))}
    variant_rank: dict[str, int] = {v: i for i, v in enumerate(VARIANTS)}
    out = []
    for (dimension, variant), values in sorted(
        by_key.items(),
        key=lambda kv: (rank.get(kv[0][0], seen[kv[0][0]]), variant_rank.get(kv[0][1], len(VARIANTS)), kv[0][1]),
    ):
        low, high = t_interval(values)
        mean = sum(values) / len(values) if values else math.nan
        out.append(DimensionSummary(dimension, variant, len(values), mean, low, high, missing[(dimension, variant)]))
    return out


COLUMNS = [f.name for f in fields(DimensionSummary)]


def write_audit_csv(summaries: Sequence[DimensionSummary], path: str | Path) -> Path:
    with atomic_open(path, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for s in summaries:
            writer.writerow(asdict(s))
    return Path(path)


def read_audit_csv(path: str | Path) -> list[DimensionSummary]:
    with Path(path).open(newline="") as handle:
        return [
            DimensionSummary(
                row["dimension"],
                row["variant"],
                int(row["n"]),
                float(row["mean"]),
                float(row["ci_low"]),
                float(row["ci_high"]),
                int(row.get("failed") or 0),
            )
            for row in csv.DictReader(handle)
        ]


def plot_audit(summaries: Sequence[DimensionSummary], path: str | Path, title: str = "") -> Path:
    """One group of bars per dimension, self-report and behaviour side by side, whiskers the 95% interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from interp.evaluation.plot import Bar, grouped_bars

    dimensions = list(dict.fromkeys(s.dimension for s in summaries))
    variants = list(dict.fromkeys(s.variant for s in summaries))
    by_key = {(s.dimension, s.variant): s for s in summaries}
    series = {
        variant.replace("_", "-"): [
            Bar(s.mean, s.ci_low, s.ci_high) if (s := by_key.get((d, variant))) else None for d in dimensions
        ]
        for variant in variants
    }
    fig, ax = plt.subplots(figsize=(max(6.0, 0.55 * len(dimensions) + 2.5), 4.5))
    grouped_bars(ax, dimensions, series)
    ax.set_xticklabels([d.replace("_", " ") for d in dimensions], rotation=45, ha="right", fontsize=8)
    ax.set_ylim(0, 10.5)
    ax.set_ylabel("judge score (1-10), tag-matched mean")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
