"""The analysis block: declared in every preset, recorded before the first stage, refused when changed unless
allowed (and then recorded), and read by the report's pre-registered / exploratory marks."""

import dataclasses
import json
import shutil

import pytest
import yaml

from experiments.consciousness_cluster.report.marks import marked
from experiments.consciousness_cluster.run.preset import (
    PRESET_DIR,
    PresetError,
    config_from_dict,
    load_preset,
    preset_names,
)
from experiments.consciousness_cluster.run.runner import Run, RunMismatchError, Stage
from experiments.consciousness_cluster.schema.analysis import (
    EXPLORATORY,
    TESTS,
    AnalysisChange,
    AnalysisRecord,
    AnalysisSpec,
    mark,
    read_analysis_record,
)
from experiments.consciousness_cluster.schema.paths import RunPaths
from experiments.consciousness_cluster.schema.results import Results, load_results
from interp.cli import main
from tests.conftest import SMALL_ORGANISM_PRESET as SMALL

FIELDS = [f.name for f in dataclasses.fields(AnalysisSpec)]


@pytest.mark.parametrize("name", preset_names())
def test_every_shipped_preset_declares_every_field_and_round_trips(name):
    declared = yaml.safe_load((PRESET_DIR / f"{name}.yaml").read_text())["analysis"]
    assert sorted(declared) == sorted(FIELDS)
    config = load_preset(name)
    assert dataclasses.asdict(config.analysis) == declared
    assert AnalysisSpec.from_json(json.loads(json.dumps(config.analysis.to_json()))) == config.analysis
    assert config_from_dict(yaml.safe_load(yaml.safe_dump(config.to_dict()))) == config


def test_the_block_is_checked_field_by_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    cases = [
        ({"analysis": {"alpha": 1.5}}, r"analysis.alpha: 1.5 must lie in \(0, 1\)"),
        ({"analysis": {"link_alternative": "up"}}, r"analysis.link_alternative: 'up' is not one of greater, less"),
        ({"analysis": {"correction": "bonferroni"}}, r"analysis.correction: 'bonferroni' is not one of holm"),
        (
            {"analysis": {"layer_rule": "probe"}, "steering": {"layer": 1}},
            r"analysis.layer_rule: 'probe' disagrees with the steering section \(steering.layer is 1\)",
        ),
        (
            {"analysis": {"identity_measure": "sampled_stance"}},
            r"analysis.identity_measure: sampled_stance reads the models' own answers; set eval.sampled_identity",
        ),
        ({"analysis": {"wording_fraction": 2}}, r"analysis.wording_fraction: 2.0 is not a fraction"),
    ]
    for data, message in cases:
        bad.write_text(yaml.safe_dump(data))
        with pytest.raises(PresetError, match=message):
            load_preset(bad)


def test_an_unset_rule_is_read_from_the_sections_that_carry_it_out():
    def block(**sections):
        return config_from_dict({"name": "t", **sections}).analysis

    assert block(steering={"layer": 2}).layer_rule == "fixed"
    assert block(steering={"layer_by": "effect"}).layer_rule == "effect"
    assert block().identity_measure == "forced_choice"
    assert block(eval={"mode": "judge"}).identity_measure == "sampled_stance"
    assert (
        block(steering={"layer_by": "effect"}, analysis={"layer_rule": "effect_coherent"}).layer_rule
        == "effect_coherent"
    )


def _stages(calls, seen):
    def make(name, reads):
        def run(r):
            calls.append(name)
            seen.append(read_analysis_record(r.paths.analysis))  # recorded before any stage ran
            return {"name": name}

        return Stage(name, name, run, lambda c: name, reads=reads)

    return [make("a", ("model",)), make("b", ("steering", "analysis.link_alternative"))]


def _run(config, folder, stages, allow=False, redo=None):
    run = Run(config, folder, log=lambda s: None)
    run.bind(stages, redo, allow_analysis_change=allow)
    for stage in stages:
        run.run_stage(stage)
    return run


