"""Running the replication as resumable stages in one run folder.

Each stage writes its outputs under the run folder and, last, `stages/NAME.json` holding its
results, its wall time and the FLOPs its linear layers' forwards ran
(`interp.models.flops.counting_linear_flops`; `run.floors` sets them beside the machine's matmul
peak). A stage interrupted (Ctrl-C) or failed adds its time and FLOPs so far to
`stages/partial/NAME.json`, and the invocation that completes it adds them to its own: what it kept
(fine-tunes, measurements) is not done again, so the stage's time is the sum over its invocations.
A stage whose marker exists is skipped, so an interrupted run picks up at the first unfinished stage
when started again with the same preset.

A preset changed since the run started is accepted when every changed field is read only by
stages that have not completed (or that `--redo` runs again): the stages from the first reader on
run with the new values, and config.yaml records them (the old values go to config_changes.jsonl).
Otherwise the run is refused, naming the fields and the `--redo` stage that would make it whole.

The analysis block (`analysis`: tests, sidedness, rules) is recorded in analysis.json before the first stage
runs. A change to it is refused whatever the stages have read, unless the caller allows it
(`--allow-analysis-change`): the record then keeps the change, and the report marks the results that read the
changed fields as exploratory. Then the rules above apply; a field of the block no stage reads is read by the
report alone and asks for no stage to be redone.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from experiments.consciousness_cluster.run.preset import PresetError, ReplicationConfig, config_from_dict
from experiments.consciousness_cluster.schema.analysis import AnalysisChange, AnalysisRecord, read_analysis_record
from experiments.consciousness_cluster.schema.stages import STAGE_RESULTS, RunPaths, SchemaError
from interp.models.atomic import write_json_atomic, write_text_atomic

__all__ = [
    "DESCRIPTIVE_FIELDS",
    "Stage",
    "Run",
    "RunMismatchError",
    "changed_fields",
    "write_json_atomic",
    "write_text_atomic",
]


class RunMismatchError(ValueError):
    """The run folder was started with a different configuration."""


@dataclass(frozen=True)
class Stage:
    """One step of the pipeline."""

    name: str
    """Marker name, also the key of its results."""
    title: str
    """What it does, in a line (progress and --dry-run)."""
    run: Callable[[Run], Any]
    """Does the work; returns the results the later stages and the report read (a `schema` type)."""
    plan: Callable[[ReplicationConfig], str]
    """What it would do for a config, without loading anything."""
    outputs: tuple[str, ...] = ()
    """Folders it writes, relative to the run folder; removed when the stage is redone."""
    reads: tuple[str, ...] = ()
    """Config fields its work depends on, as dotted paths or whole sections ('eval', 'steering.seed')."""

    def reads_field(self, path: str) -> bool:
        return any(path == r or path.startswith(r + ".") for r in self.reads)


class Run:
    """A run folder: the config it was started with, stage markers, shared state."""

    def __init__(
        self,
        config: ReplicationConfig,
        out_dir: str | Path,
        *,
        project_root: Path | None = None,
        progress: bool = True,
        log: Callable[[str], None] = print,
    ):
        self.config = config
        self.out = Path(out_dir)
        self.root = project_root or Path(__file__).resolve().parents[3]
        self.progress = progress
        self.log = log
        self._models: dict[str, Any] = {}

    # -- configuration -------------------------------------------------------------------
    def bind(
        self, stages: list[Stage] | None = None, redo: str | None = None, *, allow_analysis_change: bool = False
    ) -> None:
        """Create the folder and record the config and its analysis block; or, in a folder already started,
        check the config against the recorded one (`first_to_redo`), and forget `redo` and every later stage.
        An accepted change is recorded: config.yaml gets the new config, config_changes.jsonl the
        old and new value of each changed field, analysis.json the changes to the analysis block."""
        self.out.mkdir(parents=True, exist_ok=True)
        stages = stages or []  # without stages there is nothing to redo: _check_redo says so
        if redo is not None:
            self._check_redo(stages, redo)
        recorded = self.out / "config.yaml"
        current = self.config.to_dict()
        previous = self._recorded() if recorded.exists() else None
        changed = changed_fields(previous, current) if previous is not None else []
        first = self.first_to_redo(stages, redo, allow_analysis_change=allow_analysis_change) if changed else None
        if redo is not None:
            self.invalidate_from(stages, redo)
        if first is not None:
            self.log(f"[conf] changed {', '.join(changed)}: stage {first} and the later ones run with the new values")
            self.invalidate_from(stages, first)  # a partial output of theirs was made with the old values
        if changed and previous is not None:  # a change needs a recorded config to differ from
            entry: dict[str, Any] = {
                "time": _now(),
                "redo": redo,
                "changed": {k: [_get(previous, k), _get(current, k)] for k in changed},
            }
            if any(k.startswith(ANALYSIS) for k in changed):
                entry["allow_analysis_change"] = True
            with (self.out / "config_changes.jsonl").open("a") as log:
                log.write(json.dumps(entry, default=str) + "\n")
        self._record_analysis(previous, current, changed)
        if changed or previous is None:
            write_text_atomic(recorded, yaml.safe_dump(current, sort_keys=False))

    def _record_analysis(self, previous: dict[str, Any] | None, current: dict[str, Any], changed: list[str]) -> None:
        """analysis.json: the block as the run starts (with the stages already complete, for a run started before
        the block existed), then each accepted change to it."""
        path = self.paths.analysis
        if previous is None or not path.is_file():
            late = sorted(p.stem for p in (self.out / "stages").glob("*.json"))
            record = AnalysisRecord(spec=self.config.analysis, recorded_at=_now(), late_stages=late)
        else:
            new = [
                AnalysisChange(time=_now(), field=k.removeprefix(ANALYSIS), old=_get(previous, k), new=_get(current, k))
                for k in changed
                if k.startswith(ANALYSIS)
            ]
            if not new:
                return
            record = read_analysis_record(path)
            record = AnalysisRecord(
                spec=self.config.analysis,
                recorded_at=record.recorded_at,
                late_stages=record.late_stages,
                changes=[*record.changes, *new],
            )
        write_json_atomic(path, record.to_json())

    def _recorded(self) -> dict[str, Any]:
        recorded = self.out / "config.yaml"
        previous = yaml.safe_load(recorded.read_text())
        try:  # a field added to the toolkit since the run started counts at its default
            return config_from_dict(previous, str(recorded)).to_dict()
        except PresetError:
            return previous  # a field since removed or renamed: compared as recorded

    @staticmethod
    def _check_redo(stages: list[Stage] | None, redo: str) -> None:
        names = [stage.name for stage in stages or []]
        if redo not in names:
            raise ValueError(f"--redo {redo}: no such stage; stages are {', '.join(names)}")

    def first_to_redo(
        self, stages: list[Stage] | None, redo: str | None = None, *, allow_analysis_change: bool = False
    ) -> str | None:
        """For a folder already started: the first stage that reads a field the config changed and
        that `redo` does not already run again (None: nothing to add). RunMismatchError when a stage
        from there on is complete and not redone, or, without `stages`, on any change; and on a change
        to the analysis block unless `allow_analysis_change`."""
        if redo is not None:
            self._check_redo(stages, redo)
        previous, current = self._recorded(), self.config.to_dict()
        changed = changed_fields(previous, current)
        if not changed:
            return None
        analysis = [k for k in changed if k.startswith(ANALYSIS)]
        if analysis and not allow_analysis_change:
            what = ", ".join(f"{k} ({_get(previous, k)!r} -> {_get(current, k)!r})" for k in analysis)
            raise RunMismatchError(
                f"{self.out}: the analysis block was fixed when the run started, and the preset "
                f"changes {what}; use a new --out folder, or rerun with --allow-analysis-change to "
                "record the change (the results read by it are then marked exploratory)"
            )
        start = f"{self.out} was started with a different configuration (differs in: {', '.join(changed)})"
        if not stages:
            raise RunMismatchError(
                f"{start}; use a new --out folder, or delete {self.out / 'config.yaml'} to start over"
            )
        names = [stage.name for stage in stages]
        stop = names.index(redo) if redo is not None else len(names)
        readers = [_first_reader(stages, field) for field in changed]
        first = min((i for i in readers if i is not None and i < stop), default=None)
        if first is None:
            return None
        if any(self.done(name) for name in names[first:stop]):
            read = [f"{field} (stage {names[i]})" for field, i in zip(changed, readers) if i is not None and i < stop]
            raise RunMismatchError(
                f"{start}; stages already complete read {', '.join(read)}. Rerun with --redo {names[first]} to redo "
                f"stage {names[first]} and every later one with the new values, or use a new --out folder"
            )
        return names[first]

    def path(self, relative: str) -> Path:
        """A path inside the project (for preset-relative data files) or absolute as given."""
        candidate = Path(relative)
        return candidate if candidate.is_absolute() else self.root / candidate

    # -- stage markers -------------------------------------------------------------------
    @property
    def paths(self) -> RunPaths:
        return RunPaths(self.out)

    def marker(self, name: str) -> Path:
        return self.paths.marker(name)

    def done(self, name: str) -> bool:
        return self.marker(name).is_file()

    def results(self, name: str) -> Any:
        """A completed stage's result: its type from `schema.STAGE_RESULTS`, or the JSON as written."""
        if not self.done(name):
            raise RuntimeError(f"stage {name!r} has not completed in {self.out}")
        data = json.loads(self.marker(name).read_text())["results"]
        if name not in STAGE_RESULTS:
            return data
        try:
            return STAGE_RESULTS[name].from_json(data, str(self.marker(name)))
        except SchemaError as err:
            raise SchemaError(
                err.where, [f"results.{problem}" for problem in err.problems], f"rerun the stage: --redo {name}"
            ) from None

    def run_stage(self, stage: Stage) -> Any:
        if self.done(stage.name):
            self.log(f"[skip] {stage.name}: complete ({self.marker(stage.name)})")
            return self.results(stage.name)
        self.log(f"[run ] {stage.name}: {stage.title}")
        from interp.models.flops import counting_linear_flops

        partial = self.paths.partial(stage.name)
        before = json.loads(partial.read_text()) if partial.is_file() else {"seconds": 0.0, "linear_flops": 0}
        start = time.perf_counter()
        try:
            with counting_linear_flops() as tally:
                results = stage.run(self)
        except BaseException:  # interrupted or failed: what it measured and kept counts when it resumes
            spent = {
                "seconds": before["seconds"] + time.perf_counter() - start,
                "linear_flops": before["linear_flops"] + tally.flops,
                "invocations": before.get("invocations", 0) + 1,
            }
            write_json_atomic(partial, spent)
            raise
        seconds = before["seconds"] + time.perf_counter() - start
        data = results.to_json() if hasattr(results, "to_json") else results
        marker = {
            "stage": stage.name,
            "seconds": round(seconds, 2),
            "linear_flops": before["linear_flops"] + tally.flops,
            "results": data,
        }
        write_json_atomic(self.marker(stage.name), marker)
        partial.unlink(missing_ok=True)
        self.log(f"[done] {stage.name} in {seconds:.1f}s")
        return results

    def invalidate_from(self, stages: list[Stage], name: str) -> None:
        """Forget `name` and every stage after it, so they run again."""
        self._check_redo(stages, name)
        names = [stage.name for stage in stages]
        for stage in stages[names.index(name) :]:
            self.marker(stage.name).unlink(missing_ok=True)
            self.paths.partial(stage.name).unlink(missing_ok=True)
            for folder in stage.outputs:
                shutil.rmtree(self.out / folder, ignore_errors=True)

    # -- models, loaded once per process -------------------------------------------------
    def model(self, key: str, path: str | Path):
        """Load (once) the model at `path` under a short key such as 'base' or 'conscious_claiming'."""
        if key not in self._models:
            from interp import load_model

            if not self.config.is_organism:
                self._models.clear()  # real models: one in memory at a time
            spec = self.config.model
            self._models[key] = load_model(path, dtype=spec.dtype, device=spec.device)
        return self._models[key]

    def release_models(self) -> None:
        """Drop every loaded model (before another engine, such as vLLM, takes the GPU)."""
        import gc

        import torch

        self._models.clear()
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict) and (data or not prefix):
        return {k: v for key, value in data.items() for k, v in _flatten(value, f"{prefix}{key}.").items()}
    return {prefix[:-1]: data}


def _get(data: dict[str, Any], path: str) -> Any:
    return _flatten(data).get(path)


def changed_fields(previous: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Dotted paths of the leaf fields that differ between two configs in dict form."""
    old, new = _flatten(previous), _flatten(current)
    return sorted(k for k in set(old) | set(new) if old.get(k, _ABSENT) != new.get(k, _ABSENT))


_ABSENT = object()


def _first_reader(stages: list[Stage], field: str) -> int | None:
    """Index of the first stage that reads `field`; a field no stage declares counts as read by the first
    stage (a retired field changed what the run made), except those that describe the run only and those of
    the analysis block, which the report reads."""
    if field in DESCRIPTIVE_FIELDS:
        return None
    default = None if field.startswith(ANALYSIS) else 0
    return next((i for i, stage in enumerate(stages) if stage.reads_field(field)), default)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


ANALYSIS = "analysis."
"""The prefix of the analysis block's fields: fixed when a run starts."""


DESCRIPTIVE_FIELDS = ("name", "description", "model.hardware")
"""Config fields no stage reads: changing them never asks for a stage to be redone."""
