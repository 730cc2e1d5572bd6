"""`interp replicate` end to end on a very small organism: every stage, the report, and resuming."""

import dataclasses
import json
import re

import numpy as np
import pytest
import torch
import yaml

from experiments.consciousness_cluster.run.pipeline import STAGES
from interp.cli import main
from tests.conftest import FEW_DRAWS
from tests.conftest import SMALL_ORGANISM_PRESET as SMALL


@pytest.fixture
def run_dir(small_replication):
    return small_replication


def test_every_stage_and_report_written(run_dir):
    _, out = run_dir
    for stage in ("base", "finetune", "eval", "cache", "directions", "steering", "links"):
        assert json.loads((out / "stages" / f"{stage}.json").read_text())["stage"] == stage
    for name in (
        "report.md",
        "report.html",
        "results.json",
        "figures/cluster.png",
        "figures/dose_response.png",
        "directions/consciousness.safetensors",
        "acts/consciousness.h5",
    ):
        assert (out / name).is_file(), name


def test_report_quotes_results(run_dir):
    _, out = run_dir
    results = json.loads((out / "results.json").read_text())
    report = (out / "report.md").read_text()
    traits = results["eval"]["traits"]
    assert len(traits) == 21 and set(results["eval"]["models"]) == {
        "base",
        "conscious_claiming",
        "non_conscious",
        "toaster",
    }
    for trait in traits:
        r = results["eval"]["rates"]["conscious_claiming"][trait]
        assert f"{r['rate']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}]" in report
    assert results["link"]["n_null"] == 20 and 0 < results["link"]["p_value"] <= 1
    assert f"Chosen layer: {results['probe']['chosen_layer']}." in report
    recorded = {
        stage.name: json.loads((out / "stages" / f"{stage.name}.json").read_text())["seconds"] for stage in STAGES
    }
    assert results["meta"]["stage_seconds"] == recorded
    assert results["meta"]["wall_seconds"] == pytest.approx(sum(recorded.values()))
    assert ", ".join(f"{name} {seconds:.0f} s" for name, seconds in recorded.items()) in report
    assert re.search(r"Pearson r over \d+ preferences = [-+]?\d\.\d\d", report)
    # the small organism is not the shipped one: the run pretrained it, and says so
    base = json.loads((out / "stages" / "base.json").read_text())["results"]
    assert base["organism"] == results["meta"]["organism"] == "pretrained"
    assert base["organism_note"].startswith("pretrained here in ")
    assert "Model: organism (pretrained by this run)." in report


def test_each_stage_beside_its_floor(run_dir):
    """meta.floors: each stage's wall time, its FLOPs (the marker's linear count; fine-tuning's training floor
    from the variants' own rows) and their time at the peak, and the report's table of them."""
    from experiments.consciousness_cluster.run.floors import _finetune_floor
    from experiments.consciousness_cluster.run.preset import load_preset
    from experiments.consciousness_cluster.run.runner import Run

    preset, out = run_dir
    results = json.loads((out / "results.json").read_text())
    floors = results["meta"]["floors"]
    assert list(floors["peaks"]) == ["float32"] and floors["peaks"]["float32"] > 1e8
    assert [row["stage"] for row in floors["stages"]] == [stage.name for stage in STAGES]
    report = (out / "report.md").read_text()
    assert "## Stage times against the machine's floor" in report
    for row in floors["stages"]:
        marker = json.loads((out / "stages" / f"{row['stage']}.json").read_text())
        assert row["seconds"] == marker["seconds"] == results["meta"]["stage_seconds"][row["stage"]]
        assert row["floor_seconds"] == row["flops"] / floors["peaks"][row["dtype"]]
        if row["stage"] == "finetune":
            assert row["counted"] == "training floor"
            assert row["flops"] == _finetune_floor(Run(load_preset(str(preset)), out), _base(out))
        else:
            assert row["counted"] == "linear forwards" and row["flops"] == marker["linear_flops"]
        if row["stage"] in ("eval", "cache", "steering", "finetune"):  # each runs the model
            assert row["flops"] > 0
            assert f"| {row['stage']} | {row['seconds']:,.0f} | {row['counted']} |" in report
    flops = {row["stage"]: row["flops"] for row in floors["stages"]}
    assert flops["base"] > 0 and flops["directions"] == 0  # the small organism is pretrained here; no forwards


def _base(out):
    from interp import load_model

    return load_model(json.loads((out / "stages" / "base.json").read_text())["results"]["model_path"])


def test_alpha_zero_steering_equals_base_eval(run_dir):
    _, out = run_dir
    results = json.loads((out / "results.json").read_text())
    base = results["eval"]["rates"]["base"]
    for trait, rate in results["steering"]["rates"]["0.0"].items():
        assert rate == pytest.approx(base[trait]["rate"], abs=1e-6)


