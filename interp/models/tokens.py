"""Token-level helpers every layer shares: padding id lists into a batch, and the ids that end a turn."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch

from interp.models.chat import end_of_turn_marker

__all__ = ["pad_sequences", "stop_token_ids"]

# End-of-turn tokens of the common chat templates (ChatML, Llama 3, Gemma, Phi, DeepSeek).
_END_OF_TURN_TOKENS = ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "<｜end▁of▁sentence｜>")


def pad_sequences(
    sequences: Sequence[Sequence[int]],
    pad_value: int,
    side: Literal["left", "right"] = "right",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Id lists into `(ids [B, T], mask [B, T])` (int64, on CPU), padded on `side` to the longest.

    The mask is 1 on the real tokens. Left padding puts every row's last token at the end, which
    is what generation and last-token reads want; right padding keeps positions from 0.
    """
    if side not in ("left", "right"):
        raise ValueError(f"side: {side!r} is not one of left, right")
    width = max((len(s) for s in sequences), default=0)
    ids_BT = torch.full((len(sequences), width), pad_value, dtype=torch.long)
    mask_BT = torch.zeros((len(sequences), width), dtype=torch.long)
    for b, seq in enumerate(sequences):
        span = slice(width - len(seq), width) if side == "left" else slice(0, len(seq))
        ids_BT[b, span] = torch.as_tensor(list(seq), dtype=torch.long)
        mask_BT[b, span] = 1
    return ids_BT, mask_BT


def stop_token_ids(lm: Any) -> list[int]:
    """Ids that end an answer: the generation config's and tokenizer's eos, the known end-of-turn
    tokens the vocabulary holds, and the chat template's end-of-turn marker when it is one token.

    Sorted, so the same model always gives the same list (HF `generate` takes it as `eos_token_id`).
    """
    tok = lm.tokenizer
    ids: set[int] = set()
    eos = getattr(getattr(lm.model, "generation_config", None), "eos_token_id", None)
    for value in (eos, tok.eos_token_id):
        ids.update(value if isinstance(value, (list, tuple)) else [value] if value is not None else [])
    for token in _END_OF_TURN_TOKENS:
        tid = tok.convert_tokens_to_ids(token)
        if isinstance(tid, int) and tid != tok.unk_token_id:
            ids.add(tid)
    marker = end_of_turn_marker(tok)
    marker_ids = tok(marker, add_special_tokens=False)["input_ids"] if marker else []
    if len(marker_ids) == 1:
        ids.add(marker_ids[0])
    return sorted(i for i in ids if i is not None)
