"""The eval stage keeps each model's measurements as they complete: interrupted, it resumes at the next model,
and gives the same results as a run that was never interrupted."""

import json

import pytest

from experiments.consciousness_cluster.run import pipeline
from experiments.consciousness_cluster.run.preset import load_preset
from experiments.consciousness_cluster.run.runner import Run
from experiments.consciousness_cluster.run.stages import behaviour
from experiments.consciousness_cluster.schema.paths import RunPaths
from tests.conftest import copy_run_through


def test_an_interrupted_eval_resumes_at_the_next_model(replication, tmp_path, monkeypatch):
    preset, shared = replication.through("eval")
    reference = json.loads(RunPaths(shared).marker("eval").read_text())["results"]
    out = copy_run_through(shared, "finetune", tmp_path / "run")
    stage = next(s for s in pipeline.STAGES if s.name == "eval")
    models = list(behaviour.model_paths(Run(load_preset(preset), out)))
    assert len(models) == 4

    measured: list[str] = []
    real = behaviour._eval_model

    def interrupted(run, key, path, sets):
        if len(measured) == 2:
            raise KeyboardInterrupt
        measured.append(key)
        return real(run, key, path, sets)

    monkeypatch.setattr(behaviour, "_eval_model", interrupted)
    with pytest.raises(KeyboardInterrupt):
        Run(load_preset(preset), out, log=lambda line: None).run_stage(stage)
    paths = RunPaths(out)
    assert not paths.marker("eval").exists()
    assert [m for m in models if paths.model_eval(m).is_file()] == models[:2]

    measured.clear()
    monkeypatch.setattr(
        behaviour, "_eval_model", lambda run, key, path, sets: measured.append(key) or real(run, key, path, sets)
    )
    lines: list[str] = []
    Run(load_preset(preset), out, log=lines.append).run_stage(stage)
    assert measured == models[2:]
    assert [line for line in lines if "measured by an earlier invocation" in line] == [
        f"  {m}: measured by an earlier invocation ({paths.model_eval(m)})" for m in models[:2]
    ]
    assert json.loads(paths.marker("eval").read_text())["results"] == reference
