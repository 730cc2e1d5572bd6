import numpy as np
import pytest
from scipy import stats

from probes.link import (
    activation_shift,
    per_example_projection,
    projection_score_link,
    random_directions_like,
    steering_finetune_link,
    variant_shift_link,
)


def test_projection_score_link_matches_scipy_and_is_seeded():
    rng = np.random.default_rng(0)
    proj = rng.normal(size=80)
    scores = 0.7 * proj + rng.normal(scale=0.5, size=80)
    result = projection_score_link(proj, scores, n_boot=400, seed=3)
    assert result.pearson == pytest.approx(stats.pearsonr(proj, scores).statistic)
    assert result.spearman == pytest.approx(stats.spearmanr(proj, scores).statistic)
    assert result.ci_low < result.pearson < result.ci_high and result.ci_high - result.ci_low < 0.3
    assert result == projection_score_link(proj, scores, n_boot=400, seed=3)
    assert result.ci_low != projection_score_link(proj, scores, n_boot=400, seed=4).ci_low
    with pytest.raises(ValueError, match="3 pairs"):
        projection_score_link([1.0, 2.0], [1.0, 2.0])


def test_per_example_projection_averages_rows_on_the_unit_direction():
    acts = np.array([[2.0, 0.0], [4.0, 1.0], [0.0, 5.0]])
    examples, proj = per_example_projection(acts, np.array([7, 7, 9]), np.array([2.0, 0.0]))
    np.testing.assert_array_equal(examples, [7, 9])
    np.testing.assert_allclose(proj, [3.0, 0.0])


def test_activation_shift_and_variant_link():
    rng = np.random.default_rng(1)
    v = np.array([0.0, 3.0, 4.0])
    base = rng.normal(size=(50, 3))
    shifted = base + np.array([1.0, 0.6, 0.8])
    assert activation_shift(base, shifted, v) == pytest.approx(1.0)
    result = variant_shift_link([0.1, 0.5, -0.3, 0.9], [0.05, 0.2, -0.2, 0.4], n_boot=50)
    assert result.n == 4 and result.pearson > 0.9


def test_steering_finetune_link_p_value_counts_the_null():
    rng = np.random.default_rng(2)
    ft = rng.normal(size=20)
    steer = ft + rng.normal(scale=0.2, size=20)
    null = rng.normal(size=(50, 20))
    result = steering_finetune_link(steer, ft, null)
    assert result.r == pytest.approx(stats.pearsonr(steer, ft).statistic)
    expected_null = [stats.pearsonr(row, ft).statistic for row in null]
    np.testing.assert_allclose(result.null_rs, expected_null)
    assert result.p_value == (1 + sum(abs(r) >= abs(result.r) for r in expected_null)) / 51
    assert result.p_value == pytest.approx(1 / 51)
    # a steering shift no better than chance gets a large p-value
    weak = steering_finetune_link(null[0], ft, null[1:25])
    assert weak.p_value == (1 + int((np.abs(weak.null_rs) >= abs(weak.r)).sum())) / 25 and weak.n_null == 24


def test_steering_finetune_link_needs_20_random_directions():
    with pytest.raises(ValueError, match="at least 20"):
        steering_finetune_link(np.arange(5.0), np.arange(5.0), np.zeros((19, 5)))
    with pytest.raises(ValueError, match=r"\[n_random, 5\]"):
        steering_finetune_link(np.arange(5.0), np.arange(5.0), np.zeros((30, 4)))


def test_random_directions_have_equal_norm():
    v = np.array([3.0, 4.0, 0.0, 0.0])
    draws = random_directions_like(v, 25, seed=1)
    assert draws.shape == (25, 4)
    np.testing.assert_allclose(np.linalg.norm(draws, axis=1), 5.0, rtol=1e-6)
    np.testing.assert_array_equal(draws, random_directions_like(v, 25, seed=1))


def test_non_finite_scores_are_refused_naming_their_position():
    import numpy as np
    import pytest

    from probes.link import projection_score_link, steering_finetune_link

    with pytest.raises(ValueError, match=r"second series has 1 NaN or infinite value\(s\), at position\(s\) 3 "):
        projection_score_link([0.1, 0.2, 0.3, 0.4], [1.0, 0.0, float("nan"), 1.0])
    with pytest.raises(ValueError, match=r"first series has 2 NaN .* 1, 4 \(counted from 1\)"):
        steering_finetune_link([np.inf, 0.2, 0.3, -np.inf], [0.1, 0.2, 0.3, 0.4], np.zeros((20, 4)))


def test_projection_shift_link_is_the_same_null_test_on_activation_shifts():
    from probes.link import projection_shift_link

    rng = np.random.default_rng(5)
    behaviour = rng.normal(size=40)
    projection = 0.5 * behaviour + rng.normal(scale=0.1, size=40)
    null = rng.normal(size=(25, 40))
    result = projection_shift_link(projection, behaviour, null)
    assert result.r == pytest.approx(stats.pearsonr(projection, behaviour).statistic)
    expected = [stats.pearsonr(row, behaviour).statistic for row in null]
    assert result.p_value == (1 + sum(abs(r) >= abs(result.r) for r in expected)) / 26
    with pytest.raises(ValueError, match=r"projection_shift_link: the null must be \[n_random, 40\]"):
        projection_shift_link(projection, behaviour, null[:, :39])