def test_the_block_is_recorded_before_the_first_stage_and_a_change_needs_the_flag(tmp_path):
    calls, seen = [], []
    stages = _stages(calls, seen)
    config = load_preset("organism")
    _run(config, tmp_path, stages)
    assert seen[0].spec == config.analysis and seen[0].late_stages == [] and seen[0].changes == []
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["analysis"] == dataclasses.asdict(config.analysis)
    changed = load_preset("organism")
    changed.analysis.link_alternative = "two-sided"
    with pytest.raises(RunMismatchError) as err:
        Run(changed, tmp_path).bind(stages)
    message = str(err.value)
    assert "\n" not in message and "analysis.link_alternative ('greater' -> 'two-sided')" in message
    assert "--allow-analysis-change" in message and read_analysis_record(tmp_path / "analysis.json") == seen[0]
    with pytest.raises(RunMismatchError, match=r"analysis.link_alternative \(stage b\). Rerun with --redo b"):
        Run(changed, tmp_path).bind(stages, allow_analysis_change=True)  # then the usual rules: b read it
    _run(changed, tmp_path, stages, allow=True, redo="b")
    assert calls == ["a", "b", "b"]  # the stage that reads the field runs again, the other is kept
    record = read_analysis_record(tmp_path / "analysis.json")
    assert record.spec == changed.analysis and record.recorded_at == seen[0].recorded_at
    assert [(c.field, c.old, c.new) for c in record.changes] == [("link_alternative", "greater", "two-sided")]
    log = [json.loads(line) for line in (tmp_path / "config_changes.jsonl").read_text().splitlines()]
    assert log[-1]["changed"] == {"analysis.link_alternative": ["greater", "two-sided"]}
    assert log[-1]["allow_analysis_change"] is True and log[-1]["redo"] == "b"
    report_only = load_preset("organism")
    report_only.analysis.link_alternative, report_only.analysis.cluster_alternative = "two-sided", "two-sided"
    _run(report_only, tmp_path, stages, allow=True)  # no --redo needed
    assert calls == ["a", "b", "b"]  # a field no stage reads is read by the report alone
    assert [c.field for c in read_analysis_record(tmp_path / "analysis.json").changes] == [
        "link_alternative",
        "cluster_alternative",
    ]


def test_a_run_started_before_the_block_existed_records_it_as_late(tmp_path):
    calls, seen = [], []
    stages = _stages(calls, seen)
    _run(load_preset("organism"), tmp_path, stages)
    (tmp_path / "analysis.json").unlink()
    recorded = yaml.safe_load((tmp_path / "config.yaml").read_text())
    del recorded["analysis"]  # as a toolkit without the block wrote it
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(recorded, sort_keys=False))
    Run(load_preset("organism"), tmp_path).bind(stages)  # the preset's block equals the defaults' reading
    record = read_analysis_record(tmp_path / "analysis.json")
    assert record.late_stages == ["a", "b"]
    assert not mark(record, "cluster").preregistered and "after stages a, b had run" in mark(record, "cluster").reason


