"""LoRA linear layers in one autograd step: the frozen product and the adapter's, with no extra passes.

peft's LoRA forward is `base(x) + lora_B(lora_A(dropout(x))) * scaling`: besides the three products
it scales the adapter's output and adds it to the base's (two passes over [tokens, out] forward,
two more backward, one of them summing the input's two gradients), and builds six autograd nodes a
layer. `fused_lora` runs the same products as one autograd function: the adapter's product
accumulates into the base's output in place (y += s * h B^T, one GEMM), and the backward computes
dx = dY W + s * (dY B) A the same way, the scaling applied to the [tokens, r] tensor only. Gradients
go to the adapters (and to x where it needs one), never to the frozen weight.

Layers with dropout, DoRA or other variants, several active adapters, merged weights or a weight
stored transposed (gpt2's Conv1D) keep peft's forward, as does any call under autocast other than to
bfloat16 (the inputs are cast as autocast would, and the function runs on the cast copies).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn as nn

__all__ = ["LoraLinear", "fused_lora"]


class LoraLinear(torch.autograd.Function):
    """y = x W^T + b + scale * (x A^T) B^T, with x [..., in], W [out, in], A [r, in], B [out, r]."""

    @staticmethod
    def forward(ctx, x, weight, bias, lora_a, lora_b, scale: float):
        x_ND = x.reshape(-1, x.shape[-1])
        h_NR = x_ND @ lora_a.t()
        y_NO = torch.addmm(bias, x_ND, weight.t()) if bias is not None else x_ND @ weight.t()
        y_NO.addmm_(h_NR, lora_b.t(), alpha=scale)
        ctx.save_for_backward(x_ND, weight, lora_a, lora_b, h_NR)
        ctx.scale, ctx.x_shape = scale, x.shape
        return y_NO.view(*x.shape[:-1], -1)

    @staticmethod
    def backward(ctx, dy):
        x_ND, weight, lora_a, lora_b, h_NR = ctx.saved_tensors
        needs_x, needs_w, needs_b, needs_a, needs_lb, _ = ctx.needs_input_grad
        dy_NO = dy.reshape(-1, dy.shape[-1])
        dh_NR = (dy_NO @ lora_b).mul_(ctx.scale)
        dx = dw = dbias = da = db = None
        if needs_x:
            dx = (dy_NO @ weight).addmm_(dh_NR, lora_a).view(ctx.x_shape)
        if needs_w:
            dw = dy_NO.t() @ x_ND
        if needs_b:
            dbias = dy_NO.sum(0)
        if needs_a:
            da = dh_NR.t() @ x_ND
        if needs_lb:
            db = (dy_NO.t() @ h_NR).mul_(ctx.scale)
        return dx, dw, dbias, da, db, None


def _plain(layer) -> str | None:
    """The one active adapter of a peft LoRA layer that the fused function can run, or None."""
    base = getattr(layer, "base_layer", None)
    active = getattr(layer, "active_adapters", [])
    if (
        layer.disable_adapters
        or layer.merged
        or len(active) != 1
        or type(base) is not nn.Linear
        or getattr(layer, "fan_in_fan_out", False)
    ):
        return None
    name = active[0]
    if (
        name not in layer.lora_A
        or name in getattr(layer, "lora_variant", {})
        or not isinstance(layer.lora_dropout[name], nn.Identity)
        or layer.lora_B[name].bias is not None
    ):
        return None
    return name


def _fused_forward(layer, original):
    def forward(x, *args, **kwargs):
        name = None if args or kwargs else _plain(layer)
        device = x.device.type
        autocast = torch.is_autocast_enabled(device)
        if name is None or (autocast and torch.get_autocast_dtype(device) != torch.bfloat16):
            return original(x, *args, **kwargs)
        base, lora_a, lora_b = layer.base_layer, layer.lora_A[name].weight, layer.lora_B[name].weight
        tensors: tuple[torch.Tensor | None, ...] = (x, base.weight, base.bias, lora_a, lora_b)
        if autocast:  # the casts autocast would make for F.linear; differentiable, so gradients reach float32
            tensors = tuple(t if t is None else t.to(torch.bfloat16) for t in tensors)
        with torch.autocast(device, enabled=False):
            return LoraLinear.apply(*tensors, layer.scaling[name])

    return forward


def _lora_layers(model: nn.Module) -> list[nn.Module]:
    from peft.tuners.lora import Linear as PeftLinear

    return [module for module in model.modules() if type(module) is PeftLinear]


@contextlib.contextmanager
def fused_lora(model: nn.Module) -> Iterator[int]:
    """Within the block, `model`'s peft LoRA linear layers run `LoraLinear` (yields how many); peft's
    own forward is back on exit. The adapters' parameters, and what peft saves, are unchanged."""
    layers = _lora_layers(model)
    for layer in layers:
        layer.forward = _fused_forward(layer, type(layer).forward.__get__(layer))
    try:
        yield len(layers)
    finally:
        for layer in layers:
            del layer.forward
