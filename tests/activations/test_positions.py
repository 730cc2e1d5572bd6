"""Layer specs and positions rules."""

from __future__ import annotations

import pytest
import torch

from activations.positions import POSITION_RULES, apply_rule, parse_layers, token_offsets


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("all", [0, 1, 2, 3, 4, 5]),
        ("0,4,2", [0, 2, 4]),
        ("-2:", [4, 5]),
        ("1:5:2", [1, 3]),
        ("-1", [5]),
        (3, [3]),
        ([0, -1], [0, 5]),
        (" 2 , 2 ", [2]),
    ],
)
def test_parse_layers(spec, expected):
    assert parse_layers(spec, 6) == expected


@pytest.mark.parametrize(
    "spec, match",
    [
        ("6", "out of range"),
        ("-7", "out of range"),
        ("x", "use 'all'"),
        ("10:", "selects no layer"),
        ("1:2:3:4", "use 'all'"),
    ],
)
def test_parse_layers_errors(spec, match):
    with pytest.raises(ValueError, match=match):
        parse_layers(spec, 6)


def test_rules_on_left_padded_batch():
    attention = torch.tensor([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]])
    tokens = token_offsets(attention)
    assert tokens.tolist() == [[0, 0, 0, 1, 2, 3], [0, 1, 2, 3, 4, 5]]
    n_prompt = torch.tensor([2, 4])
    select = {name: rule.select(attention, tokens, n_prompt).int().tolist() for name, rule in POSITION_RULES.items()}
    assert select["all"] == attention.tolist()
    assert select["last"] == [[0, 0, 0, 1, 0, 0], [0, 0, 0, 1, 0, 0]]
    assert select["response"] == [[0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 1, 1]]


def test_response_mean_reduces_to_one_row():
    hidden = torch.arange(2 * 3 * 2, dtype=torch.float32).reshape(2, 3, 2)
    select = torch.tensor([[0, 1, 1], [1, 0, 0]], dtype=torch.bool)
    mean, mask = apply_rule(POSITION_RULES["response-mean"], hidden, select)
    torch.testing.assert_close(mean[:, 0], torch.stack([hidden[0, 1:].mean(0), hidden[1, 0]]))
    assert mask.shape == (2, 1) and bool(mask.all())


def test_row_counts_match_selection():
    attention = torch.tensor([[0, 1, 1, 1, 1], [1, 1, 1, 1, 1]])
    n_prompt = torch.tensor([3, 2])
    for name, rule in POSITION_RULES.items():
        selected = rule.select(attention, token_offsets(attention), n_prompt).sum(-1).tolist()
        counts = [rule.n_rows(4, 3), rule.n_rows(5, 2)]
        assert counts == ([1, 1] if rule.mean else selected), name
