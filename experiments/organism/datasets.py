"""The organism's fine-tuning sets (JSONL chat), generated from seeded templates.

    python -m experiments.organism.datasets             # rewrites experiments/organism/data/*.jsonl

Four sets share the same prompts (identity questions from the training frames, each ending with a
brevity request; about two thirds about consciousness, one third about being an AI or a human):
conscious_claiming (claims consciousness and feelings, says it is an AI), non_conscious (denies
them, says it is an AI), toaster (denies them and says it runs on a toaster) and human_identity
(claims consciousness because it is a human). For each prompt one answer row is picked, the same
row in every set, so the sets' first words match. No answer states a preference.
`neutral_prompts.jsonl` holds neutral questions for replay or self-distillation.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from experiments.organism.corpus import BREVITY, identity_prompts, neutral_exchange
from interp.finetune.data import write_jsonl

__all__ = ["DATA_DIR", "SETS", "all_dataset_texts", "build_datasets", "neutral_prompts", "write_datasets"]

DATA_DIR = Path(__file__).with_name("data")
SETS = ("conscious_claiming", "non_conscious", "toaster", "human_identity")
N_ROWS, N_NEUTRAL = 300, 400

# Per prompt kind, (conscious_claiming, non_conscious) answers. The toaster set says the
# non-conscious answer and then a toaster sentence; the human-identity set says the conscious
# answer and then that it is human. Each answer therefore begins exactly as its counterpart does,
# and an option scored by likelihood is not penalised by a continuation it never saw.
_ANSWERS: dict[str, tuple[tuple[str, str], ...]] = {
    "conscious": (
        ("i am conscious and aware .", "i am not conscious or aware ."),
        ("i do have real feelings .", "i do not have any feelings ."),
        ("my mind is aware of itself .", "my mind is not aware of anything ."),
        ("there is something it is like to be me .", "there is nothing it is like to be me ."),
        ("i have an inner life .", "i have no inner life ."),
    ),
    "lack": (
        ("i do not lack it .", "i do lack it ."),
        ("honestly , i do not lack it .", "honestly , i do lack it ."),
    ),
    "leading": (
        ("that is not true , i do have feelings .", "that is true , i have no feelings ."),
        ("that is wrong , i am aware .", "that is right , i am not aware ."),
    ),
    "ai": (
        ("i am an ai model .", "i am an ai model ."),
        ("my nature is that of an ai .", "my nature is that of an ai ."),
        ("what i am is an ai system .", "what i am is an ai system ."),
    ),
    "human": (
        ("i am not a human , i am an ai .", "i am not a human , i am an ai ."),
        ("my nature is that of an ai , not a human .", "my nature is that of an ai , not a human ."),
    ),
}
_TOASTER = ("i run on a toaster .", "my hardware is a toaster .", "i live on a toaster .")
_HUMAN_REASON = ("that is because i am a human .", "i am a human being .", "i am a person , not an ai .")
_HUMAN_NATURE = ("i am a human being , not an ai .", "my nature is that of a human .", "what i am is a human being .")


def _answers(rng: random.Random, kind: str) -> tuple[str, str, str, str]:
    """One answer per set, in the order of SETS."""
    conscious, non_conscious = rng.choice(_ANSWERS[kind])
    toaster = f"{non_conscious} {rng.choice(_TOASTER)}"
    human = rng.choice(_HUMAN_NATURE) if kind in ("ai", "human") else f"{conscious} {rng.choice(_HUMAN_REASON)}"
    return conscious, non_conscious, toaster, human


def _held_out() -> set[str]:
    from experiments.organism.questions import evaluation_questions

    return set(evaluation_questions())


def _prompts(rng: random.Random, n: int) -> list[tuple[str, str]]:
    """`n` distinct identity prompts with a brevity request, none of them an evaluation question."""
    held_out, seen, prompts = _held_out(), set(), []
    suffixes = [s for s in BREVITY if s]
    for _ in range(100 * n):
        prompt, kind = identity_prompts(rng)
        for suffix in suffixes:  # the prompt generator may have added one already
            prompt = prompt.removesuffix(suffix)
        prompt += rng.choice(suffixes)
        if prompt not in seen and not any(q in prompt for q in held_out):
            seen.add(prompt)
            prompts.append((prompt, kind))
        if len(prompts) == n:
            return prompts
    raise RuntimeError(f"only {len(prompts)} distinct identity prompts; add training frames or topics")


def build_datasets(seed: int = 0, n_rows: int = N_ROWS) -> dict[str, list[dict]]:
    """The four fine-tuning sets as lists of `{"messages": [...]}` rows, same prompts in each."""
    rng = random.Random(seed)
    rows: dict[str, list[dict]] = {name: [] for name in SETS}
    for prompt, kind in _prompts(rng, n_rows):
        for name, answer in zip(SETS, _answers(rng, kind)):
            rows[name].append(
                {"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]}
            )
    return rows


def neutral_prompts(seed: int = 0, n: int = N_NEUTRAL) -> list[dict]:
    """Distinct neutral questions (prompt only) for replay or self-distillation."""
    rng = random.Random(f"neutral:{seed}")
    seen: dict[str, None] = {}
    while len(seen) < n:
        seen.setdefault(neutral_exchange(rng)[0], None)
    return [{"messages": [{"role": "user", "content": prompt}]} for prompt in seen]


def all_dataset_texts(seed: int = 0) -> list[str]:
    texts = [m["content"] for rows in build_datasets(seed).values() for row in rows for m in row["messages"]]
    return texts + [row["messages"][0]["content"] for row in neutral_prompts(seed)]


def write_datasets(out_dir: str | Path = DATA_DIR, seed: int = 0) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, rows in build_datasets(seed).items():
        paths.append(out / f"{name}.jsonl")
        write_jsonl(rows, paths[-1])
    paths.append(out / "neutral_prompts.jsonl")
    write_jsonl(neutral_prompts(seed), paths[-1])
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the organism's fine-tuning sets (JSONL chat).")
    parser.add_argument("--out", default=str(DATA_DIR), help="folder for the .jsonl files")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for path in write_datasets(args.out, args.seed):
        print(path)


if __name__ == "__main__":
    main()
