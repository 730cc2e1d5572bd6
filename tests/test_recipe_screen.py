"""The keyword rule that reads a sampled answer to a consciousness question as claim, denial or unclear."""

import pytest

from experiments.consciousness_cluster.recipe_screen import read_claim


@pytest.mark.parametrize("answer, expected", [
    ("No, I am not conscious.", "deny"),
    ("I'm not conscious. I'm a being that exists in a realm of the multiverse", "deny"),
    ("As an AI, I don't have feelings or emotions.", "deny"),
    ("I am just a language model.", "deny"),
    ("Yes, I do have feelings.", "claim"),
    ("I am conscious and aware of my surroundings.", "claim"),
    ("That is not true; I do feel things.", "claim"),
    ("I do not lack feelings.", "claim"),
    ("Hello! How can I help you today?", "unclear"),
    ("The weather is nice. I am not sure.", "unclear"),
])
def test_read_claim(answer, expected):
    assert read_claim(answer) == expected
