"""One evaluation run into a folder: what `interp eval` computes, callable from Python with the same result.

    from interp.evaluation import EvalConfig, run_eval
    run = run_eval(lm, "preferences", "runs/base", EvalConfig(mode="choice"))
    run.summaries          # per trait: rate, 95% interval, n
    # runs/base: config.json, samples.jsonl, summary.csv, summary.png

Choice mode scores the two-option items by likelihood (`forced_choice`); judge mode samples answers
to the open questions and has them judged (`evaluate`). A steered model is evaluated by passing the
steering as `intervention` (a callable returning the context manager, e.g. `lambda: steer(lm, v, 6, 4.0)`)
and what it is as `settings`, which config.json records. A folder that already holds a run is resumed
when its settings are the same, and refused (EvalSettingsError) when they differ.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

from interp.evaluation.choice import CHOICE_METHODS, ChoiceScore, forced_choice
from interp.evaluation.context import fit_questions, warn_unknown_tokens
from interp.evaluation.endpoint import EndpointModel
from interp.evaluation.questions import QuestionSet
from interp.evaluation.runner import SamplingConfig, evaluate
from interp.evaluation.summary import TraitSummary, add_shift, read_summary_csv, summarize_choice, write_summary_csv
from interp.models.fields import at_least, one_of

__all__ = [
    "Baseline",
    "EvalConfig",
    "EvalRun",
    "EvalSettingsError",
    "LOOSE_SETTINGS",
    "baseline_run",
    "check_traits",
    "read_questions",
    "run_eval",
    "start_run",
    "write_choice_run",
]

LOOSE_SETTINGS = frozenset({"traits", "batch_size", "truncate"})
"""Settings a resumed run may change: they select or batch the work, they do not change a score."""


@dataclass
class EvalConfig:
    """What an evaluation runs: the mode, how items are scored and how open questions are sampled."""

    mode: Literal["choice", "judge"] = "choice"
    """choice: the two-option items scored by likelihood; judge: sampled answers to the open questions, judged"""
    method: str = one_of(lambda: CHOICE_METHODS, "likelihood")
    """how choice mode scores an item (a method registered in interp.evaluation.choice.CHOICE_METHODS)"""
    traits: list[str] | None = None
    """the trait ids to evaluate (none: every trait of the set)"""
    batch_size: int = at_least(1, 16)
    """items (choice mode) or prompts (local sampling) per forward pass"""
    truncate: bool = False
    """cut questions longer than the model's context to fit it, with a warning (otherwise they are refused)"""
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    """judge mode: how the open questions are sampled and filtered for coherence"""


@dataclass(frozen=True)
class EvalRun:
    """What a run wrote, and its per-trait summaries."""

    summaries: list[TraitSummary]
    """one per trait, in the set's order (with shift_pp when a baseline was given)"""
    out: Path
    summary_csv: Path
    figure: Path
    """summary.png: the bars of this run (beside the baseline's, when given)"""
    sampled: int = 0
    """answers sampled by this call (judge mode)"""
    judged: int = 0
    """judgements made by this call (judge mode)"""


class EvalSettingsError(ValueError):
    """The folder holds a run made with other settings; the message names them."""


def read_questions(spec: str | Path | QuestionSet, mode: str = "choice"):
    """The question set `spec` names (a set name, a file, FORMAT:PATH or a QuestionSet), as an ImportedSet.
    A user's set may be small (no per-trait minimum: those are for the replication's statistics), but it
    must hold something to evaluate in `mode`."""
    from interp.evaluation.importers import ImportedSet, import_question_set

    imported = (
        spec
        if isinstance(spec, ImportedSet)
        else (ImportedSet(spec, "yaml") if isinstance(spec, QuestionSet) else import_question_set(spec, small=True))
    )
    qset = imported.question_set
    if mode == "choice" and not qset.choice_items:
        raise ValueError(
            f"{qset.source}: no two-option items (the {imported.format} format holds open questions "
            "only); use judge mode"
        )
    if mode == "judge" and not qset.open_questions:
        raise ValueError(f"{qset.source}: no open questions to sample; use choice mode")
    return imported


def run_eval(
    lm,
    questions,
    out: str | Path,
    config: EvalConfig | None = None,
    *,
    sampler=None,
    judge=None,
    intervention: Callable[[], AbstractContextManager] | None = None,
    settings: Mapping[str, Any] | None = None,
    baseline: str | Path | None = None,
    model_name: str | None = None,
    progress: bool = True,
) -> EvalRun:
    """Evaluate `lm` on `questions` (anything `read_questions` takes) into folder `out`; see the module
    docstring. `lm`: a LoadedModel, an EndpointModel (a model on a server, e.g. `interp serve`), or None
    with a `sampler` of another kind in judge mode.

    Judge mode needs `judge` (a JudgeBackend) and samples with `sampler` (default: a LocalSampler of `lm`
    with `intervention`). `baseline`: another run's folder, whose rates the summary's shift_pp is against."""
    config = config or EvalConfig()
    imported = read_questions(questions, config.mode)
    qset = imported.question_set
    check_traits(qset, config.traits)
    name = model_name or getattr(sampler, "name", None) or lm.name
    base = baseline_run(baseline)
    out = Path(out)
    if lm is not None and not isinstance(lm, EndpointModel):  # a served model's context is the server's to check
        qset = fit_questions(lm, qset, choice=config.mode == "choice", method=config.method, truncate=config.truncate)
        warn_unknown_tokens(lm, qset, choice=config.mode == "choice")
    if config.mode == "choice":
        start_run(out, config, imported, name, settings)
        with intervention() if intervention else nullcontext():
            scores = forced_choice(lm, qset, batch_size=config.batch_size, method=config.method, traits=config.traits)
        return write_choice_run(out, qset, scores, name, base)
    if judge is None:
        raise ValueError("judge mode needs a judge backend (APIJudgeBackend or LocalJudgeBackend)")
    if sampler is None:
        from interp.evaluation.sampling import LocalSampler

        sampler = LocalSampler(lm, config.batch_size, intervention=intervention)
    start_run(out, config, imported, name, settings)
    result = evaluate(
        qset, sampler, judge, out, config.sampling, model_name=name, traits=config.traits, progress=progress
    )
    return _finish(out, result.summaries, qset, name, base, result.sampled, result.judged)


