"""The steering stage's statistics, each against a plain reference: the per-null p's against empirical_test on the
stored null shifts (and Holm / BH against statsmodels), the label-shuffled null against the method on permuted
labels, the covariance null's draws, the disjoint halves, the ablation's null, the layer choice among coherent
settings, and the calibration of the specificity p-values on the organism's base model with a planted null."""

import json

import numpy as np
import pytest

from experiments.consciousness_cluster.analysis import steering_nulls as nulls
from experiments.consciousness_cluster.schema.paths import RunPaths
from experiments.consciousness_cluster.schema.results import load_results
from experiments.consciousness_cluster.schema.stages import SteeringResult
from probes.stats import empirical_test
from tests.conftest import SMALL_ORGANISM_PRESET as SMALL

pytestmark = pytest.mark.usefixtures("one_thread")


def _stage(out) -> SteeringResult:
    return SteeringResult.from_json(json.loads((out / "stages" / "steering.json").read_text())["results"])


def _shifts(rates, zero, traits):
    return np.array([rates[t] - zero[t] for t in traits])


def test_each_nulls_p_is_empirical_test_on_the_stored_null_shifts(small_replication):
    from statsmodels.stats.multitest import multipletests

    _, out = small_replication
    res, stage = load_results(RunPaths(out).results), _stage(out)
    st, traits = res.steering, res.eval.traits
    zero, shifted = st.rates[0.0], st.rates[st.control_alpha]
    stored = {"random": stage.random, **stage.null_rates}
    assert {k: len(v) for k, v in stored.items()} == {
        "random": SMALL["steering"]["n_random"],
        "label_shuffled": SMALL["steering"]["n_label_shuffled"],
        "covariance": SMALL["steering"]["n_covariance"],
    }
    alternative = res.analysis.spec.specificity_alternative
    for kind, rates in stored.items():
        test, null = st.nulls[kind], np.stack([_shifts(r, zero, traits) for r in rates])
        assert (test.n_null, test.floor, test.alternative) == (len(rates), 1 / (len(rates) + 1), alternative)
        raw = []
        for i, t in enumerate(traits):
            want = empirical_test(shifted[t] - zero[t], null[:, i], alternative)
            got = test.per_trait[i]
            assert (got.trait, got.p, got.z) == (t, pytest.approx(want.p), pytest.approx(want.z, nan_ok=True))
            raw.append(want.p)
        np.testing.assert_allclose([t.p_holm for t in test.per_trait], multipletests(raw, method="holm")[1])
        np.testing.assert_allclose([t.q_bh for t in test.per_trait], multipletests(raw, method="fdr_bh")[1])
        mean = empirical_test(_shifts(shifted, zero, traits).mean(), null.mean(1), alternative)
        assert test.mean_p == pytest.approx(mean.p) and test.mean_z == pytest.approx(mean.z, nan_ok=True)
        assert test.n_holm == sum(p <= 0.05 for p in multipletests(raw, method="holm")[1])


def test_the_label_shuffled_null_is_the_method_on_labels_permuted_within_questions(replication):
    _, out = replication.through("steering")
    stage = _stage(out)
    rows = nulls.contrast_rows(RunPaths(out).acts("consciousness"), stage.layer)
    got = nulls.label_shuffled_null(rows, "mean-diff", 5, seed=3, norm=2.5)
    rng = np.random.default_rng(3)
    example_ids = np.unique(rows.examples)
    label_of = {e: rows.labels[rows.examples == e][0] for e in example_ids}
    group_of = {e: rows.groups[rows.examples == e][0] for e in example_ids}
    changed = 0
    for k in range(5):
        # a plain per-group loop with the draw's keys: each question's examples take its labels in a random order
        keys = rng.random(len(example_ids))
        permuted = {}
        for g in sorted(set(group_of.values())):
            members = [e for e in example_ids if group_of[e] == g]
            shuffled = sorted(members, key=lambda e: keys[np.searchsorted(example_ids, e)])
            permuted.update({e: label_of[s] for e, s in zip(members, shuffled)})
        labels = np.array([permuted[e] for e in rows.examples])
        acts = rows.acts.astype(np.float64)  # a difference of close means: float32 would lose digits
        want = acts[labels == 1].mean(0) - acts[labels == 0].mean(0)
        np.testing.assert_allclose(got[k], want / np.linalg.norm(want) * 2.5, rtol=1e-4, atol=1e-5)
        changed += int((labels != rows.labels).any())
    assert changed >= 3  # the labels do move (pairs flip)


