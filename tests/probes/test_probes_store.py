"""`probes`' loaders: thin wrappers over `ActivationStore`, on files written by the activation writer."""

import h5py
import numpy as np
import pytest
import torch

from activations import ActivationStore, IncompleteStoreError, StoreFormatError
from probes.store import list_layers, load_groups, load_layer, store_attrs
from tests.probe_data import planted, write_store


def test_load_layer_float32_round_trip(tmp_path):
    data = planted(n_pairs=5)
    path = write_store(tmp_path / "a.h5", data, pair_groups=True)
    assert list_layers(path) == [0, 1, 2, 3]
    loaded = load_layer(path, 2)
    np.testing.assert_array_equal(loaded.acts, data.acts[2])
    np.testing.assert_array_equal(loaded.example_index, data.example_index)
    np.testing.assert_array_equal(loaded.row_labels, data.labels[data.example_index])
    assert store_attrs(path)["model"] == "tiny-test"
    assert load_groups(path).tolist() == (np.arange(10) // 2).tolist()


def test_bfloat16_from_the_writer_is_decoded(tmp_path):
    data = planted(n_pairs=5)
    path = write_store(tmp_path / "b.h5", data, dtype="bfloat16")
    loaded = load_layer(path, 1)
    assert loaded.acts.dtype == np.float32
    np.testing.assert_array_equal(loaded.acts, torch.from_numpy(data.acts[1]).bfloat16().float().numpy())


def test_files_marked_the_old_way_still_decode(tmp_path):
    # Files written before `storage_dtype` named bfloat16 datasets with `bf16_as_uint16 = True`.
    data = planted(n_pairs=3)
    path = write_store(tmp_path / "old.h5", data, dtype="bfloat16")
    with h5py.File(path, "r+") as handle:
        for layer in data.acts:
            attrs = handle[f"acts/layer_{layer}"].attrs
            del attrs["storage_dtype"]
            attrs["bf16_as_uint16"] = True
    np.testing.assert_array_equal(load_layer(path, 3).acts, torch.from_numpy(data.acts[3]).bfloat16().float().numpy())


def test_an_open_store_is_read_as_opened(tmp_path):
    data = planted(n_pairs=4)
    path = write_store(tmp_path / "p.h5", data, committed=3)
    with pytest.raises(IncompleteStoreError):
        load_layer(path, 0)
    with ActivationStore(path, allow_partial=True) as store:
        assert list_layers(store) == [0, 1, 2, 3] and str(store) == str(path)
        np.testing.assert_array_equal(load_layer(store, 0).acts, data.acts[0][data.example_index < 3])
    np.testing.assert_array_equal(
        load_layer(path, 0, allow_partial=True).example_index, data.example_index[data.example_index < 3]
    )


def test_errors_name_the_problem(tmp_path):
    path = write_store(tmp_path / "c.h5", planted(n_pairs=2))
    with pytest.raises(KeyError, match="layer 9 is not stored; the file has layers"):
        load_layer(path, 9)
    bad = tmp_path / "bad.h5"
    with h5py.File(bad, "w") as handle:
        handle["acts/layer_0"] = np.zeros((2, 3), np.float32)
    with pytest.raises(StoreFormatError, match="index/example"):
        load_layer(bad, 0)
    with pytest.raises(FileNotFoundError, match="no such activation file"):
        load_layer(tmp_path / "nope.h5", 0)