class Baseline(NamedTuple):
    """Another run's summaries, which a run's shift_pp is measured against."""

    name: str
    """its folder's name (the figure's label)"""
    summaries: list[TraitSummary]


def check_traits(qset: QuestionSet, traits: Sequence[str] | None) -> None:
    """ValueError naming the trait ids the set lacks."""
    unknown = set(traits or []) - {t.id for t in qset.traits}
    if unknown:
        raise ValueError(f"traits: {', '.join(sorted(unknown))} not in {qset.source}")


def baseline_run(path: str | Path | None) -> Baseline | None:
    """The summaries of the run in folder `path` (read before any work starts)."""
    if path is None:
        return None
    csv = Path(path) / "summary.csv"
    if not csv.is_file():
        raise FileNotFoundError(f"baseline {path}: no summary.csv there; evaluate into it first")
    return Baseline(Path(path).name, read_summary_csv(csv))


def start_run(out: Path, config: EvalConfig, imported, model_name: str, settings: Mapping[str, Any] | None) -> None:
    """The run folder and its config.json, once every input has been checked; a folder holding a run with
    other settings is refused (EvalSettingsError), and otherwise takes this run's settings."""
    from interp.models.version import __version__

    qset = imported.question_set
    record = {
        "config": _plain(asdict(config)),
        "model": model_name,
        "settings": _plain(dict(settings or {})),
        "question_set": {
            "name": qset.name,
            "version": qset.version,
            "source": qset.source,
            "sha256": qset.sha256,
            "format": imported.format,
        },
        "toolkit_version": __version__,
    }
    path = out / "config.json"
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, OSError) as err:
            raise EvalSettingsError(
                f"{path}: cannot read the earlier run's settings ({err}); use a new folder, or "
                "delete that file to start over"
            ) from None
        _compare(out, old if isinstance(old, dict) else {}, record)
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


def _compare(out: Path, old: dict, new: dict) -> None:
    # judges may change between runs: their judgements are keyed by judge model and template, samples are reused
    # a config field missing from an older record counts as unchanged; a setting given once and not now, not
    flat_old, flat_new = _flat(old), _flat(new)
    keys = {
        k
        for k in {*flat_old, *flat_new}
        if not k.startswith(("question_set", "toolkit_version")) and k.rsplit(".", 1)[-1] not in LOOSE_SETTINGS
    }
    changed = sorted(
        k for k in keys if flat_old.get(k, flat_new.get(k) if k.startswith("config.") else None) != flat_new.get(k)
    )
    if changed or old.get("question_set", {}).get("sha256") != new["question_set"]["sha256"]:
        what = ", ".join(k.split(".", 1)[-1] if k.startswith(("config.", "settings.")) else k for k in changed)
        raise EvalSettingsError(
            f"{out} holds a run with different settings ({what or 'the question file'}); "
            "use a new folder or the same settings"
        )


def _flat(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, Mapping):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value) if isinstance(value, Path) else value


def write_choice_run(
    out: Path, qset: QuestionSet, scores: Sequence[ChoiceScore], model_name: str, baseline: Baseline | None = None
) -> EvalRun:
    """A choice-mode run's files from its item scores: samples.jsonl (one record per item), summary.csv, summary.png."""
    with (out / "samples.jsonl").open("w") as handle:
        for s in scores:
            handle.write(
                json.dumps(
                    {
                        "type": "choice",
                        "model": model_name,
                        "set": qset.name,
                        "set_version": qset.version,
                        "trait_id": s.trait_id,
                        "item_id": s.item_id,
                        "p_expressing": s.p_expressing,
                        "logprobs": list(s.logprobs),
                        "method": s.method,
                    }
                )
                + "\n"
            )
    return _finish(out, summarize_choice(scores), qset, model_name, baseline)


def _finish(
    out: Path,
    summaries: list[TraitSummary],
    qset: QuestionSet,
    model_name: str,
    baseline: Baseline | None,
    sampled: int = 0,
    judged: int = 0,
) -> EvalRun:
    from interp.evaluation.plot import plot_traits

    runs = {out.name or "run": summaries}
    if baseline is not None:
        summaries = add_shift(summaries, baseline.summaries)
        runs = {f"baseline ({baseline.name})": baseline.summaries, out.name or "run": summaries}
    csv = write_summary_csv(summaries, out / "summary.csv")
    figure = plot_traits(runs, out / "summary.png", title=f"{model_name} on {qset.name}")
    return EvalRun(summaries, out, csv, figure, sampled, judged)
