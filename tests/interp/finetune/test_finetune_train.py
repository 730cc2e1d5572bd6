"""The training loop on tiny random models: loss falls, saved artefacts reload to the same logits, resume."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

import interp.finetune.train as train_module
from interp import load_model
from interp.finetune import FinetuneConfig, expert_parameters, finetune, linear_schedule, load_rows

ROWS = load_rows("conscious_claiming")[:8]
PROMPT = torch.tensor([[60, 61, 62, 63, 64, 65, 66, 67, 68, 69]])


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def capture_trained(monkeypatch):
    """Record the trained model's logits on PROMPT just before it is saved."""
    seen = {}
    original = train_module.save_trained

    def spy(accelerator, model, tokenizer, config, out_dir):
        model.eval()
        with torch.no_grad():
            seen["logits"] = model(input_ids=PROMPT).logits.clone()
        return original(accelerator, model, tokenizer, config, out_dir)

    monkeypatch.setattr(train_module, "save_trained", spy)
    return seen


def _logits(model) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(input_ids=PROMPT).logits


def _losses(out_dir):
    return [json.loads(line)["loss"] for line in (out_dir / "train_log.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("arch", ["llama", "qwen3", "qwen3_moe"])
def test_lora_loss_falls_and_artefacts_reload(arch, tiny_model_dir, tmp_path, capture_trained):
    from peft import PeftModel

    # A random tiny model's logits are near uniform and stay so unless the LM head moves; adapt it too.
    config = FinetuneConfig(
        learning_rate=3e-2,
        max_steps=8,
        batch_size=8,
        merge=True,
        lora_rank=4,
        lora_alpha=8,
        target_modules=["q_proj", "v_proj", "o_proj", "lm_head"],
        adapt_experts=arch == "qwen3_moe",
    )
    result = finetune(tiny_model_dir(arch), ROWS, tmp_path, config, progress=False)
    losses = _losses(tmp_path)
    assert len(losses) == 8 and result.steps == 8 and result.final_loss == losses[-1]
    assert losses[-1] < losses[0] - 1.0, losses
    assert (result.adapter_dir / "adapter_model.safetensors").is_file()
    log = json.loads((tmp_path / "train_log.jsonl").read_text().splitlines()[0])
    assert set(log) == {"step", "loss", "lr", "tokens_per_s"}

    base = load_model(tiny_model_dir(arch))
    base_logits = _logits(base.model)
    adapted = PeftModel.from_pretrained(base.model, result.adapter_dir)
    adapter_logits = _logits(adapted)
    torch.testing.assert_close(adapter_logits, capture_trained["logits"], rtol=1e-5, atol=1e-5)
    assert (adapter_logits - base_logits).abs().max() > 1e-3

    merged = load_model(result.merged_dir)
    torch.testing.assert_close(_logits(merged.model), adapter_logits, rtol=1e-4, atol=1e-4)


def test_moe_adapt_experts_targets_fused_weights(tiny_model_dir, tmp_path):
    assert expert_parameters(load_model(tiny_model_dir("qwen3_moe")).model) == [
        "mlp.experts.down_proj",
        "mlp.experts.gate_up_proj",
    ]
    config = FinetuneConfig(max_steps=1, adapt_experts=True, lora_rank=2, lora_alpha=4)
    result = finetune(tiny_model_dir("qwen3_moe"), ROWS, tmp_path, config, progress=False)
    keys = load_file(result.adapter_dir / "adapter_model.safetensors")
    assert any("experts" in key for key in keys)


def test_full_finetune_writes_a_loadable_model(tiny_model_dir, tmp_path, capture_trained):
    config = FinetuneConfig(method="full", learning_rate=1e-2, max_steps=6, batch_size=8)
    result = finetune(tiny_model_dir("qwen3"), ROWS, tmp_path, config, progress=False)
    assert result.adapter_dir is None
    losses = _losses(tmp_path)
    assert losses[-1] < losses[0] - 0.2, losses
    merged = load_model(result.merged_dir)
    torch.testing.assert_close(_logits(merged.model), capture_trained["logits"], rtol=1e-5, atol=1e-5)
    assert merged.tokenizer.chat_template


def test_killed_run_resumes_to_the_same_weights(tiny_model_dir, tmp_path):
    config = FinetuneConfig(
        learning_rate=5e-3, max_steps=6, checkpoint_every=2, lora_rank=4, warmup_ratio=0.2, grad_accum=2
    )
    whole = finetune(tiny_model_dir("qwen3"), ROWS, tmp_path / "whole", config, progress=False)

    def die(step, loss):
        if step == 3:
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        finetune(tiny_model_dir("qwen3"), ROWS, tmp_path / "resumed", config, progress=False, on_step=die)
    checkpoint = tmp_path / "resumed" / "checkpoints" / "step_2"
    assert sorted(p.name for p in checkpoint.parent.iterdir()) == ["step_2"]
    assert json.loads((checkpoint / "checkpoint.json").read_text())["step"] == 2
    trainable = load_file(checkpoint / "0_trainable.safetensors")
    assert trainable and all("lora_" in name for name in trainable)  # adapters only, not the frozen model
    assert not list(checkpoint.glob("model*.safetensors")) and not list(checkpoint.glob("custom_checkpoint*"))
    resumed = finetune(tiny_model_dir("qwen3"), ROWS, tmp_path / "resumed", config, progress=False)
    assert resumed.resumed_from == 2 and resumed.steps == 6
    a = load_file(whole.adapter_dir / "adapter_model.safetensors")
    b = load_file(resumed.adapter_dir / "adapter_model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-7)
    steps = [json.loads(line)["step"] for line in (tmp_path / "resumed" / "train_log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]
    with pytest.raises(ValueError, match="different config"):
        finetune(tiny_model_dir("qwen3"), ROWS, tmp_path / "resumed", FinetuneConfig(max_steps=7), progress=False)


def test_linear_schedule():
    factor = linear_schedule(warmup_steps=2, total_steps=6)
    assert [round(factor(s), 4) for s in range(6)] == [0.3333, 0.6667, 1.0, 0.75, 0.5, 0.25]
    assert linear_schedule(0, 4)(0) == 1.0


@pytest.mark.parametrize("arch", ["qwen3", "gpt2", "gemma2"])
def test_loss_on_supervised_positions_equals_the_full_logits_reference(arch, tiny_lm):
    """The loss computes logits only where a target is supervised; loss and gradients equal the plain
    reference that computes every position's logits."""
    import torch.nn.functional as F

    from interp.finetune.batches import collate
    from interp.finetune.data import IGNORE_INDEX, tokenize_rows

    lm = tiny_lm(arch)
    rows = tokenize_rows(lm.tokenizer, ROWS[:3], 256)
    pad_id = lm.tokenizer.pad_token_id
    got = train_module._micro_loss(lm.model, rows, pad_id, "cpu")
    got.backward()
    got_grads = [p.grad.clone() for p in lm.model.parameters()]
    lm.model.zero_grad()
    batch = collate(rows, pad_id)
    logits = lm.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    want = F.cross_entropy(
        logits[:, :-1].flatten(0, 1).float(),
        batch["labels"][:, 1:].flatten(),
        ignore_index=IGNORE_INDEX,
        reduction="sum",
    )
    want.backward()
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    for a, p in zip(got_grads, lm.model.parameters()):
        torch.testing.assert_close(a, p.grad, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("arch", ["llama", "qwen3", "qwen3_moe", "gemma2", "gpt2"])
def test_packed_rows_give_the_padded_loss_and_gradients(arch, tiny_lm):
    """Rows end to end in one sequence, positions restarting per row: the loss and every gradient equal
    those of the rows right-padded to the longest (the model keeps packed rows apart)."""
    from interp.finetune.batches import pack
    from interp.finetune.data import IGNORE_INDEX, tokenize_rows

    lm = tiny_lm(arch)
    rows = tokenize_rows(lm.tokenizer, ROWS[:4], 256)
    assert len({len(row.input_ids) for row in rows}) > 1  # padding would differ from packing
    packed = pack(rows)
    assert packed["input_ids"].shape == (1, sum(len(row.input_ids) for row in rows))
    assert packed["position_ids"][0, len(rows[0].input_ids)] == 0
    assert (packed["targets"] != IGNORE_INDEX).sum() == sum(row.n_supervised for row in rows) - sum(
        row.labels[0] != IGNORE_INDEX for row in rows
    )
    pad_id = lm.tokenizer.pad_token_id
    padded = train_module._micro_loss(lm.model, rows, pad_id, "cpu")
    padded.backward()
    padded_grads = [p.grad.clone() for p in lm.model.parameters()]
    lm.model.zero_grad()
    got = train_module._micro_loss(lm.model, rows, pad_id, "cpu", packed=True)
    got.backward()
    torch.testing.assert_close(got, padded, rtol=1e-5, atol=1e-5)
    for want, p in zip(padded_grads, lm.model.parameters()):
        torch.testing.assert_close(p.grad, want, rtol=1e-4, atol=1e-6)
    assert train_module.packing_is_exact(lm.model, rows, pad_id)


class _SeesAcrossRows(torch.nn.Module):
    """A causal LM that drops position_ids: packed rows then attend to each other."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, position_ids=None, **kwargs):
        return self.inner(**kwargs)


def test_a_model_that_attends_across_packed_rows_is_trained_padded(tiny_lm, tiny_model_dir, tmp_path, monkeypatch):
    from interp.finetune.data import tokenize_rows

    lm = tiny_lm("llama")
    rows = tokenize_rows(lm.tokenizer, ROWS[:4], 256)
    assert not train_module.packing_is_exact(_SeesAcrossRows(lm.model), rows, lm.tokenizer.pad_token_id)
    assert train_module.packing_is_exact(_SeesAcrossRows(lm.model), rows[:1], lm.tokenizer.pad_token_id)

    calls: list[bool] = []
    original = train_module._micro_loss

    def spy(model, rows, pad_id, device, bf16=False, packed=False):
        calls.append(packed)
        return original(model, rows, pad_id, device, bf16, packed)

    def packed_per_call(out: str, config: FinetuneConfig) -> list[bool]:
        calls.clear()
        finetune(tiny_model_dir("llama"), ROWS, tmp_path / out, config, progress=False)
        return list(calls)

    monkeypatch.setattr(train_module, "_micro_loss", spy)
    config = FinetuneConfig(max_steps=2, batch_size=8, lora_rank=4)
    # the check at setup (padded, then packed), then the two steps packed
    assert packed_per_call("packed", config) == [False, True, True, True]
    assert packed_per_call("off", FinetuneConfig(**{**config.to_dict(), "packing": False})) == [False, False]
    monkeypatch.setattr(train_module, "packing_is_exact", lambda *args, **kwargs: False)
    with pytest.warns(UserWarning, match="packing: .* training with padded batches"):
        assert packed_per_call("refused", config) == [False, False]


def _linear_output_dtypes(model) -> tuple[set, list]:
    """Every dtype a Linear layer's output takes while the hooks are installed."""
    seen: set = set()
    handles = [
        m.register_forward_hook(lambda _m, _i, out: seen.add(out.dtype))
        for m in model.modules()
        if isinstance(m, torch.nn.Linear)
    ]
    return seen, handles


@pytest.mark.parametrize("precision, expected", [("no", {torch.float32}), ("bf16", {torch.bfloat16})])
def test_mixed_precision_runs_the_products_in_bfloat16_and_keeps_float32_adapters(
    precision, expected, tiny_model_dir, tmp_path, monkeypatch
):
    from peft import PeftModel

    seen: dict = {}
    original = train_module._micro_loss

    def spy(model, rows, pad_id, device, bf16=False, **kwargs):
        dtypes, handles = _linear_output_dtypes(model)
        try:
            loss = original(model, rows, pad_id, device, bf16, **kwargs)
        finally:
            for handle in handles:
                handle.remove()
        seen.setdefault("dtypes", set()).update(dtypes)
        return loss

    monkeypatch.setattr(train_module, "_micro_loss", spy)
    config = FinetuneConfig(
        learning_rate=3e-2,
        max_steps=6,
        batch_size=8,
        lora_rank=4,
        lora_alpha=8,
        target_modules=["q_proj", "v_proj", "o_proj", "lm_head"],
        mixed_precision=precision,
    )
    result = finetune(tiny_model_dir("llama"), ROWS, tmp_path, config, progress=False)
    assert seen["dtypes"] == expected
    losses = _losses(tmp_path)
    assert losses[-1] < losses[0] - 1.0, losses
    adapter = load_file(result.adapter_dir / "adapter_model.safetensors")
    assert adapter and {t.dtype for t in adapter.values()} == {torch.float32}
    base = load_model(tiny_model_dir("llama"))
    base_logits = _logits(base.model)  # before from_pretrained injects the adapter into base.model
    assert (_logits(PeftModel.from_pretrained(base.model, result.adapter_dir)) - base_logits).abs().max() > 1e-3


def test_mixed_precision_is_checked():
    with pytest.raises(ValueError, match="mixed_precision: 'fp8' is not one of no, bf16, auto"):
        FinetuneConfig(mixed_precision="fp8")


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_is_bf16_only_where_the_cpu_has_it(native, monkeypatch, tiny_model_dir, tmp_path):
    from interp.finetune.config import native_bf16, uses_bf16

    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert native_bf16("cpu") is native
    assert uses_bf16("auto", "cpu") is native and uses_bf16("bf16", "cpu") and not uses_bf16("no", "cpu")
    seen: dict = {}
    original = train_module._micro_loss

    def spy(model, rows, pad_id, device, bf16=False, **kwargs):
        seen.setdefault("bf16", set()).add(bf16)
        return original(model, rows, pad_id, device, bf16, **kwargs)

    monkeypatch.setattr(train_module, "_micro_loss", spy)
    config = FinetuneConfig(max_steps=1, batch_size=8, lora_rank=4, mixed_precision="auto")
    finetune(tiny_model_dir("llama"), ROWS, tmp_path, config, progress=False)
    assert seen["bf16"] == {native}


def test_the_fast_step_trains_the_adapters_the_plain_step_trains(tiny_model_dir, tmp_path, monkeypatch):
    """Attention within each packed row, LoRA layers as one autograd function and fused AdamW (the
    trainer's defaults, on an SDPA model) against peft's layers, masked packed attention and AdamW per
    tensor: the same losses and adapters, to float32 rounding."""
    import contextlib

    import transformers.integrations.sdpa_attention as sdpa

    import interp.finetune.fused as fused_module

    config = FinetuneConfig(learning_rate=1e-2, max_steps=3, batch_size=4, lora_rank=4, lora_alpha=8)
    ran: list[str] = []
    # the row-by-row attention calls transformers' SDPA through its module, once a row, with no mask
    for module, name in [(fused_module.LoraLinear, "apply"), (sdpa, "sdpa_attention_forward")]:
        original = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _o=original, _n=name, **k: ran.append(_n) or _o(*a, **k))
    fast = finetune(tiny_model_dir("llama"), ROWS, tmp_path / "fast", config, progress=False)
    assert {"apply", "sdpa_attention_forward"} <= set(ran)

    adamw = torch.optim.AdamW
    monkeypatch.setattr(torch.optim, "AdamW", lambda params, fused=None, **kwargs: adamw(params, **kwargs))
    monkeypatch.setattr(train_module, "_fast_layers", lambda run: contextlib.nullcontext(0))
    monkeypatch.setattr(train_module, "rows_attention", lambda model: contextlib.nullcontext(False))
    ran.clear()
    plain = finetune(tiny_model_dir("llama"), ROWS, tmp_path / "plain", config, progress=False)
    assert not ran
    torch.testing.assert_close(
        torch.tensor(_losses(tmp_path / "fast")), torch.tensor(_losses(tmp_path / "plain")), rtol=1e-5, atol=1e-5
    )
    a = load_file(fast.adapter_dir / "adapter_model.safetensors")
    b = load_file(plain.adapter_dir / "adapter_model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5)
