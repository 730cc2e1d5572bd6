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
    return [
        Example(text=t, response="ok" * (1 + i % 2), label=i % 2, id=f"id{i}", extra={"k": i})
        for i, t in enumerate(texts)
    ]


@pytest.fixture
def stored(tiny_lm, tmp_path):
    lm = tiny_lm("llama")
    result = cache_activations(
        lm,
        _examples(),
        tmp_path / "s.h5",
        CacheConfig(layers="-2:", positions="response", dtype="bfloat16", batch_size=4),
        progress=False,
    )
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
    torch.testing.assert_close(got, hidden[len(ids) - 2 :].to(torch.bfloat16), atol=0, rtol=0)


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
    reference = ActivationStore(
        cache_activations(
            lm, _examples(), tmp_path / "r.h5", CacheConfig(layers="0", dtype="float32"), progress=False
        ).path
    )
    assert store.acts(0).dtype == np.dtype(dtype) and store.h5["acts/layer_0"].compression == compression
    np.testing.assert_array_equal(store.acts(0), reference.acts(0).astype(dtype))


def test_groups_stored_and_read_by_probes(tiny_lm, tmp_path):
    from probes import load_groups

    lm = tiny_lm("llama")
    examples = [
        Example(text=f"prompt {i // 2}", response="yes" if i % 2 else "no", label=i % 2, group=i // 2) for i in range(6)
    ]
    result = cache_activations(
        lm, examples, tmp_path / "g.h5", CacheConfig(layers="0", positions="response-mean"), progress=False
    )
    with h5py.File(result.path, "r") as f:
        assert f["examples/group"][...].tolist() == [0, 0, 1, 1, 2, 2]
    assert load_groups(result.path).tolist() == [0, 0, 1, 1, 2, 2]
    with pytest.raises(ValueError, match="'group' must be an integer"):
        Example(text="x", group="a")


def _interrupted(lm, path, examples, config, monkeypatch):
    """A real run whose second commit fails: the file holds the first window only, marked incomplete."""
    from activations.writer import StoreSink

    commit, calls = StoreSink.commit, []

    def failing(self, *args):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        return commit(self, *args)

    with monkeypatch.context() as patch:
        patch.setattr(StoreSink, "commit", failing)
        with pytest.raises(RuntimeError, match="disk full"):
            cache_activations(lm, examples, path, config, progress=False)


def test_an_incomplete_store_is_refused_unless_asked_for(tiny_lm, tmp_path, monkeypatch):
    from activations import IncompleteStoreError

    lm, path = tiny_lm("qwen3"), tmp_path / "p.h5"
    config = CacheConfig(layers="0", positions="response-mean", commit_every=4, batch_size=2)
    _interrupted(lm, path, _examples(), config, monkeypatch)
    want = (
        r"p.h5 is incomplete \(4 of 6 examples, 4 rows committed: .*\); rerun the same `interp cache` command to "
        r"finish it \(it resumes\), or use the committed rows with allow_partial=True"
    )
    with pytest.raises(IncompleteStoreError, match=want):
        ActivationStore(path)
    with ActivationStore(path, allow_partial=True) as partial:
        assert not partial.complete and partial.n_rows == 4 and partial.example_index.tolist() == [0, 1, 2, 3]
        committed = partial.acts(0)
    cache_activations(lm, _examples(), path, config, progress=False)
    with ActivationStore(path) as whole:
        assert whole.complete and whole.n_rows == 6
        np.testing.assert_array_equal(whole.acts(0)[:4], committed)


def test_non_finite_rows_are_refused_naming_the_example(tmp_path):
    from activations import NonFiniteRowsError
    from probes import load_layer
    from tests.probe_data import planted, write_store

    data = planted(n_pairs=4, rows_per_example=2)
    data.acts[1][9, 3] = np.nan  # a row of example index 4: the fifth example
    path = write_store(tmp_path / "nan.h5", data)
    with pytest.raises(
        NonFiniteRowsError,
        match=r"layer 1 has NaN or infinite values in 1 row\(s\), of example\(s\) "
        r"5 \(counted from 1\); drop or fix those examples",
    ):
        load_layer(path, 1)
    with pytest.raises(NonFiniteRowsError, match="example"):
        ActivationStore(path).mean_by_label(1, batch_size=3)
    assert load_layer(path, 0).acts.shape == (16, 16)  # other layers read as before

    data.acts[2][[0, 15], 0] = 1e5  # past float16's largest value: inf once stored
    path = write_store(tmp_path / "overflow.h5", data, dtype="float16")
    with pytest.raises(NonFiniteRowsError, match=r"example\(s\) 1, 8 .*float16 storage overflows above 65504"):
        load_layer(path, 2)


def test_a_store_without_labels_says_so(tiny_lm, tmp_path):
    from activations import StoreFormatError
    from probes import load_layer

    result = cache_activations(
        tiny_lm("qwen3"),
        [Example(text="a"), Example(text="b")],
        tmp_path / "u.h5",
        CacheConfig(layers="0"),
        progress=False,
    )
    with pytest.raises(StoreFormatError, match=r"u.h5 has no /examples/label: cache with labels"):
        load_layer(result.path, 0)
    with pytest.raises(StoreFormatError, match="has no /examples/label"):
        ActivationStore(result.path).mean_by_label(0)
    assert ActivationStore(result.path).acts(0).shape[0] == result.n_rows  # rows stay readable
