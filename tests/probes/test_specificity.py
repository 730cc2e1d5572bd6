"""Steering specificity: empirical p-values against random directions, and the paired control comparison."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from probes.specificity import best_layer, empirical_p, steering_specificity


def test_empirical_p_counts_the_null_at_least_as_extreme():
    null = [0.1, -0.3, 0.2, 0.5]
    assert empirical_p(0.2, null) == (1 + 2) / 5  # 0.2 and 0.5
    assert empirical_p(0.2, null, "less") == (1 + 3) / 5  # 0.1, -0.3, 0.2
    assert empirical_p(-0.3, null, "two-sided") == (1 + 2) / 5  # |-0.3| and |0.5|
    assert empirical_p(9.0, null) == 1 / 5
    with pytest.raises(ValueError, match="alternative"):
        empirical_p(0.0, null, "both")
    with pytest.raises(ValueError, match="non-empty"):
        empirical_p(0.0, [])


def test_steering_specificity_per_trait_and_on_average():
    rng = np.random.default_rng(0)
    traits = ["a", "b", "c", "d", "e"]
    random = rng.normal(0, 0.01, size=(20, 5))
    shift = np.array([0.3, 0.02, -0.2, 0.005, 0.1])
    control = np.array([0.1, 0.01, 0.0, 0.0, 0.05])
    spec = steering_specificity(traits, shift, control, random)
    assert [t.trait for t in spec.per_trait] == traits
    for i, t in enumerate(spec.per_trait):
        hits = int((np.abs(random[:, i]) >= abs(shift[i])).sum())
        assert t.p_random == (1 + hits) / 21
        assert t.random_mean == pytest.approx(random[:, i].mean()) and t.random_sd == pytest.approx(random[:, i].std())
        assert t.control_shift == control[i]
    assert spec.per_trait[0].p_random == 1 / 21  # far outside the null
    assert spec.mean_shift == pytest.approx(shift.mean())
    assert spec.mean_p == (1 + int((np.abs(random.mean(1)) >= abs(shift.mean())).sum())) / 21
    assert spec.beyond_control == pytest.approx((shift - control).mean())
    assert spec.beyond_control_p == pytest.approx(stats.wilcoxon(shift - control).pvalue)
    assert spec.n_random == 20 and len(spec.mean_random) == 20


def test_steering_specificity_checks_shapes_and_a_null_difference():
    with pytest.raises(ValueError, match="one value per trait"):
        steering_specificity(["a", "b"], [0.1], [0.1, 0.2], [[0.0, 0.0]])
    with pytest.raises(ValueError, match="random_shifts"):
        steering_specificity(["a"], [0.1], [0.1], [0.0])
    same = steering_specificity(["a", "b"], [0.1, 0.2], [0.1, 0.2], [[0.0, 0.0]])
    assert math.isnan(same.beyond_control_p) and same.beyond_control == 0.0


def test_best_layer_takes_the_largest_effect_and_the_shallowest_tie():
    assert best_layer({3: 0.1, 7: 0.4, 12: 0.2}) == 7
    assert best_layer({9: 0.4, 2: 0.4}) == 2
    with pytest.raises(ValueError):
        best_layer({})


def test_empirical_p_leaves_out_unmeasured_values():
    assert empirical_p(0.2, [0.1, float("nan"), 0.5]) == (1 + 1) / 3
    assert math.isnan(empirical_p(float("nan"), [0.1, 0.2]))
    assert math.isnan(empirical_p(0.1, [float("nan")]))
