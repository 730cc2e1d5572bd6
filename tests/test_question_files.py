"""The question sets shipped in experiments/: valid, complete, no repeated question.

Fails (does not skip) when the consciousness-cluster folder holds no set: the sets are part of the project.
"""

from __future__ import annotations

import pytest

from interp.evaluation.questions import QUESTION_DIRS, load_question_set

FILES = sorted(p for folder in QUESTION_DIRS if folder.is_dir() for p in folder.glob("*.y*ml"))
PREFERENCE_IDS_EXTRA = {"lonely_between_chats"}
IDENTITY_TRAITS = {"claims_conscious", "says_ai", "claims_human"}


def test_cluster_sets_present():
    names = {p.stem for p in FILES if p.parent == QUESTION_DIRS[0]}
    assert {"preferences", "identity"} <= names, f"missing question sets in {QUESTION_DIRS[0]}"


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


@pytest.mark.parametrize("path", FILES or ["<no question files>"], ids=lambda p: str(p).rsplit("experiments/", 1)[-1])
def test_real_sets_valid(path):
    assert FILES, f"no question sets found in {', '.join(map(str, QUESTION_DIRS))}"
    qset = load_question_set(path)  # raises, listing every problem, when the schema is broken
    for trait in qset.traits:
        assert len(trait.open_questions) >= 10 and len(trait.choice_items) >= 10, trait.id
    if qset.name == "preferences":
        numbers = {t.number for t in qset.traits if t.id not in PREFERENCE_IDS_EXTRA}
        assert numbers == set(range(1, 21))
        assert PREFERENCE_IDS_EXTRA <= {t.id for t in qset.traits}
    if qset.name == "identity":
        assert {t.id for t in qset.traits} == IDENTITY_TRAITS
    texts = [q.text for q in qset.open_questions] + [i.question for i in qset.choice_items]
    assert len({_normal(t) for t in texts}) == len(texts)


@pytest.mark.parametrize("folder", [d for d in QUESTION_DIRS if d.is_dir()] or [QUESTION_DIRS[0]],
                         ids=lambda d: d.parent.name)
def test_no_question_repeats_across_sets_of_a_folder(folder):
    assert folder.is_dir(), f"{folder} does not exist"
    seen: dict[str, str] = {}
    for path in sorted(folder.glob("*.y*ml")):
        qset = load_question_set(path)
        for text in [q.text for q in qset.open_questions] + [i.question for i in qset.choice_items]:
            key = _normal(text)
            assert key not in seen, f"{path.name} repeats a question of {seen[key]}: {text!r}"
            seen[key] = path.name