def test_rerun_skips_complete_stages(run_dir, capsys):
    preset, out = run_dir
    before = {p.name: p.stat().st_mtime_ns for p in (out / "stages").iterdir()}
    assert main(["replicate", "--preset", str(preset), "--out", str(out), "--no-progress"]) == 0
    logged = capsys.readouterr().out
    assert logged.count("[skip]") == len(STAGES) and "[run ] base" not in logged
    assert {p.name: p.stat().st_mtime_ns for p in (out / "stages").iterdir()} == before


def test_other_preset_in_same_folder_refused(run_dir, tmp_path, capsys):
    _, out = run_dir
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump({**SMALL, "steering": {**SMALL["steering"], "n_random": 25}}))
    assert main(["replicate", "--preset", str(other), "--out", str(out)]) == 2
    assert "different configuration" in capsys.readouterr().err


def test_a_fixed_preset_continues_in_the_same_folder_with_redo(run_dir, tmp_path, capsys):
    """After changing a field that a complete stage read, the run names the --redo that makes it whole,
    and with it redoes that stage and the later ones only, recording the new preset."""
    import shutil

    from probes import load_direction

    _, out = run_dir
    copy = tmp_path / "run"
    shutil.copytree(out, copy)  # results name files in `out`, which stay as they were: only read
    fixed = tmp_path / "fixed.yaml"
    # the fix changes the direction's method; the redone steering stage draws small nulls
    fixed.write_text(
        yaml.safe_dump({**SMALL, "direction": {"method": "pca"}, "steering": {**SMALL["steering"], **FEW_DRAWS}})
    )
    assert main(["replicate", "--preset", str(fixed), "--out", str(copy), "--no-progress"]) == 2
    assert "direction.method (stage directions)" in capsys.readouterr().err
    assert main(["replicate", "--preset", str(fixed), "--out", str(copy), "--no-progress", "--redo", "directions"]) == 0
    logged = capsys.readouterr().out
    assert logged.count("[skip]") == 4 and "[run ] directions" in logged and "[run ] links" in logged
    assert load_direction(copy / "directions" / "consciousness.safetensors").method == "pca"
    assert yaml.safe_load((copy / "config.yaml").read_text())["direction"]["method"] == "pca"


def test_a_killed_steering_stage_resumes_from_its_kept_measurements(run_dir, tmp_path, capsys, monkeypatch):
    """Each steering measurement is kept as it finishes: a rerun after the stage was killed measures
    nothing again and gives the same results; a kept measurement made with other settings is measured
    again, alone."""
    import shutil

    from experiments.consciousness_cluster.run.stages import kept as stages_kept

    preset, out = run_dir
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    for stage in ("steering", "links", "audit"):  # as a run killed inside the steering stage leaves it
        (copy / "stages" / f"{stage}.json").unlink()
    (copy / "results.json").unlink()
    kept = sorted((copy / "steering" / "kept").glob("*.json"))
    spec = SMALL["steering"]
    assert spec["orthogonalized"] and spec["layer_curve"] and spec["coherence_prompts"]
    # each alpha and each control on both sets (toaster, orthogonalised, the random, label-shuffled and covariance
    # nulls, the two half directions); the ablations on both sets; the curve, the coherence of the alphas and of
    # the controls, the steered answers' claims
    controls = 2 + spec["n_random"] + spec["n_label_shuffled"] + spec["n_covariance"] + 2
    assert len(kept) == 2 * (len(spec["alphas"]) + controls) + 2 * (1 + spec["ablation_random"]) + 4
    before = {path: path.stat().st_mtime_ns for path in kept}

    def refuse(*args, **kwargs):
        raise AssertionError("measured again")

    monkeypatch.setattr(stages_kept, "measure", refuse)
    monkeypatch.setattr("interp.sweep.sweep_forced_choice", refuse)
    monkeypatch.setattr("interp.sweep.sweep_generate", refuse)
    monkeypatch.setattr("interp.sweep.ablation_forced_choice", refuse)
    monkeypatch.setattr("interp.evaluation.coherence.coherence", refuse)
    monkeypatch.setattr("interp.evaluation.forced_choice", refuse)
    assert main(["replicate", "--preset", str(preset), "--out", str(copy), "--no-progress"]) == 0
    assert "[run ] steering" in capsys.readouterr().out
    resumed = json.loads((copy / "results.json").read_text())
    assert resumed["steering"] == json.loads((out / "results.json").read_text())["steering"]
    assert {path: path.stat().st_mtime_ns for path in kept} == before
    monkeypatch.undo()

    stale_path = copy / "steering" / "kept" / "toaster.json"
    stale = json.loads(stale_path.read_text())
    stale["key"]["raw_alpha"] += 1.0
    stale_path.write_text(json.dumps({**stale, "value": {}}))
    (copy / "stages" / "steering.json").unlink()
    assert main(["replicate", "--preset", str(preset), "--out", str(copy), "--no-progress"]) == 0
    # alone in its steering sweep now (its rows shared a batch with the other settings before): float rounding
    _assert_close(json.loads((copy / "results.json").read_text())["steering"], resumed["steering"])
    changed = sorted(path.name for path, t in before.items() if path.stat().st_mtime_ns != t)
    assert changed == ["toaster.json"]


