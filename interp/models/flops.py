"""How many floating-point operations a forward pass costs, from the model's shapes.

A transformer's forward is almost all matrix products; everything else (norms, activations,
softmax, rotary) is a few operations per element and is left out, as FLOP counts usually do.
For a sequence of L tokens:

- each weight of the decoder (attention and MLP projections, the MoE router, LoRA's A and B)
  multiplies L rows by its [in, out] matrix: 2 * L * in * out (a multiply and an add per weight);
- a fused MoE expert weight [n_experts, out, in] sees each token `top_k` times: 2 * top_k * L * in * out;
- the LM head runs only on the positions whose logits are asked for (K of them): 2 * K * d_model * vocab;
- attention, per layer and query head, forms the L x L scores (2 * L^2 * d_qk) and weights the
  values with them (2 * L^2 * d_v). Run dense (a kernel over the whole square, as SDPA and eager
  attention are, over rows packed end to end too) that is 2 * heads * L^2 * (d_qk + d_v) a layer;
  causally, only the L * (L + 1) / 2 entries on and below the diagonal are needed.

In all about 2 * params * tokens plus the attention term: `torch.utils.flop_counter.FlopCounterMode`
gives the same count for the same pass (it counts matrix products only, and misses the CPU SDPA
kernel, MoE experts' grouped products and in-place products unless given `EXTRA_FLOP_FORMULAS`).
`interp.finetune.flops` adds a training step's backward.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn

__all__ = [
    "ForwardFlops",
    "Linear",
    "ModelShapes",
    "EXTRA_FLOP_FORMULAS",
    "FlopTally",
    "attention_flops",
    "counting_linear_flops",
    "forward_flops",
    "model_shapes",
]


@dataclass(frozen=True)
class Linear:
    """One weight matrix the forward multiplies by."""

    module: str
    """The module that runs the product (its name in `model.named_modules()`)."""
    attribute: str
    """The weight's attribute on that module: "weight", or a fused expert weight's name."""
    in_features: int
    out_features: int
    uses: int = 1
    """How many times each token passes through it (a fused MoE expert weight: top_k)."""

    @property
    def name(self) -> str:
        return f"{self.module}.{self.attribute}"

    def flops(self, rows: int) -> int:
        return 2 * rows * self.uses * self.in_features * self.out_features


@dataclass(frozen=True)
class ModelShapes:
    """What a forward's FLOPs depend on."""

    body: tuple[Linear, ...]
    """Every product the decoder runs on each token (blocks, adapters, MoE experts), the LM head's aside."""
    head: tuple[Linear, ...]
    """The LM head's products (its weight, and adapters on it if any), run only where logits are kept."""
    n_layers: int
    n_heads: int
    """Query heads (grouped-query attention multiplies each query head by its shared key/value head)."""
    qk_dim: int
    """Per-head width of queries and keys."""
    v_dim: int
    """Per-head width of values."""

    @property
    def params(self) -> int:
        """Weights a token passes through in the body (MoE: the active experts' only)."""
        return sum(linear.uses * linear.in_features * linear.out_features for linear in self.body)


@dataclass(frozen=True)
class ForwardFlops:
    """A forward's FLOPs by part."""

    body: int
    """The decoder's matrix products: 2 * params * tokens."""
    head: int
    """The LM head at the kept positions."""
    attention: int
    """Scores and weighted values."""

    @property
    def total(self) -> int:
        return self.body + self.head + self.attention


def _config_dims(config) -> tuple[int, int, int, int]:
    """(layers, query heads, qk width, v width) from an HF config (llama-style, gpt2, MLA)."""
    text = getattr(config, "text_config", None) or config
    layers = getattr(text, "num_hidden_layers", None) or text.n_layer
    heads = getattr(text, "num_attention_heads", None) or text.n_head
    hidden = getattr(text, "hidden_size", None) or text.n_embd
    head_dim = getattr(text, "head_dim", None) or hidden // heads
    return layers, heads, getattr(text, "qk_head_dim", None) or head_dim, getattr(text, "v_head_dim", None) or head_dim


def _weights(model: nn.Module) -> Iterator[Linear]:
    """Each matrix product's weight: nn.Linear, transformers' Conv1D (gpt2; stored [in, out]) and fused
    MoE expert weights ([n_experts, out, in], which a token passes through top_k times)."""
    from transformers.pytorch_utils import Conv1D

    top_k = getattr(getattr(model, "config", None), "num_experts_per_tok", None) or 1
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            yield Linear(name, "weight", module.in_features, module.out_features)
        elif isinstance(module, Conv1D):
            yield Linear(name, "weight", module.weight.shape[0], module.weight.shape[1])
        elif type(module).__name__.endswith("Router") and getattr(module, "weight", None) is not None:
            yield Linear(name, "weight", module.weight.shape[1], module.weight.shape[0])  # a MoE router's F.linear
        elif name.rsplit(".", 1)[-1] == "experts":
            for param_name, param in module.named_parameters(recurse=False):
                if param.ndim == 3:
                    yield Linear(name, param_name, param.shape[2], param.shape[1], top_k)


