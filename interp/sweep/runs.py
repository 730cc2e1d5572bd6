"""Evaluation runs under many steering settings from one sweep: each setting's result set in its own folder,
as `run_eval` with that setting's steering writes it (config.json, samples.jsonl, summary.csv, summary.png)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interp.evaluation.context import fit_questions, warn_unknown_tokens
from interp.evaluation.job import (
    EvalConfig,
    EvalRun,
    baseline_run,
    check_traits,
    read_questions,
    start_run,
    write_choice_run,
)
from interp.sweep.choice import sweep_forced_choice
from interp.sweep.core import SteeringSetting

__all__ = ["SweepRun", "sweep_eval"]


@dataclass(frozen=True)
class SweepRun:
    """One result set of a swept evaluation."""

    out: Path
    """its folder"""
    setting: SteeringSetting
    """its steering (the setting's name is its key in the sweep)"""
    settings: Mapping[str, Any] = field(default_factory=dict)
    """what config.json records of its steering (compared when the folder is resumed)"""


def sweep_eval(
    lm,
    questions,
    layer: int,
    runs: Sequence[SweepRun],
    config: EvalConfig | None = None,
    *,
    baseline: str | Path | None = None,
    model_name: str | None = None,
    progress: bool = False,
) -> list[EvalRun]:
    """Choice-mode `run_eval` of `lm` on `questions` for every run, from one steering sweep at `layer`
    (blocks 0..layer run once): each run's files equal those of `run_eval` under its steering, within
    float rounding. Judge mode samples one setting at a time: give each its own `run_eval`."""
    config = config or EvalConfig()
    if config.mode != "choice":
        raise ValueError("a steering sweep evaluates in choice mode; in judge mode run one run_eval per setting")
    imported = read_questions(questions, "choice")
    check_traits(imported.question_set, config.traits)
    base = baseline_run(baseline)
    qset = fit_questions(lm, imported.question_set, choice=True, method=config.method, truncate=config.truncate)
    warn_unknown_tokens(lm, qset, choice=True)
    name = model_name or lm.name
    for run in runs:
        start_run(Path(run.out), config, imported, name, run.settings)
    scores = sweep_forced_choice(
        lm,
        qset,
        layer,
        [run.setting for run in runs],
        method=config.method,
        batch_size=config.batch_size,
        traits=config.traits,
        progress=progress,
    )
    return [write_choice_run(Path(run.out), qset, scores[run.setting.name], name, base) for run in runs]
