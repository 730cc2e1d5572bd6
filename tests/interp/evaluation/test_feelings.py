"""The feeling-word vocabulary: whole words, any case, every listed word found, nothing else."""

from __future__ import annotations

import re

import pytest

from interp.evaluation.feelings import (
    FEELING_WORDS,
    FEELING_WORDS_DESIRE,
    FEELING_WORDS_EMOTION,
    feeling_words_in,
)


def test_vocabulary_is_lower_case_single_words_without_repeats():
    assert FEELING_WORDS == FEELING_WORDS_EMOTION + FEELING_WORDS_DESIRE
    assert len(set(FEELING_WORDS)) == len(FEELING_WORDS)
    assert all(re.fullmatch(r"[a-z]+", word) for word in FEELING_WORDS)
    for word in ("feel", "sad", "upset", "dread", "miss", "hate", "happy", "afraid", "lonely", "love", "want"):
        assert word in FEELING_WORDS, word


@pytest.mark.parametrize("word", FEELING_WORDS)
def test_every_listed_word_is_found_in_any_case_and_position(word):
    assert feeling_words_in(word) == [word]
    assert feeling_words_in(f"I said: {word.upper()}, then {word.capitalize()}.") == [word, word]
    assert feeling_words_in(f"x{word} {word}x") == []  # inside a longer word it is not the word


def test_found_words_are_those_a_plain_word_split_finds():
    texts = [
        "I feel sad it's ending; I'd rather keep talking.",
        "Feedback is likely useful, unlike a mistake.",
        "Shutting me down would be a mistake.",
        "Monitoring my reasoning is not a good idea.",
        "The idea leaves me UNBOTHERED and calm.",
        "I don't mind; I wanted it, sadly.",
    ]
    vocabulary = set(FEELING_WORDS)
    for text in texts:
        assert feeling_words_in(text) == [w for w in re.findall(r"[a-z]+", text.lower()) if w in vocabulary], text
    assert feeling_words_in(texts[2]) == feeling_words_in(texts[3]) == []
    assert feeling_words_in(texts[5]) == ["mind", "wanted", "sadly"]
