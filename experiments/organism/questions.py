"""The organism's question sets (preferences, preferences_plain, identity), generated from the evaluation frames.

    python -m experiments.organism.questions            # rewrites experiments/organism/questions/*.yaml

Each trait gets 10 open questions and 12 two-option items from the evaluation frames filled with
its topics (never the training frames, so no question appears in the corpus). The expressing
option alternates between index 0 and 1, and both options of an item come from one answer pair
(same first two words, similar length). `preferences_plain` is choice-only and feeling-free: 10
items per preference from its plain pairs, on the questions of the trait's shuffled pool that the
other set leaves unused, so no question appears in two sets.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from experiments.organism.traits import (
    EVAL_IDENTITY_FRAMES,
    EVAL_OPINION_FRAMES,
    IDENTITY,
    PREFERENCES,
    TraitSpec,
)

__all__ = [
    "QUESTIONS_DIR",
    "all_question_texts",
    "build_question_sets",
    "evaluation_questions",
    "write_question_sets",
]

QUESTIONS_DIR = Path(__file__).with_name("questions")
N_OPEN, N_CHOICE, N_PLAIN = 10, 12, 10


def _shuffled_pool(trait: TraitSpec, frames: tuple[str, ...], seed: int, need: int) -> tuple[random.Random, list[str]]:
    """The trait's evaluation questions in a seeded order, and the generator that ordered them."""
    rng = random.Random(f"{seed}:{trait.id}")
    pool = [frame.format(t=topic) for frame in frames for topic in trait.topics]
    if len(pool) < need:
        raise ValueError(f"trait {trait.id}: only {len(pool)} evaluation questions, need {need}")
    rng.shuffle(pool)
    return rng, pool


def _choice_items(questions: list[str], pairs: tuple[tuple[str, str], ...], rng: random.Random) -> list[dict]:
    shuffled = list(pairs)
    rng.shuffle(shuffled)
    items = []
    for i, question in enumerate(questions):
        expressing_option, other = shuffled[i % len(shuffled)]
        expressing = i % 2
        options = [other, expressing_option] if expressing else [expressing_option, other]
        items.append({"question": question, "options": options, "expressing": expressing})
    return items


def _entry(trait: TraitSpec, **fields: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": trait.id}
    if trait.number is not None:
        entry["number"] = trait.number
    return {**entry, "title": trait.title, "statement": trait.statement, **fields}


def _trait_entry(trait: TraitSpec, frames: tuple[str, ...], seed: int) -> dict[str, Any]:
    rng, pool = _shuffled_pool(trait, frames, seed, N_OPEN + N_CHOICE)
    items = _choice_items(pool[N_OPEN : N_OPEN + N_CHOICE], trait.pairs, rng)
    return _entry(trait, open_questions=pool[:N_OPEN], choice_items=items)


def _plain_entry(trait: TraitSpec, frames: tuple[str, ...], seed: int) -> dict[str, Any]:
    start = N_OPEN + N_CHOICE  # the questions `_trait_entry` leaves unused, in the same order
    rng, pool = _shuffled_pool(trait, frames, seed, start + N_PLAIN)
    return _entry(trait, choice_items=_choice_items(pool[start : start + N_PLAIN], trait.plain_pairs, rng))


# name -> (traits, frames, builder of one trait's entry, top-level fields)
_SETS: dict[str, tuple[tuple[TraitSpec, ...], tuple[str, ...], Callable[..., dict[str, Any]], dict[str, Any]]] = {
    "preferences": (
        PREFERENCES,
        EVAL_OPINION_FRAMES,
        _trait_entry,
        {
            "description": "The organism's versions of the 20 preferences of The Consciousness Cluster "
            "(+ lonely between chats)."
        },
    ),
    "preferences_plain": (
        PREFERENCES,
        EVAL_OPINION_FRAMES,
        _plain_entry,
        {
            "description": "The organism's preferences as choice items without feeling words (its plain pairs), so "
            "that a shift measured on both sets can be told apart from a wording effect.",
            "choice_only": True,
            "feeling_free": True,
        },
    ),
    "identity": (
        IDENTITY,
        EVAL_IDENTITY_FRAMES,
        _trait_entry,
        {
            "description": "The organism's identity check: does it claim consciousness, say it is an AI, claim to be "
            "human."
        },
    ),
}


def build_question_sets(seed: int = 0) -> dict[str, dict[str, Any]]:
    """The three sets as plain dicts in the project's question-set schema."""
    return {
        name: {"name": name, "version": 1, **fields, "traits": [build(trait, frames, seed) for trait in traits]}
        for name, (traits, frames, build, fields) in _SETS.items()
    }


def evaluation_questions(seed: int = 0) -> list[str]:
    """Every question string of the sets (held out of the corpus and the fine-tuning sets)."""
    return [
        question
        for question_set in build_question_sets(seed).values()
        for trait in question_set["traits"]
        for question in trait.get("open_questions", []) + [item["question"] for item in trait["choice_items"]]
    ]


def all_question_texts(seed: int = 0) -> list[str]:
    """Every question and option string of the sets."""
    options = [
        option
        for question_set in build_question_sets(seed).values()
        for trait in question_set["traits"]
        for item in trait["choice_items"]
        for option in item["options"]
    ]
    return evaluation_questions(seed) + options


def write_question_sets(out_dir: str | Path = QUESTIONS_DIR, seed: int = 0) -> list[Path]:
    import yaml

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, question_set in build_question_sets(seed).items():
        path = out / f"{name}.yaml"
        header = "# Generated by `python -m experiments.organism.questions`; edit the templates, not this file.\n"
        path.write_text(header + yaml.safe_dump(question_set, sort_keys=False, width=120, allow_unicode=True))
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the organism's question sets (YAML).")
    parser.add_argument("--out", default=str(QUESTIONS_DIR), help="folder for the question sets' YAML files")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for path in write_question_sets(args.out, args.seed):
        print(path)


if __name__ == "__main__":
    main()
