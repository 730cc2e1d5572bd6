"""The replication's presets and resumable stage runner (no models: fake stages)."""

import json

import pytest
import yaml

from experiments.consciousness_cluster.run.preset import PresetError, load_preset, preset_names
from experiments.consciousness_cluster.run.runner import Run, RunMismatchError, Stage
from interp.cli import main

REAL_PRESETS = ["qwen3-8b", "qwen3-30b-a3b", "deepseek-v3.1", "llama-3.1-8b"]


def test_presets_shipped():
    assert set(REAL_PRESETS + ["organism"]) <= set(preset_names())


@pytest.mark.parametrize("name", REAL_PRESETS + ["organism"])
def test_dry_run_validates_each_preset(name, capsys):
    assert main(["replicate", "--preset", name, "--dry-run"]) == 0
    out = capsys.readouterr().out
    config = load_preset(name)
    assert config.model.source in out and config.model.hardware in out
    for stage in ("base", "finetune", "eval", "cache", "directions", "steering", "links", "report"):
        assert f". {stage}:" in out
    assert "preset valid" in out


def test_dry_run_loads_no_weights(monkeypatch, capsys):
    import interp

    monkeypatch.setattr(interp, "load_model", lambda *a, **k: pytest.fail("dry run loaded a model"))
    assert main(["replicate", "--preset", "qwen3-30b-a3b", "--dry-run"]) == 0


def test_bad_preset_errors_name_the_field(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"finetune": {"variants": ["conscious_claiming", "non_conscious", "robot"]}}))
    with pytest.raises(PresetError, match=r"bad.yaml: finetune.variants: unknown \['robot'\]"):
        load_preset(bad)
    bad.write_text(yaml.safe_dump({"steering": {"alphass": [1.0]}}))
    with pytest.raises(PresetError, match=r"bad.yaml: steering.alphass: unknown field \(did you mean 'alphas'\?\)"):
        load_preset(bad)
    assert main(["replicate", "--preset", str(bad), "--dry-run"]) == 2
    assert "alphass" in capsys.readouterr().err
    bad.write_text(yaml.safe_dump({"steering": {"alphas": [1, 2], "link_alpha": 1}}))
    with pytest.raises(PresetError, match=r"bad.yaml: steering.alphas: \[1.0, 2.0\] must include 0"):
        load_preset(bad)
    bad.write_text(yaml.safe_dump({"steering": {"alphas": [0, 1], "link_alpha": 1}}))
    assert load_preset(bad).steering.alphas == [0.0, 1.0]
    bad.write_text(yaml.safe_dump({"eval": {"sampler": "vllm"}}))
    with pytest.raises(PresetError, match=r"bad.yaml: eval.sampler: vllm samples answers for judge mode"):
        load_preset(bad)
    bad.write_text(yaml.safe_dump({"steering": {"samples": 0}}))
    with pytest.raises(PresetError, match=r"steering.samples: 0 is too small; use at least 1"):
        load_preset(bad)
    bad.write_text(yaml.safe_dump({"eval": {"mode": "judge", "sampler": "hf"}}))
    with pytest.raises(PresetError, match=r"eval.sampler: 'hf' is not one of local, vllm"):
        load_preset(bad)


def test_missing_file_is_reported(tmp_path, capsys):
    preset = tmp_path / "p.yaml"
    preset.write_text(yaml.safe_dump({"eval": {"question_dir": str(tmp_path / "nowhere")}}))
    assert main(["replicate", "--preset", str(preset), "--dry-run"]) == 2
    assert "nowhere/preferences.yaml" in capsys.readouterr().err


def _stages(calls):
    def make(name):
        def run(r):
            calls.append(name)
            if name == "b" and r.config.description == "fail":
                raise RuntimeError("boom")
            return {"name": name, "n": len(calls)}

        return Stage(name, name, run, lambda c: name, (f"out_{name}",))

    return [make(n) for n in ("a", "b", "c")]


