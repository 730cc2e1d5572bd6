import numpy as np
import pytest
import torch

from interp.models import DirectionError
from probes import (
    DIRECTION_METHODS,
    direction_from_arrays,
    direction_from_store,
    load_direction,
    mean_difference,
    mean_difference_from_sums,
    paired_differences,
    save_direction,
)
from probes.store import load_layer
from tests.probe_data import planted, write_store


def _layer_arrays(store, layer):
    data = load_layer(store, layer)
    return data.acts, data.row_labels, data.example_index


def _cos(a, b):
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


@pytest.mark.parametrize("method", sorted(DIRECTION_METHODS))
def test_every_method_recovers_a_planted_direction(method):
    data = planted(n_pairs=60, d=16, offset=2.0)
    vector = direction_from_arrays(data.acts[2], data.row_labels, data.example_index, method)
    assert vector.shape == (16,) and vector.dtype == np.float32
    assert _cos(vector, data.direction) >= 0.9
    # scaled to the mean difference's projection: a shift of about `strength` along the direction
    assert float(vector @ data.direction) == pytest.approx(4.0, rel=0.15)


def test_mean_difference_matches_plain_means_and_streaming_sums():
    rng = np.random.default_rng(1)
    acts = rng.normal(size=(30, 5)).astype(np.float32)
    labels = np.array([0, 1] * 15)
    expected = acts[labels == 1].mean(0) - acts[labels == 0].mean(0)
    np.testing.assert_allclose(mean_difference(acts, labels), expected, rtol=1e-5, atol=1e-6)
    sums = np.stack([acts[labels == c].sum(0) for c in (0, 1)])
    np.testing.assert_allclose(mean_difference_from_sums(sums, [15, 15]), expected, rtol=1e-5, atol=1e-6)
    per_layer = np.stack([sums * 2, sums], axis=1)  # [class, L, d] sums work too
    np.testing.assert_allclose(
        mean_difference_from_sums(per_layer, [15, 15]), np.stack([2 * expected, expected]), rtol=1e-5, atol=1e-6
    )
    with pytest.raises(ValueError, match="positive count"):
        mean_difference_from_sums(sums, [0, 15])


def test_paired_differences_pair_examples_in_order():
    acts = np.arange(12, dtype=np.float32).reshape(6, 2)
    example_index = np.array([0, 0, 1, 1, 2, 3])
    labels = np.array([1, 1, 0, 0, 1, 0])
    diffs = paired_differences(acts, labels, example_index)
    np.testing.assert_allclose(diffs, [[1 - 5, 2 - 6], [8 - 10, 9 - 11]])


def test_unknown_method_and_one_class():
    with pytest.raises(ValueError, match="unknown method"):
        direction_from_arrays(np.zeros((4, 2)), np.array([0, 1, 0, 1]), method="nope")
    with pytest.raises(ValueError, match="both classes"):
        mean_difference(np.zeros((4, 2)), np.ones(4))


def test_direction_file_round_trip(tmp_path):
    data = planted(n_pairs=20)
    store = write_store(tmp_path / "acts.h5", data)
    direction = direction_from_store(store, [1, 2], "mean-diff")
    np.testing.assert_array_equal(
        direction.vectors[1].numpy(), direction_from_arrays(*_layer_arrays(store, 2), method="mean-diff")
    )
    loaded = load_direction(direction.save(tmp_path / "v.safetensors"))
    assert loaded.layers == (1, 2)
    assert loaded.vectors.shape == (2, 16)
    assert torch.equal(loaded.vectors, direction.vectors)
    assert loaded.model == "tiny-test" and loaded.method == "mean-diff"
    assert loaded.dataset == str(store) and loaded.created_by.startswith("interp ")
    np.testing.assert_allclose(loaded.norms, np.linalg.norm(direction.vectors.numpy(), axis=1), rtol=1e-6)
    assert torch.equal(loaded.at(2), direction.vectors[1])
    with pytest.raises(DirectionError, match=r"layer 0; the file holds layers \[1, 2\]"):
        loaded.at(0)


def test_direction_file_metadata_values_are_json_strings(tmp_path):
    from safetensors import safe_open

    path = save_direction(
        tmp_path / "one.safetensors", np.ones(4, np.float32), {"model": "m", "layer": 3, "method": "pca"}
    )
    with safe_open(str(path), framework="pt") as handle:
        raw = handle.metadata()
    assert raw["layers"] == "[3]" and raw["model"] == '"m"' and raw["norms"] == "[2.0]"
    assert load_direction(path).vectors.shape == (1, 4)
