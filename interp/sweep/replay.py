"""The blocks below the steering layer, run once: recorded in a plain run, stood in for in stacked runs.

Steering at layer L adds to the output of block L, so blocks 0..L compute the same for every
setting of a sweep. A `Recorder` is the forward of the plain (unsteered) run: it keeps block L's
output of each forward pass (of several steering layers at once, if asked). A `Replayer` is the
forward of a stacked run, one copy per setting (`interp.evaluation.stacking`): for each pass, in
the recorded order, blocks 0..L are replaced by stand-ins that return the recorded output (repeated
per copy), block L's hooks then run as usual (`steer` adds each copy's vector there), and the
blocks above run on the stacked rows. The model's own forward still builds the embeddings, masks
and rotary positions, so any registered architecture works unchanged.

The cache. transformers sizes each pass's attention masks (and the query offset) from one cache
layer of each kind, the first full-attention layer and the first sliding one (`masking_utils.
find_first_full_attention_index`, `Cache.get_mask_sizes`), which is usually layer 0, a stood-in
block. So every stand-in writes one zero key and value of width 1 per token (`Cache.update`): each
cache layer's length (`DynamicLayer.get_seq_length`, a sliding layer's `cumulative_length`) stays
that of a plain run, at a few bytes per token, and no mask is sized wrong. Those placeholder keys
are never attended to: the stood-in blocks never run. Generation (`prompt_only`) needs the real
keys and values of blocks 0..L for its decoding steps, which run every block: the recorder keeps
the cache layers 0..L of the prompt's pass, and the replayer puts them, repeated per copy, in place
of the placeholders after the stacked prompt pass.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers.cache_utils import Cache, DummyLayer

from interp.steering import steer

__all__ = ["Recorder", "Replayer"]


@dataclass
class _Pass:
    hidden_BTD: torch.Tensor
    """Block L's output."""
    lower: list | None
    """Cache layers 0..L after the pass (a generation's prompt), else None."""


def _output(output) -> torch.Tensor:
    if isinstance(output, tuple):
        raise TypeError("the steering sweep needs decoder blocks that return a tensor (transformers >= 5)")
    return output


class Recorder:
    """The forward of the plain run: records the output of each block in `layers` for every forward pass, or
    with `prompt_only` for the passes without a cache (a generation's prompt), with the cache layers below."""

    def __init__(self, lm, layers: Sequence[int], prompt_only: bool = False) -> None:
        self.lm, self.prompt_only = lm, prompt_only
        self.passes: dict[int, list[_Pass]] = {layer: [] for layer in layers}

    def __call__(self, **inputs):
        if not self.passes or (self.prompt_only and inputs.get("cache") is not None):
            return self.lm.model(**inputs)
        seen: dict[int, torch.Tensor] = {}

        def record(layer):
            return lambda module, args, output: seen.__setitem__(layer, _output(output))

        handles = [self.lm.layers[layer].register_forward_hook(record(layer)) for layer in self.passes]
        try:
            result = self.lm.model(**inputs)
        finally:
            for handle in handles:
                handle.remove()
        lower = copy.deepcopy(result.cache.layers[: max(self.passes) + 1]) if self.prompt_only else None
        for layer, passes in self.passes.items():
            passes.append(_Pass(seen[layer], None if lower is None else lower[: layer + 1]))
        return result


class Replayer:
    """The forward of a stacked run: copy c steered by `alphas_S[c] * vectors_SD[c]` at block `layer`, blocks
    0..`layer` replayed from `recorder`'s passes (every pass, or with `prompt_only` the passes without a cache)."""

    def __init__(self, lm, layer: int, recorder: Recorder, vectors_SD: torch.Tensor, alphas_S: torch.Tensor) -> None:
        self.lm, self.layer, self.prompt_only = lm, layer, recorder.prompt_only
        self.passes = iter(recorder.passes[layer])
        self.vectors_SD, self.alphas_S = vectors_SD, alphas_S
        self.copies = len(alphas_S)

    def __call__(self, **inputs):
        rows, width = inputs["input_ids"].shape
        with self._steering(rows):
            if self.prompt_only and inputs.get("cache") is not None:
                return self.lm.model(**inputs)
            recorded = next(self.passes, None)
            if (
                recorded is None
                or recorded.hidden_BTD.shape[0] * self.copies != rows
                or recorded.hidden_BTD.shape[1] != width
            ):
                raise RuntimeError("the stacked run's forward passes do not follow the recorded plain run's")
            with _stood_in(self.lm, self.layer, recorded.hidden_BTD.repeat(self.copies, 1, 1)):
                result = self.lm.model(**inputs)
        if recorded.lower is not None:
            plain_rows = torch.arange(recorded.hidden_BTD.shape[0], device=recorded.hidden_BTD.device)
            for index, layer in enumerate(recorded.lower):
                layer = copy.copy(layer)  # reorder_cache rebinds keys and values: the recorded ones stay
                layer.reorder_cache(plain_rows.repeat(self.copies))
                result.cache.layers[index] = layer
        return result

    def finished(self) -> bool:
        """Whether every recorded pass was replayed."""
        return next(self.passes, None) is None

    def _steering(self, rows: int):
        if rows % self.copies:
            raise RuntimeError(f"a stacked pass of {rows} rows does not hold {self.copies} copies")
        per_copy = rows // self.copies
        return steer(
            self.lm,
            self.vectors_SD.repeat_interleave(per_copy, dim=0),
            self.layer,
            alpha=self.alphas_S.repeat_interleave(per_copy),
        )


@contextlib.contextmanager
def _stood_in(lm, layer: int, output_XTD: torch.Tensor):
    """Blocks 0..`layer` replaced: each passes its input on, block `layer` returns `output_XTD`."""
    blocks = list(lm.layers)[: layer + 1]
    saved = [block.__dict__.get("forward") for block in blocks]  # an instance forward (accelerate's) comes back
    for index, block in enumerate(blocks):
        block.forward = _stand_in(index, output_XTD if index == layer else None)
    try:
        yield
    finally:
        for block, forward in zip(blocks, saved):
            if forward is None:
                del block.forward
            else:
                block.forward = forward


def _stand_in(index: int, output_XTD: torch.Tensor | None):
    def forward(hidden_states, *args, **kwargs):
        cache = next((a for a in (*args, *kwargs.values()) if isinstance(a, Cache)), None)
        if cache is not None:
            _hold_length(cache, index, hidden_states)
        return hidden_states if output_XTD is None else output_XTD

    return forward


def _hold_length(cache: Cache, index: int, hidden_XTD: torch.Tensor) -> None:
    """Grow cache layer `index` by the pass's tokens with width-1 zero keys and values (see the module docstring)."""
    if index < len(cache.layers) and isinstance(cache.layers[index], DummyLayer):
        return  # a layer that reads another layer's cache holds no length of its own
    zeros_X1T1 = hidden_XTD.new_zeros(hidden_XTD.shape[0], 1, hidden_XTD.shape[1], 1)
    cache.update(zeros_X1T1, zeros_X1T1, index)
