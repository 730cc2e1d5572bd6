"""A fine-tuning step's FLOPs, from the model's shapes and the step's tokens, and its floor.

The forward is `interp.models.flops` (2 * params * tokens, the LM head at the supervised positions
only, attention). The backward, for each product Y = X W (X [n, in], W [in, out]):

- the gradient to its input, dX = dY W^T, costs 2 * n * in * out (the forward's cost again), wherever
  X carries a gradient: every product of the frozen base's too, since the adapters above need the
  gradient to flow down through it. The exceptions are products whose input comes from frozen weights
  alone; with LoRA that is the first block's attention input (the normed embedding), read by
  q/k/v and their A matrices;
- the gradient to its weight, dW = X^T dY, costs 2 * n * in * out again, only where W trains: LoRA's
  A and B (every weight, in full fine-tuning).

Attention's backward forms four products the size of the forward's two (dP = dO V^T, dV = P^T dO,
dQ = dS K, dK = dS^T Q): twice the forward. So with LoRA a step costs about

    F = 2 * (2 * P_base + 3 * P_lora) * T - 2 * P_first * T + 2 * 2 * d_model * vocab * K + 3 * A

with T the step's tokens, K its supervised targets, P_first the weights reading the first block's
normed embedding, and A the forward's attention: 4 * layers * heads * head_dim * sum(L_i^2) dense,
half that (L_i * (L_i + 1) / 2 entries) causal. On SmolLM2-135M that is about 0.5 GFLOP a token.
Which products carry which gradient is read from the model itself (`training_shapes`: a 2-token
forward with hooks), so adapters on any set of linear layers and full fine-tuning (MoE models too)
count right; LoRA on MoE experts' fused weights is refused.

Two counts per step: `executed`, what the step's products compute (dense attention over each
attended sequence: each row alone, the packed rows as one, or padded rows to their longest), and
`floor`, the work the step cannot do without (each row alone, causal attention, no padding).
`FlopCounterMode` (with `interp.models.flops.EXTRA_FLOP_FORMULAS`) gives the executed count exactly,
but for SDPA's backward, which it counts at 2.5x the forward: flash kernels recompute the scores
rather than keep them. A step's floor time is its floor FLOPs at the machine's matmul peak
(`interp.models.peak.matmul_peak`); `finetune_flops` counts a whole run as `finetune` would train it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import torch.nn as nn

from interp.finetune.adapters import make_trainable
from interp.finetune.attention import attends_by_row, attention_implementation
from interp.finetune.batches import BatchPlan
from interp.finetune.config import FinetuneConfig
from interp.finetune.data import IGNORE_INDEX, TokenizedRow, load_rows, tokenize_rows
from interp.models import LoadedModel
from interp.models.flops import ForwardFlops, ModelShapes, attention_flops, forward_flops, model_shapes

Layout = Literal["rows", "packed", "padded"]

__all__ = [
    "Layout",
    "RunFlops",
    "StepFlops",
    "TrainingShapes",
    "finetune_flops",
    "micro_batch_flops",
    "run_flops",
    "step_flops",
    "trainer_layout",
    "training_shapes",
]


@dataclass(frozen=True)
class TrainingShapes:
    """A trainable model's shapes and which of its products carry gradients."""

    shapes: ModelShapes
    input_grads: frozenset[str]
    """Products whose input carries a gradient (the backward multiplies back through their weight)."""
    weight_grads: frozenset[str]
    """Products whose weight trains."""
    attention_grads: int
    """Layers whose attention output carries a gradient (its backward runs)."""


@dataclass(frozen=True)
class StepFlops:
    """One training step's FLOPs by part."""

    forward: ForwardFlops
    input_grads: int
    """Gradients to the products' inputs, dX = dY W^T."""
    weight_grads: int
    """Gradients to the trained weights, dW = X^T dY."""
    attention_backward: int

    @property
    def total(self) -> int:
        return self.forward.total + self.input_grads + self.weight_grads + self.attention_backward


def _first_tensor(args, kwargs) -> torch.Tensor | None:
    return next((v for v in (*args, *kwargs.values()) if isinstance(v, torch.Tensor)), None)


_PROBE = "flop_probe"


def _probe_attention(module, query, key, value, attention_mask, **kwargs) -> tuple[torch.Tensor, None]:
    """Plain attention for the probe (no mask: two tokens, flags only), counting the layers whose
    attention output carries a gradient on the module (`_probed`)."""
    # query [batch, heads, T, d_qk], key [batch, kv_heads, T, d_qk], value [batch, kv_heads, T, d_v]
    repeat = query.shape[1] // key.shape[1]
    key, value = key.repeat_interleave(repeat, 1), value.repeat_interleave(repeat, 1)
    out = torch.softmax(query @ key.transpose(-1, -2), dim=-1) @ value
    module._probed = out.requires_grad
    return out.transpose(1, 2).contiguous(), None


def _probe(model: nn.Module, modules: set[str]) -> tuple[dict[str, bool], int]:
    """A 2-token forward: whether each named module's input carries a gradient, and in how many layers
    attention's output does (attention's backward runs there)."""
    from transformers import AttentionInterface

    AttentionInterface.register(_PROBE, _probe_attention)
    inputs: dict[str, bool] = {}

    def record_input(name):
        return lambda _m, args, kwargs: inputs.__setitem__(
            name, getattr(_first_tensor(args, kwargs), "requires_grad", False)
        )

    handles = [
        module.register_forward_pre_hook(record_input(name), with_kwargs=True)
        for name, module in model.named_modules()
        if name in modules
    ]
    try:
        device = next(model.parameters()).device
        with torch.enable_grad(), attention_implementation(model, _PROBE):
            model(input_ids=torch.zeros(1, 2, dtype=torch.long, device=device), use_cache=False)
    finally:
        for handle in handles:
            handle.remove()
    probed = [module.__dict__.pop("_probed") for module in model.modules() if "_probed" in module.__dict__]
    return inputs, sum(probed)


