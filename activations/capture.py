"""Capture hooks on the residual stream, and stopping the forward pass after the last needed block."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch

from interp.models import LoadedModel

__all__ = ["ForwardStopped", "block_output", "capture_residual", "stop_after", "run_to_layers"]


class ForwardStopped(Exception):
    """Raised from a hook to end a forward pass once every requested block has run."""


def block_output(output) -> torch.Tensor:
    """The hidden states a decoder block returns, whether bare or first in a tuple."""
    return output[0] if isinstance(output, tuple) else output


def _recorder(cache: dict[int, torch.Tensor], layer: int, stop: bool):
    def hook(module, args, output):
        cache[layer] = block_output(output).detach()
        if stop:
            raise ForwardStopped(layer)

    return hook


@contextmanager
def capture_residual(
    lm: LoadedModel, layers: Iterable[int], *, stop: bool = False
) -> Iterator[dict[int, torch.Tensor]]:
    """Record the residual stream after each block in `layers` into the yielded dict.

    `cache[l]` is `[batch, seq, d_model]`, the output of `lm.layers[l]`. With `stop=True` the
    forward raises `ForwardStopped` after the last requested block, so later blocks and the LM
    head never run; `run_to_layers` catches it for you.
    """
    wanted = sorted({lm.resolve_layer(layer) for layer in layers})
    if not wanted:
        raise ValueError("capture_residual needs at least one layer")
    cache: dict[int, torch.Tensor] = {}
    handles = [
        lm.layers[layer].register_forward_hook(_recorder(cache, layer, stop and layer == wanted[-1]))
        for layer in wanted
    ]
    try:
        yield cache
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def stop_after(lm: LoadedModel, layer: int) -> Iterator[None]:
    """End every forward pass inside the block with `ForwardStopped` once block `layer` has run."""
    with capture_residual(lm, [layer], stop=True):
        yield


@torch.no_grad()
def run_to_layers(lm: LoadedModel, layers: Iterable[int], **model_inputs) -> dict[int, torch.Tensor]:
    """Run the model only as far as the deepest of `layers`; return their residual streams."""
    with capture_residual(lm, layers, stop=True) as cache:
        try:
            lm.model(**model_inputs, use_cache=False)
        except ForwardStopped:
            pass
    return dict(cache)
