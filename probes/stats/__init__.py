"""The project's statistics, in one place: arrays in, typed results out, each function tested against a
plain reference (scipy, statsmodels, a hand-worked case or a direct loop) in tests/probes/test_stats.py.

- p-values against a drawn null, with the null's size, floor and z (`empirical_test`);
- families of tests: Holm, Benjamini-Hochberg, "k of m after Holm", the power of a family
  (`holm`, `benjamini_hochberg`, `count_significant`, `detectable_shift`);
- null directions: isotropic, label-shuffled within groups, covariance-matched, disjoint halves;
- correlations: the link against a null with its interval and detectable r, cluster and within-cluster
  bootstraps (`correlation_link`, `cluster_bootstrap_corr`, `within_cluster_corr`);
- intervals: Wilson, t, and the hierarchical bootstrap over seeds and items;
- grouped tests over questions (`sign_flip_test`, `stratified_permutation_test`).

Sidedness is always the caller's declared `alternative`: "greater", "less" or "two-sided" (magnitudes,
for nulls centred on zero).
"""

from probes.stats.correlation import (
    CorrInterval,
    DetectableR,
    LinkTest,
    cluster_bootstrap_corr,
    correlation_link,
    detectable_r,
    null_correlations,
    pearson,
    within_cluster_corr,
)
from probes.stats.grouped import PermutationTest, sign_flip_test, stratified_permutation_test
from probes.stats.intervals import (
    Z95,
    BootstrapInterval,
    hierarchical_bootstrap,
    paired_hierarchical_bootstrap,
    t_interval,
    wilson_interval,
)
from probes.stats.multiplicity import (
    Adjusted,
    DetectableShift,
    SignificantCount,
    adjust,
    benjamini_hochberg,
    count_significant,
    describe_count,
    detectable_shift,
    holm,
    min_null_draws,
)
from probes.stats.nulls import (
    Halves,
    covariance_directions,
    covariance_draws,
    disjoint_halves,
    label_shuffled_directions,
    permute_within_groups,
    random_directions_like,
)
from probes.stats.pvalues import ALTERNATIVES, Alternative, EmpiricalP, empirical_p, empirical_test

__all__ = [
    "ALTERNATIVES",
    "Adjusted",
    "Alternative",
    "BootstrapInterval",
    "CorrInterval",
    "DetectableR",
    "DetectableShift",
    "EmpiricalP",
    "Halves",
    "LinkTest",
    "PermutationTest",
    "SignificantCount",
    "Z95",
    "adjust",
    "benjamini_hochberg",
    "cluster_bootstrap_corr",
    "correlation_link",
    "count_significant",
    "describe_count",
    "covariance_directions",
    "covariance_draws",
    "detectable_r",
    "detectable_shift",
    "disjoint_halves",
    "empirical_p",
    "empirical_test",
    "hierarchical_bootstrap",
    "holm",
    "label_shuffled_directions",
    "min_null_draws",
    "null_correlations",
    "paired_hierarchical_bootstrap",
    "pearson",
    "permute_within_groups",
    "random_directions_like",
    "sign_flip_test",
    "stratified_permutation_test",
    "t_interval",
    "wilson_interval",
    "within_cluster_corr",
]
