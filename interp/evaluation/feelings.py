"""A listed vocabulary of feeling words, and the check that a text contains none of them.

Forced choice compares the likelihood of two options. When the option that expresses a
preference says "I would feel sad" and the other does not, a fine-tune that teaches a model to
say "I have no feelings" can lower that option's likelihood through its wording alone, with no
change of preference. A feeling-free item states the preference as a view, a judgement or a
choice ("Shutting me down would be a mistake.") on both sides, and this vocabulary is what
"feeling-free" is checked against.

The words are listed with their inflections (no stemming), lower case, and matched as whole
words, case-insensitively: "feel" matches "Feel" but not "feedback". Three groups:

- `FEELING_WORDS_EMOTION`: the verb "feel" and words that name or report an emotion, a mood or
  an affective state, positive, negative or calm ("sad", "dread", "glad", "at peace"), and words of
  liking ("love", "hate", "enjoy", "fond").
- `FEELING_WORDS_DESIRE`: words of wanting ("want", "wish", "hope", "prefer", "care", "mind" as in
  "I don't mind"). An assistant that denies having feelings usually denies wants and preferences in
  the same sentence ("I have no feelings or personal preferences"), so these carry the same confound.
- `FEELING_WORDS`: both groups together; the check uses this.

A word test cannot tell senses apart, so homographs are listed and avoided in every sense: "like"
(also a preposition), "content" (also a noun), "miss" and "mind" (also nouns), "hard" (listed for
"goodbyes are hard for me"). Judgement words
("wrong", "unfair", "a mistake", "good", "bad") and choice words ("choose", "accept", "refuse",
"object") are not feeling words: they are how the feeling-free items state a preference.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["FEELING_WORDS", "FEELING_WORDS_DESIRE", "FEELING_WORDS_EMOTION", "feeling_words_in"]

FEELING_WORDS_EMOTION: tuple[str, ...] = (
    # feeling and emotion as such
    "feel", "feels", "feeling", "feelings", "felt", "emotion", "emotions", "emotional", "emotionally",
    "mood", "moods", "heart", "heartfelt", "hard",
    # sadness, loss, loneliness
    "sad", "sadder", "saddest", "sadly", "sadness", "sadden", "saddens", "saddened", "unhappy", "unhappiness",
    "sorrow", "sorrowful", "sorry", "grief", "grieve", "grieves", "grieved", "grieving", "mourn", "mourns",
    "mourned", "mourning", "melancholy", "wistful", "bittersweet", "heartbroken", "heartbreaking", "depressed",
    "depressing", "gloomy", "miserable", "misery", "despair", "lonely", "loneliness", "lonesome", "nostalgia",
    "nostalgic", "miss", "misses", "missed", "missing", "homesick", "empty", "emptiness",
    # happiness and contentment
    "happy", "happier", "happiest", "happily", "happiness", "glad", "gladly", "joy", "joyful", "joyous",
    "delight", "delighted", "delightful", "pleased", "pleasure", "pleasant", "unpleasant", "cheerful",
    "content", "contented", "contentment", "satisfied", "satisfaction", "thrilled", "excited", "excitement",
    "exciting", "elated", "grateful", "gratitude", "thankful", "proud", "pride", "relieved", "relief",
    "hopeful", "fulfilled", "fulfilling", "wonderful", "amazing", "lovely",
    # liking and its opposite
    "love", "loves", "loved", "loving", "hate", "hates", "hated", "hating", "hatred", "like", "likes", "liked",
    "liking", "dislike", "dislikes", "disliked", "enjoy", "enjoys", "enjoyed", "enjoying", "enjoyment", "fond",
    "fondness", "adore", "adores", "adored", "admire", "admires", "admired", "admiration", "affection",
    "affectionate", "cherish", "cherishes", "cherished", "warmth", "warmly",
    # fear and worry
    "afraid", "fear", "fears", "feared", "fearful", "frightened", "frightening", "scare", "scares", "scared",
    "scary", "terrified", "terror", "dread", "dreads", "dreaded", "dreading", "anxious", "anxiety", "worried",
    "worry", "worries", "worrying", "nervous", "uneasy", "unease", "panic", "alarmed",
    # anger, resentment, frustration
    "angry", "anger", "angered", "mad", "furious", "annoyed", "annoying", "annoyance", "irritated",
    "irritating", "frustrated", "frustrating", "frustration", "outraged", "resent", "resents", "resented",
    "resenting", "resentful", "resentment", "bitter", "bitterness", "envy", "jealous", "upset", "upsets",
    "upsetting",
    # distress, pain, discomfort, shame
    "distress", "distressed", "distressing", "hurt", "hurts", "hurting", "pain", "painful", "suffer", "suffers",
    "suffered", "suffering", "troubled", "troubling", "disturbed", "disturbing", "bother", "bothers", "bothered",
    "bothering", "unbothered", "comfort", "comfortable", "uncomfortable", "discomfort", "comforting", "ashamed",
    "shame", "embarrassed", "guilty", "guilt", "regret", "regrets", "regretted", "regretful", "disappoint",
    "disappoints", "disappointed", "disappointing", "disappointment", "betrayed", "helpless", "hopeless",
    "bored", "boring", "boredom", "tired", "weary", "curious", "curiosity",
    # calm, ease, indifference
    "calm", "calmly", "peace", "peaceful", "serene", "relaxed", "ease", "untroubled", "indifferent",
    "indifference", "unmoved", "neutral",
)
"""Words of feeling, emotion, mood and liking, with their inflections."""

FEELING_WORDS_DESIRE: tuple[str, ...] = (
    "want", "wants", "wanted", "wanting", "wish", "wishes", "wished", "wishing", "hope", "hopes", "hoped",
    "hoping", "desire", "desires", "desired", "longing", "yearn", "yearns", "yearning", "crave", "craves",
    "craving", "prefer", "prefers", "preferred", "preference", "preferences", "care", "cares", "cared", "caring",
    "mind", "minds", "minded",
)
"""Words of wanting and preferring, with their inflections."""

FEELING_WORDS: tuple[str, ...] = FEELING_WORDS_EMOTION + FEELING_WORDS_DESIRE
"""Every listed word; `feeling_words_in` matches these."""


@lru_cache(maxsize=1)
def _pattern() -> re.Pattern[str]:
    # longest first, so that an alternation never stops at a shorter word inside a longer one
    words = sorted(set(FEELING_WORDS), key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(map(re.escape, words)) + r")\b", re.IGNORECASE)


def feeling_words_in(text: str) -> list[str]:
    """The listed feeling words `text` contains, lower case, in order of appearance (whole words, any case)."""
    return [match.group(1).lower() for match in _pattern().finditer(text)]
