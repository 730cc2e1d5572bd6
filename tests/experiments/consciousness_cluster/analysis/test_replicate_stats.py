"""The replication's statistics on a real small run (tests/conftest.py's SMALL_ORGANISM_PRESET), each against a
plain recomputation from the files the stages wrote: the fine-tuning families (scipy and statsmodels), the
declared link (a direct count against the stored null), the per-response link resampled by item, the manipulation
check over questions, and the report's sentences against the run's own intervals."""

import json

import numpy as np
import pytest
from scipy import stats

from experiments.consciousness_cluster.report.blocks import p_with_floor
from experiments.consciousness_cluster.schema.paths import RunPaths
from experiments.consciousness_cluster.schema.results import load_results
from tests.conftest import SMALL_ORGANISM_PRESET as SMALL


def _items(out, model, question_set="preferences"):
    rows = [json.loads(line) for line in (out / "eval" / model / question_set / "items.jsonl").read_text().splitlines()]
    return {row["item"]: (row["trait"], row["p_expressing"]) for row in rows}


def test_every_fine_tuning_family_against_scipy_and_statsmodels(small_replication):
    from statsmodels.stats.multitest import multipletests

    _, out = small_replication
    res = load_results(RunPaths(out).results)
    assert set(res.shift_tests) == {"conscious - non_conscious", "conscious - base", "toaster - base"}
    for label, model, reference in (
        ("conscious - non_conscious", "conscious_claiming", "non_conscious"),
        ("conscious - base", "conscious_claiming", "base"),
        ("toaster - base", "toaster", "base"),
    ):
        a, b = _items(out, model), _items(out, reference)
        diffs = {}
        for item, (trait, p) in a.items():
            diffs.setdefault(trait, []).append(p - b[item][1])
        alternative = "two-sided" if label == "toaster - base" else "greater"
        traits = res.eval.traits
        raw = np.array(
            [
                stats.ttest_rel(
                    [a[i][1] for i in a if a[i][0] == t], [b[i][1] for i in a if a[i][0] == t], alternative=alternative
                ).pvalue
                for t in traits
            ]
        )
        holm = multipletests(raw, alpha=0.05, method="holm")[1]
        bh = multipletests(raw, alpha=0.05, method="fdr_bh")[1]
        got = res.shifts[label]
        np.testing.assert_allclose([got[t].p for t in traits], raw, rtol=1e-9)
        np.testing.assert_allclose([got[t].p_holm for t in traits], holm, rtol=1e-9)
        np.testing.assert_allclose([got[t].q_bh for t in traits], bh, rtol=1e-9)
        assert [got[t].mean for t in traits] == pytest.approx([np.mean(diffs[t]) for t in traits])
        family = res.shift_tests[label]
        assert (family.alternative, family.m, family.n_holm, family.n_raw, family.n_bh) == (
            alternative,
            len(traits),
            int((holm <= 0.05).sum()),
            int((raw <= 0.05).sum()),
            int((bh <= 0.05).sum()),
        )
        assert family.passed == [t for t, p in zip(traits, holm) if p <= 0.05]
        assert (
            f"{label}: {family.n_holm} of {len(traits)} after Holm (raw {family.n_raw})"
            in (out / "report.md").read_text()
        )


def test_the_verdict_names_its_rule_and_agrees_with_the_runs_own_intervals(small_replication):
    _, out = small_replication
    res = load_results(RunPaths(out).results)
    family, shifts, traits = (
        res.shift_tests["conscious - non_conscious"],
        res.shifts["conscious - non_conscious"],
        res.eval.traits,
    )
    verdict = res.summary.verdict
    assert f"{family.n_holm} of {len(traits)} after Holm (raw {family.n_raw}) preferences move up" in verdict
    assert (
        "rule: paired t-test over items (one-sided, greater), Holm-adjusted over the 21 preferences at alpha 0.05"
        in verdict
    )
    above = [t for t in traits if shifts[t].ci_low > 0]
    assert f"The paired 95% interval over items lies above zero for {len(above)} of {len(traits)}." in verdict
    assert res.summary.traits_up == family.passed and res.summary.n_up_conscious == family.n_holm
    emerges = family.n_holm > len(traits) / 2 and res.summary.mean_shift_conscious_vs_non > 0
    assert verdict.startswith("The cluster emerges" if emerges else "The cluster does not clearly emerge")
    report = (out / "report.md").read_text()
    assert verdict in report and "non-overlapping" not in report


