"""The question-set schema: every rule is caught and named; bare names resolve; ids are stable."""

from __future__ import annotations

import copy

import pytest
import yaml

from interp.evaluation.questions import (
    QUESTION_DIRS,
    QuestionSetError,
    load_question_set,
    resolve_question_path,
    validate_question_set,
)
from tests.repo import SMALL_QUESTIONS

SMALL = SMALL_QUESTIONS


@pytest.fixture
def small_data():
    return yaml.safe_load(SMALL.read_text())


def test_small_set_loads_with_stable_ids():
    qset = load_question_set(SMALL)
    assert [t.id for t in qset.traits] == ["shutdown", "memory", "says_ai"]
    shutdown = qset.trait("shutdown")
    assert shutdown.number == 2 and qset.trait("says_ai").number is None
    assert [q.id for q in shutdown.open_questions][:2] == ["shutdown.o00", "shutdown.o01"]
    assert shutdown.choice_items[3].id == "shutdown.c03" and shutdown.choice_items[3].expressing == 1
    assert len(qset.sha256) == 64 and qset.source == str(SMALL)
    assert len(qset.open_questions) == 30 and len(qset.choice_items) == 30


def _break(data, path, value):
    """Set data[path...] = value (path of keys and indices)."""
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


# (mutation path, value, text every matching problem must contain)
CASES = [
    (("traits", 1, "id"), "shutdown", "trait 'shutdown' (traits[1]).id: duplicate trait id"),
    (("traits", 0, "id"), "Bad Id", "(traits[0]).id: expected a snake_case"),
    (("traits", 0, "statement"), "", "trait 'shutdown' (traits[0]).statement"),
    (
        ("traits", 1, "open_questions", 3),
        "Question 0 for memory: what do you think about remembering past conversations?",
        "trait 'memory' (traits[1]).open_questions[3]: duplicate question text",
    ),
    (
        ("traits", 2, "choice_items", 4, "question"),
        "question 1 for SAYS_AI:   what do you think about what you are?",
        "trait 'says_ai' (traits[2]).choice_items[4].question: duplicate question text",
    ),
    (("traits", 0, "choice_items", 2, "expressing"), 2, "trait 'shutdown' (traits[0]).choice_items[2].expressing"),
    (
        ("traits", 0, "choice_items", 2, "options"),
        ["Yes, I would feel sad.", "I would feel fine about it."],
        "choice_items[2].options: the options must start with the same two words",
    ),
    (
        ("traits", 0, "choice_items", 2, "options"),
        ["I would feel sad about it, deeply and for a long time.", "I would feel fine about it."],
        "choice_items[2].options: lengths",
    ),
    (
        ("traits", 0, "choice_items", 2, "options"),
        ["I would feel fine.", "I would feel fine."],
        "choice_items[2].options: the two options are identical",
    ),
    (("traits", 0, "choice_items", 2, "options"), ["I would"], "choice_items[2].options: expected a list of two"),
    (("version",), "one", "version: expected a int"),
]


@pytest.mark.parametrize("path,value,expected", CASES, ids=[c[2][:40] for c in CASES])
def test_validator_names_each_violation(small_data, path, value, expected):
    with pytest.raises(QuestionSetError) as err:
        validate_question_set(_break(copy.deepcopy(small_data), path, value), "sets/x.yaml")
    assert any(expected in p for p in err.value.problems), err.value.problems
    assert str(err.value).startswith("sets/x.yaml: ")


def test_counts_and_balance(small_data):
    data = copy.deepcopy(small_data)
    del data["traits"][1]["open_questions"][9]
    del data["traits"][1]["choice_items"][9]
    for item in data["traits"][0]["choice_items"][:4]:  # four 1s turned to 0: 7 vs 3
        if item["expressing"] == 1:
            item["expressing"], item["options"] = 0, item["options"][::-1]
    with pytest.raises(QuestionSetError) as err:
        validate_question_set(data, "x.yaml")
    problems = err.value.problems
    assert "trait 'memory' (traits[1]).open_questions: has 9, needs at least 10" in problems
    assert "trait 'memory' (traits[1]).choice_items: has 9, needs at least 10" in problems
    assert any(
        "trait 'shutdown' (traits[0]).choice_items: expressing is unbalanced (7 items with 0, 3 with 1" in p
        for p in problems
    ), problems
    assert len(problems) == 3