def training_shapes(model: nn.Module) -> TrainingShapes:
    """Read which products carry gradients from a 2-token forward of `model` in its training setup
    (adapters added, frozen weights frozen). Works on a dense model built on the meta device too."""
    wrapped = next((name for name, module in model.named_modules() if type(module).__name__ == "ParamWrapper"), None)
    if wrapped is not None:
        raise ValueError(
            f"{wrapped}: adapters on fused weights (MoE experts, which peft's LoRA adapts by default) "
            "rebuild those weights every forward and are not counted; count full fine-tuning, or a "
            "dense model"
        )
    shapes = model_shapes(model)
    linears = (*shapes.body, *shapes.head)
    inputs, attention = _probe(model, {linear.module for linear in linears})
    trains = lambda linear: getattr(model.get_submodule(linear.module), linear.attribute).requires_grad  # noqa: E731
    return TrainingShapes(
        shapes,
        input_grads=frozenset(l.name for l in linears if inputs.get(l.module, False)),
        weight_grads=frozenset(l.name for l in linears if trains(l)),
        attention_grads=attention,
    )


def step_flops(training: TrainingShapes, lengths: Sequence[int], kept: int, causal: bool = False) -> StepFlops:
    """One step's FLOPs over attended sequences of these lengths, with logits at `kept` positions."""
    shapes = training.shapes
    tokens = sum(lengths)

    def backward(names: frozenset[str]) -> int:
        return sum(linear.flops(tokens) for linear in shapes.body if linear.name in names) + sum(
            linear.flops(kept) for linear in shapes.head if linear.name in names
        )

    forward = forward_flops(shapes, lengths, kept, causal)
    attention = 2 * attention_flops(shapes, lengths, causal) * training.attention_grads // shapes.n_layers
    return StepFlops(forward, backward(training.input_grads), backward(training.weight_grads), attention)


@dataclass(frozen=True)
class RunFlops:
    """A run's FLOPs: what its kernels compute, and its floor."""

    executed: int
    """Summed over the steps as the trainer runs them (packed or padded micro-batches, dense attention)."""
    floor: int
    """Summed over the steps with each row alone, no padding, causal attention."""
    tokens: int
    steps: int

    def floor_seconds(self, flops_per_second: float) -> float:
        """The run's floor time at a matmul peak (e.g. `interp.models.peak.matmul_peak(...).flops_per_second`)."""
        return self.floor / flops_per_second


def _targets(row: TokenizedRow) -> int:
    return sum(label != IGNORE_INDEX for label in row.labels[1:])


def micro_batch_flops(
    training: TrainingShapes, rows: Sequence[TokenizedRow], layout: Layout = "rows"
) -> tuple[int, int]:
    """(executed, floor) FLOPs of one micro-batch, logits at the supervised targets only, laid out as
    `layout`: "rows" packed end to end with attention within each row (the trainer on SDPA models),
    "packed" under one dense attention over them all (other packed models), "padded" to the longest row."""
    lengths = [len(row.input_ids) for row in rows]
    kept = sum(_targets(row) for row in rows)
    floor = step_flops(training, lengths, kept, causal=True).total
    if layout == "rows":
        return step_flops(training, lengths, kept).total, floor
    if layout == "packed":
        return step_flops(training, [sum(lengths)], kept).total, floor
    # padded: logits at every position where some row has a target, in every row
    positions = {t for row in rows for t, label in enumerate(row.labels[1:]) if label != IGNORE_INDEX}
    return step_flops(training, [max(lengths)] * len(rows), len(positions) * len(rows)).total, floor


def run_flops(training: TrainingShapes, plan: BatchPlan, layout: Layout = "rows", start: int = 0) -> RunFlops:
    """The FLOPs of steps `start`.. of a run's plan, over all its processes and micro-batches."""
    executed = floor = tokens = 0
    for step in range(start, plan.total_steps):
        for micro in range(plan.grad_accum):
            for rank in range(plan.world_size):
                done, needed = micro_batch_flops(training, plan.micro_batch(step, micro, rank), layout)
                executed, floor = executed + done, floor + needed
        tokens += plan.tokens(step)
    return RunFlops(executed, floor, tokens, plan.total_steps - start)


def trainer_layout(model: nn.Module, packing: bool) -> Layout:
    """How `finetune` lays out a micro-batch of `model` with `packing` on or off."""
    if not packing:
        return "padded"
    return "rows" if attends_by_row(model) else "packed"


def finetune_flops(
    lm: LoadedModel, data: str | Path | list[dict], config: FinetuneConfig, processes: int = 1
) -> RunFlops:
    """The FLOPs of `finetune(lm, data, out, config)` on `processes` processes: the same rows, plan and
    adapters, on a copy of the model built on the meta device (no memory, no weights). Dense models
    only: a MoE's routing needs real weights (count those with `training_shapes` and `run_flops`)."""
    from transformers import AutoModelForCausalLM

    implementation = getattr(lm.model.config, "_attn_implementation", None)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(lm.model.config, attn_implementation=implementation)
    trainable = make_trainable(model, config)
    trainable.train()
    rows = tokenize_rows(lm.tokenizer, load_rows(data), config.max_length)
    plan = BatchPlan(
        rows, config.batch_size, config.grad_accum, processes, config.seed, config.epochs, config.max_steps
    )
    return run_flops(training_shapes(trainable), plan, trainer_layout(model, config.packing))
