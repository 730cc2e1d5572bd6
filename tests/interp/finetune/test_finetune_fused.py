"""LoRA layers as one autograd function against peft's own forward: the same loss and gradients."""

from __future__ import annotations

import contextlib

import pytest
import torch

import interp.finetune.fused as fused_module
import interp.finetune.train as train_module
from interp.finetune.data import load_rows, tokenize_rows
from interp.finetune.fused import LoraLinear, fused_lora

ROWS = load_rows("conscious_claiming")[:4]

pytestmark = pytest.mark.usefixtures("one_thread")


def _adapted(tiny_lm, arch: str, **lora):
    from peft import LoraConfig, get_peft_model

    lm = tiny_lm(arch)
    # init_lora_weights=False: B is random too, so every adapter gradient is non-zero
    options = dict(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False, **lora)
    return get_peft_model(lm.model, LoraConfig(**options)), lm.tokenizer


def _loss_and_grads(model, tokenizer, fused: bool, bf16: bool = False):
    rows = tokenize_rows(tokenizer, ROWS, 256)
    model.zero_grad(set_to_none=True)
    with fused_lora(model) if fused else contextlib.nullcontext():
        loss = train_module._micro_loss(model, rows, tokenizer.pad_token_id, "cpu", bf16=bf16, packed=True)
        loss.backward()
    return loss.detach(), {name: p.grad.clone() for name, p in model.named_parameters() if p.requires_grad}


def test_the_function_gradients_pass_gradcheck():
    generator = torch.Generator().manual_seed(0)
    x, weight, bias = (
        torch.randn(*shape, dtype=torch.float64, generator=generator, requires_grad=True)
        for shape in [(2, 3, 5), (4, 5), (4,)]
    )
    lora_a, lora_b = (
        torch.randn(*shape, dtype=torch.float64, generator=generator, requires_grad=True) for shape in [(2, 5), (4, 2)]
    )
    assert torch.autograd.gradcheck(lambda *t: LoraLinear.apply(*t, 2.5), (x, weight, bias, lora_a, lora_b))
    want = x @ weight.T + bias + 2.5 * (x @ lora_a.T) @ lora_b.T
    torch.testing.assert_close(LoraLinear.apply(x, weight, bias, lora_a, lora_b, 2.5), want)


@pytest.mark.parametrize("arch", ["llama", "qwen3", "qwen3_moe"])
def test_fused_layers_give_peft_loss_and_gradients(arch, tiny_lm):
    model, tokenizer = _adapted(tiny_lm, arch)
    want_loss, want = _loss_and_grads(model, tokenizer, fused=False)
    with fused_lora(model) as n_fused:
        assert n_fused == sum(type(m).__name__ == "Linear" and hasattr(m, "lora_A") for m in model.modules())
    got_loss, got = _loss_and_grads(model, tokenizer, fused=True)
    torch.testing.assert_close(got_loss, want_loss, rtol=1e-6, atol=1e-4)
    assert got.keys() == want.keys()
    for name in want:
        torch.testing.assert_close(got[name], want[name], rtol=1e-4, atol=1e-6, msg=name)
    assert all("forward" not in vars(m) for m in model.modules())  # peft's forward is back


def test_bf16_fused_layers_are_as_close_to_float32_as_peft(tiny_lm):
    """Under bfloat16 autocast both round differently; the fused layers' error against the float32 result
    is no larger than peft's own (within 1.5x)."""
    model, tokenizer = _adapted(tiny_lm, "llama")
    exact_loss, exact = _loss_and_grads(model, tokenizer, fused=False)
    peft_loss, peft = _loss_and_grads(model, tokenizer, fused=False, bf16=True)
    got_loss, got = _loss_and_grads(model, tokenizer, fused=True, bf16=True)
    assert {g.dtype for g in got.values()} == {torch.float32}

    def error(grads):
        return max(((grads[k] - exact[k]).norm() / exact[k].norm()).item() for k in exact)

    assert abs(got_loss - exact_loss) <= 1.5 * abs(peft_loss - exact_loss) + 1e-3
    assert error(got) <= 1.5 * error(peft), (error(got), error(peft))


@pytest.mark.parametrize("lora", [{"lora_dropout": 0.1}, {"use_dora": True}])
def test_layers_the_function_cannot_run_keep_peft_forward(lora, tiny_lm, monkeypatch):
    model, tokenizer = _adapted(tiny_lm, "llama", **lora)
    model.train()

    def refuse(*args):
        raise AssertionError("the fused function ran")

    monkeypatch.setattr(fused_module.LoraLinear, "apply", refuse)
    torch.manual_seed(0)
    got_loss, _ = _loss_and_grads(model, tokenizer, fused=True)
    torch.manual_seed(0)
    want_loss, _ = _loss_and_grads(model, tokenizer, fused=False)
    assert got_loss == want_loss


def test_gpt2_conv1d_layers_keep_peft_forward(tiny_lm, monkeypatch):
    """gpt2 stores its weights [in, out] (peft's fan_in_fan_out): not fused, same result."""
    model, tokenizer = _adapted(tiny_lm, "gpt2")
    monkeypatch.setattr(fused_module.LoraLinear, "apply", lambda *args: pytest.fail("the fused function ran"))
    got_loss, _ = _loss_and_grads(model, tokenizer, fused=True)
    assert got_loss == _loss_and_grads(model, tokenizer, fused=False)[0]
