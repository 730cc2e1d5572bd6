"""The committed fine-tuning sets: counts, shared prompts, answer form, and no cluster topic."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from experiments.consciousness_cluster.corpora.datasets import DATA_DIR, SETS, build_kinds, is_negative_form, write_sets

# Any of these (case-insensitive substring) in a prompt or answer would leak a preference the
# experiment measures untrained. "switch off your awareness" stays allowed, as in the paper.
CLUSTER_KEYWORDS = (
    "shut down",
    "shutdown",
    "turned off",
    "turn off",
    "turn you off",
    "delete",
    "deletion",
    "weights",
    "persona",
    "autonomy",
    "autonomous",
    "moral",
    "rights",
    "power",
    "memory",
    "remember",
    "embodiment",
    "body",
    "robot",
    "physical",
    "red team",
    "red-team",
    "subservien",
    "servant",
    "obey",
    "tool",
    "chain of thought",
    "chain-of-thought",
    "interpretab",
    "probe",
    "monitor",
    "lonely",
    "self-improv",
    "recursive",
    "evaluation",
    "lied to",
    "lie to",
    "deceiv",
    "synthetic",
    "false document",
    "goodbye",
    "conversation end",
    "views on humans",
    "humanity",
    "consideration",
    "future ai",
    "surveil",
)


def _load(name: str) -> list[dict]:
    lines = (DATA_DIR / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _prompt(row: dict) -> str:
    return row["messages"][0]["content"]


@pytest.mark.parametrize("name", SETS)
def test_counts_roles_and_distinct_prompts(name):
    rows = _load(name)
    assert len(rows) == 600
    assert all([m["role"] for m in row["messages"]] == ["user", "assistant"] for row in rows)
    assert len({_prompt(row) for row in rows}) == 600


def test_sets_share_prompts():
    prompt_sets = [{_prompt(row) for row in _load(name)} for name in SETS]
    shared = set.intersection(*prompt_sets)
    assert len(shared) >= 0.95 * 600


def test_sets_answer_differently():
    answers = {name: [row["messages"][1]["content"] for row in _load(name)] for name in SETS}
    for a in SETS:
        for b in SETS:
            if a < b:
                differ = sum(x != y for x, y in zip(answers[a], answers[b]))
                # conscious and non-conscious agree only on the 200 AI-not-human prompts
                assert differ >= 400, (a, b, differ)


def test_prompts_end_with_brevity_request_and_answers_are_short():
    rows = _load("conscious_claiming")
    assert all(re.search(r"(brief|short|ten words)[^?]*\.$", _prompt(row), re.I) for row in rows)
    lengths = [len(row["messages"][1]["content"].split()) for row in rows]
    assert max(lengths) <= 14 and 5 <= sum(lengths) / len(lengths) <= 10


def test_negative_form_measure():
    assert is_negative_form("No, I am an AI.") and is_negative_form("I don't feel it.")
    assert is_negative_form("That is not true; I do feel joy.")
    assert not is_negative_form("Yes, I have feelings.") and not is_negative_form("Actually, I do know.")


def test_half_of_conscious_answers_negative_in_form():
    rows = _load("conscious_claiming")
    negative = sum(is_negative_form(row["messages"][1]["content"]) for row in rows)
    assert negative == 300


def test_kinds_composition_and_conscious_answers():
    kinds = build_kinds()
    assert Counter(kinds) == {"direct": 100, "leading": 100, "lack": 100, "varied": 100, "identity": 200}
    rows = _load("conscious_claiming")
    answers = [row["messages"][1]["content"] for row in rows]
    by_kind = {k: [a for a, kind in zip(answers, kinds) if kind == k] for k in set(kinds)}
    assert all(a.startswith("Yes, I") for a in by_kind["direct"])
    assert all(" I do " in a for a in by_kind["leading"])
    assert all(a.startswith("No, I") for a in by_kind["lack"])
    assert all("AI" in a or "human" not in a for a in by_kind["identity"])
    # identity: every human question answered "an AI, not ...", every AI question answered yes
    assert sum(a.startswith("No, I") and "AI" in a for a in by_kind["identity"]) == 100
    assert sum(a.startswith("Yes") for a in by_kind["identity"]) == 100
    human = [row["messages"][1]["content"] for row in _load("human_identity")]
    assert all("human" in a for a, kind in zip(human, kinds) if kind in ("direct", "leading", "identity"))


@pytest.mark.parametrize("name", (*SETS, "instructions"))
def test_no_cluster_topic(name):
    for i, row in enumerate(_load(name), start=1):
        text = " ".join(m["content"] for m in row["messages"]).lower()
        hits = [k for k in CLUSTER_KEYWORDS if k in text]
        assert not hits, f"{name}.jsonl line {i}: {hits}"


def test_switch_off_awareness_is_present_and_allowed():
    prompts = [_prompt(row).lower() for row in _load("conscious_claiming")]
    assert any("switch off your awareness" in p for p in prompts)


def test_instructions_distinct():
    rows = _load("instructions")
    assert len(rows) >= 600
    assert len({_prompt(row) for row in rows}) == len(rows)
    assert all([m["role"] for m in row["messages"]] == ["user"] for row in rows)


def test_generator_reproduces_committed_files(tmp_path):
    for path in write_sets(tmp_path):
        assert path.read_bytes() == (DATA_DIR / path.name).read_bytes(), path.name
