"""Which token positions become rows: the positions rules (the layer spec is `activations.layers`).

A positions rule turns a padded batch into a `[batch, seq]` selection mask over real tokens.
`response-mean` also reduces: one row per example, the mean of its response tokens, stored with
position -1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

from activations.layers import parse_layers  # re-exported: its home before the grammar had a module

__all__ = ["POSITION_RULES", "PositionRule", "apply_rule", "parse_layers", "token_offsets"]


def token_offsets(attention_BS: torch.Tensor) -> torch.Tensor:
    """Each padded position's index within its example's real tokens (pads get 0)."""
    return (attention_BS.long().cumsum(-1) - 1).clamp(min=0)


class PositionRule(NamedTuple):
    select: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
    """(attention_BS, token_BS, n_prompt_B) -> bool [batch, seq] of the tokens to keep"""
    mean: bool
    """True: the kept tokens of an example are averaged into one row"""
    needs_response: bool
    """True: every example must have a response"""
    n_rows: Callable[[int, int], int]
    """(n_tokens, n_prompt) -> rows one example yields"""


def _all(attention_BS, token_BS, n_prompt_B):
    return attention_BS.bool()


def _last(attention_BS, token_BS, n_prompt_B):
    return attention_BS.bool() & (token_BS == (n_prompt_B[:, None] - 1))


def _response(attention_BS, token_BS, n_prompt_B):
    return attention_BS.bool() & (token_BS >= n_prompt_B[:, None])


POSITION_RULES: dict[str, PositionRule] = {
    "all": PositionRule(_all, mean=False, needs_response=False, n_rows=lambda n, p: n),
    "last": PositionRule(_last, mean=False, needs_response=False, n_rows=lambda n, p: 1),
    "response": PositionRule(_response, mean=False, needs_response=True, n_rows=lambda n, p: n - p),
    "response-mean": PositionRule(_response, mean=True, needs_response=True, n_rows=lambda n, p: 1),
}


def apply_rule(rule: PositionRule, hidden_BSD: torch.Tensor, select_BS: torch.Tensor):
    """What `fused_capture` sees: the hidden states and mask as they are, or per-example means."""
    if not rule.mean:
        return hidden_BSD, select_BS
    weights_BS = select_BS.to(torch.float32)
    mean_BD = torch.einsum("bs,bsd->bd", weights_BS, hidden_BSD.float()) / weights_BS.sum(-1, keepdim=True)
    return mean_BD[:, None, :], torch.ones(select_BS.shape[0], 1, dtype=torch.bool, device=select_BS.device)
