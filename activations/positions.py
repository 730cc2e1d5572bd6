"""Which layers and which token positions become rows: the layer spec and the positions rules.

A positions rule turns a padded batch into a `[batch, seq]` selection mask over real tokens.
`response-mean` also reduces: one row per example, the mean of its response tokens, stored with
position -1.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch

__all__ = ["POSITION_RULES", "PositionRule", "apply_rule", "parse_layers", "token_offsets"]


def parse_layers(spec: str | int | list[int] | tuple[int, ...], n_layers: int) -> list[int]:
    """Block indices from `all`, a list (`0,4,8`, negatives allowed) or a slice (`-4:`, `2:10:2`)."""
    def check(layer: int) -> int:
        if not -n_layers <= layer < n_layers:
            raise ValueError(f"layer {layer} is out of range for a model with {n_layers} layers "
                             f"(use 0..{n_layers - 1} or negative indices)")
        return layer % n_layers

    if isinstance(spec, int):
        return [check(spec)]
    if isinstance(spec, (list, tuple)):
        layers = [check(int(layer)) for layer in spec]
    else:
        text = str(spec).strip().lower()
        try:
            if text == "all":
                layers = list(range(n_layers))
            elif ":" in text:
                parts = [int(p) if p.strip() else None for p in text.split(":")]
                if len(parts) > 3:
                    raise ValueError
                layers = list(range(n_layers))[slice(*parts)]
            else:
                layers = [check(int(p)) for p in text.split(",") if p.strip()]
        except ValueError as err:
            if "out of range" in str(err):
                raise
            raise ValueError(f"layers {spec!r}: use 'all', a list such as '0,4,8' or a slice such as '-4:'") from None
    if not layers:
        raise ValueError(f"layers {spec!r} selects no layer of a model with {n_layers} layers")
    return sorted(set(layers))


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
