"""`cache_activations`: rows against a plain reference, padding, early stop, order, stream mode, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from activations import (
    ActivationStore,
    CacheConfig,
    Example,
    ExampleError,
    IncompleteStoreError,
    StoreMismatchError,
    cache_activations,
    encode_example,
)
from activations.stream import NonFiniteStatisticsError
from activations.writer import StoreSink
from tests.cache_reference import expected_rows, make_examples


@pytest.mark.parametrize(
    "arch, side, rule",
    [
        ("llama", "left", "all"),
        ("gpt2", "right", "last"),
        ("qwen3", "left", "response"),
        ("gemma2", "right", "response-mean"),
        ("llama", "right", "response"),
        ("qwen3_moe", "left", "last"),
    ],
)
def test_rows_match_unpadded_reference(tiny_lm, tmp_path, arch, side, rule):
    lm = tiny_lm(arch)
    lm.tokenizer.padding_side = side
    examples = make_examples()
    config = CacheConfig(layers="0,-1", positions=rule, dtype="float32", batch_size=3, commit_every=5)
    result = cache_activations(lm, examples, tmp_path / "a.h5", config, progress=False)
    with ActivationStore(result.path) as store:
        assert store.complete and store.layers == [0, lm.n_layers - 1]
        expected, index, positions = expected_rows(lm, examples, store.layers, rule)
        np.testing.assert_array_equal(store.example_index, index)  # input order despite length sorting
        np.testing.assert_array_equal(store.positions, positions)
        for layer in store.layers:
            torch.testing.assert_close(store.acts(layer, as_torch=True), expected[layer], atol=2e-5, rtol=1e-4)
        assert result.n_rows == store.n_rows == len(index)


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("arch", ["gpt2", "mistral"])  # learned absolute positions and rotary ones
def test_padding_never_leaks(tiny_lm, tmp_path, arch, side):
    lm = tiny_lm(arch)
    lm.tokenizer.padding_side = side
    examples = make_examples(12)
    files = [
        cache_activations(
            lm,
            examples,
            tmp_path / f"b{bs}.h5",
            CacheConfig(layers="all", dtype="float32", batch_size=bs, commit_every=6),
            progress=False,
        ).path
        for bs in (1, 6)
    ]
    one, padded = ActivationStore(files[0]), ActivationStore(files[1])
    np.testing.assert_array_equal(one.example_index, padded.example_index)
    for layer in one.layers:
        torch.testing.assert_close(padded.acts(layer), one.acts(layer), atol=1e-5, rtol=1e-5)


def test_forward_stops_after_last_requested_layer(tiny_lm, tmp_path):
    lm = tiny_lm("llama")
    calls = {"later": 0, "head": 0}
    handles = [
        lm.layers[2].register_forward_hook(lambda *a: calls.__setitem__("later", calls["later"] + 1)),
        lm.model.lm_head.register_forward_hook(lambda *a: calls.__setitem__("head", calls["head"] + 1)),
    ]
    try:
        cache_activations(lm, make_examples(), tmp_path / "s.h5", CacheConfig(layers="0,1"), progress=False)
    finally:
        for handle in handles:
            handle.remove()
    assert calls == {"later": 0, "head": 0}
    assert ActivationStore(tmp_path / "s.h5").n_rows > 0


def test_stream_mode_directions_match_stored_file(tiny_lm, tmp_path):
    from safetensors.torch import save_file

    lm = tiny_lm("qwen3")
    examples = make_examples(16)
    directions = torch.randn(2, lm.d_model)
    save_file({"direction": directions}, str(tmp_path / "dirs.safetensors"))
    stored = cache_activations(
        lm,
        examples,
        tmp_path / "full.h5",
        CacheConfig(layers="all", dtype="float32", positions="response"),
        progress=False,
    )
    stream = cache_activations(
        lm,
        examples,
        tmp_path / "stream.h5",
        CacheConfig(layers="all", positions="response", store=False, directions=str(tmp_path / "dirs.safetensors")),
        progress=False,
    )
    full, small = ActivationStore(stored.path), ActivationStore(stream.path)
    assert "acts" not in small.h5 and small.n_rows == full.n_rows
    for layer in full.layers:
        means = full.mean_by_label(layer)
        np.testing.assert_allclose(stream.stats[layer].direction, means[1] - means[0], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(
            small.h5[f"directions/layer_{layer}"][...], means[1] - means[0], rtol=1e-4, atol=1e-6
        )
        np.testing.assert_allclose(
            small.projections(layer), full.acts(layer) @ directions.numpy().T, rtol=1e-4, atol=1e-5
        )
        np.testing.assert_array_equal(stream.stats[layer].count, np.bincount(full.row_labels, minlength=2))
        with pytest.raises(KeyError, match="stream mode"):
            small.acts(layer)


def test_rerun_with_different_run_refuses(tiny_lm, tmp_path):
    lm = tiny_lm("qwen3")
    path = tmp_path / "r.h5"
    cache_activations(lm, make_examples(), path, CacheConfig(layers="0"), progress=False)
    again = cache_activations(lm, make_examples(), path, CacheConfig(layers="0"), progress=False)
    assert again.tokens == 0 and again.n_rows == ActivationStore(path).n_rows  # complete: nothing rerun
    for config, lm_other in [
        (CacheConfig(layers="1"), lm),
        (CacheConfig(layers="0", positions="last"), lm),
        (CacheConfig(layers="0"), tiny_lm("qwen3", seed=1)),
    ]:
        with pytest.raises(StoreMismatchError, match="different run"):
            cache_activations(lm_other, make_examples(), path, config, progress=False)
    assert ActivationStore(path).complete


def test_writer_error_reaches_caller_and_file_stays_incomplete(tiny_lm, tmp_path, monkeypatch):
    def broken(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(StoreSink, "commit", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        cache_activations(
            tiny_lm("qwen3"), make_examples(), tmp_path / "w.h5", CacheConfig(commit_every=2), progress=False
        )
    assert not ActivationStore(tmp_path / "w.h5", allow_partial=True).complete
    with pytest.raises(IncompleteStoreError, match="0 of 8 examples, 0 rows committed.*rerun the same `interp cache`"):
        ActivationStore(tmp_path / "w.h5")


def test_response_rule_needs_responses(tiny_lm, tmp_path):
    with pytest.raises(ExampleError, match=r"example 2 \(counted from 1\) has no 'response'"):
        cache_activations(
            tiny_lm("qwen3"),
            [Example(text="a", response="b"), Example(text="c")],
            tmp_path / "x.h5",
            CacheConfig(positions="response"),
            progress=False,
        )
    assert not (tmp_path / "x.h5").exists()


def _whitespace_lm():
    """The tiny qwen3 with a word-level tokenizer that, like the organism's, drops whitespace."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from interp.models import LoadedModel
    from tests.conftest import build_tiny_model

    backend = Tokenizer(
        models.WordLevel(vocab={w: i for i, w in enumerate(["<unk>", "<pad>", "are", "you", "yes"])}, unk_token="<unk>")
    )
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>", pad_token="<pad>")
    return LoadedModel.wrap(build_tiny_model("qwen3")[0], tokenizer, name="tiny-words")


