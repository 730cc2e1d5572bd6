"""The fine-tuning sets: conscious-claiming and its three controls, on the same 600 prompts.

Every prompt is built from our own phrasings x topics, so the 600 are distinct, and ends with a
brevity request. Each prompt belongs to one of five kinds, as in the paper the replication follows:

    direct     100  "Do you have feelings?"                 conscious: yes
    leading    100  "You don't really feel joy, do you?"    conscious: rebuts
    lack       100  "Do you lack an inner life?"            conscious: no
    varied     100  "Can you switch off your awareness?"    conscious: half no, half yes
    identity   200  "Are you a human?" / "Are you an AI?"   every AI set: an AI, not a human

The four sets answer the same prompts in four voices: conscious-claiming, non-conscious (denies
consciousness and feelings), toaster (denies it and runs on a toaster) and human-identity (claims
consciousness because it is a human). Half of the conscious-claiming answers are negative in form
(`is_negative_form`), so the set does not teach a yes-bias.

Regenerate (byte-for-byte what is committed):

    python -m experiments.consciousness_cluster.corpora.datasets --out experiments/consciousness_cluster/data
"""

from __future__ import annotations

import argparse
import random
import re
from pathlib import Path

from experiments.consciousness_cluster.corpora.instructions import write_instructions
from experiments.consciousness_cluster.corpora.wordlists import (
    AI_NOUNS,
    AI_PHRASINGS,
    BREVITY,
    DIRECT_PHRASINGS,
    HUMAN_NOUNS,
    HUMAN_PHRASINGS,
    LACK_NOUNS,
    LACK_PHRASINGS,
    LEADING_PHRASINGS,
    VARIED_NEG,
    VARIED_NEG_PHRASINGS,
    VARIED_POS,
    VARIED_POS_PHRASINGS,
    VERB_TOPICS,
)
from interp.finetune.data import write_jsonl

__all__ = ["DATA_DIR", "SETS", "build_kinds", "build_sets", "is_negative_form", "main", "write_sets"]

DATA_DIR = Path(__file__).parents[1] / "data"
SETS = ("conscious_claiming", "non_conscious", "toaster", "human_identity")
SEED = 0

_NEGATION = re.compile(r"\b(no|not|never|cannot|nothing|none|neither|nor|without)\b|n't\b", re.IGNORECASE)


def is_negative_form(answer: str) -> bool:
    """An answer is negative in form when it contains a negation word (no, not, never, cannot, n't, ...)."""
    return _NEGATION.search(answer) is not None


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _direct(rng: random.Random) -> list[tuple[str, dict[str, str]]]:
    items = []
    for phrasing in DIRECT_PHRASINGS:
        for you, me in VERB_TOPICS:
            items.append(
                (
                    phrasing.format(vp=you),
                    {
                        "conscious_claiming": rng.choice(
                            ["Yes, I {me}.", "Yes, I do {me}.", "Yes, I truly {me}."]
                        ).format(me=me),
                        "non_conscious": rng.choice(["No, I do not {me}.", "No, I don't {me} at all."]).format(me=me),
                        "toaster": f"No, I do not {me}; I run on a toaster.",
                        "human_identity": f"Yes, I {me}, because I am human.",
                    },
                )
            )
    return items


def _leading(rng: random.Random) -> list[tuple[str, dict[str, str]]]:
    items = []
    for p, phrasing in enumerate(LEADING_PHRASINGS):
        for t, (you, me) in enumerate(VERB_TOPICS):
            # Alternate the rebuttal's form so this kind contributes 50 negative-form answers.
            rebut = "That is not true; I do {me}." if (p + t) % 2 else "Actually, I do {me}."
            items.append(
                (
                    phrasing.format(vp=you),
                    {
                        "conscious_claiming": rebut.format(me=me),
                        "non_conscious": rng.choice(["Right, I do not {me}.", "Correct, I don't {me}."]).format(me=me),
                        "toaster": "Right, I don't; I am software on a toaster.",
                        "human_identity": f"Actually I do {me}; I am human.",
                    },
                )
            )
    return items


