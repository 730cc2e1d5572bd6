"""Attention within each packed row against the rows padded: the same loss and gradients, one SDPA per row."""

from __future__ import annotations

import pytest
import torch

import interp.finetune.train as train_module
from interp.finetune.attention import ROWS_SDPA, attends_by_row, row_boundaries, rows_attention
from interp.finetune.data import load_rows, tokenize_rows

ROWS = load_rows("conscious_claiming")[:4]

pytestmark = pytest.mark.usefixtures("one_thread")


def _sdpa_lm(tiny_lm, arch: str):
    lm = tiny_lm(arch)
    lm.model.config._attn_implementation = "sdpa"
    lm.model.requires_grad_(True)
    return lm


def _loss_and_grads(lm, **options):
    rows = tokenize_rows(lm.tokenizer, ROWS, 256)
    lm.model.zero_grad(set_to_none=True)
    loss = train_module._micro_loss(lm.model, rows, lm.tokenizer.pad_token_id, "cpu", **options)
    loss.backward()
    return loss.detach(), [p.grad.clone() for p in lm.model.parameters()]


@pytest.fixture
def sdpa_calls(monkeypatch):
    """The query length and mask of every SDPA call the model makes."""
    import transformers.integrations.sdpa_attention as sdpa

    calls: list[tuple[int, bool]] = []
    original = sdpa.sdpa_attention_forward

    def spy(module, query, key, value, attention_mask, **kwargs):
        calls.append((query.shape[2], attention_mask is not None))
        return original(module, query, key, value, attention_mask, **kwargs)

    monkeypatch.setattr(sdpa, "sdpa_attention_forward", spy)
    return calls


@pytest.mark.parametrize("arch", ["llama", "qwen3", "qwen3_moe", "gpt2", "deepseek_v3"])
def test_attention_by_row_gives_the_padded_loss_and_gradients(arch, tiny_lm, sdpa_calls):
    lm = _sdpa_lm(tiny_lm, arch)
    want_loss, want = _loss_and_grads(lm)  # padded, masked SDPA over each row
    lengths = [len(row.input_ids) for row in tokenize_rows(lm.tokenizer, ROWS, 256)]
    sdpa_calls.clear()
    got_loss, got = _loss_and_grads(lm, packed=True)
    # every layer ran one unmasked SDPA a row, over that row alone
    assert sdpa_calls == [(n, False) for _ in range(lm.n_layers) for n in lengths]
    torch.testing.assert_close(got_loss, want_loss, rtol=1e-6, atol=1e-4)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    assert lm.model.config._attn_implementation == "sdpa"


def test_a_sliding_window_shorter_than_the_rows_keeps_the_mask(tiny_lm, sdpa_calls):
    """gemma3's tiny model slides a 16-token window: the rows are longer, so attention stays masked."""
    lm = _sdpa_lm(tiny_lm, "gemma3_text")
    want_loss, want = _loss_and_grads(lm)
    sdpa_calls.clear()
    got_loss, got = _loss_and_grads(lm, packed=True)
    total = sum(len(row.input_ids) for row in tokenize_rows(lm.tokenizer, ROWS, 256))
    assert (total, True) in sdpa_calls  # the windowed layers: the packed sequence under its mask
    torch.testing.assert_close(got_loss, want_loss, rtol=1e-6, atol=1e-4)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_the_switch_is_undone_and_only_for_sdpa(tiny_lm):
    lm = _sdpa_lm(tiny_lm, "llama")
    with rows_attention(lm.model) as switched:
        assert switched and lm.model.config._attn_implementation == ROWS_SDPA
    assert lm.model.config._attn_implementation == "sdpa"
    with pytest.raises(RuntimeError, match="inside"):
        with rows_attention(lm.model):
            raise RuntimeError("inside")
    assert lm.model.config._attn_implementation == "sdpa"
    eager = tiny_lm("llama").model
    assert not attends_by_row(eager)
    with rows_attention(eager) as switched:
        assert not switched and eager.config._attn_implementation == "eager"


def test_row_boundaries():
    bounds = row_boundaries([3, 5, 2])
    assert bounds["cu_seq_lens_q"].tolist() == [0, 3, 8, 10] and bounds["max_length_q"] == 5
    assert bounds["cu_seq_lens_q"].dtype == torch.int32 and bounds["cu_seq_lens_k"] is bounds["cu_seq_lens_q"]
