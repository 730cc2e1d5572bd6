"""Attention within each packed row: rows trained end to end attend over their own length only.

Packed rows (`batches.pack`) run every linear layer once over the micro-batch's tokens, with no
padding; but attention given the packed sequence and a block-diagonal mask computes the whole
T x T square of scores and throws most of it away (with 4 rows of ~80 tokens, 4x the scores the
rows need: a sixth of a SmolLM2 step's FLOPs). `rows_attention` runs SDPA once per row instead,
causal within the row, from the row boundaries the step passes as `cu_seq_lens_q` (the keyword
transformers' own packed-sequence attention reads). The result is the packed attention's, to
float rounding: a row never saw the others.

Only models on "sdpa" switch; calls without row boundaries (padded batches) and a model whose
sliding window is shorter than its longest row (the window lives in the mask) keep SDPA with the mask.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn as nn

__all__ = ["ROWS_SDPA", "attends_by_row", "attention_implementation", "row_boundaries", "rows_attention"]

ROWS_SDPA = "sdpa_rows"
"""The attention implementation's name in transformers' registries (masks built as for "sdpa")."""


def row_boundaries(lengths: list[int], device: torch.device | str = "cpu") -> dict[str, torch.Tensor | int]:
    """The keywords a packed forward passes so that attention keeps to each row: cumulative row
    starts [n_rows + 1] and the longest row, as transformers names them for packed sequences."""
    starts = torch.tensor([0, *lengths], dtype=torch.int32, device=device).cumsum(0, dtype=torch.int32)
    return {
        "cu_seq_lens_q": starts,
        "cu_seq_lens_k": starts,
        "max_length_q": max(lengths),
        "max_length_k": max(lengths),
    }


def _rows_sdpa(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    **kwargs,
) -> tuple[torch.Tensor, None]:
    # query [1, heads, T, head_dim], key/value [1, kv_heads, T, head_dim] -> out [1, T, heads, head_dim]
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    starts = kwargs.pop("cu_seq_lens_q", None)
    longest = kwargs.pop("max_length_q", None) or query.shape[2]
    kwargs.pop("cu_seq_lens_k", None), kwargs.pop("max_length_k", None)
    window = getattr(module, "sliding_window", None)
    if starts is None or query.shape[0] != 1 or (window is not None and window < longest):
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    bounds = starts.tolist()
    outs = [
        sdpa_attention_forward(
            module, query[:, :, a:b], key[:, :, a:b], value[:, :, a:b], None, is_causal=True, **kwargs
        )[0]
        for a, b in zip(bounds[:-1], bounds[1:])
    ]
    return torch.cat(outs, dim=1), None


def _register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS

    if ROWS_SDPA not in AttentionInterface._global_mapping:
        AttentionInterface.register(ROWS_SDPA, _rows_sdpa)
        ALL_MASK_ATTENTION_FUNCTIONS.register(ROWS_SDPA, ALL_MASK_ATTENTION_FUNCTIONS["sdpa"])


def _config(model: nn.Module):
    """The HF config whose attention implementation the forward reads (through a peft or DDP wrapper)."""
    return getattr(getattr(model, "module", model), "config", None)


def attends_by_row(model: nn.Module) -> bool:
    """Whether `rows_attention` switches this model (it runs on "sdpa")."""
    return getattr(_config(model), "_attn_implementation", None) == "sdpa"


@contextlib.contextmanager
def attention_implementation(model: nn.Module, name: str) -> Iterator[None]:
    """Within the block, `model` attends with the implementation registered as `name`; its own setting
    (and its sub-configs') is restored on exit, so nothing saved names it."""
    config = _config(model)
    configs = [config, *(getattr(config, key) for key in getattr(config, "sub_configs", {}))]
    before = [(c, c._attn_implementation_internal) for c in configs if c is not None]
    config._attn_implementation = name  # sets the sub-configs too
    try:
        yield
    finally:
        for c, implementation in before:
            c._attn_implementation_internal = implementation


@contextlib.contextmanager
def rows_attention(model: nn.Module) -> Iterator[bool]:
    """Within the block, a model on "sdpa" attends within each packed row (yields True); any other is
    left as it is (yields False)."""
    if not attends_by_row(model):
        yield False
        return
    _register()
    with attention_implementation(model, ROWS_SDPA):
        yield True
