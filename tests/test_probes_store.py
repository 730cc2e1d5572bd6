import h5py
import numpy as np
import pytest
from probe_data import planted, to_bf16_bits, write_store

from probes.store import decode_bf16, list_layers, load_layer, store_attrs


def test_load_layer_float32_round_trip(tmp_path):
    data = planted(n_pairs=5)
    path = write_store(tmp_path / "a.h5", data)
    assert list_layers(path) == [0, 1, 2, 3]
    loaded = load_layer(path, 2)
    np.testing.assert_array_equal(loaded.acts, data.acts[2])
    np.testing.assert_array_equal(loaded.example_index, data.example_index)
    np.testing.assert_array_equal(loaded.row_labels, data.labels[data.example_index])
    assert store_attrs(path)["model"] == "tiny-test"


def test_bf16_as_uint16_is_decoded(tmp_path):
    data = planted(n_pairs=5)
    path = write_store(tmp_path / "b.h5", data, bf16=True)
    loaded = load_layer(path, 1)
    assert loaded.acts.dtype == np.float32
    import torch

    reference = torch.from_numpy(data.acts[1]).to(torch.bfloat16).float().numpy()
    np.testing.assert_array_equal(loaded.acts, reference)
    np.testing.assert_array_equal(decode_bf16(to_bf16_bits(np.array([1.5, -2.0], np.float32))), [1.5, -2.0])


def test_errors_name_the_problem(tmp_path):
    path = write_store(tmp_path / "c.h5", planted(n_pairs=2))
    with pytest.raises(KeyError, match="layer_9"):
        load_layer(path, 9)
    bad = tmp_path / "bad.h5"
    with h5py.File(bad, "w") as handle:
        handle["acts/layer_0"] = np.zeros((2, 3), np.float32)
    with pytest.raises(KeyError, match="index/example"):
        load_layer(bad, 0)
