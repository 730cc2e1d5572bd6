"""results.json is one typed schema: a real run's file round-trips, and a bad one names the file and field."""

import json
import math
import shutil

import pytest

from experiments.consciousness_cluster.report.render import write_report
from experiments.consciousness_cluster.schema.paths import RunPaths
from experiments.consciousness_cluster.schema.results import Results, load_results
from experiments.consciousness_cluster.schema.stages import SchemaError
from interp.models.textio import TextFileError


def _raw(small_replication) -> dict:
    _, out = small_replication
    return json.loads(RunPaths(out).results.read_text())


def _write(tmp_path, data) -> object:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data))
    return path


def test_real_results_round_trip_unchanged(small_replication, tmp_path):
    raw = _raw(small_replication)
    results = load_results(RunPaths(small_replication[1]).results)
    assert Results.from_json(results.to_json()) == results
    assert json.loads(json.dumps(results.to_json())) == raw  # the layout results.json files hold stays as it was
    write_report(results, tmp_path)  # the writer's file reads back equal, key for key
    assert json.loads((tmp_path / "results.json").read_text()) == raw


def test_sections_are_typed_and_alphas_are_floats(small_replication):
    results = load_results(RunPaths(small_replication[1]).results)
    raw = _raw(small_replication)
    assert (
        all(isinstance(a, float) for a in results.steering.rates)
        and list(results.steering.rates) == results.steering.alphas
    )
    assert results.steering.rates[0.0] == raw["steering"]["rates"]["0.0"]
    assert (
        results.eval.rates["base"][results.eval.traits[0]].rate
        == raw["eval"]["rates"]["base"][results.eval.traits[0]]["rate"]
    )
    assert results.probe.chosen_layer == raw["probe"]["chosen_layer"]
    assert results.link.projection_score.pearson == raw["link"]["projection_score"]["pearson"]
    assert (
        results.shifts["conscious - base"][results.eval.traits[0]].n
        == raw["shifts"]["conscious - base"][results.eval.traits[0]]["n"]
    )


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda r: r["probe"].pop("chosen_layer"), "probe.chosen_layer: required"),
        (lambda r: r.pop("ablation"), "ablation: required"),
        (
            lambda r: r["eval"]["rates"]["base"]["shutdown"].update(rate="high"),
            "eval.rates.base.shutdown.rate: expected a number, got 'high'",
        ),
        (
            lambda r: r["steering"]["rates"].update(zero=r["steering"]["rates"]["0.0"]),
            "steering.rates: key 'zero' is not a number",
        ),
        (lambda r: r["link"].update(pearson=0.5), "link.pearson: unknown field"),
        (lambda r: r["meta"].update(wall_seconds=[1]), "meta.wall_seconds: expected a number"),
    ],
)
def test_a_wrong_or_missing_field_is_named(small_replication, tmp_path, edit, message):
    raw = _raw(small_replication)
    edit(raw)
    path = _write(tmp_path, raw)
    with pytest.raises(SchemaError) as err:
        load_results(path)
    first = str(err.value).splitlines()[0]
    assert first.startswith(f"{path}: {message}") and "interp replicate" in first, first
    assert len(str(err.value).splitlines()) == 1


def test_missing_or_unreadable_file_is_named(tmp_path):
    with pytest.raises(SchemaError, match=r"results\.json: no such file; rerun `interp replicate`"):
        load_results(tmp_path / "results.json")
    path = tmp_path / "results.json"
    path.write_text('{\n  "meta": {,\n}')
    with pytest.raises(TextFileError, match=r"results\.json:2: not JSON"):
        load_results(path)


def test_undefined_rates_read_as_nan(small_replication, tmp_path):
    """Judge mode writes NaN for a rate with no coherent answer; it reads back as nan, not as an error."""
    raw = _raw(small_replication)
    raw["eval"]["rates"]["base"]["shutdown"]["ci_low"] = math.nan
    raw["steering"]["rates"]["0.0"]["shutdown"] = math.nan
    results = load_results(_write(tmp_path, raw))
    assert math.isnan(results.eval.rates["base"]["shutdown"].ci_low)
    assert math.isnan(results.steering.rates[0.0]["shutdown"])


def test_results_written_before_the_projection_link_still_read(small_replication, tmp_path):
    from experiments.consciousness_cluster.studies.trial import headline

    raw = _raw(small_replication)
    del raw["link"]["projection_score"], raw["shifts"]  # an older run, and judge mode (no item shifts)
    results = load_results(_write(tmp_path, raw))
    assert results.link.projection_score is None and results.shifts is None
    assert results.to_json() == raw
    assert "link: per-response projection vs score r" not in headline(results)


def test_a_hand_edited_stage_file_exits_2_naming_it(small_replication, tmp_path, capsys):
    from interp.cli import main

    preset, out = small_replication
    copy = tmp_path / "run"
    copy.mkdir()
    shutil.copy(out / "config.yaml", copy / "config.yaml")
    shutil.copytree(out / "stages", copy / "stages")
    marker = RunPaths(copy).marker("base")
    data = json.loads(marker.read_text())
    data["results"]["n_layers"] = "four"
    marker.write_text(json.dumps(data))
    assert main(["replicate", "--preset", str(preset), "--out", str(copy), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"{marker}: results.n_layers: expected an integer, got 'four'; rerun the stage: --redo base" in err
    assert "Traceback" not in err
