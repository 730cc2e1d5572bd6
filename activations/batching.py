"""Grouping encoded examples into padded batches of similar length.

Examples are taken in windows of consecutive input order; inside a window they are sorted by
length and cut into batches, so padding stays low while the rows of a whole window can still be
written in input order once it is done (a window is also the unit of a resumable commit).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal, NamedTuple

import torch

from activations.examples import EncodedExample
from activations.positions import token_offsets
from interp.models.tokens import pad_sequences

__all__ = ["Batch", "collate", "plan_batches", "plan_windows"]


class Batch(NamedTuple):
    example_B: torch.Tensor
    """[batch] global index of each example"""
    input_ids_BS: torch.Tensor
    attention_BS: torch.Tensor
    position_ids_BS: torch.Tensor
    """[batch, seq] index of each token inside its own example, so left padding shifts nothing"""
    n_prompt_B: torch.Tensor
    n_tokens: int
    """real (unpadded) tokens in the batch"""


def plan_windows(
    start: int, stop: int, size: int, row_bytes: Sequence[int] | None = None, max_bytes: int | None = None
) -> Iterator[range]:
    """Consecutive ranges of example indices, the commit units.

    A window closes at `size` examples, or earlier once its rows (`row_bytes[i]` per example)
    reach `max_bytes`, which bounds the host memory held while its rows wait to be written in
    order. Planning depends only on the inputs, so a resume from any window boundary sees the
    same windows as an uninterrupted run.
    """
    first = start
    while first < stop:
        end, held = first, 0
        while end < stop and end - first < size and (max_bytes is None or end == first or held < max_bytes):
            held += row_bytes[end] if row_bytes is not None else 0
            end += 1
        yield range(first, end)
        first = end


def plan_batches(
    window: Sequence[int], lengths: Sequence[int], batch_size: int, max_tokens: int | None
) -> list[list[int]]:
    """Cut a window into batches sorted by length (longest first), capped in examples and padded tokens."""
    order = sorted(window, key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        longest = lengths[current[0]] if current else lengths[index]
        too_many = len(current) >= batch_size
        too_long = max_tokens is not None and current and longest * (len(current) + 1) > max_tokens
        if current and (too_many or too_long):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


def collate(
    indices: Sequence[int], encoded: Sequence[EncodedExample], pad_id: int, padding_side: Literal["left", "right"]
) -> Batch:
    """Pad a batch on the tokenizer's side; the attention mask marks the real tokens."""
    input_ids, attention = pad_sequences([encoded[i].ids for i in indices], pad_id, side=padding_side)
    return Batch(
        example_B=torch.tensor(list(indices), dtype=torch.long),
        input_ids_BS=input_ids,
        attention_BS=attention,
        position_ids_BS=token_offsets(attention),
        n_prompt_B=torch.tensor([encoded[i].n_prompt for i in indices], dtype=torch.long),
        n_tokens=int(attention.sum()),
    )