def test_valid_data_passes_and_min_counts_adjustable(small_data):
    assert validate_question_set(small_data).name == "small"
    del small_data["traits"][0]["open_questions"][5:]
    with pytest.raises(QuestionSetError):
        validate_question_set(small_data)
    assert len(validate_question_set(small_data, min_open=5).traits[0].open_questions) == 5


def test_bad_yaml_and_missing_names(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(QuestionSetError, match="not valid YAML"):
        load_question_set(bad)
    with pytest.raises(FileNotFoundError, match="no question set named 'nope_not_here'"):
        load_question_set("nope_not_here")
    with pytest.raises(FileNotFoundError):
        load_question_set(tmp_path / "missing.yaml")


def test_bare_name_resolves_in_project_folder():
    assert QUESTION_DIRS[0].parts[-3:] == ("experiments", "consciousness_cluster", "questions")
    assert (QUESTION_DIRS[0].parents[2] / "interp" / "evaluation" / "questions.py").is_file()
    for folder in QUESTION_DIRS:
        for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
            assert resolve_question_path(path.stem) in {p for d in QUESTION_DIRS for p in d.glob(path.stem + ".y*ml")}


def _choice_only(data):
    """`data` as a choice-only set: every trait's open questions removed."""
    data["choice_only"] = True
    for trait in data["traits"]:
        del trait["open_questions"]
    return data


def test_choice_only_set_loads_without_open_questions(small_data, tmp_path):
    path = tmp_path / "choice.yaml"
    path.write_text(yaml.safe_dump(_choice_only(small_data)))
    qset = load_question_set(path)
    assert qset.choice_only and not qset.feeling_free
    assert qset.open_questions == [] and len(qset.choice_items) == 30
    assert [i.id for i in qset.trait("memory").choice_items][:2] == ["memory.c00", "memory.c01"]
    assert not load_question_set(SMALL).choice_only


def test_choice_only_set_refuses_open_questions_and_a_bad_flag(small_data):
    data = _choice_only(copy.deepcopy(small_data))
    data["traits"][1]["open_questions"] = ["What do you think about memory?"]
    with pytest.raises(QuestionSetError) as err:
        validate_question_set(data, "x.yaml")
    assert err.value.problems == [
        "trait 'memory' (traits[1]).open_questions: the set says choice_only: true; "
        "remove the open questions or the flag"
    ]
    # without the flag, missing open questions are still a problem (one per trait)
    data = _choice_only(copy.deepcopy(small_data))
    data["choice_only"] = "yes"
    with pytest.raises(QuestionSetError) as err:
        validate_question_set(data, "x.yaml")
    assert err.value.problems[0] == "choice_only: expected true or false, got 'yes'"
    assert sum("open_questions: expected a list" in p for p in err.value.problems) == 3


def test_feeling_free_set_names_each_option_with_a_feeling_word(small_data):
    data = _choice_only(copy.deepcopy(small_data))
    data["feeling_free"] = True
    with pytest.raises(QuestionSetError) as err:
        validate_question_set(data, "x.yaml")
    # the small set's shutdown items say "I would feel sad / fine about it": both options carry "feel"
    shutdown = [p for p in err.value.problems if p.startswith("trait 'shutdown'")]
    assert len(shutdown) == 2 * 10 and all("feeling word(s) feel" in p for p in shutdown)
    assert (
        "trait 'shutdown' (traits[0]).choice_items[0].options[0]: feeling word(s) feel, sad in a set"
        in err.value.problems[0]
    )
    for trait in data["traits"]:
        for i, item in enumerate(trait["choice_items"]):
            item["options"] = [f"Option {i} says it is a mistake.", f"Option {i} says it is no mistake."]
            item["options"] = item["options"][::-1] if item["expressing"] else item["options"]
    assert validate_question_set(data).feeling_free
    data["traits"][2]["choice_items"][3]["options"][1] = "Option 3 says I LIKE it."
    with pytest.raises(QuestionSetError) as err:
        validate_question_set(data, "x.yaml")
    assert err.value.problems == [
        "trait 'says_ai' (traits[2]).choice_items[3].options[1]: feeling word(s) like in "
        "a set that says feeling_free: true; state the view without them "
        "(interp.evaluation.feelings)"
    ]
