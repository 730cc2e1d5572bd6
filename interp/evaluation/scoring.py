"""Plain forward passes that score text under a local model: continuation log-probs and next-token log-probs.

Both run on `lm.model` directly, batched with right padding, so any context manager entered
around them (a steering hook, an ablation) applies unchanged. The `*_stacked` forms run each
batch as stacked copies (`interp.evaluation.stacking`) and answer per copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from interp.evaluation.stacking import PLAIN, Stack
from interp.models.tokens import pad_sequences

if TYPE_CHECKING:
    from transformers import Cache

__all__ = [
    "continuation_logprobs",
    "continuation_logprobs_stacked",
    "next_token_logprobs",
    "next_token_logprobs_stacked",
]


def _encode(lm, text: str) -> list[int]:
    # Rendered chats already hold any BOS the template wants; adding special tokens would double it.
    return lm.tokenizer(text, add_special_tokens=False)["input_ids"]


def _padded_batches(sequences: list[list[int]], batch_size: int, pad_id: int, device):
    """Yield (row indices, ids [B, T], mask [B, T]) with rows sorted by length to waste little padding."""
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        ids_BT, mask_BT = pad_sequences([sequences[i] for i in rows], pad_id, side="right")
        yield rows, ids_BT.to(device), mask_BT.to(device)


@torch.no_grad()
def continuation_logprobs(lm, pairs: Sequence[tuple[str, str]], batch_size: int = 32) -> list[list[float]]:
    """Per-token log-probs of each continuation given its prefix: [(prefix, continuation)] -> [[lp per token]].

    Prefix and continuation are tokenized apart and concatenated, so the continuation's tokens
    are exactly those of the continuation text on its own. Each distinct prefix runs once and its
    keys and values serve all of its continuations (a forced-choice item's two options share their
    prompt, most of the tokens). The tokens every distinct prefix starts with (a chat template's
    header and default system prompt: 24 of SmolLM2's ~42 prompt tokens per preference item) run
    once per call, and their keys and values serve every batch (unless a sliding window is shorter
    than the longest prefix and continuation: padding after the shared tokens would widen it).
    Per batch: the rest of each prefix left-padded after the shared tokens, with explicit
    positions, then the continuations right-padded after their prefix's cache, the head only at
    their real tokens; about `batch_size` continuations. Hooks see one forward pass of the shared
    tokens (when there are any and more than one distinct prefix), then two per batch (prefixes,
    then continuations), each at every position.
    """
    return continuation_logprobs_stacked(lm, pairs, PLAIN, batch_size)[0]


@torch.no_grad()
def continuation_logprobs_stacked(
    lm, pairs: Sequence[tuple[str, str]], stack: Stack, batch_size: int = 32
) -> list[list[list[float]]]:
    """`continuation_logprobs` with every forward pass run as `stack` says: [copy][pair][token]."""
    prefixes = [_encode(lm, p) for p, _ in pairs]
    conts = [_encode(lm, c) for _, c in pairs]
    if any(not c for c in conts):
        raise ValueError("every continuation must encode to at least one token")
    if any(not p for p in prefixes):
        raise ValueError("every prefix must encode to at least one token (its last token predicts the continuation)")
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, prefix in enumerate(prefixes):
        groups.setdefault(tuple(prefix), []).append(i)
    outs: list[list[list[float]]] = [[[] for _ in pairs] for _ in range(stack.copies)]
    # With padding between the shared tokens and the rest, key distances grow by the padding; a
    # sliding window counts keys, so sharing is kept to sequences the window cannot cut.
    window = _sliding_window(lm)
    fits = window is None or max(map(len, prefixes)) + max(map(len, conts)) <= window
    shared = _shared_prefix(lm, list(groups), stack) if fits else None
    for batch in _prefix_batches(groups, batch_size):
        _score_batch(lm, batch, conts, outs, shared, stack)
    return outs


@dataclass(frozen=True)
class _Shared:
    """The tokens every distinct prefix starts with, run once: their keys and values (one row per copy),
    copied per batch."""

    length: int
    cache: Cache

    def expanded(self, rows: int, stack: Stack, device):
        """A copy for `rows` rows of each copy (the forward pass appends to the cache it is given)."""
        import copy

        cache = copy.deepcopy(self.cache)
        order = stack.sources(torch.zeros(rows, dtype=torch.long, device=device), 1)
        cache.reorder_cache(order)  # type: ignore[arg-type]  # annotated LongTensor; any int64 tensor does
        return cache


def _sliding_window(lm) -> int | None:
    config = lm.model.config
    config = config.get_text_config() if hasattr(config, "get_text_config") else config
    window = getattr(config, "sliding_window", None)
    return window if isinstance(window, int) and window > 0 else None


def _shared_prefix(lm, prefixes: list[tuple[int, ...]], stack: Stack = PLAIN) -> _Shared | None:
    """The shared leading tokens of `prefixes`, each keeping at least one token of its own; None when
    there are none or only one distinct prefix."""
    if len(prefixes) < 2:
        return None
    length = min(len(p) for p in prefixes) - 1
    first = prefixes[0]
    for prefix in prefixes[1:]:
        length = next((j for j in range(length) if prefix[j] != first[j]), length)
    if length < 1:
        return None
    ids_1S = torch.tensor([first[:length]], device=lm.device)
    result = stack.run(
        lm,
        input_ids=stack.rows(ids_1S),
        attention_mask=stack.rows(torch.ones_like(ids_1S)),
        use_cache=True,
        logits_to_keep=1,
    )
    return _Shared(length, result.cache)


def _prefix_batches(groups: dict[tuple[int, ...], list[int]], batch_size: int):
    """Lists of (prefix ids, pair indices), sorted by prefix length, about `batch_size` pairs each."""
    batch: list[tuple[tuple[int, ...], list[int]]] = []
    size = 0
    for prefix in sorted(groups, key=len):
        if batch and size + len(groups[prefix]) > batch_size:
            yield batch
            batch, size = [], 0
        batch.append((prefix, groups[prefix]))
        size += len(groups[prefix])
    if batch:
        yield batch


def _score_batch(
    lm, batch, conts: list[list[int]], outs: list[list[list[float]]], shared: _Shared | None, stack: Stack
) -> None:
    pad, device = lm.tokenizer.pad_token_id, lm.device
    skip = shared.length if shared is not None else 0
    ids_BP, mask_BP = pad_sequences([prefix[skip:] for prefix, _ in batch], pad, side="left")
    ids_BP, mask_BP = ids_BP.to(device), mask_BP.to(device)
    positions_BP = skip + (mask_BP.cumsum(-1) - 1).clamp(min=0)
    if shared is not None:  # [shared tokens][padding][rest of the prefix]: padding masked, positions explicit
        mask_BP = torch.cat([torch.ones_like(mask_BP[:, :1]).expand(-1, skip), mask_BP], dim=-1)
    cache = None if shared is None else shared.expanded(len(batch), stack, device)
    first = stack.run(
        lm,
        input_ids=stack.rows(ids_BP),
        attention_mask=stack.rows(mask_BP),
        position_ids=stack.rows(positions_BP),
        cache=cache,
        use_cache=True,
        logits_to_keep=1,
    )
    # predicts each continuation's first token; [copies * B, V]
    logp_XV = torch.log_softmax(first.logits[:, -1].float(), dim=-1)
    rows = [(b, i) for b, (_, members) in enumerate(batch) for i in members]
    for c, out in enumerate(outs):
        for b, i in rows:
            out[i] = [float(logp_XV[c * len(batch) + b, conts[i][0]])]
    longer = [(b, i) for b, i in rows if len(conts[i]) > 1]
    if longer:
        _score_rest(lm, longer, conts, outs, mask_BP, first.cache, stack)


def _score_rest(lm, longer, conts, outs, mask_BP, cache, stack: Stack) -> None:
    """The continuations but their last token, after their prefix's cache: position j predicts token j + 1."""
    pad, device = lm.tokenizer.pad_token_id, lm.device
    source_R = torch.tensor([b for b, _ in longer], device=device)
    cache.reorder_cache(stack.sources(source_R, mask_BP.shape[0]))
    ids_RC, mask_RC = pad_sequences([conts[i][:-1] for _, i in longer], pad, side="right")
    ids_RC, mask_RC = ids_RC.to(device), mask_RC.to(device)
    lengths_R1 = mask_BP.sum(-1)[source_R, None]
    keep_RC = stack.rows(mask_RC).bool()  # the head only at real tokens: [copies * real tokens, V]
    logits_NV = stack.run(
        lm,
        input_ids=stack.rows(ids_RC),
        attention_mask=stack.rows(torch.cat([mask_BP[source_R], mask_RC], dim=-1)),
        position_ids=stack.rows(lengths_R1 + torch.arange(ids_RC.shape[1], device=device)),
        cache=cache,
        use_cache=True,
        logits_to_keep=keep_RC,
    ).logits
    targets_N = torch.as_tensor([t for _ in outs for _, i in longer for t in conts[i][1:]], device=device)
    logp_N = torch.log_softmax(logits_NV.float(), dim=-1).gather(-1, targets_N[:, None])[:, 0].tolist()
    start = 0
    for out in outs:
        for _, i in longer:
            out[i] += logp_N[start : start + len(conts[i]) - 1]
            start += len(conts[i]) - 1


@torch.no_grad()
def next_token_logprobs(lm, texts: Sequence[str], batch_size: int = 32) -> torch.Tensor:
    """Log-probs of the token after each text: [n_texts, vocab] float32 on CPU."""
    return next_token_logprobs_stacked(lm, texts, PLAIN, batch_size)[0]


@torch.no_grad()
def next_token_logprobs_stacked(
    lm, texts: Sequence[str], stack: Stack, batch_size: int = 32, tokens: Sequence[int] | None = None
) -> torch.Tensor:
    """`next_token_logprobs` with every forward pass run as `stack` says: [copies, n_texts, vocab] float32 on
    CPU, or only the columns of `tokens` ([copies, n_texts, len(tokens)]) when given."""
    sequences = [_encode(lm, t) for t in texts]
    out = torch.empty(stack.copies, len(texts), 0)  # sized by the first batch's logits
    for rows, ids_BT, mask_BT in _padded_batches(sequences, batch_size, lm.tokenizer.pad_token_id, lm.device):
        last_B1 = mask_BT.sum(-1, keepdim=True) - 1
        logits_X1V = stack.run(
            lm, input_ids=stack.rows(ids_BT), attention_mask=stack.rows(mask_BT), logits_to_keep=stack.rows(last_B1)
        ).logits  # the head at each row's last token
        logp_XV = torch.log_softmax(logits_X1V[:, 0].float(), dim=-1).cpu()
        if tokens is not None:
            logp_XV = logp_XV[:, list(tokens)]
        if out.shape[-1] != logp_XV.shape[-1]:
            out = torch.empty(stack.copies, len(texts), logp_XV.shape[-1])
        out[:, rows] = logp_XV.reshape(stack.copies, len(rows), -1)
    return out
