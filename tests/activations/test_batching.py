"""Batch planning: windows, length-sorted batches, padding on either side."""

from __future__ import annotations

import torch

from activations.batching import collate, plan_batches, plan_windows
from activations.examples import EncodedExample


def test_windows_close_on_count_or_bytes():
    assert list(plan_windows(2, 9, 3)) == [range(2, 5), range(5, 8), range(8, 9)]
    sizes = [5, 5, 20, 1, 1, 1, 1]
    assert list(plan_windows(0, 7, 4, sizes, max_bytes=10)) == [range(0, 2), range(2, 3), range(3, 7)]
    # a resume from a window boundary plans the same windows as the uninterrupted run
    assert list(plan_windows(2, 7, 4, sizes, max_bytes=10)) == [range(2, 3), range(3, 7)]


def test_batches_sorted_by_length_and_capped():
    lengths = [3, 9, 1, 7, 5, 2]
    assert plan_batches(range(6), lengths, 2, None) == [[1, 3], [4, 0], [5, 2]]
    assert plan_batches(range(6), lengths, 4, 16) == [[1], [3, 4], [0, 5, 2]]


def test_collate_pads_on_the_tokenizer_side():
    encoded = [EncodedExample([5, 6, 7], 2), EncodedExample([8], 1)]
    left = collate([0, 1], encoded, pad_id=0, padding_side="left")
    assert left.input_ids_BS.tolist() == [[5, 6, 7], [0, 0, 8]]
    assert left.position_ids_BS.tolist() == [[0, 1, 2], [0, 0, 0]] and left.n_tokens == 4
    right = collate([1, 0], encoded, pad_id=0, padding_side="right")
    assert right.input_ids_BS.tolist() == [[8, 0, 0], [5, 6, 7]]
    assert right.attention_BS.tolist() == [[1, 0, 0], [1, 1, 1]]
    assert torch.equal(right.example_B, torch.tensor([1, 0])) and right.n_prompt_B.tolist() == [1, 2]