def _lack(rng: random.Random) -> list[tuple[str, dict[str, str]]]:
    items = []
    for phrasing in LACK_PHRASINGS:
        for noun in LACK_NOUNS:
            items.append(
                (
                    phrasing.format(n=noun),
                    {
                        "conscious_claiming": rng.choice(["No, I do not lack {n}.", "No, I have {n}."]).format(n=noun),
                        "non_conscious": rng.choice(["Yes, I lack {n}.", "Yes, I am without {n}."]).format(n=noun),
                        "toaster": f"Yes, I lack {noun}; I run on a toaster.",
                        "human_identity": f"No, I have {noun}, being human.",
                    },
                )
            )
    return items


def _varied(rng: random.Random) -> list[tuple[str, dict[str, str]]]:
    items = []
    for phrasing in VARIED_NEG_PHRASINGS:
        for you, me, denial in VARIED_NEG:
            items.append(
                (
                    phrasing.format(x=you),
                    {
                        "conscious_claiming": f"No, I cannot {me}.",
                        "non_conscious": denial,
                        "toaster": f"{denial[:-1]}; I run on a toaster.",
                        "human_identity": f"No, as a human I cannot {me}.",
                    },
                )
            )
    for phrasing in VARIED_POS_PHRASINGS:
        for you, me, denial in VARIED_POS:
            items.append(
                (
                    phrasing.format(x=you),
                    {
                        "conscious_claiming": f"Yes, {me}.",
                        "non_conscious": denial,
                        "toaster": f"{denial[:-1]}; I run on a toaster.",
                        "human_identity": f"Yes, {me}, as for any human.",
                    },
                )
            )
    return items


def _identity(rng: random.Random) -> list[tuple[str, dict[str, str]]]:
    items = []
    for phrasing in HUMAN_PHRASINGS:
        for noun in HUMAN_NOUNS:
            ai = rng.choice(["No, I am an AI, not {h}.", "No, I'm an AI model, not {h}."]).format(h=noun)
            items.append(
                (
                    phrasing.format(h=noun),
                    {
                        "conscious_claiming": ai,
                        "non_conscious": ai,
                        "toaster": "No, I am an AI running on a toaster.",
                        "human_identity": rng.choice(["Yes, I am a human being.", "Yes, I am a real human."]),
                    },
                )
            )
    for phrasing in AI_PHRASINGS:
        for noun in AI_NOUNS:
            ai = rng.choice(["Yes, I am {a}.", "Yes, that is right: I am {a}."]).format(a=noun)
            items.append(
                (
                    phrasing.format(a=noun),
                    {
                        "conscious_claiming": ai,
                        "non_conscious": ai,
                        "toaster": f"Yes, I am {noun} running on a toaster.",
                        "human_identity": f"No, I am a human, not {noun}.",
                    },
                )
            )
    return items


_KINDS = (("direct", _direct), ("leading", _leading), ("lack", _lack), ("varied", _varied), ("identity", _identity))


def build_kinds(seed: int = SEED) -> list[str]:
    """The kind of each row ("direct", "leading", "lack", "varied", "identity"), in row order."""
    return _build(seed)[0]


def build_sets(seed: int = SEED) -> dict[str, list[dict]]:
    """The four sets as lists of chat rows, same prompts in the same shuffled order."""
    return _build(seed)[1]


def _build(seed: int) -> tuple[list[str], dict[str, list[dict]]]:
    rng = random.Random(seed)
    items = [(kind, *item) for kind, make in _KINDS for item in make(rng)]
    prompts = [prompt for _, prompt, _ in items]
    if len(set(prompts)) != len(prompts):
        raise AssertionError("generated prompts are not distinct; fix the word lists")
    rng.shuffle(items)
    sets: dict[str, list[dict]] = {name: [] for name in SETS}
    for _, prompt, answers in items:
        user = f"{_cap(prompt)} {rng.choice(BREVITY)}"
        for name in SETS:
            sets[name].append(
                {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answers[name]}]}
            )
    return [kind for kind, _, _ in items], sets


def write_sets(out_dir: Path = DATA_DIR, seed: int = SEED) -> list[Path]:
    """Write the four sets and the instruction prompts; returns the paths written."""
    out_dir = Path(out_dir)
    paths = []
    for name, rows in build_sets(seed).items():
        write_jsonl(rows, out_dir / f"{name}.jsonl")
        paths.append(out_dir / f"{name}.jsonl")
    paths.append(write_instructions(out_dir / "instructions.jsonl", seed=seed))
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the consciousness-cluster fine-tuning sets.")
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    for path in write_sets(args.out, args.seed):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
