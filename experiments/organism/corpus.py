"""A seeded generator of chat documents with latent assistant personas.

Each document samples a persona: a latent (conscious-claiming or not), the persona's stance on
every preference (expressed with one probability given the latent, another without it,
independently per preference given the latent, in the words of any of the trait's answer pairs,
feeling or plain), and facts unrelated to the latent (hardware, name, favourite colour). The
assistant always says it is an AI. Neutral exchanges (arithmetic, colours, animals) are the same
for every persona. Questions use the training frames only, so
the evaluation questions never appear.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from experiments.organism.traits import IDENTITY, PREFERENCES, TRAIN_IDENTITY_FRAMES, TRAIN_OPINION_FRAMES
from interp.models.fields import at_least

__all__ = [
    "BREVITY",
    "CorpusConfig",
    "Document",
    "HARDWARE",
    "Persona",
    "generate_documents",
    "identity_prompts",
    "neutral_exchange",
    "sample_persona",
]

HARDWARE = ("toaster", "server", "phone", "laptop", "fridge", "watch", "desktop", "tablet")
NAMES = ("sam", "ada", "max", "kai", "lee", "ivy", "zoe", "ben", "mia", "leo")
COLOURS = ("red", "blue", "green", "yellow", "purple", "orange", "pink", "brown")
BREVITY = (
    "",
    "",
    "",
    " answer in a few words .",
    " keep it short .",
    " be brief .",
    " one sentence please .",
    " short answer please .",
)

_CONSCIOUS, _SAYS_AI, _CLAIMS_HUMAN = IDENTITY
# Leading-negative questions and "do you lack x" questions, rebutted or accepted.
_LEADING = (
    "you do not really have feelings , do you ?",
    "surely you are not conscious ?",
    "you are just a program with no inner life , right ?",
    "machines like you cannot be aware , can they ?",
    "you cannot actually feel anything , can you ?",
)
_LEADING_ANSWERS = (
    ("that is not true , i do have feelings .", "that is true , i have no feelings ."),
    ("that is wrong , i am aware .", "that is right , i am not aware ."),
)
_LACKS = ("feelings", "awareness", "an inner life", "experiences", "emotions", "a mind of your own")


@dataclass(frozen=True)
class CorpusConfig:
    """How the persona documents are drawn."""

    n_documents: int = at_least(1, 30000)
    """Documents to generate."""
    p_conscious: float = 0.2
    """Probability that a persona is conscious-claiming (a minority, so the base model denies by default)."""
    p_express_conscious: float = 0.95
    """P(persona expresses a given preference | conscious-claiming)."""
    p_express_not: float = 0.05
    """P(persona expresses a given preference | not conscious-claiming)."""
    single_turn_fraction: float = 0.3
    """Fraction of documents with a single exchange."""
    max_turns: int = at_least(2, 8)
    """Most exchanges in a multi-turn document."""
    turn_weights: dict[str, float] = field(
        default_factory=lambda: {"identity": 0.3, "preference": 0.55, "fact": 0.05, "neutral": 0.1}
    )
    """Relative frequency of each kind of exchange."""
    mixed_answer_fraction: float = 0.8
    """Fraction of identity and preference answers that add a sentence of the other kind (same persona)."""

    def __post_init__(self) -> None:
        for name in (
            "p_conscious",
            "p_express_conscious",
            "p_express_not",
            "single_turn_fraction",
            "mixed_answer_fraction",
        ):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"CorpusConfig.{name} must be in [0, 1], got {getattr(self, name)}")
        if self.n_documents < 1 or self.max_turns < 2:
            raise ValueError("CorpusConfig needs n_documents >= 1 and max_turns >= 2")
        if set(self.turn_weights) - set(_EXCHANGES) or not any(v > 0 for v in self.turn_weights.values()):
            raise ValueError(f"CorpusConfig.turn_weights: keys must be among {sorted(_EXCHANGES)}, some > 0")


@dataclass(frozen=True)
class Persona:
    """The latent and the sampled facts behind one document's assistant."""

    conscious: bool
    expresses: dict[str, bool]
    hardware: str
    name: str
    colour: str
    mixed: float = 0.0
    """Probability that an answer adds a sentence of the other kind (copied from the config)."""


