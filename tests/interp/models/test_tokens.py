"""Padding id lists into a batch and the ids that end a turn: one implementation for every layer."""

from __future__ import annotations

import pytest
import torch

from interp.models.chat import end_of_turn_marker
from interp.models.tokens import pad_sequences, stop_token_ids


@pytest.mark.parametrize("side", ["left", "right"])
def test_pad_sequences_matches_plain_padding(side):
    sequences = [[5, 6, 7], [8], [], [1, 2]]
    ids, mask = pad_sequences(sequences, pad_value=-1, side=side)
    assert ids.dtype == mask.dtype == torch.long and ids.shape == mask.shape == (4, 3)
    for row, seq in zip(range(4), sequences):
        pad = [-1] * (3 - len(seq))
        want = pad + seq if side == "left" else seq + pad
        assert ids[row].tolist() == want
        assert mask[row].tolist() == [int(v != -1) for v in want]


def test_pad_sequences_refuses_an_unknown_side():
    with pytest.raises(ValueError, match="side"):
        pad_sequences([[1]], 0, side="middle")


def test_stop_token_ids_hold_eos_and_the_single_token_end_of_turn_marker(tiny_lm):
    lm = tiny_lm("qwen3")
    stops = stop_token_ids(lm)
    assert stops == sorted(set(stops))
    assert lm.tokenizer.eos_token_id in stops
    marker_ids = lm.tokenizer(end_of_turn_marker(lm.tokenizer), add_special_tokens=False)["input_ids"]
    if len(marker_ids) == 1:
        assert marker_ids[0] in stops