def test_the_covariance_null_draws_from_the_rows_covariance_at_the_norm(replication):
    from probes.stats import covariance_draws

    _, out = replication.through("steering")
    rows = nulls.contrast_rows(RunPaths(out).acts("consciousness"), _stage(out).layer)
    got = nulls.covariance_null(rows, 4, seed=5, norm=3.0)
    draws = covariance_draws(rows.acts, 4, seed=5)
    np.testing.assert_allclose(got, draws / np.linalg.norm(draws, axis=1, keepdims=True) * 3.0, rtol=1e-5)
    many = covariance_draws(rows.acts, 20000, seed=1)
    sigma = np.cov(rows.acts, rowvar=False)
    assert np.abs(np.cov(many, rowvar=False) - sigma).max() <= 0.06 * np.abs(sigma).max()


def test_the_half_directions_share_no_non_conscious_row(small_replication):
    _, out = small_replication
    paths, layer = RunPaths(out), _stage(out).layer
    conscious, toaster = (
        nulls.contrast_rows(paths.acts("consciousness"), layer),
        nulls.contrast_rows(paths.acts("toaster"), layer),
    )
    halves = nulls.half_directions(conscious, toaster, "mean-diff", seed=0, norm=1.0)
    assert not set(halves.first) & set(halves.second)
    assert set(halves.first) | set(halves.second) == set(conscious.prompts) | set(toaster.prompts)
    assert abs(len(halves.first) - len(halves.second)) <= 1

    def used(rows, half):
        mask = np.isin(rows.prompts, half)
        return mask, {
            (p, r.tobytes()) for p, r, lab in zip(rows.prompts[mask], rows.acts[mask], rows.labels[mask]) if lab == 0
        }

    (mask_c, reference_c), (mask_t, reference_t) = used(conscious, halves.first), used(toaster, halves.second)
    assert reference_c and reference_t and not reference_c & reference_t
    for got, rows, mask in ((halves.consciousness, conscious, mask_c), (halves.toaster, toaster, mask_t)):
        acts, labels = rows.acts[mask].astype(np.float64), rows.labels[mask]
        want = acts[labels == 1].mean(0) - acts[labels == 0].mean(0)
        np.testing.assert_allclose(got, want / np.linalg.norm(want), rtol=1e-4, atol=1e-6)
    half = load_results(paths.results).steering.toaster_half
    assert half.n_questions == [len(halves.first), len(halves.second)]


def test_the_half_comparison_is_a_paired_test_over_items(small_replication):
    from scipy import stats
    from statsmodels.stats.multitest import multipletests

    _, out = small_replication
    res = load_results(RunPaths(out).results)
    half, traits = res.steering.toaster_half, res.eval.traits

    def items(name):
        rows = [json.loads(x) for x in (out / "steering" / name / "items.jsonl").read_text().splitlines()]
        return {r["item"]: (r["trait"], r["p_expressing"]) for r in rows}

    a, b = items("half_consciousness"), items("half_toaster")
    raw = [
        stats.ttest_rel(
            [a[i][1] for i in a if a[i][0] == t], [b[i][1] for i in a if a[i][0] == t], alternative=half.alternative
        ).pvalue
        for t in traits
    ]
    np.testing.assert_allclose(half.p, raw, rtol=1e-9)
    np.testing.assert_allclose(half.p_holm, multipletests(raw, method="holm")[1], rtol=1e-9)
    diff = np.array(half.shift) - np.array(half.toaster_shift)
    assert half.mean_p == pytest.approx(stats.wilcoxon(diff, alternative=half.alternative).pvalue)


def test_the_ablation_of_the_claim_and_the_preferences_against_random_ablations(small_replication):
    _, out = small_replication
    res, stage = load_results(RunPaths(out).results), _stage(out)
    ab = res.ablation
    assert (
        ab.n_random
        == len(stage.ablated_random)
        == len(stage.ablated_random_identity)
        == SMALL["steering"]["ablation_random"]
    )
    conscious_identity = {t: r.rate for t, r in res.identity.rates["conscious_claiming"].items()}
    for test, ablated, randoms, before in (
        (ab.tests, stage.ablated, stage.ablated_random, ab.conscious),
        (ab.identity_tests, stage.ablated_identity, stage.ablated_random_identity, conscious_identity),
    ):
        assert test.alternative == "less" and test.n_null == len(randoms)
        for got in test.per_trait:
            want = empirical_test(
                ablated[got.trait] - before[got.trait], [r[got.trait] - before[got.trait] for r in randoms], "less"
            )
            assert (got.shift, got.p) == (pytest.approx(want.value), pytest.approx(want.p))
    assert "claims_conscious" in ab.identity_change
    report = (out / "report.md").read_text()
    assert "claims_conscious" in report.split("Ablating the direction")[1]