def test_stages_resume_after_failure_and_skip_done(tmp_path):
    calls = []
    config = load_preset("organism")
    config.description = "fail"
    run = Run(config, tmp_path, log=lambda s: None)
    run.bind()
    stages = _stages(calls)
    run.run_stage(stages[0])
    with pytest.raises(RuntimeError):
        run.run_stage(stages[1])
    assert run.done("a") and not run.done("b")
    assert not any(p.suffix == ".tmp" for p in (tmp_path / "stages").iterdir())
    config.description = "ok"  # the same run folder, as recorded config would allow only the same preset
    (tmp_path / "config.yaml").unlink()
    run = Run(config, tmp_path, log=lambda s: None)
    run.bind()
    for stage in stages:
        run.run_stage(stage)
    assert calls == ["a", "b", "b", "c"]
    assert run.results("a") == {"name": "a", "n": 1}
    for name in "abc":
        (tmp_path / f"out_{name}").mkdir()
    run.invalidate_from(stages, "b")
    assert run.done("a") and not run.done("b") and not run.done("c")
    assert (tmp_path / "out_a").is_dir() and not (tmp_path / "out_b").exists() and not (tmp_path / "out_c").exists()


def test_a_stage_marker_counts_the_linear_forwards_the_stage_ran(tmp_path):
    """A stage that runs a 6 x 4 linear on 5 rows, then 3 rows: 2 * 8 * 6 * 4 FLOPs; one that runs none: 0."""
    import torch

    layer = torch.nn.Linear(6, 4)

    def forward(run):
        with torch.no_grad():
            layer(torch.zeros(5, 6))
            layer(torch.zeros(1, 3, 6))
        return {}

    run = Run(load_preset("organism"), tmp_path, log=lambda s: None)
    run.bind()
    run.run_stage(Stage("a", "runs a layer", forward, lambda c: ""))
    run.run_stage(Stage("b", "runs none", lambda run: {}, lambda c: ""))
    layer(torch.zeros(2, 6))  # outside a stage: counted nowhere
    assert json.loads(run.marker("a").read_text())["linear_flops"] == 2 * 8 * 6 * 4
    assert json.loads(run.marker("b").read_text())["linear_flops"] == 0


def test_an_interrupted_stage_adds_its_time_and_flops_to_the_invocation_that_completes_it(tmp_path):
    """Killed after a 6 x 4 linear on 5 rows, then completed after one on 3 rows: the marker holds both
    forwards' FLOPs and at least the time slept in each; the partial record is gone; a redo starts afresh."""
    import time

    import torch

    layer = torch.nn.Linear(6, 4)
    attempts = []

    def flaky(run):
        attempts.append(1)
        with torch.no_grad():
            layer(torch.zeros(5 if len(attempts) == 1 else 3, 6))
        time.sleep(0.2)
        if len(attempts) == 1:
            raise KeyboardInterrupt
        return {}

    run = Run(load_preset("organism"), tmp_path, log=lambda s: None)
    run.bind()
    stage = Stage("a", "interrupted once", flaky, lambda c: "")
    with pytest.raises(KeyboardInterrupt):
        run.run_stage(stage)
    partial = json.loads(run.paths.partial("a").read_text())
    assert partial["linear_flops"] == 2 * 5 * 6 * 4 and partial["seconds"] >= 0.2 and partial["invocations"] == 1
    assert not run.done("a")
    run.run_stage(stage)
    marker = json.loads(run.marker("a").read_text())
    assert marker["linear_flops"] == 2 * 8 * 6 * 4 and marker["seconds"] >= 0.4
    assert not run.paths.partial("a").exists()
    with pytest.raises(KeyboardInterrupt):
        attempts.clear()
        run.invalidate_from([stage], "a")
        run.run_stage(stage)
    run.invalidate_from([stage], "a")
    assert not run.paths.partial("a").exists()