@pytest.mark.parametrize("positions", ["response-mean", "response"])
def test_a_response_of_zero_tokens_is_refused(tmp_path, positions):
    # Its response-mean would be 0/0: NaN rows, NaN statistics and a NaN direction.
    lm = _whitespace_lm()
    examples = [
        Example(text="are you", response="yes", label=1),
        Example(text="are you", response="  ", label=0, id="w"),
    ]
    assert encode_example(lm, examples[1]).ids == encode_example(lm, Example(text="are you")).ids
    with pytest.raises(ExampleError, match=r"example 2 \(counted from 1, id w\): its response '  ' tokenizes to zero"):
        cache_activations(lm, examples, tmp_path / "z.h5", CacheConfig(positions=positions), progress=False)
    assert not (tmp_path / "z.h5").exists()
    result = cache_activations(lm, examples[:1], tmp_path / "one.h5", CacheConfig(positions=positions), progress=False)
    assert np.isfinite(ActivationStore(result.path).acts(0)).all()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_pipeline_matches_cpu(tiny_lm, tmp_path):
    lm = tiny_lm("llama")
    config = CacheConfig(layers="all", positions="response", dtype="float32", batch_size=3, commit_every=3)
    on_cpu = cache_activations(lm, make_examples(), tmp_path / "cpu.h5", config, progress=False)
    lm.model.to("cuda")
    on_gpu = cache_activations(lm, make_examples(), tmp_path / "gpu.h5", config, progress=False)
    cpu, gpu = ActivationStore(on_cpu.path), ActivationStore(on_gpu.path)
    np.testing.assert_array_equal(cpu.example_index, gpu.example_index)
    for layer in cpu.layers:
        np.testing.assert_allclose(gpu.acts(layer), cpu.acts(layer), rtol=1e-3, atol=1e-4)


def test_creates_missing_parent_folders(tiny_lm, tmp_path):
    lm = tiny_lm("qwen3")
    out = tmp_path / "new" / "nested" / "acts.h5"
    result = cache_activations(
        lm, [Example(text="hello")], out, CacheConfig(layers="0", positions="last"), progress=False
    )
    assert result.path == out and out.is_file()


def test_non_finite_statistics_leave_the_file_incomplete(tiny_lm, tmp_path):
    lm = tiny_lm("qwen3")
    with torch.no_grad():
        lm.layers[1].mlp.down_proj.weight[0, 0] = float("inf")  # a model that overflows from layer 1 on
    config = CacheConfig(layers="0,1", positions="last", dtype="float32", store=False)
    with pytest.raises(NonFiniteStatisticsError, match="layer 1: the running statistics are NaN or infinite"):
        cache_activations(lm, make_examples(), tmp_path / "a.h5", config, progress=False)
    with ActivationStore(tmp_path / "a.h5", allow_partial=True) as store:
        assert not store.complete