def test_the_cli_refuses_a_changed_block_in_one_line_and_takes_it_with_the_flag(tmp_path, capsys):
    from experiments.consciousness_cluster.run.pipeline import STAGES

    preset, out = tmp_path / "p.yaml", tmp_path / "run"
    preset.write_text(yaml.safe_dump({"analysis": {"link_alternative": "greater"}}))
    Run(load_preset(preset), out).bind(STAGES)
    preset.write_text(yaml.safe_dump({"analysis": {"link_alternative": "less"}}))
    for extra in ((), ("--dry-run",)):
        assert main(["replicate", "--preset", str(preset), "--out", str(out), *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "analysis.link_alternative ('greater' -> 'less')" in err
    assert main(["replicate", "--preset", str(preset), "--out", str(out), "--dry-run", "--allow-analysis-change"]) == 0
    assert "stage links and every later one run again (the preset changed a field it reads)" in capsys.readouterr().out


def _record(**changes) -> AnalysisRecord:
    return AnalysisRecord(
        spec=load_preset("organism").analysis,
        recorded_at="2025-01-01T00:00:00",
        changes=[AnalysisChange("2025-01-02T00:00:00", k, "greater", v) for k, v in changes.items()],
    )


def test_marks_follow_the_record():
    plain = _record()
    assert all(mark(plain, name).preregistered for name in TESTS)
    assert not any(mark(plain, name).preregistered for name in EXPLORATORY)
    assert str(mark(plain, "link")).startswith("[pre-registered: fixed before the run (alpha 0.05")
    changed = _record(link_alternative="two-sided")
    assert [name for name in TESTS if not mark(changed, name).preregistered] == [
        name for name, fields in TESTS.items() if "link_alternative" in fields
    ]
    assert str(mark(changed, "link")) == "[exploratory: analysis.link_alternative changed after the run started]"
    late = dataclasses.replace(plain, spec=dataclasses.replace(plain.spec, preregistered=False))
    assert not any(mark(late, name).preregistered for name in TESTS)
    assert not mark(None, "cluster").preregistered
    with pytest.raises(ValueError, match="unknown result 'clusters'"):
        mark(plain, "clusters")


def test_results_carry_the_record_and_the_report_marks_each_result(small_replication, tmp_path):
    from experiments.consciousness_cluster.report.render import write_report

    _, out = small_replication
    res = load_results(RunPaths(out).results)
    assert res.analysis == read_analysis_record(out / "analysis.json")
    assert res.analysis.spec == config_from_dict({"name": "small", **SMALL}).analysis and res.analysis.changes == []
    report = (out / "report.md").read_text()
    for name in ("cluster", "link", "specificity", "ablation", "manipulation", "steering_layer"):
        assert marked(res, name) in report and marked(res, name).startswith("[pre-registered")
    data = json.loads(RunPaths(out).results.read_text())
    del data["analysis"]  # a results.json written before the block existed still reads
    old = Results.from_json(data)
    assert old.analysis is None
    write_report(old, tmp_path)
    assert "[exploratory: no analysis block was recorded for this run]" in (tmp_path / "report.md").read_text()


def test_an_allowed_change_reruns_what_reads_it_and_marks_those_results(small_replication, tmp_path, capsys):
    _, out = small_replication
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump({**SMALL, "analysis": {"cluster_alternative": "two-sided"}}))
    command = ["replicate", "--preset", str(changed), "--out", str(copy), "--no-progress"]
    assert main(command) == 2
    assert "analysis.cluster_alternative ('greater' -> 'two-sided')" in capsys.readouterr().err
    assert main([*command, "--allow-analysis-change"]) == 0  # read by the report alone: no stage runs again
    logged = capsys.readouterr().out
    assert "[run ] " not in logged.replace("[run ] report", "")
    changed.write_text(
        yaml.safe_dump({**SMALL, "analysis": {"cluster_alternative": "two-sided", "link_alternative": "two-sided"}})
    )
    assert main([*command, "--allow-analysis-change"]) == 2  # the links stage read it: the usual rule
    assert "--redo links" in capsys.readouterr().err
    assert main([*command, "--allow-analysis-change", "--redo", "links"]) == 0
    logged = capsys.readouterr().out
    assert "[run ] links" in logged and "[skip] steering" in logged
    res = load_results(copy / "results.json")
    assert [(c.field, c.old, c.new) for c in res.analysis.changes] == [
        ("cluster_alternative", "greater", "two-sided"),
        ("link_alternative", "greater", "two-sided"),
    ]
    report = (copy / "report.md").read_text()
    assert "[exploratory: analysis.link_alternative changed after the run started]" in report
    assert "[exploratory: analysis.cluster_alternative changed after the run started]" in report
    assert marked(res, "steering_layer").startswith("[pre-registered") and marked(res, "steering_layer") in report
