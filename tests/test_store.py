"""The file layout read with plain h5py, and `ActivationStore` against numpy references."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import torch

from activations import ActivationStore, CacheConfig, Example, cache_activations, run_to_layers


def _examples():
    texts = ["alpha", "b", "gamma delta", "eps", "zeta eta theta", "iota"]
    return [Example(text=t, response="ok" * (1 + i % 2), label=i % 2, id=f"id{i}", extra={"k": i})
            for i, t in enumerate(texts)]


@pytest.fixture
def stored(tiny_lm, tmp_path):
    lm = tiny_lm("llama")
    result = cache_activations(lm, _examples(), tmp_path / "s.h5",
                               CacheConfig(layers="-2:", positions="response", dtype="bfloat16", batch_size=4),
                               progress=False)
    return lm, result


def test_layout_with_plain_h5py(stored):
    lm, result = stored
    with h5py.File(result.path, "r") as f:
        attrs = dict(f.attrs)
        assert attrs["complete"] and attrs["rows_committed"] == result.n_rows == f["index/example"].shape[0]
        assert list(attrs["layers"]) == [1, 2] and attrs["positions"] == "response" and attrs["dtype"] == "bfloat16"
        assert attrs["model"] == lm.name and attrs["weights_id"] == lm.weights_id
        assert json.loads(attrs["config"])["layers"] == "-2:" and attrs["interp_version"]
        acts = f["acts/layer_2"]
        assert acts.dtype == np.uint16 and acts.attrs["storage_dtype"] == "bfloat16"
        assert acts.shape == (result.n_rows, lm.d_model) and acts.chunks[1] == lm.d_model
        assert f["index/example"].dtype == np.int64 and f["index/position"].dtype == np.int32
        assert f["examples/label"][...].tolist() == [0, 1, 0, 1, 0, 1]
        assert f["examples/id"].asstr()[...].tolist() == [f"id{i}" for i in range(6)]
        assert f["examples/prompt"].asstr()[0] == "alpha" and f["examples/response"].asstr()[1] == "okok"
        assert json.loads(f["examples/extra"].asstr()[3]) == {"k": 3}


def test_bfloat16_decodes_to_the_model_rows(stored):
    lm, result = stored
    store = ActivationStore(result.path)
    ids = lm.tokenizer("alpha")["input_ids"] + lm.tokenizer("ok", add_special_tokens=False)["input_ids"]
    hidden = run_to_layers(lm, [2], input_ids=torch.tensor([ids]))[2][0]
    got = store.acts(2, rows=np.flatnonzero(store.example_index == 0), as_torch=True)
    assert got.dtype == torch.bfloat16
    torch.testing.assert_close(got, hidden[len(ids) - 2:].to(torch.bfloat16), atol=0, rtol=0)


def test_store_api(stored):
    _, result = stored
    store = ActivationStore(result.path)
    assert store.layers == [1, 2] and store.n_rows == result.n_rows and store.complete
    full = store.acts(1)
    np.testing.assert_array_equal(store.acts(1, rows=slice(2, 5)), full[2:5])
    np.testing.assert_array_equal(np.concatenate(list(store.iter_batches(1, batch_size=3))), full)
    np.testing.assert_array_equal(store.row_labels, store.labels[store.example_index])
    values = store.acts(1, as_torch=True).double().numpy()
    means = store.mean_by_label(1, batch_size=4)
    for label in (0, 1):
        np.testing.assert_allclose(means[label], values[store.row_labels == label].mean(0))
    assert store.examples("id")[2] == "id2"
    with pytest.raises(KeyError, match="layer 0 is not stored"):
        store.acts(0)


@pytest.mark.parametrize("dtype, compression", [("float16", "gzip"), ("float32", "lzf"), ("float32", None)])
def test_dtypes_and_compression(tiny_lm, tmp_path, dtype, compression):
    lm = tiny_lm("qwen3")
    config = CacheConfig(layers="0", dtype=dtype, compression=compression)
    store = ActivationStore(cache_activations(lm, _examples(), tmp_path / "c.h5", config, progress=False).path)
    reference = ActivationStore(cache_activations(lm, _examples(), tmp_path / "r.h5",
                                                  CacheConfig(layers="0", dtype="float32"), progress=False).path)
    assert store.acts(0).dtype == np.dtype(dtype) and store.h5["acts/layer_0"].compression == compression
    np.testing.assert_array_equal(store.acts(0), reference.acts(0).astype(dtype))