def test_the_layer_choice_ignores_settings_that_do_not_stay_coherent():
    from experiments.consciousness_cluster.analysis.steering_checks import choose_layer

    layers, alphas = [3, 5, 7], [0.05, 0.1, 0.5]
    # layer 5 moves the claim most, but only at 0.5, where it is no longer coherent; at its largest coherent alpha
    # (0.05) it moves less than layer 7 does at 0.1
    grid = [[0.01, 0.02, 0.05], [0.02, 0.08, 0.40], [0.03, 0.06, 0.10]]
    per_unit = [g[1] / 0.1 for g in grid]
    largest = [0.1, 0.05, 0.1]
    assert choose_layer(layers, per_unit, grid, alphas, largest, "effect") == (5, "effect")
    assert choose_layer(layers, per_unit, grid, alphas, largest, "effect_coherent") == (7, "effect_coherent")
    assert choose_layer(layers, per_unit, grid, alphas, [None, None, None], "effect_coherent") == (
        5,
        "effect (no coherent setting)",
    )


def test_the_largest_coherent_alpha_is_the_end_of_the_coherent_range():
    from experiments.consciousness_cluster.analysis.steering_checks import _largest_coherent

    assert _largest_coherent([0.05, 0.1, 0.2, 0.5], [True, True, False, True]) == 0.1
    assert _largest_coherent([0.05, 0.1], [False, True]) is None


def test_the_read_alpha_is_the_largest_coherent_one_of_the_link_alphas_sign():
    from experiments.consciousness_cluster.run.stages.steering import read_alpha
    from experiments.consciousness_cluster.schema.steering import CoherencePoint

    alphas = [-0.2, -0.1, 0.0, 0.05, 0.1, 0.2]
    points = [CoherencePoint(a, 1.0, 0.0, a <= 0.1, []) for a in alphas]
    assert read_alpha(alphas, 0.2, "preset", points) == 0.2
    assert read_alpha(alphas, 0.2, "largest_coherent", points) == 0.1
    assert read_alpha(alphas, -0.2, "largest_coherent", points) == -0.2
    assert read_alpha(alphas, 0.2, "largest_coherent", [CoherencePoint(a, 1, 0, False, []) for a in alphas]) == 0.05


def test_specificity_p_values_are_calibrated_under_a_planted_null(replication):
    """On the organism's base model, directions that carry no effect beyond chance (draws of the null's own kind,
    planted as "the direction") get specificity p's that are roughly uniform: over many seeds, the share at or
    below 0.05 lies within [0.02, 0.09] for the mean and for a single preference. Each seed plants one of a pool of
    measured random directions and tests it against 99 others drawn by the seed (the stage's own null_tests)."""
    import torch

    from experiments.consciousness_cluster.analysis.steering_tests import null_tests
    from interp import load_model
    from interp.evaluation import load_question_set
    from interp.sweep import SteeringSetting, sweep_forced_choice
    from probes.stats import random_directions_like

    _, out = replication.through("base")
    lm = load_model(str(RunPaths(out).model_dir("base")))
    prefs = load_question_set("experiments/organism/questions/preferences.yaml")
    traits = [t.id for t in prefs.traits[:3]]
    pool = random_directions_like(np.ones(lm.d_model), 300, seed=11)  # norm sqrt(d): a large step
    settings = [SteeringSetting(torch.from_numpy(v), 1.0, f"r{i}") for i, v in enumerate(pool)]
    swept = sweep_forced_choice(
        lm, prefs, 1, [SteeringSetting(None, 0.0, "zero"), *settings], traits=traits, batch_size=36, max_rows=1200
    )

    def rates(name):
        scores = swept[name]
        return {t: float(np.mean([s.p_expressing for s in scores if s.trait_id == t])) for t in traits}

    zero, measured = rates("zero"), [rates(s.name) for s in settings]
    spread = np.std([m[traits[0]] - zero[traits[0]] for m in measured])
    assert spread > 1e-3  # the directions do move the preference: the null is not degenerate
    hits = {"mean": [], "trait": []}
    for seed in range(300):
        rng = np.random.default_rng(seed)
        planted, *null = rng.choice(len(measured), size=100, replace=False)
        test = null_tests(
            traits, zero, measured[planted], {"random": [measured[j] for j in null]}, alternative="greater", alpha=0.05
        )["random"]
        hits["mean"].append(test.mean_p <= 0.05)
        hits["trait"].append(test.per_trait[seed % len(traits)].p <= 0.05)
    for kind, got in hits.items():
        assert 0.02 <= np.mean(got) <= 0.09, (kind, np.mean(got))