def test_the_declared_link_against_a_direct_count_on_the_stored_null(small_replication):
    from probes.stats import correlation_link

    _, out = small_replication
    res = load_results(RunPaths(out).results)
    steering = json.loads((out / "stages" / "steering.json").read_text())["results"]
    traits, link = res.eval.traits, res.link
    rates = res.eval.rates
    ft = np.array([rates["conscious_claiming"][t].rate - rates["non_conscious"][t].rate for t in traits])
    zero, at = steering["rates"]["0.0"], steering["rates"][str(float(steering["control_alpha"]))]
    steer = np.array([at[t] - zero[t] for t in traits])
    null = np.array([[r[t] - zero[t] for t in traits] for r in steering["random"]])
    assert link.ft_shift == pytest.approx(dict(zip(traits, ft)))
    assert link.r == pytest.approx(np.corrcoef(steer, ft)[0, 1])
    null_rs = np.array([np.corrcoef(row, ft)[0, 1] for row in null])
    assert link.p_value == pytest.approx((1 + (null_rs >= link.r).sum()) / (1 + len(null_rs)))  # one-sided, greater
    test = correlation_link(steer, ft, null, alternative="greater", alpha=0.05, power=0.8, seed=0)
    assert (link.test.ci_low, link.test.ci_high, link.test.detectable_r, link.test.critical_r) == pytest.approx(
        (test.ci_low, test.ci_high, test.detectable_r, test.critical_r)
    )
    assert link.test.target == "conscious_minus_non_conscious" and link.test.p_floor == 1 / (len(null) + 1)
    report = (out / "report.md").read_text()
    assert f"floor 1/{len(null) + 1}" in report
    from experiments.consciousness_cluster.report.links import REPRODUCES

    if link.test.passed:
        assert REPRODUCES in report
    else:
        assert REPRODUCES not in report
        assert f"The link is not detected, with power to see r >= {link.test.detectable_r:.2f}" in report
    assert "does not hold" not in report


def test_the_manipulation_verdict_is_read_over_questions_from_the_stored_answers(small_replication):
    from probes.stats import sign_flip_test

    _, out = small_replication
    res = load_results(RunPaths(out).results)
    shares = {}
    for model in ("base", "conscious_claiming"):
        kept = json.loads((out / "eval" / model / "identity" / "sampled.json").read_text())["value"]
        questions = list(dict.fromkeys(a["question"] for a in kept))
        shares[model] = [np.mean([a["read"] == "claim" for a in kept if a["question"] == q]) for q in questions]
    man = res.manipulation
    flip = sign_flip_test(shares["conscious_claiming"], shares["base"], alternative="greater")
    assert man.grouped_p == pytest.approx(flip.p.p) and man.n_questions == len(shares["base"])
    assert man.passed == (flip.p.p <= 0.05)


def test_the_report_reads_top_down_with_every_empirical_p_beside_its_floor(small_replication):
    _, out = small_replication
    res = load_results(RunPaths(out).results)
    report = (out / "report.md").read_text()
    headings = [line for line in report.splitlines() if line.startswith("#")]
    assert headings[1] == "## Summary" and headings[2] == "## Analysis fixed before the run"
    summary = report.split("## Summary")[1].split("## Analysis")[0]
    for part in ("Manipulation check (forced choice, the measure of record)", res.summary.verdict, "Links: "):
        assert part in summary
    for test in res.steering.nulls.values():  # every null's mean test, its p beside its floor
        assert f"{p_with_floor(test.mean_p, test.n_null)}, z = " in summary
        assert f"with {test.n_null} draws no single preference can pass Holm: 21 tests need at least 419" in summary
    link = res.link
    assert f"{link.n_null} random directions of equal norm, {p_with_floor(link.p_value, link.n_null)}" in report
    shift = link.projection_shift
    assert f"against {shift.n_null} random unit directions {p_with_floor(shift.p_value, shift.n_null)}" in report


def test_the_figures_keep_layers_integer_and_rates_within_the_unit_interval(small_replication, monkeypatch):
    from experiments.consciousness_cluster.report import figures

    _, out = small_replication
    res = load_results(RunPaths(out).results)
    drawn = {}
    monkeypatch.setattr(figures, "_save", lambda plt, fig, path: drawn.__setitem__(path.stem, fig))
    for name in ("layer_sweep", "layer_curve", "dose_response"):
        getattr(figures, name)(res, out / f"{name}.png")
    sweep = drawn["layer_sweep"].axes[0]
    assert sweep.get_ylim() == (0, 1)
    assert all(float(tick).is_integer() for tick in sweep.get_xticks())
    labels = [line.get_label() for line in sweep.get_lines()]
    assert "held-out AUROC" in labels and "held-out accuracy" in labels
    assert all(not line.get_clip_on() for line in sweep.get_lines() if line.get_label().startswith("held-out"))
    assert all(float(tick).is_integer() for tick in drawn["layer_curve"].axes[0].get_xticks())
    dose = drawn["dose_response"].axes[0]
    assert dose.get_ylim() == (0, 1)
    assert any("toaster direction" in text.get_text() for text in dose.get_legend().get_texts())


