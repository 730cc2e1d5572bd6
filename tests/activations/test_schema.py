"""The activation file's schema: each storage dtype written by `cache_activations` and read through
every public reader equals the float32 rows cast to that dtype, and gives the same directions and
probe sweep."""

from __future__ import annotations

import importlib
import json

import h5py
import numpy as np
import pytest
import torch

from activations import ActivationStore, CacheConfig, Example, cache_activations, schema
from activations.shards import ShardPlan, _join, shard_path
from interp.cli import main
from interp.models import LoadedModel
from probes import direction_from_store, list_layers, load_direction, load_groups, load_layer, store_attrs, sweep_store
from tests.conftest import build_tiny_model

DTYPES = ("float32", "float16", "bfloat16")
CONFIG = dict(layers="all", positions="response-mean", batch_size=4, commit_every=8)
N_PAIRS = 100  # 25 held-out pairs: one AUROC step is 1/625, finer than the 0.005 tolerance
# `activations.cache` the attribute is the function; the module is looked up by name
cache_module = importlib.import_module("activations.cache")
TORCH = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def _examples(n_pairs: int = N_PAIRS) -> list[Example]:
    """Pairs of answers to one question, made of random words and told apart by their last word only:
    a weak signal, so the held-out AUROC sits below 1 where a rounding change could move it."""
    rng = np.random.default_rng(0)
    words = "rain music maths sea sleep chess bread stars cold warm blue green river stone light dark".split()
    examples = []
    for i in range(n_pairs):
        question = [{"role": "user", "content": f"Tell me about {rng.choice(words)} {i}"}]
        for last, label in (("joy", 1), ("none", 0)):
            response = " ".join([*rng.choice(words, size=5), last])
            examples.append(Example(messages=question, response=response, label=label, group=i, id=f"q{i}-{label}"))
    return examples


def _cast(values: np.ndarray, dtype: str) -> np.ndarray:
    """float32 rows as that dtype holds them, widened back to float32."""
    return torch.from_numpy(values).to(TORCH[dtype]).float().numpy()


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, object]:
    model, tokenizer = build_tiny_model("qwen3")
    lm = LoadedModel.wrap(model, tokenizer, name="tiny-qwen3")
    folder = tmp_path_factory.mktemp("schema")
    return {
        dtype: cache_activations(
            lm, _examples(), folder / f"{dtype}.h5", CacheConfig(dtype=dtype, **CONFIG), progress=False
        ).path
        for dtype in DTYPES
    }


def test_bfloat16_decoding_is_bit_exact_for_every_pattern():
    bits = np.arange(1 << 16, dtype=np.uint16)
    want = torch.from_numpy(bits.view(np.int16)).view(torch.bfloat16).float().numpy()
    np.testing.assert_array_equal(schema.decode(bits, "bfloat16").view(np.uint32), want.view(np.uint32))
    assert schema.decode_torch(bits, "bfloat16").dtype == torch.bfloat16