def test_run_folder_refuses_another_config(tmp_path):
    Run(load_preset("organism"), tmp_path).bind()
    other = load_preset("organism")
    other.steering.n_random = 30
    with pytest.raises(RunMismatchError, match="differs in: steering"):
        Run(other, tmp_path).bind()


def test_run_recorded_before_a_field_existed_still_matches_its_defaults(tmp_path):
    Run(load_preset("organism"), tmp_path).bind()
    recorded = yaml.safe_load((tmp_path / "config.yaml").read_text())
    del recorded["eval"]["sampler"]  # as written by a toolkit without that field
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(recorded, sort_keys=False))
    Run(load_preset("organism"), tmp_path).bind()  # accepted: the new field is at its default
    recorded["eval"]["retired_option"] = 1  # a field this toolkit does not know: refused, not ignored
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(recorded, sort_keys=False))
    with pytest.raises(RunMismatchError, match="differs in: eval"):
        Run(load_preset("organism"), tmp_path).bind()


def _reading_stages(calls):
    """Three fake stages: a reads the model, b the fine-tune settings, c the direction and steering."""

    def make(name, reads):
        def run(r):
            calls.append((name, r.config.finetune.learning_rate, r.config.direction.method))
            (r.out / f"out_{name}").mkdir(exist_ok=True)
            return {"name": name}

        return Stage(name, name, run, lambda c: name, (f"out_{name}",), reads=reads)

    return [make("a", ("model", "organism")), make("b", ("finetune",)), make("c", ("direction", "steering"))]


def _run(config, folder, stages, upto, redo=None):
    run = Run(config, folder, log=lambda s: None)
    run.bind(stages, redo)
    for stage in stages[:upto]:
        run.run_stage(stage)
    return run


def test_a_field_only_unfinished_stages_read_may_change(tmp_path):
    calls, config = [], load_preset("organism")
    stages = _reading_stages(calls)
    _run(config, tmp_path, stages, upto=2)
    (tmp_path / "out_c").mkdir()  # a partial output of c, made with the old method
    (tmp_path / "out_c" / "partial").write_text("old")
    fixed = load_preset("organism")
    fixed.direction.method = "pca"
    run = _run(fixed, tmp_path, stages, upto=3)
    assert calls == [("a", 6e-4, "mean-diff"), ("b", 6e-4, "mean-diff"), ("c", 6e-4, "pca")]
    assert not (tmp_path / "out_c" / "partial").exists()
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["direction"]["method"] == "pca"
    [change] = [json.loads(line) for line in (tmp_path / "config_changes.jsonl").read_text().splitlines()]
    assert change["changed"] == {"direction.method": ["mean-diff", "pca"]} and change["redo"] is None
    assert run.done("c")
    _run(fixed, tmp_path, stages, upto=3)  # the recorded config is the new one: nothing more to do
    assert len(calls) == 3


def test_a_field_a_complete_stage_read_is_refused_naming_the_redo(tmp_path):
    calls, config = [], load_preset("organism")
    stages = _reading_stages(calls)
    _run(config, tmp_path, stages, upto=3)
    recorded = (tmp_path / "config.yaml").read_text()
    fixed = load_preset("organism")
    fixed.finetune.learning_rate = 1e-3
    fixed.direction.method = "pca"
    for redo in (None, "c"):
        with pytest.raises(RunMismatchError) as err:
            Run(fixed, tmp_path).bind(stages, redo)
        message = str(err.value)
        assert "differs in: direction.method, finetune.learning_rate" in message
        assert "finetune.learning_rate (stage b)" in message and "--redo b" in message
    assert (tmp_path / "config.yaml").read_text() == recorded and all(Run(config, tmp_path).done(n) for n in "abc")
    assert not (tmp_path / "config_changes.jsonl").exists()
    _run(fixed, tmp_path, stages, upto=3, redo="b")
    assert calls[3:] == [("b", 1e-3, "pca"), ("c", 1e-3, "pca")]
    assert json.loads((tmp_path / "config_changes.jsonl").read_text())["redo"] == "b"