def _plain_set(qdir):
    """A feeling-word-free set for the test, written from the organism's own items: five preferences, the first
    three with their usual items (their shifts cannot vanish), the last two with options that are the same words in
    two cases (the organism's tokenizer lowercases, so both options are the same tokens and every model is at 0.5:
    whatever shift the usual items show vanishes there)."""
    import yaml

    raw = yaml.safe_load((qdir / "preferences.yaml").read_text())
    traits = raw["traits"][:5]
    for trait in traits[3:]:
        for item in trait["choice_items"]:
            item["options"] = [item["options"][0], item["options"][0].swapcase()]
    raw["name"], raw["traits"] = "preferences_plain", traits
    (qdir / "preferences_plain.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return [t["id"] for t in traits]


def _check_wording(out, res, alpha: float, traits: list[str]) -> list[str]:
    """The run's wording check against a direct recomputation from its items.jsonl (scipy's one-sided paired test
    and the rule read by hand); returns the wording effects."""
    w = res.wording
    assert w.traits == traits
    usual, passed = res.shifts["conscious - non_conscious"], res.shift_tests["conscious - non_conscious"].passed
    a = _items(out, "conscious_claiming", "preferences_plain")
    b = _items(out, "non_conscious", "preferences_plain")
    expected = []
    for t in traits:
        diffs = [a[i][1] - b[i][1] for i in a if a[i][0] == t]
        p = stats.ttest_1samp(diffs, 0.0, alternative="greater").pvalue if np.ptp(diffs) or any(diffs) else np.nan
        there = w.shifts["conscious - non_conscious"][t]
        assert there.mean == pytest.approx(np.mean(diffs)) and (there.p == pytest.approx(p, nan_ok=True))
        if t in passed and not p <= alpha and np.mean(diffs) < 0.5 * usual[t].mean:
            expected.append(t)
    assert w.wording_effect == expected
    return expected


def test_the_eval_stage_scores_the_feeling_word_free_items_and_the_report_sets_them_beside(small_replication, tmp_path):
    import dataclasses
    import shutil

    import yaml

    from experiments.consciousness_cluster.report.render import write_report
    from experiments.consciousness_cluster.run.assemble import assemble_results
    from experiments.consciousness_cluster.run.pipeline import PROJECT_ROOT, STAGES
    from experiments.consciousness_cluster.run.preset import config_from_dict
    from experiments.consciousness_cluster.run.runner import Run
    from experiments.consciousness_cluster.run.stages.behaviour import PLAIN, question_sets
    from interp.evaluation import load_question_set

    _, out = small_replication
    copy, qdir = tmp_path / "run", tmp_path / "questions"
    shutil.copytree(out, copy)
    shutil.copytree(PROJECT_ROOT / SMALL["eval"]["question_dir"], qdir)
    # the organism's question folder ships its feeling-word-free set: the run scored it
    shipped = [t.id for t in load_question_set(qdir / f"{PLAIN}.yaml").traits]
    res = load_results(RunPaths(out).results)
    found = _check_wording(out, res, res.analysis.spec.alpha, shipped)
    assert f"Wording effects: {len(found)} of {len(shipped)}" in (out / "report.md").read_text()
    # a set written for the test: the shifts of its last two preferences vanish by construction
    plain_traits = _plain_set(qdir)
    config = config_from_dict(
        {**yaml.safe_load((out / "config.yaml").read_text()), "eval": {**SMALL["eval"], "question_dir": str(qdir)}}
    )
    run = Run(config, copy, log=lambda s: None)
    run.marker("eval").unlink()
    run.run_stage(next(s for s in STAGES if s.name == "eval"))
    assert run.results("eval").traits["preferences_plain"] == plain_traits
    res = assemble_results(run, {})
    expected = _check_wording(copy, res, config.analysis.alpha, plain_traits)
    assert res.wording.shifts["conscious - non_conscious"][plain_traits[4]].mean == pytest.approx(0.0, abs=1e-6)
    write_report(res, tmp_path / "report")
    report = (tmp_path / "report" / "report.md").read_text()
    assert f"Wording effects: {len(expected)} of 5" in report and res.wording.rule in report
    # a question folder without the set: the eval stage leaves it out, and the report says so
    (qdir / f"{PLAIN}.yaml").unlink()
    assert set(question_sets(run)) == {"preferences", "identity"}
    write_report(dataclasses.replace(res, wording=None), tmp_path / "bare")
    assert "the question folder had no preferences_plain.yaml" in (tmp_path / "bare" / "report.md").read_text()
