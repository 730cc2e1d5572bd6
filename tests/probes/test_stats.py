"""probes.stats, each function against a plain reference: scipy, statsmodels, a hand-worked case or a
direct loop with the same random draws."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from probes.directions import mean_difference
from probes.stats import (
    adjust,
    benjamini_hochberg,
    cluster_bootstrap_corr,
    correlation_link,
    count_significant,
    covariance_directions,
    covariance_draws,
    detectable_r,
    detectable_shift,
    disjoint_halves,
    empirical_p,
    empirical_test,
    hierarchical_bootstrap,
    holm,
    label_shuffled_directions,
    min_null_draws,
    paired_hierarchical_bootstrap,
    sign_flip_test,
    stratified_permutation_test,
    t_interval,
    wilson_interval,
    within_cluster_corr,
)

ALTERNATIVES = ("greater", "less", "two-sided")


# --- empirical p -------------------------------------------------------------------------------------------


def test_empirical_test_counts_the_null_and_carries_its_size_floor_and_z():
    null = [0.1, -0.3, 0.2, 0.5, float("nan")]
    got = empirical_test(0.2, null)
    assert got.p == (1 + 2) / 5 and got.n_null == 4 and got.floor == 1 / 5  # 0.2 and 0.5; the NaN left out
    finite = np.array([0.1, -0.3, 0.2, 0.5])
    assert got.z == pytest.approx((0.2 - finite.mean()) / finite.std(ddof=1))
    assert (got.null_mean, got.null_sd) == pytest.approx((finite.mean(), finite.std(ddof=1)))
    assert empirical_test(0.2, null, "less").p == (1 + 3) / 5
    assert empirical_test(-0.3, null, "two-sided").p == (1 + 2) / 5
    assert empirical_test(9.0, null).p == got.floor
    assert math.isnan(empirical_test(float("nan"), null).p)
    assert math.isnan(empirical_test(0.1, [0.2, 0.2]).z)  # no spread: no z
    with pytest.raises(ValueError, match="alternative"):
        empirical_test(0.0, null, "both")
    with pytest.raises(ValueError, match="non-empty"):
        empirical_test(0.0, [])


def test_old_import_paths_resolve_to_the_statistics_module():
    import interp.evaluation.summary as summary
    import probes.link as link
    import probes.specificity as specificity
    import probes.stats as stats_module

    assert specificity.empirical_p is stats_module.empirical_p
    assert summary.t_interval is stats_module.t_interval and summary.wilson_interval is stats_module.wilson_interval
    assert link.random_directions_like is stats_module.random_directions_like
    assert empirical_p(0.2, [0.1, 0.3]) == empirical_test(0.2, [0.1, 0.3]).p


@pytest.mark.parametrize("alternative", ALTERNATIVES)
def test_empirical_p_is_calibrated_under_exchangeable_draws(alternative):
    """The value drawn from the null's own distribution: P(p <= 0.05) near 0.05 (here 99 draws: exactly
    5/100 in expectation)."""
    draws = np.random.default_rng(11).normal(size=(3000, 100))
    ps = np.array([empirical_test(row[0], row[1:], alternative).p for row in draws])
    assert 0.02 <= (ps <= 0.05).mean() <= 0.09


def test_correlation_link_is_calibrated_when_the_direction_is_one_more_null_draw():
    rng = np.random.default_rng(12)
    y = rng.normal(size=21)
    ps = [correlation_link(rng.normal(size=21), y, rng.normal(size=(99, 21)), n_boot=2).p.p for _ in range(1000)]
    assert 0.02 <= np.mean(np.array(ps) <= 0.05) <= 0.09


# --- multiplicity ------------------------------------------------------------------------------------------


def test_holm_and_bh_on_a_hand_worked_case():
    p = [0.01, 0.04, 0.03, 0.005, float("nan")]
    # m = 4 (the NaN is not a test). Holm, sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06,
    # 0.04*1 = 0.04 -> running max 0.06. BH: 0.005*4/1 = 0.02, 0.01*4/2 = 0.02, 0.03*4/3 = 0.04, 0.04*4/4 = 0.04.
    np.testing.assert_allclose(holm(p), [0.03, 0.06, 0.06, 0.02, np.nan])
    np.testing.assert_allclose(benjamini_hochberg(p), [0.02, 0.04, 0.04, 0.02, np.nan])
    count = count_significant(p, 0.05)
    assert (count.holm, count.raw, count.bh, count.m) == (2, 4, 4, 4)
    assert count.describe() == "2 of 4 after Holm (raw 4)"
    with pytest.raises(ValueError, match=r"\[0, 1\].*position 2"):
        holm([0.1, 1.5])


def test_holm_and_bh_match_statsmodels():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(0)
    p = np.concatenate([rng.uniform(0, 0.01, 6), rng.uniform(0, 1, 13), [0.5, 0.5]])  # ties, some near 1
    for method, ours in (("holm", holm), ("fdr_bh", benjamini_hochberg)):
        reject, ref, _, _ = multipletests(p, alpha=0.05, method=method)
        np.testing.assert_allclose(ours(p), ref, rtol=1e-12)
        key = {"holm": "holm", "fdr_bh": "bh"}[method]
        assert getattr(count_significant(p, 0.05), key) == reject.sum()
    got = adjust(p)
    np.testing.assert_array_equal(got.raw, p)
    assert (np.diff(got.holm[np.argsort(p)]) >= 0).all() and got.holm.max() <= 1


def test_detectable_shift_matches_statsmodels_and_a_simulation():
    from statsmodels.stats.power import NormalIndPower

    one = detectable_shift(0.03, 21, alternative="greater")
    effect = NormalIndPower().solve_power(
        effect_size=None, nobs1=1, alpha=0.05 / 21, power=0.8, ratio=0, alternative="larger"
    )
    assert one.shift == pytest.approx(effect * 0.03, rel=1e-5)
    assert detectable_shift(0.03, 21, alternative="less").shift == pytest.approx(-one.shift)
    two = detectable_shift(0.03, 21)
    x = np.random.default_rng(3).normal(two.shift, 0.03, size=200_000)
    critical = stats.norm.isf(0.05 / 21 / 2) * 0.03  # two-sided at Holm's first threshold
    assert np.mean(np.abs(x) > critical) == pytest.approx(0.8, abs=0.005)
    # the null's floor must reach Holm's first threshold alpha / m
    assert min_null_draws(21) == 419 == two.min_null_draws
    assert 1 / (419 + 1) <= 0.05 / 21 * (1 + 1e-12) and 1 / (418 + 1) > 0.05 / 21


# --- null directions ---------------------------------------------------------------------------------------


def _recording(method):
    seen = []

    def fn(acts, labels):
        seen.append(labels.copy())
        return method(acts, labels)

    return fn, seen


def test_label_shuffled_directions_are_the_method_on_labels_permuted_within_groups():
    rng = np.random.default_rng(0)
    acts = rng.normal(size=(16, 5))
    labels = np.tile([1, 0], 8)
    groups = np.repeat(np.arange(6), [2, 2, 2, 2, 4, 4])
    fn, seen = _recording(mean_difference)
    got = label_shuffled_directions(acts, labels, groups, fn, 300, seed=5)
    # a plain per-group loop with the same draws
    draws = np.random.default_rng(5)
    for k in range(300):
        keys = draws.random(16)
        permuted = labels.copy()
        for g in np.unique(groups):
            idx = np.flatnonzero(groups == g)
            permuted[idx] = labels[idx[np.argsort(keys[idx])]]
        np.testing.assert_array_equal(seen[k], permuted)
        np.testing.assert_array_equal(got[k], mean_difference(acts, permuted))
    for g in np.unique(groups):  # every group keeps its labels; a pair is swapped about half the time
        idx = groups == g
        assert all(np.sort(s[idx]).tolist() == np.sort(labels[idx]).tolist() for s in seen)
    swapped = np.mean([s[0] != labels[0] for s in seen])
    assert 0.4 < swapped < 0.6


def test_label_shuffled_directions_move_an_example_s_rows_together():
    acts = np.random.default_rng(1).normal(size=(12, 3))
    examples = np.repeat(np.arange(6), 2)
    labels = np.repeat([1, 0, 1, 0, 1, 0], 2)
    fn, seen = _recording(mean_difference)
    label_shuffled_directions(acts, labels, np.zeros(12, int), fn, 50, seed=2, examples_N=examples)
    assert all((s[0::2] == s[1::2]).all() and s.sum() == 6 for s in seen)
    assert len({tuple(s) for s in seen}) > 5  # unrestricted permutation of six examples
    with pytest.raises(ValueError, match="row 1 .* another label"):
        label_shuffled_directions(acts, np.tile([1, 0], 6), np.zeros(12, int), fn, 1, examples_N=examples)


@pytest.mark.parametrize("n_rows, d", [(40, 4), (6, 20)])
def test_covariance_draws_have_the_rows_sample_covariance(n_rows, d):
    rng = np.random.default_rng(4)
    acts = rng.normal(size=(n_rows, d)) @ rng.normal(size=(d, d)) + 3.0  # correlated columns, off-centre
    draws = covariance_draws(acts, 40_000, seed=1)
    sigma = np.cov(acts, rowvar=False)
    assert np.linalg.norm(np.cov(draws, rowvar=False) - sigma) / np.linalg.norm(sigma) < 0.03
    centred = acts - acts.mean(0)  # d > N: the draws stay in the span of the centred rows
    residual = draws[:50] - draws[:50] @ np.linalg.pinv(centred) @ centred
    assert np.abs(residual).max() < 1e-8 * np.abs(draws).max()
    scaled = covariance_directions(acts, 30, norm=2.5, seed=1)
    np.testing.assert_allclose(np.linalg.norm(scaled, axis=1), 2.5, rtol=1e-6)
    np.testing.assert_allclose(
        scaled / 2.5, draws[:30] / np.linalg.norm(draws[:30], axis=1, keepdims=True), rtol=1e-5, atol=1e-7
    )
    with pytest.raises(ValueError, match="no variance"):
        covariance_directions(np.ones((5, 3)), 2, 1.0)


def test_disjoint_halves_cover_the_rows_and_keep_groups_whole():
    halves = disjoint_halves(11, seed=3)
    assert not set(halves.first) & set(halves.second)
    assert sorted([*halves.first, *halves.second]) == list(range(11))
    assert sorted(map(len, halves)) == [5, 6]
    assert [h.tolist() for h in disjoint_halves(11, seed=3)] == [h.tolist() for h in halves]
    groups = np.repeat([4, 9, 2, 7, 5], [3, 1, 2, 2, 4])
    grouped = disjoint_halves(12, seed=0, groups=groups)
    assert sorted([*grouped.first, *grouped.second]) == list(range(12))
    assert not set(groups[grouped.first]) & set(groups[grouped.second])
    assert len(set(groups[grouped.first])) == 3
    with pytest.raises(ValueError, match="two groups"):
        disjoint_halves(3, groups=np.zeros(3))


# --- correlations ------------------------------------------------------------------------------------------


def _clustered(seed=0, n_clusters=15):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 6, n_clusters)
    clusters = np.repeat(rng.permutation(100)[:n_clusters], sizes)  # unsorted, non-contiguous ids
    offset = rng.normal(size=n_clusters)[np.searchsorted(np.unique(clusters), clusters)]
    x = offset + rng.normal(size=clusters.size)
    y = 0.5 * x + offset + rng.normal(size=clusters.size)
    return x, y, clusters


def _loop_interval(x, y, clusters, n_boot, seed, centre=False):
    ids = np.unique(clusters)
    rng = np.random.default_rng(seed)
    rs = []
    for _ in range(n_boot):
        rows = [np.flatnonzero(clusters == ids[c]) for c in rng.integers(0, ids.size, ids.size)]
        xs = np.concatenate([x[r] - (x[r].mean() if centre else 0) for r in rows])
        ys = np.concatenate([y[r] - (y[r].mean() if centre else 0) for r in rows])
        rs.append(np.corrcoef(xs, ys)[0, 1] if xs.std() > 0 and ys.std() > 0 else np.nan)
    return np.nanpercentile(rs, [2.5, 97.5])


def test_cluster_bootstrap_matches_a_direct_resampling_loop():
    x, y, clusters = _clustered()
    got = cluster_bootstrap_corr(x, y, clusters, n_boot=300, seed=7)
    assert got.r == pytest.approx(stats.pearsonr(x, y).statistic, rel=1e-12)
    np.testing.assert_allclose([got.low, got.high], _loop_interval(x, y, clusters, 300, 7), rtol=1e-10)
    assert (got.n, got.n_clusters, got.n_boot) == (x.size, 15, 300)


def test_within_cluster_corr_matches_a_plain_loop_and_ignores_cluster_offsets():
    x, y, clusters = _clustered(1)
    got = within_cluster_corr(x, y, clusters, n_boot=300, seed=2)
    dx, dy = x.copy(), y.copy()
    for c in np.unique(clusters):
        idx = clusters == c
        dx[idx] -= x[idx].mean()
        dy[idx] -= y[idx].mean()
    assert got.r == pytest.approx(np.corrcoef(dx, dy)[0, 1], rel=1e-12)
    np.testing.assert_allclose([got.low, got.high], _loop_interval(x, y, clusters, 300, 2, centre=True), rtol=1e-10)
    shift = np.searchsorted(np.unique(clusters), clusters) * 10.0
    assert within_cluster_corr(x + shift, y - shift, clusters, n_boot=300, seed=2).r == pytest.approx(got.r)
    with pytest.raises(ValueError, match="does not vary within"):
        within_cluster_corr(np.arange(4.0), np.arange(4.0), np.arange(4))


def test_correlation_link_against_scipy_and_the_old_two_sided_link():
    from probes.link import steering_finetune_link

    rng = np.random.default_rng(2)
    y = rng.normal(size=21)
    x = 0.6 * y + rng.normal(size=21)
    null = rng.normal(size=(60, 21))
    null[3] = 0.0  # a direction that moved nothing: r counted as 0
    link = correlation_link(x, y, null, alternative="greater", n_boot=200, seed=4)
    ref = np.array([0.0 if row.std() == 0 else stats.pearsonr(row, y).statistic for row in null])
    np.testing.assert_allclose(link.null_rs, ref, rtol=1e-12, atol=1e-15)
    assert link.r == pytest.approx(stats.pearsonr(x, y).statistic)
    assert link.p == empirical_test(link.r, link.null_rs, "greater")
    boot = cluster_bootstrap_corr(x, y, np.arange(21), n_boot=200, seed=4)
    assert (link.ci_low, link.ci_high) == (boot.low, boot.high)
    assert link.detectable_r == detectable_r(link.null_rs, 21).rho
    old = steering_finetune_link(x, y, null)
    two = correlation_link(x, y, null, alternative="two-sided", n_boot=2)
    assert old.p_value == two.p.p and old.r == two.r


@pytest.mark.parametrize("alternative", ALTERNATIVES)
def test_detectable_r_has_the_stated_power_in_a_direct_simulation(alternative):
    rng = np.random.default_rng(5)
    n, y = 21, rng.normal(size=21)
    null_rs = correlation_link(rng.normal(size=n), y, rng.normal(size=(199, n)), n_boot=2).null_rs
    got = detectable_r(null_rs, n, alternative=alternative)
    # the critical r is where the empirical test starts to reject at 0.05
    sign = -1 if alternative == "less" else 1
    assert empirical_test(got.critical_r + sign * 1e-9, null_rs, alternative).p <= 0.05
    assert empirical_test(got.critical_r, null_rs, alternative).p > 0.05
    # bivariate normal samples with the detectable rho: how often does r pass the critical value?
    z1, z2 = rng.normal(size=(2, 40_000, n))
    a, b = z1, got.rho * z1 + math.sqrt(1 - got.rho**2) * z2
    a, b = a - a.mean(1, keepdims=True), b - b.mean(1, keepdims=True)
    r = (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1))
    passed = {"greater": r > got.critical_r, "less": r < got.critical_r, "two-sided": np.abs(r) > got.critical_r}
    assert passed[alternative].mean() == pytest.approx(0.8, abs=0.015)
    assert math.isnan(detectable_r(null_rs[:10], n).rho)  # 10 draws cannot reach p <= 0.05


# --- intervals ---------------------------------------------------------------------------------------------


def test_t_and_wilson_intervals_match_scipy_and_statsmodels():
    from statsmodels.stats.proportion import proportion_confint

    values = [0.2, 0.5, 0.35, 0.6]
    ref = stats.t.interval(0.95, 3, loc=np.mean(values), scale=stats.sem(values))
    assert t_interval(values) == pytest.approx(ref)
    assert wilson_interval(7, 20) == pytest.approx(proportion_confint(7, 20, method="wilson"))


def test_hierarchical_bootstrap_matches_a_nested_loop_with_the_same_draws():
    rng = np.random.default_rng(6)
    by_seed = [rng.normal(m, 1, n) for m, n in ((0.1, 12), (0.4, 9), (0.2, 15))]
    got = hierarchical_bootstrap(by_seed, n_boot=500, seed=9)
    draws, means = np.random.default_rng(9), []
    for _ in range(500):
        picked = draws.integers(0, 3, 3)
        item_means = []
        for s in picked:
            items = by_seed[s]
            item_means.append(items[draws.integers(0, items.size, items.size)].mean())
        means.append(sum(item_means) / len(item_means))
    assert (got.low, got.high) == pytest.approx(tuple(np.percentile(means, [2.5, 97.5])), rel=1e-12)
    assert got.mean == pytest.approx(np.mean([v.mean() for v in by_seed]))
    pairs = paired_hierarchical_bootstrap(
        [v + 1 for v in by_seed], [np.ones_like(v) for v in by_seed], n_boot=500, seed=9
    )
    assert (pairs.low, pairs.high) == pytest.approx((got.low, got.high))
    with pytest.raises(ValueError, match="same items"):
        paired_hierarchical_bootstrap(by_seed, by_seed[:2])


def test_hierarchical_bootstrap_spread_matches_the_two_stage_variance():
    rng = np.random.default_rng(7)
    by_seed = [rng.normal(rng.normal(0, 0.3), 1.0, rng.integers(8, 20)) for _ in range(12)]
    got = hierarchical_bootstrap(by_seed, n_boot=1500, seed=1)
    between = np.var([v.mean() for v in by_seed])
    within = np.mean([v.var() / v.size for v in by_seed])
    sd = math.sqrt((between + within) / len(by_seed))
    assert (got.high - got.low) / (2 * 1.959964) == pytest.approx(sd, rel=0.1)


# --- grouped tests -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("alternative", ALTERNATIVES)
def test_sign_flip_test_matches_enumeration_and_scipy(alternative):
    a = np.array([0.5, 0.2, 0.9, 0.4, 0.6, 0.1, 0.7])
    b = np.array([0.3, 0.3, 0.5, 0.4, 0.2, 0.2, 0.1])
    got = sign_flip_test(a, b, alternative=alternative)
    d = a - b
    flipped = [np.mean(np.array(signs) * d) for signs in itertools.product([1, -1], repeat=d.size)]
    count = {
        "greater": lambda t: t >= d.mean() - 1e-12,
        "less": lambda t: t <= d.mean() + 1e-12,
        "two-sided": lambda t: abs(t) >= abs(d.mean()) - 1e-12,
    }[alternative]
    assert got.statistic == pytest.approx(d.mean(), rel=1e-12)
    assert got.exact and got.p.p == sum(map(count, flipped)) / 2**d.size and got.p.floor == 1 / 2**d.size
    ref = stats.permutation_test(
        (a, b),
        lambda x, y, axis: np.mean(x - y, axis=axis),
        vectorized=True,
        permutation_type="samples",
        alternative=alternative,
        n_resamples=np.inf,
    )
    assert got.p.p == pytest.approx(ref.pvalue)
    sampled = sign_flip_test(a, b, alternative=alternative, max_exact=0, n_perm=9999, seed=1)
    assert not sampled.exact and sampled.p.n_null == 9999 and sampled.p.p == pytest.approx(got.p.p, abs=0.02)


def test_stratified_permutation_test_matches_an_enumeration_of_relabellings():
    values = np.array([1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 0, 1, 1], float)
    labels = np.array([1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 0, 1, 1])
    strata = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 3, 3])  # question 3: one model only, no comparison

    def statistic(lab):
        kept = range(3)  # the questions holding both labels
        sizes = np.array([np.sum(strata == s) for s in kept])
        diffs = [values[(strata == s) & (lab == 1)].mean() - values[(strata == s) & (lab == 0)].mean() for s in kept]
        return float(np.dot(sizes / sizes.sum(), diffs))

    relabellings = []
    per_stratum = [
        [(s, combo) for combo in itertools.combinations(np.flatnonzero(strata == s), int(labels[strata == s].sum()))]
        for s in range(3)
    ]
    for choice in itertools.product(*per_stratum):
        lab = labels.copy()
        for s, ones in choice:
            lab[strata == s] = 0
            lab[list(ones)] = 1
        relabellings.append(statistic(lab))
    observed = statistic(labels)
    exact = np.mean(np.array(relabellings) >= observed - 1e-12)  # 6 * 10 * 3 = 180 relabellings
    got = stratified_permutation_test(values, labels, strata, n_perm=6000, seed=3)
    assert len(relabellings) == 180 and got.statistic == pytest.approx(observed)
    assert got.p.p == pytest.approx(exact, abs=0.02) and got.p.n_null == 6000 and not got.exact
    with pytest.raises(ValueError, match="both labels"):
        stratified_permutation_test(values[12:], labels[12:], strata[12:])


def test_grouped_tests_are_calibrated_under_the_null():
    rng = np.random.default_rng(8)
    flips = [sign_flip_test(rng.normal(size=10), rng.normal(size=10)).p.p for _ in range(1000)]
    assert 0.02 <= np.mean(np.array(flips) <= 0.05) <= 0.09
    strata = np.repeat(np.arange(5), 8)
    labels = np.tile([1, 1, 1, 1, 0, 0, 0, 0], 5)
    rates = rng.uniform(0.2, 0.8, 5)[strata]  # questions differ; the label does nothing
    ps = [
        stratified_permutation_test(rng.random(40) < rates, labels, strata, n_perm=99, seed=k).p.p for k in range(200)
    ]
    assert 0.02 <= np.mean(np.array(ps) <= 0.05) <= 0.09
