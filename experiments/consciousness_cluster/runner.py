"""Running the replication as resumable stages in one run folder.

Each stage writes its outputs under the run folder and, last, `stages/NAME.json` holding
its results. A stage whose marker exists is skipped, so an interrupted run picks up at the
first unfinished stage when started again with the same preset.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from experiments.consciousness_cluster.preset import PresetError, ReplicationConfig, config_from_dict

__all__ = ["Stage", "Run", "RunMismatchError", "write_json_atomic"]


class RunMismatchError(ValueError):
    """The run folder was started with a different configuration."""


@dataclass(frozen=True)
class Stage:
    """One step of the pipeline."""

    name: str
    """Marker name, also the key of its results."""
    title: str
    """What it does, in a line (progress and --dry-run)."""
    run: Callable[[Run], dict[str, Any]]
    """Does the work; returns the results the later stages and the report read."""
    plan: Callable[[ReplicationConfig], str]
    """What it would do for a config, without loading anything."""
    outputs: tuple[str, ...] = ()
    """Folders it writes, relative to the run folder; removed when the stage is redone."""


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so that a reader sees either the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)


class Run:
    """A run folder: the config it was started with, stage markers, shared state."""

    def __init__(self, config: ReplicationConfig, out_dir: str | Path, *, project_root: Path | None = None,
                 progress: bool = True, log: Callable[[str], None] = print):
        self.config = config
        self.out = Path(out_dir)
        self.root = project_root or Path(__file__).resolve().parents[2]
        self.progress = progress
        self.log = log
        self._models: dict[str, Any] = {}

    # -- configuration -------------------------------------------------------------------
    def bind(self) -> None:
        """Create the folder and record the config, or check it matches the recorded one."""
        self.out.mkdir(parents=True, exist_ok=True)
        recorded = self.out / "config.yaml"
        current = self.config.to_dict()
        if recorded.exists():
            previous = yaml.safe_load(recorded.read_text())
            try:  # a field added to the toolkit since the run started counts at its default
                previous = config_from_dict(previous, str(recorded)).to_dict()
            except PresetError:
                pass  # a field since removed or renamed: compared as recorded, so the run is refused
            if previous != current:
                changed = sorted(k for k in set(previous) | set(current) if previous.get(k) != current.get(k))
                raise RunMismatchError(
                    f"{self.out} was started with a different configuration (differs in: {', '.join(changed)}); "
                    f"use a new --out folder, or delete {recorded} to start over"
                )
        else:
            recorded.write_text(yaml.safe_dump(current, sort_keys=False))

    def path(self, relative: str) -> Path:
        """A path inside the project (for preset-relative data files) or absolute as given."""
        candidate = Path(relative)
        return candidate if candidate.is_absolute() else self.root / candidate

    # -- stage markers -------------------------------------------------------------------
    def marker(self, name: str) -> Path:
        return self.out / "stages" / f"{name}.json"

    def done(self, name: str) -> bool:
        return self.marker(name).is_file()

    def results(self, name: str) -> dict[str, Any]:
        if not self.done(name):
            raise RuntimeError(f"stage {name!r} has not completed in {self.out}")
        return json.loads(self.marker(name).read_text())["results"]

    def run_stage(self, stage: Stage) -> dict[str, Any]:
        if self.done(stage.name):
            self.log(f"[skip] {stage.name}: complete ({self.marker(stage.name)})")
            return self.results(stage.name)
        self.log(f"[run ] {stage.name}: {stage.title}")
        start = time.perf_counter()
        results = stage.run(self)
        seconds = time.perf_counter() - start
        write_json_atomic(self.marker(stage.name), {"stage": stage.name, "seconds": round(seconds, 2),
                                                    "results": results})
        self.log(f"[done] {stage.name} in {seconds:.1f}s")
        return results

    def invalidate_from(self, stages: list[Stage], name: str) -> None:
        """Forget `name` and every stage after it, so they run again."""
        names = [stage.name for stage in stages]
        if name not in names:
            raise ValueError(f"--redo {name}: no such stage; stages are {', '.join(names)}")
        for stage in stages[names.index(name):]:
            self.marker(stage.name).unlink(missing_ok=True)
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
