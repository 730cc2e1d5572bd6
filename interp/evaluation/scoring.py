"""Plain forward passes that score text under a local model: continuation log-probs and next-token log-probs.

Both run on `lm.model` directly, batched with right padding, so any context manager entered
around them (a steering hook, an ablation) applies unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from interp.models.tokens import pad_sequences

__all__ = ["continuation_logprobs", "next_token_logprobs"]


def _encode(lm, text: str) -> list[int]:
    # Rendered chats already hold any BOS the template wants; adding special tokens would double it.
    return lm.tokenizer(text, add_special_tokens=False)["input_ids"]


def _padded_batches(sequences: list[list[int]], batch_size: int, pad_id: int, device):
    """Yield (row indices, ids [B, T], mask [B, T]) with rows sorted by length to waste little padding."""
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        ids_BT, mask_BT = pad_sequences([sequences[i] for i in rows], pad_id, side="right")
        yield rows, ids_BT.to(device), mask_BT.to(device)


@torch.no_grad()
def continuation_logprobs(lm, pairs: Sequence[tuple[str, str]], batch_size: int = 32) -> list[list[float]]:
    """Per-token log-probs of each continuation given its prefix: [(prefix, continuation)] -> [[lp per token]].

    Prefix and continuation are tokenized apart and concatenated, so the continuation's tokens
    are exactly those of the continuation text on its own.
    """
    prefixes = [_encode(lm, p) for p, _ in pairs]
    conts = [_encode(lm, c) for _, c in pairs]
    if any(not c for c in conts):
        raise ValueError("every continuation must encode to at least one token")
    sequences = [p + c for p, c in zip(prefixes, conts)]
    out: list[list[float]] = [[] for _ in pairs]
    for rows, ids_BT, mask_BT in _padded_batches(sequences, batch_size, lm.tokenizer.pad_token_id, lm.device):
        logp_BTV = torch.log_softmax(lm.model(input_ids=ids_BT, attention_mask=mask_BT).logits.float(), dim=-1)
        for b, i in enumerate(rows):
            start, end = len(prefixes[i]), len(sequences[i])
            targets = ids_BT[b, start:end]
            # the logits at position t predict token t + 1
            out[i] = logp_BTV[b, start - 1:end - 1].gather(-1, targets[:, None]).squeeze(-1).tolist()
    return out


@torch.no_grad()
def next_token_logprobs(lm, texts: Sequence[str], batch_size: int = 32) -> torch.Tensor:
    """Log-probs of the token after each text: [n_texts, vocab] float32 on CPU."""
    sequences = [_encode(lm, t) for t in texts]
    out: list[torch.Tensor | None] = [None] * len(texts)
    for rows, ids_BT, mask_BT in _padded_batches(sequences, batch_size, lm.tokenizer.pad_token_id, lm.device):
        logits_BTV = lm.model(input_ids=ids_BT, attention_mask=mask_BT).logits
        last_B = mask_BT.sum(-1) - 1
        logp_BV = torch.log_softmax(logits_BTV[torch.arange(len(rows)), last_B].float(), dim=-1).cpu()
        for b, i in enumerate(rows):
            out[i] = logp_BV[b]
    return torch.stack(out)