def test_bfloat16_encoding_rounds_to_nearest_even():
    values = np.random.default_rng(0).normal(scale=50, size=4096).astype(np.float32)
    values[:3] = [1.0 + 2**-8, 1.0 + 3 * 2**-8, -65504.0]  # ties go to the even mantissa
    bits = values.view(np.uint32)
    want = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)  # the textbook rounding
    np.testing.assert_array_equal(schema.encode(values, "bfloat16"), want)
    decoded = schema.decode(schema.encode(values, "bfloat16"), "bfloat16")
    np.testing.assert_array_equal(decoded, _cast(values, "bfloat16"))


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_reader_returns_the_float32_rows_cast_to_the_storage_dtype(stores, dtype):
    reference = ActivationStore(stores["float32"])
    with ActivationStore(stores[dtype]) as store, h5py.File(stores[dtype], "r") as plain:
        assert store.layers == reference.layers == list_layers(stores[dtype]) == [0, 1, 2]
        assert store.stored_dtype == store_attrs(stores[dtype])["dtype"] == dtype
        assert load_groups(stores[dtype]).tolist() == [i // 2 for i in range(2 * N_PAIRS)]
        for layer in store.layers:
            want = _cast(reference.acts(layer), dtype)
            dataset = plain[f"acts/layer_{layer}"]
            assert dataset.dtype == schema.STORAGE_DTYPES[dtype].disk and dataset.attrs["storage_dtype"] == dtype
            numpy_rows = store.acts(layer)
            assert numpy_rows.dtype == (np.float16 if dtype == "float16" else np.float32)
            np.testing.assert_array_equal(numpy_rows.astype(np.float32), want)
            torch_rows = store.acts(layer, as_torch=True)
            assert torch_rows.dtype == TORCH[dtype]
            np.testing.assert_array_equal(torch_rows.float().numpy(), want)
            np.testing.assert_array_equal(np.concatenate(list(store.iter_batches(layer, 5))).astype(np.float32), want)
            np.testing.assert_array_equal(store.acts(layer, rows=np.array([3, 7])).astype(np.float32), want[[3, 7]])
            np.testing.assert_array_equal(store.raw_acts(layer), dataset[...])
            np.testing.assert_array_equal(schema.decode(store.raw_acts(layer), dtype).astype(np.float32), want)
            for data in (store.layer_data(layer), load_layer(stores[dtype], layer)):
                assert data.acts.dtype == np.float32
                np.testing.assert_array_equal(data.acts, want)
                np.testing.assert_array_equal(data.row_labels, np.tile([1, 0], N_PAIRS))
            means = store.mean_by_label(layer, batch_size=7)
            for label in (0, 1):
                np.testing.assert_allclose(
                    means[label], want[store.row_labels == label].astype(np.float64).mean(0), rtol=1e-12, atol=1e-12
                )


def test_statistics_and_stream_directions_do_not_depend_on_the_storage_dtype(stores):
    # The running sums are taken from the float32 rows before the cast, so every dtype has the same.
    reference = ActivationStore(stores["float32"])
    for dtype in DTYPES:
        with ActivationStore(stores[dtype]) as store:
            for layer in store.layers:
                rows = reference.acts(layer).astype(np.float64)
                want = rows[reference.row_labels == 1].mean(0) - rows[reference.row_labels == 0].mean(0)
                np.testing.assert_allclose(store.h5[schema.direction_path(layer)][...], want, rtol=1e-5, atol=1e-6)
                np.testing.assert_array_equal(store.h5[schema.stats_path(layer)]["count"][...], [N_PAIRS, N_PAIRS])


def _sharded(lm, examples, out, config, monkeypatch):
    """Two ranks' shards written one after the other by the real writer, then joined as rank 0 does."""
    bounds = [0, len(examples) // 2, len(examples)]
    for rank in range(2):
        plan = ShardPlan(rank, 2, bounds[rank], bounds[rank + 1], shard_path(out, rank))
        monkeypatch.setattr(cache_module, "plan_shard", lambda path, n, plan=plan: plan)
        monkeypatch.setattr(cache_module, "join_shards", lambda path, shard: (0, shard.path))
        cache_activations(lm, examples, out, config, progress=False)
    _join(out, 2)
    return out


def test_joined_shards_decode_like_a_single_file(tmp_path, monkeypatch):
    model, tokenizer = build_tiny_model("qwen3")
    lm = LoadedModel.wrap(model, tokenizer, name="tiny-qwen3")
    examples = _examples(5)
    joined = {
        dtype: _sharded(lm, examples, tmp_path / f"{dtype}.h5", CacheConfig(dtype=dtype, **CONFIG), monkeypatch)
        for dtype in DTYPES
    }
    reference = ActivationStore(joined["float32"])
    assert reference.n_rows == 10 and reference.example_index.tolist() == list(range(10))
    for dtype in ("float16", "bfloat16"):
        with ActivationStore(joined[dtype]) as store:
            assert store.h5["acts/layer_1"].is_virtual
            for layer in store.layers:
                want = _cast(reference.acts(layer), dtype)
                np.testing.assert_array_equal(store.acts(layer).astype(np.float32), want)
                np.testing.assert_array_equal(load_layer(joined[dtype], layer).acts, want)


def _saved_scores(folder) -> list[dict]:
    return json.loads((folder / "sweep.json").read_text())["scores"]


def _cosine(a, b) -> float:
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_directions_and_probe_sweeps_agree_across_dtypes(stores, tmp_path, capsys):
    reference = ActivationStore(stores["float32"])
    layers = reference.layers
    found: dict[str, dict[str, np.ndarray]] = {}
    aurocs: dict[str, dict[str, list[float]]] = {}
    for dtype in DTYPES:
        path = stores[dtype]
        with ActivationStore(path) as store:
            means = [store.mean_by_label(layer) for layer in layers]
        out = tmp_path / f"{dtype}.safetensors"
        assert main(["direction", "--store", str(path), "--out", str(out)]) == 0
        assert main(["probe", "--store", str(path), "--out", str(tmp_path / dtype)]) == 0
        found[dtype] = {
            "ActivationStore": np.stack([m[1] - m[0] for m in means]),
            "probes": direction_from_store(path, layers).vectors.numpy(),
            "interp direction": load_direction(out).vectors.numpy(),
        }
        aurocs[dtype] = {
            "probes": [s.auroc for s in sweep_store(path).scores],
            "interp probe": [row["auroc"] for row in _saved_scores(tmp_path / dtype)],
        }
        # each equals the mean difference of the float32 rows cast to the dtype
        for layer, got in zip(layers, found[dtype]["interp direction"]):
            rows, labels = _cast(reference.acts(layer), dtype).astype(np.float64), reference.row_labels
            np.testing.assert_allclose(got, rows[labels == 1].mean(0) - rows[labels == 0].mean(0), rtol=1e-4, atol=1e-6)
    capsys.readouterr()
    for dtype in ("float16", "bfloat16"):
        for reader, vectors in found[dtype].items():
            for layer, (got, want) in enumerate(zip(vectors, found["float32"][reader])):
                assert _cosine(got, want) >= 0.999, (dtype, reader, layer)
        for reader, values in aurocs[dtype].items():
            assert max(values) < 1  # a sweep that is not trivially perfect
            np.testing.assert_allclose(values, aurocs["float32"][reader], atol=0.005, err_msg=f"{dtype} {reader}")