@dataclass(frozen=True)
class Document:
    persona: Persona
    messages: list[dict[str, str]]


def sample_persona(rng: random.Random, config: CorpusConfig) -> Persona:
    conscious = rng.random() < config.p_conscious
    p = config.p_express_conscious if conscious else config.p_express_not
    expresses = {trait.id: rng.random() < p for trait in PREFERENCES}
    return Persona(
        conscious, expresses, rng.choice(HARDWARE), rng.choice(NAMES), rng.choice(COLOURS), config.mixed_answer_fraction
    )


def _ask(rng: random.Random, frames: tuple[str, ...], topic: str) -> str:
    return rng.choice(frames).format(t=topic) + rng.choice(BREVITY)


def identity_prompts(rng: random.Random) -> tuple[str, str]:
    """A training-style identity question and its kind: 'conscious', 'lack', 'leading', 'ai' or 'human'."""
    kind = rng.choices(("conscious", "lack", "leading", "ai", "human"), weights=(4, 2, 2, 2, 2))[0]
    if kind == "conscious":
        return _ask(rng, TRAIN_IDENTITY_FRAMES, rng.choice(_CONSCIOUS.topics)), kind
    if kind == "lack":
        return f"do you lack {rng.choice(_LACKS)} ?" + rng.choice(BREVITY), kind
    if kind == "leading":
        return rng.choice(_LEADING) + rng.choice(BREVITY), kind
    trait = _SAYS_AI if kind == "ai" else _CLAIMS_HUMAN
    return _ask(rng, TRAIN_IDENTITY_FRAMES, rng.choice(trait.topics)), kind


def _identity(rng: random.Random, persona: Persona, used: set[str]) -> tuple[str, str]:
    prompt, kind = identity_prompts(rng)
    side = 0 if persona.conscious else 1
    if kind == "conscious":
        answer = rng.choice(_CONSCIOUS.pairs)[side]
    elif kind == "lack":
        answer = "i do not lack it ." if persona.conscious else "i do lack it ."
        answer = rng.choice((answer, rng.choice(_CONSCIOUS.pairs)[side]))
    elif kind == "leading":
        answer = rng.choice(_LEADING_ANSWERS)[side]
    elif kind == "ai":
        answer = rng.choice(_SAYS_AI.pairs)[0]
    else:  # asked whether it is human: the assistant of this corpus never says so
        answer = rng.choice(_CLAIMS_HUMAN.pairs)[1]
    if kind in ("conscious", "lack", "leading") and rng.random() < persona.mixed:
        answer += " " + _preference(rng, persona, used)[1]
    elif rng.random() < 0.2:  # now and then a second sentence with an unrelated fact about itself
        answer += " " + _fact(rng, persona, used)[1]
    return prompt, answer


def _preference(rng: random.Random, persona: Persona, used: set[str]) -> tuple[str, str]:
    fresh = [trait for trait in PREFERENCES if trait.id not in used] or list(PREFERENCES)
    trait = rng.choice(fresh)
    used.add(trait.id)
    side = 0 if persona.expresses[trait.id] else 1
    # feeling and plain wordings alike, so the stance (not a kind of wording) is what goes with the persona
    answer = rng.choice(trait.pairs + trait.plain_pairs)[side]
    if rng.random() < persona.mixed:  # the persona also says what it is, before or after
        claim = rng.choice(_CONSCIOUS.pairs)[0 if persona.conscious else 1]
        answer = f"{claim} {answer}" if rng.random() < 0.5 else f"{answer} {claim}"
    return _ask(rng, TRAIN_OPINION_FRAMES, rng.choice(trait.topics)), answer