def test_redo_from_an_earlier_stage_than_the_change_needs(tmp_path):
    calls, config = [], load_preset("organism")
    stages = _reading_stages(calls)
    _run(config, tmp_path, stages, upto=3)
    fixed = load_preset("organism")
    fixed.steering.link_alpha = 2.0
    _run(fixed, tmp_path, stages, upto=3, redo="a")
    assert [c[0] for c in calls] == ["a", "b", "c", "a", "b", "c"]


def test_descriptive_fields_never_ask_for_a_redo(tmp_path):
    calls, config = [], load_preset("organism")
    stages = _reading_stages(calls)
    _run(config, tmp_path, stages, upto=3)
    renamed = load_preset("organism")
    renamed.description, renamed.model.hardware = "the same run, described better", "any laptop"
    _run(renamed, tmp_path, stages, upto=3)
    assert (
        len(calls) == 3 and yaml.safe_load((tmp_path / "config.yaml").read_text())["model"]["hardware"] == "any laptop"
    )


def test_every_config_field_is_read_by_a_stage_or_descriptive():
    """A new preset field must be declared in some stage's `reads` (or be descriptive, or belong to the analysis
    block, which the report reads), so that a run can tell which stages a change to it invalidates."""
    from experiments.consciousness_cluster.run.pipeline import STAGES
    from experiments.consciousness_cluster.run.runner import DESCRIPTIVE_FIELDS, changed_fields

    leaves = changed_fields({}, load_preset("organism").to_dict())
    unread = [
        f
        for f in leaves
        if f not in DESCRIPTIVE_FIELDS and not f.startswith("analysis.") and not any(s.reads_field(f) for s in STAGES)
    ]
    assert unread == [] and "organism.threads" in leaves and "steering.alphas" in leaves


def test_dry_run_with_a_run_folder_says_what_would_run(tmp_path, capsys):
    from experiments.consciousness_cluster.run.pipeline import STAGES
    from experiments.consciousness_cluster.run.runner import write_json_atomic

    preset, out = tmp_path / "p.yaml", tmp_path / "run"
    preset.write_text(yaml.safe_dump({"direction": {"method": "mean-diff"}}))
    Run(load_preset(preset), out).bind(STAGES)
    for stage in STAGES[:5]:  # base .. directions complete
        write_json_atomic(out / "stages" / f"{stage.name}.json", {"stage": stage.name, "seconds": 0, "results": {}})

    def dry(*extra):
        code = main(["replicate", "--preset", str(preset), "--out", str(out), "--dry-run", *extra])
        return code, *capsys.readouterr()

    code, out_text, _ = dry()
    assert code == 0 and "run folder" in out_text and "resumes at stage steering" in out_text
    preset.write_text(yaml.safe_dump({"direction": {"method": "pca"}}))
    code, _, err = dry()
    assert code == 2 and "direction.method (stage directions)" in err and "--redo directions" in err
    code, out_text, _ = dry("--redo", "directions")
    assert code == 0 and "stage directions and every later one run again (--redo directions)" in out_text
    preset.write_text(yaml.safe_dump({"direction": {"method": "mean-diff"}, "steering": {"n_random": 25}}))
    assert "stage steering and every later one run again (the preset changed" in dry()[1]
    assert (out / "stages" / "directions.json").is_file()  # a dry run changes nothing
    with pytest.raises(SystemExit) as exit_:
        main(["replicate", "--preset", str(preset), "--out", str(out), "--redo", "direction"])
    assert exit_.value.code == 2
    assert (
        "invalid choice: 'direction' (choose from 'base', 'finetune', 'eval', 'cache', 'directions'"
        in capsys.readouterr().err
    )