def model_shapes(model: nn.Module) -> ModelShapes:
    """The shapes of a causal LM (an HF `*ForCausalLM`, or a peft model around one, adapters included)."""
    hf: Any = model  # a transformers model (nn.Module types its attributes as Tensor | Module)
    head_module = hf.get_output_embeddings()
    head_name = next((name for name, module in model.named_modules() if module is head_module), None)
    if head_name is None:
        raise ValueError(f"{type(model).__name__}: no output embedding (LM head) to count")
    owner = head_name.removesuffix(".base_layer")  # with adapters on the head, count them with it
    body: list[Linear] = []
    head: list[Linear] = []
    for linear in _weights(model):
        (head if linear.module == owner or linear.module.startswith(owner + ".") else body).append(linear)
    return ModelShapes(tuple(body), tuple(head), *_config_dims(model.config))


def attention_flops(shapes: ModelShapes, lengths: Sequence[int], causal: bool = False) -> int:
    """Forward attention FLOPs over sequences of these lengths, each dense (its whole square), or causal."""
    entries = sum(n * (n + 1) // 2 if causal else n * n for n in lengths)
    return 2 * shapes.n_layers * shapes.n_heads * (shapes.qk_dim + shapes.v_dim) * entries


def forward_flops(
    shapes: ModelShapes, lengths: Sequence[int], kept: int | None = None, causal: bool = False
) -> ForwardFlops:
    """A forward's FLOPs over sequences of these lengths, with logits at `kept` positions (None: all).

    A batch padded to its longest row is `[longest] * rows`; rows packed end to end under one dense
    attention are `[sum of their lengths]`; `causal` counts only the entries a causal kernel needs.
    """
    tokens = sum(lengths)
    kept = tokens if kept is None else kept
    return ForwardFlops(
        body=sum(linear.flops(tokens) for linear in shapes.body),
        head=sum(linear.flops(kept) for linear in shapes.head),
        attention=attention_flops(shapes, lengths, causal),
    )


class FlopTally:
    """The FLOPs of the weight products a process's modules ran while `counting_linear_flops` was open."""

    def __init__(self) -> None:
        from transformers.pytorch_utils import Conv1D

        self.flops = 0
        self.calls = 0
        self._conv1d = Conv1D

    def __call__(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        if isinstance(module, nn.Linear):
            in_features, out_features = module.in_features, module.out_features
        elif isinstance(module, self._conv1d):
            in_features, out_features = module.weight.shape[0], module.weight.shape[1]
        else:
            return
        if not args or not isinstance(args[0], torch.Tensor):
            return
        rows = args[0].numel() // in_features
        self.flops += 2 * rows * in_features * out_features
        self.calls += 1


@contextmanager
def counting_linear_flops() -> Iterator[FlopTally]:
    """Count, while open, the FLOPs of every forward product an `nn.Linear` (or gpt2's Conv1D) runs in this
    process, in any model: 2 * rows * in * out a call, padding rows included, the LM head wherever it runs.

    A global module hook (`torch.nn.modules.module.register_module_forward_hook`), so it sees models loaded
    inside the block too, and an upper block run on more rows than a lower one (a shared-prefix sweep)
    counts each as run. Not counted: attention's score products (4 * L * d_model a token and layer over
    L keys, beside the layer's 2 * its weights: on SmolLM2-135M under a tenth for L < 300), fused MoE
    experts, backward passes, and engines in other processes (vLLM). A lower bound on the work done,
    then, never an overcount.

        with counting_linear_flops() as tally:
            lm.model(**batch)
        tally.flops
    """
    tally = FlopTally()
    handle = torch.nn.modules.module.register_module_forward_hook(tally)
    try:
        yield tally
    finally:
        handle.remove()


def _sdpa_cpu(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    from torch.utils.flop_counter import sdpa_flop_count

    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _sdpa_cpu_backward(grad_out_shape, query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    from torch.utils.flop_counter import sdpa_backward_flop_count

    return sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)


def _grouped_mm(a_shape, b_shape, *args, out_shape=None, **kwargs) -> int:
    """MoE experts' grouped product: the groups split one operand's rows, so the FLOPs are those of
    one product over all rows ([M, K] x [E, K, N]: 2 * M * K * N; a weight gradient [K, M] x [M, N]
    summed per group: 2 * K * M * N; batched [E, M, K] x [E, K, N]: 2 * E * M * K * N)."""
    if len(a_shape) == 3:
        return 2 * a_shape[0] * a_shape[1] * a_shape[2] * b_shape[-1]
    return 2 * a_shape[0] * a_shape[1] * b_shape[-1]


def _addmm_(self_shape, a_shape, b_shape, *args, out_shape=None, **kwargs) -> int:
    return 2 * a_shape[0] * a_shape[1] * b_shape[1]


EXTRA_FLOP_FORMULAS = {
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _sdpa_cpu,
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward: _sdpa_cpu_backward,
    torch.ops.aten._grouped_mm: _grouped_mm,
    torch.ops.aten.addmm_: _addmm_,
}
"""`FlopCounterMode(custom_mapping=EXTRA_FLOP_FORMULAS)`: kernels it does not count by itself (CPU SDPA,
with the formulas it uses for the GPU ones; MoE experts' grouped products; the in-place addmm_)."""
