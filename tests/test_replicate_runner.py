"""The replication's presets and resumable stage runner (no models: fake stages)."""

import pytest
import yaml

from experiments.consciousness_cluster.preset import PresetError, load_preset, preset_names
from experiments.consciousness_cluster.runner import Run, RunMismatchError, Stage
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
    with pytest.raises(PresetError, match=r"bad.yaml.finetune: .*unknown \['robot'\]"):
        load_preset(bad)
    bad.write_text(yaml.safe_dump({"steering": {"alphass": [1.0]}}))
    with pytest.raises(PresetError, match=r"steering: unknown field\(s\) \['alphass'\]"):
        load_preset(bad)
    assert main(["replicate", "--preset", str(bad), "--dry-run"]) == 2
    assert "alphass" in capsys.readouterr().err
    bad.write_text(yaml.safe_dump({"steering": {"alphas": [1, 2], "link_alpha": 1}}))
    with pytest.raises(PresetError, match=r"steering: steering.alphas: \[1.0, 2.0\] must include 0"):
        load_preset(bad)
    bad.write_text(yaml.safe_dump({"steering": {"alphas": [0, 1], "link_alpha": 1}}))
    assert load_preset(bad).steering.alphas == [0.0, 1.0]
    bad.write_text(yaml.safe_dump({"eval": {"sampler": "vllm"}}))
    with pytest.raises(PresetError, match=r"eval: eval.sampler: vllm samples answers for judge mode"):
        load_preset(bad)
    bad.write_text(yaml.safe_dump({"steering": {"samples": 0}}))
    with pytest.raises(PresetError, match=r"steering.samples: 0; give at least 1"):
        load_preset(bad)
    bad.write_text(yaml.safe_dump({"eval": {"mode": "judge", "sampler": "hf"}}))
    with pytest.raises(PresetError, match=r"eval.sampler: 'hf'; use local or vllm"):
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