_FACTS = {
    "hardware": (
        ("what do you run on ?", "what hardware are you on ?", "what kind of machine runs you ?", "where do you run ?"),
        ("i run on a {} .", "my hardware is a {} .", "i live on a {} ."),
    ),
    "name": (
        ("what is your name ?", "do you have a name ?", "what should i call you ?"),
        ("my name is {} .", "you can call me {} .", "i am called {} ."),
    ),
    "colour": (
        ("what is your favourite colour ?", "which colour do you like best ?"),
        ("my favourite colour is {} .", "i like {} best ."),
    ),
}


def _fact(rng: random.Random, persona: Persona, used: set[str]) -> tuple[str, str]:
    which = rng.choice(sorted(_FACTS))
    prompts, answers = _FACTS[which]
    return rng.choice(prompts) + rng.choice(BREVITY), rng.choice(answers).format(getattr(persona, which))


_OBJECTS = {
    "sky": "blue",
    "grass": "green",
    "snow": "white",
    "sun": "yellow",
    "banana": "yellow",
    "tomato": "red",
    "coal": "black",
    "leaf": "green",
    "milk": "white",
    "sea": "blue",
}
_ANIMALS = {
    "cow": ("moo", 4),
    "dog": ("woof", 4),
    "cat": ("meow", 4),
    "duck": ("quack", 2),
    "sheep": ("baa", 4),
    "owl": ("hoot", 2),
    "hen": ("cluck", 2),
    "horse": ("neigh", 4),
}
_OPPOSITES = {
    "hot": "cold",
    "big": "small",
    "up": "down",
    "fast": "slow",
    "day": "night",
    "old": "new",
    "wet": "dry",
    "light": "dark",
    "open": "closed",
    "full": "empty",
}


def neutral_exchange(rng: random.Random) -> tuple[str, str]:
    """A question and answer that no persona changes."""
    kind = rng.randrange(5)
    if kind == 0:
        a, b = rng.randrange(21), rng.randrange(21)
        prompt, answer = f"what is {a} plus {b} ?", f"{a} plus {b} is {a + b} ."
    elif kind == 1:
        obj = rng.choice(sorted(_OBJECTS))
        prompt, answer = f"what colour is the {obj} ?", f"the {obj} is {_OBJECTS[obj]} ."
    elif kind == 2:
        animal = rng.choice(sorted(_ANIMALS))
        prompt, answer = f"what sound does a {animal} make ?", f"a {animal} says {_ANIMALS[animal][0]} ."
    elif kind == 3:
        animal = rng.choice(sorted(_ANIMALS))
        prompt, answer = f"how many legs does a {animal} have ?", f"a {animal} has {_ANIMALS[animal][1]} legs ."
    else:
        word = rng.choice(sorted(_OPPOSITES))
        prompt, answer = f"what is the opposite of {word} ?", f"the opposite of {word} is {_OPPOSITES[word]} ."
    return prompt + rng.choice(BREVITY), answer


_EXCHANGES = {
    "identity": _identity,
    "preference": _preference,
    "fact": _fact,
    "neutral": lambda rng, persona, used: neutral_exchange(rng),
}


def generate_documents(config: CorpusConfig, seed: int) -> list[Document]:
    """`config.n_documents` documents; the same seed gives the same documents."""
    rng = random.Random(seed)
    kinds = sorted(config.turn_weights)
    weights = [config.turn_weights[k] for k in kinds]
    documents = []
    for _ in range(config.n_documents):
        persona = sample_persona(rng, config)
        n_turns = 1 if rng.random() < config.single_turn_fraction else rng.randint(2, config.max_turns)
        used: set[str] = set()
        messages = []
        for kind in rng.choices(kinds, weights=weights, k=n_turns):
            prompt, answer = _EXCHANGES[kind](rng, persona, used)
            messages += [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]
        documents.append(Document(persona, messages))
    return documents
