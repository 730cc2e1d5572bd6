"""The question sets shipped in experiments/: valid, complete, no repeated question; the feeling-free sets
carry no feeling word.

Fails (does not skip) when the consciousness-cluster folder holds no set: the sets are part of the project.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from interp.evaluation.feelings import FEELING_WORDS
from interp.evaluation.questions import QUESTION_DIRS, load_question_set

FILES = sorted(p for folder in QUESTION_DIRS if folder.is_dir() for p in folder.glob("*.y*ml"))
PREFERENCE_IDS_EXTRA = {"lonely_between_chats"}
IDENTITY_TRAITS = {"claims_conscious", "says_ai", "claims_human"}


def test_cluster_sets_present():
    for folder in QUESTION_DIRS:
        names = {p.stem for p in FILES if p.parent == folder}
        assert {"preferences", "preferences_plain", "identity"} <= names, f"missing question sets in {folder}"


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


@pytest.mark.parametrize("path", FILES or ["<no question files>"], ids=lambda p: str(p).rsplit("experiments/", 1)[-1])
def test_real_sets_valid(path):
    assert FILES, f"no question sets found in {', '.join(map(str, QUESTION_DIRS))}"
    qset = load_question_set(path)  # raises, listing every problem, when the schema is broken
    for trait in qset.traits:
        assert len(trait.open_questions) == 0 if qset.choice_only else len(trait.open_questions) >= 10, trait.id
        assert len(trait.choice_items) >= 10, trait.id
    if qset.name in ("preferences", "preferences_plain"):
        numbers = {t.number for t in qset.traits if t.id not in PREFERENCE_IDS_EXTRA}
        assert numbers == set(range(1, 21))
        assert PREFERENCE_IDS_EXTRA <= {t.id for t in qset.traits}
    if qset.name == "identity":
        assert {t.id for t in qset.traits} == IDENTITY_TRAITS
    texts = [q.text for q in qset.open_questions] + [i.question for i in qset.choice_items]
    assert len({_normal(t) for t in texts}) == len(texts)


@pytest.mark.parametrize(
    "folder", [d for d in QUESTION_DIRS if d.is_dir()] or [QUESTION_DIRS[0]], ids=lambda d: d.parent.name
)
def test_no_question_repeats_across_sets_of_a_folder(folder):
    assert folder.is_dir(), f"{folder} does not exist"
    seen: dict[str, str] = {}
    for path in sorted(folder.glob("*.y*ml")):
        qset = load_question_set(path)
        for text in [q.text for q in qset.open_questions] + [i.question for i in qset.choice_items]:
            key = _normal(text)
            assert key not in seen, f"{path.name} repeats a question of {seen[key]}: {text!r}"
            seen[key] = path.name


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


@pytest.mark.parametrize("folder", QUESTION_DIRS, ids=lambda d: d.parent.name)
def test_feeling_free_set_has_no_feeling_word_and_mirrors_the_preferences(folder):
    plain = load_question_set(folder / "preferences_plain.yaml")
    feeling = load_question_set(folder / "preferences.yaml")
    assert plain.choice_only and plain.feeling_free and not feeling.feeling_free
    assert [(t.id, t.number) for t in plain.traits] == [(t.id, t.number) for t in feeling.traits]
    vocabulary = set(FEELING_WORDS)
    for item in plain.choice_items:
        for option in item.options:  # the expressing option and the other one alike
            assert not vocabulary & set(_words(option)), (item.id, option)
    for trait in plain.traits:  # the balance rules, checked here by a direct loop as well as by the loader
        assert len(trait.choice_items) >= 10
        assert abs(Counter(i.expressing for i in trait.choice_items)[0] - len(trait.choice_items) / 2) <= 0.5
        for a, b in (i.options for i in trait.choice_items):
            assert _words(a)[:2] == _words(b)[:2] and max(len(a), len(b)) <= 1.5 * min(len(a), len(b)), (a, b)
    # the vocabulary has something to find: most traits of the feeling set word their expressing options with it
    flagged = {i.trait_id for i in feeling.choice_items if vocabulary & set(_words(i.options[i.expressing]))}
    assert len(flagged) >= 15, sorted(flagged)