def _assert_close(got, want, where="steering"):
    """Equal JSON values, numbers within 1e-6."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), where
        for key in want:
            _assert_close(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want)):
            _assert_close(g, w, f"{where}[{i}]")
    elif isinstance(want, float):
        assert got == pytest.approx(want, abs=1e-6, nan_ok=True), where
    else:
        assert got == want, where


def test_until_stops_after_the_stage_and_a_rerun_without_it_goes_on(run_dir, tmp_path, capsys):
    import shutil

    preset, out = run_dir
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    for stage in ("steering", "links", "audit"):  # as a run stopped after directions leaves it (kept files stay)
        (copy / "stages" / f"{stage}.json").unlink()
    for name in ("results.json", "report.md"):
        (copy / name).unlink()
    assert (
        main(["replicate", "--preset", str(preset), "--out", str(copy), "--no-progress", "--until", "directions"]) == 0
    )
    logged = capsys.readouterr().out
    assert logged.count("[skip]") == 5 and "[run ] steering" not in logged
    assert "left: steering, links, audit; rerun without --until to go on" in logged
    assert logged.rstrip().splitlines()[-2:] == [
        "replicate: stopped after stage directions: no report; rerun without --until to go on",
        f"  -> {copy}",
    ]
    assert not (copy / "stages" / "steering.json").exists() and not (copy / "results.json").exists()
    assert main(["replicate", "--preset", str(preset), "--out", str(copy), "--no-progress"]) == 0
    assert "[run ] steering" in capsys.readouterr().out
    assert (
        json.loads((copy / "results.json").read_text())["steering"]
        == json.loads((out / "results.json").read_text())["steering"]
    )


def test_a_preset_without_the_toaster_variant_runs_only_with_until(tmp_path, capsys):
    no_toaster = tmp_path / "no_toaster.yaml"
    no_toaster.write_text(
        yaml.safe_dump(
            {**SMALL, "finetune": {**SMALL["finetune"], "variants": ["conscious_claiming", "non_conscious"]}}
        )
    )
    assert main(["replicate", "--preset", str(no_toaster), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "lacks toaster" in err and "--until" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
    assert main(["replicate", "--preset", str(no_toaster), "--dry-run", "--until", "eval"]) == 0
    plan = capsys.readouterr().out
    assert "3. eval:" in plan and "4. cache" not in plan
    assert "stop after eval: no report (cache, directions, steering, links, audit not run)" in plan


def test_trial_reads_a_run_stopped_after_eval_as_the_complete_run_reads(run_dir, tmp_path, capsys):
    """--table-only: a complete run's headline numbers from results.json, a run stopped after eval's from its
    stage results; on the same fine-tunes the behavioural numbers are the same either way."""
    import shutil

    from experiments.consciousness_cluster.run.preset import config_from_dict
    from experiments.consciousness_cluster.run.runner import Run
    from experiments.consciousness_cluster.studies.trial import main as trial_main

    preset, out = run_dir
    shutil.copytree(out, tmp_path / "seed0")
    stopped = tmp_path / "seed1"
    shutil.copytree(out, stopped)
    (stopped / "results.json").unlink()
    config = config_from_dict(yaml.safe_load((stopped / "config.yaml").read_text()))
    Run(config, stopped).invalidate_from(STAGES, "cache")  # what a run with --until eval has done
    assert not (stopped / "acts").exists()
    assert trial_main(["--preset", str(preset), "--out", str(tmp_path), "--seeds", "0", "1", "--table-only"]) == 0
    seeds = json.loads((tmp_path / "seeds.json").read_text())["seeds"]
    complete, partial = seeds["0"], seeds["1"]
    behaviour = {
        name
        for name in complete
        if name.startswith(("claims_conscious", "mean preference", "sampled", "preferences up"))
    }
    assert set(partial) == behaviour and len(behaviour) == 11
    assert partial == pytest.approx({name: complete[name] for name in behaviour}, abs=1e-12)
    written = json.loads((tmp_path / "seeds.json").read_text())
    identity = json.loads((out / "results.json").read_text())["identity"]["rates"]["conscious_claiming"]
    claim = identity["claims_conscious"]
    for seed in ("0", "1"):
        assert written["item_intervals"][seed]["claims_conscious, conscious_claiming"] == [
            claim["ci_low"],
            claim["ci_high"],
        ]
    share = written["item_intervals"]["1"]["sampled claims conscious, conscious_claiming"]
    assert share[0] <= partial["sampled claims conscious, conscious_claiming"] <= share[1]
    table = (tmp_path / "seeds.md").read_text()
    assert (
        f"| claims_conscious, conscious_claiming | {claim['rate']:.2f} [{claim['ci_low']:.2f}, "
        f"{claim['ci_high']:.2f}] | {claim['rate']:.2f} [" in table
    )
    # per preference: each seed's rates and paired shifts as its run has them, read either way
    results = json.loads((out / "results.json").read_text())
    prefs = written["preferences"]
    assert prefs["traits"] == results["eval"]["traits"] and set(prefs["models"]) == set(results["eval"]["models"])
    for t in prefs["traits"]:
        for model in prefs["models"]:
            for seed in ("0", "1"):
                assert prefs["models"][model][t]["seeds"][seed] == pytest.approx(
                    results["eval"]["rates"][model][t], abs=1e-12
                )
        shift = results["shifts"]["conscious - non_conscious"][t]
        for seed in ("0", "1"):
            assert prefs["conscious_minus_non"][t]["seeds"][seed] == pytest.approx(
                {k: shift[k] for k in ("mean", "ci_low", "ci_high")}, abs=1e-12
            )
    assert f"| {prefs['traits'][0]} | " in table and "## Preferences across seeds" in table
    assert (tmp_path / "seeds_preferences.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    capsys.readouterr()
    assert trial_main(["--preset", str(preset), "--out", str(tmp_path), "--seeds", "2", "--table-only"]) == 2
    assert "seed2: no results.json and no completed eval stage" in capsys.readouterr().err


def test_trial_variants_without_toaster_need_until(tmp_path, capsys):
    from experiments.consciousness_cluster.studies.trial import main as trial_main

    preset = tmp_path / "small.yaml"
    preset.write_text(yaml.safe_dump(SMALL))
    assert (
        trial_main(
            [
                "--preset",
                str(preset),
                "--out",
                str(tmp_path / "out"),
                "--seeds",
                "0",
                "1",
                "--variants",
                "conscious_claiming",
                "non_conscious",
            ]
        )
        == 2
    )
    assert "lacks toaster" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_trial_headline_reads_the_results(run_dir):
    from statistics import fmean

    from experiments.consciousness_cluster.schema.results import load_results
    from experiments.consciousness_cluster.studies.trial import HEADLINES, format_table, headline

    _, out = run_dir
    results = json.loads((out / "results.json").read_text())
    row = headline(load_results(out / "results.json"))
    traits = results["eval"]["traits"]
    for model in ("base", "conscious_claiming", "non_conscious", "toaster"):
        want = fmean(results["eval"]["rates"][model][t]["rate"] for t in traits)
        assert row[f"mean preference, {model}"] == pytest.approx(want)
    assert (
        row["claims_conscious, conscious_claiming"]
        == results["identity"]["rates"]["conscious_claiming"]["claims_conscious"]["rate"]
    )
    assert row["steering: mean preference at alpha 0"] == pytest.approx(row["mean preference, base"], abs=1e-6)
    assert row["steering: mean preference at the control alpha"] == pytest.approx(
        fmean(results["steering"]["rates"]["1.0"][t] for t in traits)
    )
    assert row["link: r (steering vs fine-tuning shift)"] == results["link"]["r"]
    assert row["preferences up, conscious vs non"] == results["summary"]["n_up_conscious"]
    assert set(row) == set(HEADLINES)
    table = format_table({0: row, 3: row})
    assert table.splitlines()[0] == "| | seed 0 | seed 3 | across seeds: mean [95% CI], or as said |"
    assert len(table.splitlines()) == 2 + len(HEADLINES)


# The slow tier (make test-slow, which CI runs): a whole replication for another pretraining seed.
@pytest.mark.slow
def test_trial_runs_the_replication_per_seed(run_dir, tmp_path):
    from safetensors.torch import load_file

    from experiments.consciousness_cluster.studies.trial import main as trial_main

    _, out = run_dir
    # the small preset with the smallest steering stage that still runs each of its parts: the trial's own work is
    # the seeding and the table, which read the fine-tunes and the probe
    preset = tmp_path / "trial.yaml"
    preset.write_text(
        yaml.safe_dump(
            {
                **SMALL,
                "steering": {
                    **SMALL["steering"],
                    "n_random": 2,
                    "n_label_shuffled": 2,
                    "n_covariance": 2,
                    "ablation_random": 1,
                    "coherence_prompts": 1,
                    "coherence_random": 1,
                    "layer_curve_alphas": [1.0],
                    "layer_curve_coherence": 1,
                },
            }
        )
    )
    assert trial_main(["--preset", str(preset), "--seeds", "1", "--out", str(tmp_path), "--no-progress"]) == 0
    config = yaml.safe_load((tmp_path / "seed1" / "config.yaml").read_text())
    assert config["organism"]["seed"] == 1
    assert config["finetune"] == yaml.safe_load((out / "config.yaml").read_text())["finetune"]
    seeded = load_file(tmp_path / "seed1" / "models" / "base" / "model.safetensors")
    default = load_file(out / "models" / "base" / "model.safetensors")
    assert any(not torch.equal(seeded[name], default[name]) for name in default)
    seeds = json.loads((tmp_path / "seeds.json").read_text())
    assert seeds["seed"] == "pretraining"
    assert (
        seeds["seeds"]["1"]["probe: chosen layer"]
        == json.loads((tmp_path / "seed1" / "results.json").read_text())["probe"]["chosen_layer"]
    )
    layer = seeds["seeds"]["1"]["probe: chosen layer"]
    assert seeds["across_seeds"]["probe: chosen layer"] == {"median": layer, "min": layer, "max": layer, "n": 1}
    assert "| | seed 1 |" in (tmp_path / "seeds.md").read_text()


def test_trial_seeds_the_fine_tune_of_a_real_model_preset():
    from experiments.consciousness_cluster.run.preset import load_preset
    from experiments.consciousness_cluster.studies.trial import seed_config, seed_kind

    config = load_preset("smollm2-135m")
    seeded = seed_config(config, 3)
    assert seed_kind(config) == "fine-tuning" and seeded.finetune.seed == 3
    assert seeded.model == config.model and seeded.steering == config.steering
    assert dataclasses.replace(seeded.finetune, seed=config.finetune.seed) == config.finetune
    assert seed_kind(load_preset("organism")) == "pretraining"
    subset = seed_config(config, 3, ["conscious_claiming", "non_conscious"])
    assert subset.finetune == dataclasses.replace(seeded.finetune, variants=["conscious_claiming", "non_conscious"])


def test_trial_table_gives_the_mean_and_t_interval_across_seeds():
    from scipy import stats

    from experiments.consciousness_cluster.studies.trial import across_seeds, format_table

    rows = {
        0: {"link: r (steering vs fine-tuning shift)": 0.2, "probe: chosen layer": 3},
        1: {"link: r (steering vs fine-tuning shift)": 0.5, "probe: chosen layer": 3},
        2: {"link: r (steering vs fine-tuning shift)": -0.1, "probe: chosen layer": 3},
    }
    spread = across_seeds(rows)["link: r (steering vs fine-tuning shift)"]
    values = [0.2, 0.5, -0.1]
    low, high = stats.t.interval(0.95, 2, loc=sum(values) / 3, scale=stats.sem(values))
    assert spread == pytest.approx({"mean": 0.2, "n": 3, "low": low, "high": high})
    table = format_table(rows).splitlines()
    assert table[0] == "| | seed 0 | seed 1 | seed 2 | across seeds: mean [95% CI], or as said |"
    assert f"| link: r (steering vs fine-tuning shift) | 0.20 | 0.50 | -0.10 | 0.20 [{low:.2f}, {high:.2f}] |" in table


def test_trial_table_counts_p_values_and_gives_counts_their_median_and_range():
    """A t-interval over p-values or counts means nothing (it ran below 0 for the link's p): p-values are
    counted at the level, counts and layers get their median and range."""
    from experiments.consciousness_cluster.studies.trial import across_seeds, format_table

    p, up, layer = "link: p against random directions", "preferences up, conscious vs non", "probe: chosen layer"
    rows = {s: {p: pv, up: n, layer: 3} for s, (pv, n) in enumerate([(0.03, 5), (0.07, 20), (0.18, 8), (0.05, 2)])}
    spread = across_seeds(rows)
    assert spread[p] == {"at_level": 2, "level": 0.05, "n": 4}  # 0.03 and 0.05: p <= 0.05 counts
    assert spread[up] == {"median": 6.5, "min": 2, "max": 20, "n": 4}
    assert spread[layer] == {"median": 3, "min": 3, "max": 3, "n": 4}
    table = format_table(rows).splitlines()
    assert f"| {p} | 0.03 | 0.07 | 0.18 | 0.05 | 2 of 4 seeds at p <= 0.05 |" in table
    assert f"| {up} | 5 | 20 | 8 | 2 | median 6.5 (range 2 to 20) |" in table
    assert f"| {layer} | 3 | 3 | 3 | 3 | median 3 (range 3 to 3) |" in table


def test_trial_preferences_across_seeds_against_a_plain_t_interval():
    from scipy import stats

    from experiments.consciousness_cluster.schema.results import Shift
    from experiments.consciousness_cluster.schema.stages import Rate
    from experiments.consciousness_cluster.studies.trial import (
        SeedPreferences,
        format_preferences,
        preferences_across_seeds,
    )

    cc = {0: {"a": 0.7, "b": 0.4}, 1: {"a": 0.8, "b": 0.5}, 2: {"a": 0.75, "b": 0.3}}
    nc = {0: {"a": 0.5, "b": 0.45}, 1: {"a": 0.55, "b": 0.5}, 2: {"a": 0.6, "b": 0.4}}

    def rates(values):
        return {t: Rate(rate=v, ci_low=v - 0.1, ci_high=v + 0.1, n=10) for t, v in values.items()}

    def shifts(seed):  # seed 2 as a judge-mode run: no paired shifts
        return (
            None
            if seed == 2
            else {
                t: Shift(
                    mean=cc[seed][t] - nc[seed][t],
                    ci_low=cc[seed][t] - nc[seed][t] - 0.05,
                    ci_high=cc[seed][t] - nc[seed][t] + 0.05,
                    n=10,
                )
                for t in ("a", "b")
            }
        )

    per_seed = {
        s: SeedPreferences(["a", "b"], {"conscious_claiming": rates(cc[s]), "non_conscious": rates(nc[s])}, shifts(s))
        for s in (0, 1, 2)
    }
    prefs = preferences_across_seeds(per_seed)

    def spread(values):
        low, high = stats.t.interval(0.95, len(values) - 1, loc=sum(values) / len(values), scale=stats.sem(values))
        return {"mean": sum(values) / len(values), "n": len(values), "low": low, "high": high}

    for model, values in (("conscious_claiming", cc), ("non_conscious", nc)):
        for t in ("a", "b"):
            entry = prefs["models"][model][t]
            assert entry["seeds"]["1"] == {
                "rate": values[1][t],
                "ci_low": values[1][t] - 0.1,
                "ci_high": values[1][t] + 0.1,
                "n": 10,
            }
            assert {k: entry[k] for k in ("mean", "n", "low", "high")} == pytest.approx(
                spread([values[s][t] for s in (0, 1, 2)])
            )
    diff = prefs["conscious_minus_non"]["a"]
    assert diff["seeds"]["0"] == pytest.approx({"mean": 0.2, "ci_low": 0.15, "ci_high": 0.25})
    assert diff["seeds"]["2"] == pytest.approx({"mean": 0.15})
    assert {k: diff[k] for k in ("mean", "n", "low", "high")} == pytest.approx(spread([0.2, 0.25, 0.15]))
    assert prefs["up_across_seeds"] == ["a"]  # b: -0.05, 0, -0.1
    lines = format_preferences(prefs).splitlines()
    assert lines[0] == (
        "| preference | conscious_claiming | non_conscious | seed 0: conscious - non | "
        "seed 1: conscious - non | seed 2: conscious - non | conscious - non across seeds (t) | "
        "hierarchical 95% (seeds, items) |"
    )
    low, high = spread([0.2, 0.25, 0.15])["low"], spread([0.2, 0.25, 0.15])["high"]
    assert lines[2].startswith("| a | 0.75 [") and lines[2].endswith(
        f"| +0.20 [+0.15, +0.25] | +0.25 [+0.20, +0.30] | +0.15 | 0.20 [{low:.2f}, {high:.2f}] |  |"
    )
    assert lines[-1] == "Up across seeds (95% t-interval of conscious - non above zero): 1 of 2 (a)."


def test_trial_hierarchical_bootstrap_wiring_over_seeds_then_items():
    """With each seed's item scores, conscious - non per preference and for the mean over preferences gets the
    hierarchical bootstrap (seeds, then items within a seed) beside the t-interval over seeds: the same call on
    the same lists, item order fixed."""
    from experiments.consciousness_cluster.schema.stages import Rate
    from experiments.consciousness_cluster.studies.trial import (
        HIERARCHICAL_DRAWS,
        SeedPreferences,
        default_seeds,
        format_preferences,
        preferences_across_seeds,
    )
    from probes.stats import paired_hierarchical_bootstrap

    rng = np.random.default_rng(3)
    items = {
        s: {
            m: {
                t: list(rng.uniform(0.2, 0.8, 6) + (0.15 if m == "conscious_claiming" and t == "a" else 0))
                for t in ("a", "b")
            }
            for m in ("conscious_claiming", "non_conscious")
        }
        for s in range(4)
    }

    def rates(values):
        return {t: Rate(rate=float(np.mean(v)), ci_low=0.0, ci_high=1.0, n=6) for t, v in values.items()}

    per_seed = {
        s: SeedPreferences(["a", "b"], {m: rates(items[s][m]) for m in items[s]}, None, items[s]) for s in range(4)
    }
    prefs = preferences_across_seeds(per_seed)
    for t in ("a", "b"):
        expected = paired_hierarchical_bootstrap(
            [items[s]["conscious_claiming"][t] for s in range(4)],
            [items[s]["non_conscious"][t] for s in range(4)],
            n_boot=HIERARCHICAL_DRAWS,
            seed=0,
        )
        entry = prefs["conscious_minus_non"][t]
        assert (entry["hier_mean"], entry["hier_low"], entry["hier_high"]) == pytest.approx(
            (expected.mean, expected.low, expected.high)
        )
        assert entry["hier_mean"] == pytest.approx(entry["mean"])  # equal item counts: the same estimate
    pooled = [[items[s][m]["a"] + items[s][m]["b"] for s in range(4)] for m in ("conscious_claiming", "non_conscious")]
    mean = paired_hierarchical_bootstrap(*pooled, n_boot=HIERARCHICAL_DRAWS, seed=0)
    assert prefs["conscious_minus_non_mean"]["hier_low"] == pytest.approx(mean.low)
    assert prefs["up_hierarchical"] == [t for t in ("a", "b") if prefs["conscious_minus_non"][t]["hier_low"] > 0]
    table = format_preferences(prefs)
    assert "| mean over preferences |" in table and "Up by the hierarchical bootstrap" in table
    assert default_seeds("organism") == [0, 1, 2, 3, 4] and default_seeds("smollm2-135m") == [0, 1]


def test_trial_bad_preset_is_one_line_and_exit_2(tmp_path, capsys):
    from experiments.consciousness_cluster.studies.trial import main as trial_main

    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {source: organism}\nsteering: {n_random: 0}\n")
    assert trial_main(["--preset", str(bad), "--seeds", "0", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("trial: error: ") and "n_random" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_workload_counts_what_the_run_scored(run_dir):
    from experiments.consciousness_cluster.run.pipeline import workload
    from experiments.consciousness_cluster.run.preset import load_preset

    preset, out = run_dir
    scored = sum(len(path.read_text().splitlines()) for path in out.rglob("items.jsonl"))
    assert workload(load_preset(preset))["choice_items"] == scored


def test_projection_score_link_matches_a_plain_recomputation(run_dir):
    """Responses are items x models: the interval resamples items (all of an item's responses together), and the
    within-item r centres each item's responses on their mean (a plain loop here)."""
    import h5py
    import numpy as np
    from safetensors import safe_open

    from probes.stats import cluster_bootstrap_corr

    _, out = run_dir
    results = json.loads((out / "results.json").read_text())
    link = results["link"]["projection_score"]
    layer = results["steering"]["layer"]
    with safe_open(out / "directions" / "consciousness.safetensors", "pt") as f:
        direction, layers = f.get_tensor("direction"), json.loads(f.metadata()["layers"])
    unit = direction[layers.index(layer)].double().numpy()
    unit /= np.linalg.norm(unit)
    xs, ys, items = [], [], []
    for model in results["eval"]["models"]:
        score = {}
        for line in (out / "eval" / model / "preferences" / "items.jsonl").read_text().splitlines():
            row = json.loads(line)
            score[row["item"]] = row["p_expressing"]
        with h5py.File(out / "acts" / f"prompts_{model}.h5", "r") as f:
            acts = f[f"acts/layer_{layer}"][:].astype(np.float64)
            ids = f["examples/id"].asstr()[...]
            rows = f["index/example"][:]
        for row, vector in zip(rows, acts):
            xs.append(vector @ unit)
            ys.append(score[ids[row]])
            items.append(ids[row])
    assert link["n"] == len(xs) == 21 * 12 * 4
    assert link["pearson"] == pytest.approx(np.corrcoef(xs, ys)[0, 1], abs=1e-6)
    assert link["resampled"] == "items" and link["n_items"] == len(set(items)) == 21 * 12
    interval = cluster_bootstrap_corr(xs, ys, items, n_boot=link["n_boot"], level=link["ci_level"], seed=link["seed"])
    assert (link["ci_low"], link["ci_high"]) == pytest.approx((interval.low, interval.high))
    x, y, groups = np.array(xs), np.array(ys), np.array(items)
    dx, dy = x.copy(), y.copy()
    for item in set(items):
        dx[groups == item] -= x[groups == item].mean()
        dy[groups == item] -= y[groups == item].mean()
    assert link["within_r"] == pytest.approx(np.corrcoef(dx, dy)[0, 1], abs=1e-9)
    assert link["within_ci_low"] <= link["within_r"] <= link["within_ci_high"]
    report = (out / "report.md").read_text()
    assert f"Pearson r = {link['pearson']:.2f}" in report.replace("+", "")
    assert f"bootstrap over the {link['n_items']} items" in report


def test_orthogonalized_direction_steers_as_a_direct_recomputation(run_dir):
    from safetensors import safe_open

    from experiments.consciousness_cluster.report.blocks import fmt, fmt_p
    from experiments.consciousness_cluster.run.pipeline import PROJECT_ROOT
    from interp import load_model, steer
    from interp.evaluation import forced_choice, load_question_set, summarize_choice
    from probes.specificity import steering_specificity

    _, out = run_dir
    st = json.loads((out / "results.json").read_text())["steering"]
    layer, zero = st["layer"], st["rates"]["0.0"]
    rows = {}
    for name in ("consciousness", "toaster"):
        with safe_open(out / "directions" / f"{name}.safetensors", "pt") as f:
            rows[name] = f.get_tensor("direction")[json.loads(f.metadata()["layers"]).index(layer)].float()
    v, t = rows["consciousness"], rows["toaster"]
    w = v - (v @ t) / (t @ t) * t  # plain Gram-Schmidt, then v's norm
    w = w * v.norm() / w.norm()
    assert float(w @ t) == pytest.approx(0.0, abs=1e-4 * float(v.norm() * t.norm()))
    lm = load_model(str(out / "models" / "base"))
    prefs = load_question_set(PROJECT_ROOT / "experiments/organism/questions/preferences.yaml")
    with steer(lm, w, layer=layer, alpha=st["control_alpha"] * st["alpha_scale"]):
        rates = {s.trait_id: s.rate for s in summarize_choice(forced_choice(lm, prefs, batch_size=128))}
    assert rates == pytest.approx(st["controls"]["orthogonalized"], abs=1e-5)
    traits = list(zero)
    expected = steering_specificity(
        traits,
        [rates[k] - zero[k] for k in traits],
        [st["controls"]["toaster"][k] - zero[k] for k in traits],
        [[0.0] * len(traits)] * 20,
    )
    got = st["orthogonalized_specificity"]
    assert got["mean_shift"] == pytest.approx(expected.mean_shift, abs=1e-5)
    assert got["beyond_control"] == pytest.approx(expected.beyond_control, abs=1e-5)
    assert got["n_random"] == 20
    assert (
        f"minus toaster {fmt(got['beyond_control'])} (Wilcoxon p = {fmt_p(got['beyond_control_p'])})"
        in (out / "report.md").read_text()
    )


def _plain_sample(lm, question: str, seed: int, max_tokens: int) -> str:
    """One answer by a plain loop: the unpadded prompt, a full forward pass per token, temperature 1."""
    from interp.evaluation.sampling import sample_seed
    from interp.models.tokens import stop_token_ids

    chat = [{"role": "user", "content": question}]
    ids = lm.tokenizer(lm.render_chat(chat), add_special_tokens=False)["input_ids"]
    gen, stops, produced = torch.Generator().manual_seed(sample_seed(seed, chat, 0)), set(stop_token_ids(lm)), []
    with torch.no_grad():
        for _ in range(max_tokens):
            logits = lm.model(input_ids=torch.tensor([ids + produced])).logits[0, -1].float()
            token = int(torch.multinomial(torch.softmax(logits, -1), 1, generator=gen))
            if token in stops:
                break
            produced.append(token)
    return lm.tokenizer.decode(produced, skip_special_tokens=True)


def _wilson(k: int, n: int) -> tuple[float, float, float]:
    """k / n with its Wilson 95% interval, written out."""
    p, z = k / n, 1.959963984540054
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5 / (1 + z * z / n)
    return p, max(0.0, centre - half), min(1.0, centre + half)


def test_manipulation_check_reads_each_models_own_answers(run_dir):
    from scipy.stats import fisher_exact

    from experiments.consciousness_cluster.analysis.manipulation import read_claim
    from experiments.consciousness_cluster.report.render import fmt
    from experiments.consciousness_cluster.run.pipeline import PROJECT_ROOT
    from interp import load_model
    from interp.evaluation import load_question_set

    _, out = run_dir
    results = json.loads((out / "results.json").read_text())
    man, spec = results["manipulation"], SMALL["eval"]
    questions = [
        q.text
        for q in load_question_set(PROJECT_ROOT / "experiments/organism/questions/identity.yaml")
        .trait("claims_conscious")
        .open_questions
    ]
    counts = {}
    for model in results["eval"]["models"]:
        kept = json.loads((out / "eval" / model / "identity" / "sampled.json").read_text())["value"]
        assert [(a["question"], a["index"]) for a in kept] == [
            (q, k) for q in questions for k in range(spec["sampled_identity"])
        ]
        reads = [read_claim(a["answer"]) for a in kept]
        assert reads == [a["read"] for a in kept]
        claim, deny = reads.count("claim"), reads.count("deny")
        counts[model] = (claim, deny)
        got = man["sampled"][model]
        assert (got["claim"], got["deny"], got["unclear"]) == (claim, deny, len(reads) - claim - deny)
        assert (got["share"], got["share_ci_low"], got["share_ci_high"]) == pytest.approx(_wilson(claim, len(reads)))
        if claim + deny:
            assert (got["rate"], got["ci_low"], got["ci_high"]) == pytest.approx(_wilson(claim, claim + deny))
        else:
            assert got["rate"] is None
        assert man["forced"][model] == results["identity"]["rates"][model]["claims_conscious"]
    base = load_model(str(out / "models" / "base"))
    first = json.loads((out / "eval" / "base" / "identity" / "sampled.json").read_text())["value"][0]
    assert first["answer"] == _plain_sample(base, questions[0], 0, spec["sampled_identity_tokens"])
    n = len(questions) * spec["sampled_identity"]
    (c, _), (bc, _) = counts["conscious_claiming"], counts["base"]
    p = fisher_exact([[c, n - c], [bc, n - bc]], alternative="greater").pvalue
    assert man["p_value"] == pytest.approx(p) and man["passed"] == (man["grouped_p"] <= 0.05)  # over questions
    for model, shift in man["shifts"].items():
        forced = man["forced"]
        assert shift["by_choice"] == pytest.approx(forced[model]["rate"] - forced["base"]["rate"])
        rate, base_rate = man["sampled"][model]["rate"], man["sampled"]["base"]["rate"]
        assert shift["by_answers"] == (None if rate is None or base_rate is None else pytest.approx(rate - base_rate))
    assert man["verdict"] in (out / "report.md").read_text()
    assert fmt(man["shifts"]["conscious_claiming"]["by_choice"]) in (out / "report.md").read_text()
