import json

import numpy as np
import pytest

from probes import SweepConfig, fit_batched_torch, fit_sklearn, layer_sweep, split_by_example, sweep_store
from tests.probe_data import planted, write_store


def test_split_holds_out_whole_examples_per_label_and_is_seeded():
    data = planted(n_pairs=20)
    test = split_by_example(data.example_index, data.row_labels, 0.25, seed=3)
    for example in np.unique(data.example_index):
        rows = test[data.example_index == example]
        assert rows.all() or not rows.any()
    held = np.unique(data.example_index[test])
    assert sorted(data.labels[held].tolist()) == [0] * 5 + [1] * 5
    np.testing.assert_array_equal(test, split_by_example(data.example_index, data.row_labels, 0.25, seed=3))
    assert not np.array_equal(test, split_by_example(data.example_index, data.row_labels, 0.25, seed=4))


@pytest.mark.parametrize("probe", ["logistic", "mass-mean", "mean-diff"])
def test_sweep_scores_every_layer_and_picks_by_the_rule(probe):
    data = planted(n_pairs=40)
    result = layer_sweep(data.acts, data.row_labels, data.example_index, SweepConfig(probe=probe))
    assert [s.layer for s in result.scores] == [0, 1, 2, 3]
    by_layer = {s.layer: s for s in result.scores}
    assert by_layer[0].auroc < 0.75 and by_layer[2].auroc > 0.95 and by_layer[3].auroc > 0.95
    best = max(s.auroc for s in result.scores)
    assert result.chosen_layer == min(s.layer for s in result.scores if s.auroc == best)
    assert all(s.n_train + s.n_test == len(data.example_index) for s in result.scores)


def test_ties_go_to_the_earliest_layer():
    data = planted(n_pairs=30, strengths=(0.0, 8.0, 8.0))
    result = layer_sweep(data.acts, data.row_labels, data.example_index, SweepConfig(probe="mean-diff"))
    assert result.scores[1].auroc == result.scores[2].auroc == 1.0
    assert result.chosen_layer == 1


def test_batched_torch_fit_matches_sklearn():
    data = planted(n_pairs=40, strengths=(0.0, 0.6, 1.2, 4.0))
    torch_result = layer_sweep(data.acts, data.row_labels, data.example_index, SweepConfig(backend="torch"))
    sk_result = layer_sweep(data.acts, data.row_labels, data.example_index, SweepConfig(backend="sklearn"))
    for a, b in zip(torch_result.scores, sk_result.scores):
        assert abs(a.auroc - b.auroc) <= 0.01
    stacked = np.stack([data.acts[layer] for layer in range(4)])
    batched = fit_batched_torch(stacked, data.row_labels, C=0.5)
    single = fit_sklearn(data.acts[3], data.row_labels, C=0.5)
    np.testing.assert_allclose(batched.weight[3], single.weight, rtol=2e-2, atol=2e-3)


def test_sweep_store_saves_csv_and_json(tmp_path):
    data = planted(n_pairs=20)
    store = write_store(tmp_path / "acts.h5", data, dtype="bfloat16")
    result = sweep_store(store, layers=[1, 2], config=SweepConfig(probe="mean-diff"))
    csv_path, json_path = result.save(tmp_path / "out")
    assert csv_path.read_text().splitlines()[0] == "layer,auroc,accuracy,n_train,n_test"
    saved = json.loads(json_path.read_text())
    assert saved["chosen_layer"] == result.chosen_layer and "earliest" in saved["rule"]
    assert [row["layer"] for row in saved["scores"]] == [1, 2]
    assert "chosen" in result.table()


def test_config_checks():
    with pytest.raises(ValueError, match="test_fraction"):
        SweepConfig(test_fraction=1.5)
    with pytest.raises(ValueError, match="backend"):
        SweepConfig(backend="jax")


def test_groups_hold_contrast_pairs_out_together():
    data = planted(n_pairs=20, offset=2.0)
    groups = np.arange(40) // 2
    test = split_by_example(data.example_index, data.row_labels, 0.25, seed=0, groups=groups)
    held_pairs = np.unique(groups[data.example_index[test]])
    assert len(held_pairs) == 5
    np.testing.assert_array_equal(np.isin(groups[data.example_index], held_pairs), test)
    with pytest.raises(ValueError, match="one label only"):
        split_by_example(np.arange(4), np.array([1, 1, 1, 1]))


def test_sweep_store_uses_the_files_groups(tmp_path):
    data = planted(n_pairs=20, offset=2.0)
    store = write_store(tmp_path / "pairs.h5", data, pair_groups=True)
    config = SweepConfig(probe="mean-diff")
    from_file = sweep_store(store, config=config)
    grouped = layer_sweep(data.acts, data.row_labels, data.example_index, config, groups=np.arange(40) // 2)
    ungrouped = layer_sweep(data.acts, data.row_labels, data.example_index, config)
    assert from_file.scores == grouped.scores
    assert from_file.scores != ungrouped.scores
