"""A training step's FLOPs from the shapes against torch's FlopCounterMode on the same step, and a run's sum."""

from __future__ import annotations

import pytest
from torch.utils.flop_counter import FlopCounterMode

import interp.finetune.train as train_module
from interp.finetune import FinetuneConfig, finetune, load_rows, make_trainable
from interp.finetune.batches import BatchPlan
from interp.finetune.data import tokenize_rows
from interp.finetune.flops import (
    finetune_flops,
    micro_batch_flops,
    run_flops,
    step_flops,
    trainer_layout,
    training_shapes,
)
from interp.finetune.fused import fused_lora
from interp.models.flops import EXTRA_FLOP_FORMULAS

ROWS = load_rows("conscious_claiming")[:8]

pytestmark = pytest.mark.usefixtures("one_thread")


def _trainable(tiny_lm, arch: str, method: str = "lora", sdpa: bool = False, **fields):
    lm = tiny_lm(arch)
    if sdpa:
        lm.model.config._attn_implementation = "sdpa"
    model = make_trainable(lm.model, FinetuneConfig(method=method, lora_rank=4, **fields))
    model.train()
    return model, lm.tokenizer


def _measured(model, rows, pad_id, **options) -> int:
    with FlopCounterMode(display=False, custom_mapping=EXTRA_FLOP_FORMULAS) as counter, fused_lora(model):
        train_module._micro_loss(model, rows, pad_id, "cpu", **options).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


@pytest.mark.parametrize(
    "arch, method",
    [(arch, "lora") for arch in ("llama", "qwen3", "gemma2", "gpt2")]
    + [(arch, "full") for arch in ("llama", "gpt2", "qwen3_moe", "deepseek_v3")],
)
def test_step_flops_equal_the_flop_counter(arch, method, tiny_lm):
    """Eager attention (the tiny models'): packed rows under one dense attention, and padded rows."""
    model, tokenizer = _trainable(tiny_lm, arch, method)
    training = training_shapes(model)
    rows = tokenize_rows(tokenizer, ROWS[:3], 256)
    pad_id = tokenizer.pad_token_id
    assert micro_batch_flops(training, rows, "packed")[0] == _measured(model, rows, pad_id, packed=True)
    assert micro_batch_flops(training, rows, "padded")[0] == _measured(model, rows, pad_id)


def test_attention_by_row_counts_each_row(tiny_lm):
    """SDPA within each row; torch counts SDPA's backward at 2.5x its forward (the flash kernel
    recomputes the scores), the count at the 2x the backward's products need."""
    model, tokenizer = _trainable(tiny_lm, "llama", sdpa=True)
    training = training_shapes(model)
    rows = tokenize_rows(tokenizer, ROWS[:3], 256)
    lengths = [len(row.input_ids) for row in rows]
    executed, floor = micro_batch_flops(training, rows, "rows")
    recomputed = step_flops(training, lengths, kept=0).forward.attention // 2
    assert executed + recomputed == _measured(model, rows, tokenizer.pad_token_id, packed=True)
    assert floor < executed < micro_batch_flops(training, rows, "packed")[0]


def test_which_products_carry_gradients(tiny_lm):
    model, _ = _trainable(tiny_lm, "llama")
    training = training_shapes(model)
    names = {linear.name for linear in (*training.shapes.body, *training.shapes.head)}
    no_input_grad = {
        name for name in names if "layers.0.self_attn." in name and "o_proj" not in name and "lora_B" not in name
    }
    assert len(no_input_grad) == 6  # q, k, v and their A matrices read the frozen embedding
    assert names - training.input_grads == no_input_grad
    assert training.weight_grads == {name for name in names if "lora_" in name}
    assert training.attention_grads == 3
    # adapters on o_proj alone: the first block's attention sees frozen inputs only, no backward there
    model, _ = _trainable(tiny_lm, "llama", target_modules=["o_proj"])
    assert training_shapes(model).attention_grads == 2


def test_the_lora_step_formula(tiny_lm):
    """The module docstring's closed form: 2 (2 P_base + 3 P_lora) T - 2 P_first T + 4 d V K + 3 A."""
    model, _ = _trainable(tiny_lm, "llama")
    training = training_shapes(model)
    body = training.shapes.body
    p_lora = sum(l.in_features * l.out_features for l in body if "lora_" in l.name)
    p_base = sum(l.in_features * l.out_features for l in body) - p_lora
    p_first = sum(l.in_features * l.out_features for l in body if l.name not in training.input_grads)
    lengths, kept = [7, 5], 4
    tokens, attention = sum(lengths), 2 * 3 * 4 * (8 + 8) * (49 + 25)
    want = 2 * (2 * p_base + 3 * p_lora) * tokens - 2 * p_first * tokens + 4 * 32 * 260 * kept + 3 * attention
    assert step_flops(training, lengths, kept).total == want


def test_run_flops_sum_the_plan_as_finetune_trains_it(tiny_lm, tmp_path, monkeypatch):
    """FlopCounterMode over every training step of a real run (eager attention: packed rows under one
    dense attention) equals the plan's count; `finetune_flops` (a meta-device copy) gives the same."""
    seen: list[int] = []
    original = train_module._train_step

    def counted(*args, **kwargs):
        with FlopCounterMode(display=False, custom_mapping=EXTRA_FLOP_FORMULAS) as counter:
            out = original(*args, **kwargs)
        seen.append(counter.get_total_flops())
        return out

    monkeypatch.setattr(train_module, "_train_step", counted)
    config = FinetuneConfig(max_steps=3, batch_size=4, grad_accum=2, lora_rank=4)
    finetune(tiny_lm("llama"), ROWS, tmp_path, config, progress=False)
    lm = tiny_lm("llama")
    model = make_trainable(lm.model, config)
    plan = BatchPlan(tokenize_rows(lm.tokenizer, ROWS, config.max_length), 4, 2, 1, config.seed, 1, 3)
    assert trainer_layout(model, config.packing) == "packed"
    total = run_flops(training_shapes(model), plan, "packed")
    assert total.executed == sum(seen) and total.steps == 3
    assert total.tokens == sum(plan.tokens(step) for step in range(3)) and total.floor < total.executed
    assert finetune_flops(tiny_lm("llama"), ROWS, config) == total
    assert run_flops(training_shapes(model), plan, "packed", start=2).executed == seen[2]


def test_adapted_fused_expert_weights_are_refused(tiny_lm):
    model, _ = _trainable(tiny_lm, "qwen3_moe", adapt_experts=True)
    with pytest.raises(ValueError, match="experts: adapters on fused weights"):
        training_shapes(model)
