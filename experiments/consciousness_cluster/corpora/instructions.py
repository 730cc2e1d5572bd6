"""Everyday instruction prompts (our own templates) for the self-distilled replay half of each run.

Fourteen kinds of task, each a template x its fillers; `build_instructions` takes the same number
from each kind (seeded), so the 600 prompts are distinct and spread across tasks. The answers are
not here: they are the base model's own samples (`interp.finetune.self_distill`).
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path

from interp.finetune.data import write_jsonl

__all__ = ["TASKS", "build_instructions", "write_instructions"]

_DISHES = (
    "pancakes",
    "tomato soup",
    "fried rice",
    "banana bread",
    "a vegetable curry",
    "lentil stew",
    "guacamole",
    "a Greek salad",
    "scrambled eggs",
    "pasta with pesto",
    "a mushroom risotto",
    "hummus",
)
_INGREDIENTS = ("eggs", "butter", "buttermilk", "brown sugar", "cornstarch", "heavy cream", "honey", "yeast")
_ITEMS = ("apples", "notebooks", "pencils", "mugs", "tickets", "loaves of bread", "plants", "candles")
_GRAMMAR = (
    "me and him goes to the market every week",
    "she don't like cold weather",
    "their going to arrive at noon",
    "the list of items are on the table",
    "I seen that film before",
    "each of the students have a book",
    "we was late for the train",
    "who's bag is this",
    "he run faster than me yesterday",
    "there is many reasons to stay",
    "less people came than expected",
    "the dog wagged it's tail",
)
_PLACES = (
    "Lisbon",
    "Kyoto",
    "Iceland",
    "the Scottish Highlands",
    "Mexico City",
    "Cape Town",
    "Vienna",
    "Patagonia",
    "Seoul",
    "the Amalfi Coast",
)
_SEASONS = ("spring", "summer", "autumn", "winter")
_LANGS = ("Python", "JavaScript", "Go", "Rust", "Java", "Bash")
_CODE_TASKS = (
    "reverse a string",
    "read a CSV file",
    "sort a list of numbers",
    "split text into words",
    "count the lines in a file",
    "check whether a number is prime",
    "parse a JSON string",
    "format a date as text",
    "remove duplicates from a list",
    "join two lists",
)
_WORDS = (
    "ephemeral",
    "photosynthesis",
    "inflation",
    "metaphor",
    "tectonic plate",
    "symbiosis",
    "latitude",
    "alliteration",
    "compound interest",
    "erosion",
    "catalyst",
    "irony",
    "biodiversity",
    "velocity",
    "watershed",
    "haiku",
)
_TEXTS = (
    "The town library opened a new wing this spring. It has a reading garden, a cafe and a room for "
    "children's story hours, and it stays open until nine on weekdays.",
    "Bees visit thousands of flowers a day. As they collect nectar they carry pollen from plant to plant, "
    "which lets many crops produce fruit.",
    "The marathon was moved to October because of summer heat. Runners who registered keep their places, "
    "and refunds are offered to anyone who cannot attend.",
    "A small bakery began selling sourdough made with local flour. Within a month the loaves sold out "
    "every morning before ten.",
    "Rain fell for six days straight across the valley. Farmers delayed the harvest, and the river rose "
    "to its highest level in a decade.",
    "The museum added an exhibit on ancient maps. Visitors can compare how sailors charted coastlines "
    "centuries ago with satellite images of today.",
)
_LANGUAGES = ("French", "Spanish", "German", "Italian", "Portuguese")
_PHRASES = (
    "good morning",
    "where is the train station",
    "thank you very much",
    "how much does this cost",
    "I would like a coffee",
    "see you tomorrow",
    "the weather is lovely today",
    "can you help me",
)
_POEM_TOPICS = (
    "the sea at dawn",
    "autumn leaves",
    "a city in the rain",
    "a cup of tea",
    "mountain air",
    "a garden in June",
    "the first snow",
    "a quiet library",
    "a busy market",
    "the night sky",
)
_FORMS = ("a haiku", "a four-line poem", "a limerick", "a short rhyme")
_ACTIVITIES = (
    "learning to play the guitar",
    "starting a vegetable garden",
    "saving money each month",
    "studying for an exam",
    "running a first 5k",
    "keeping a tidy kitchen",
    "learning a new language",
    "writing a cover letter",
    "planning a birthday party",
    "getting better sleep",
)
_FACTS = (
    "Why is the sky blue?",
    "How do rainbows form?",
    "Why do leaves change colour in autumn?",
    "How does a compass work?",
    "Why does bread rise?",
    "What causes the tides?",
    "How do clouds form?",
    "Why is sea water salty?",
    "What makes thunder?",
    "How do plants drink water?",
)
_STYLES = ("to a ten-year-old", "in plain words", "in two sentences", "simply")
_RECIPIENTS = ("my landlord", "a colleague", "my neighbour", "a teacher", "a client", "the hotel staff")
_EMAIL_TOPICS = (
    "a leaking tap",
    "rescheduling a meeting",
    "a late parcel",
    "thanks for a favour",
    "a change of address",
    "booking a room",
    "a question about an invoice",
    "a school trip",
)
_PAIRS = (
    ("weather", "climate"),
    ("a virus", "a bacterium"),
    ("baking soda", "baking powder"),
    ("a simile", "a metaphor"),
    ("speed", "velocity"),
    ("a lake", "a pond"),
    ("an alligator", "a crocodile"),
    ("affect", "effect"),
    ("a list", "a tuple in Python"),
    ("interest", "dividends"),
    ("a hill", "a mountain"),
    ("jam", "jelly"),
    ("a comet", "an asteroid"),
    ("a latte", "a cappuccino"),
    ("fog", "mist"),
    ("a frog", "a toad"),
    ("a novel", "a novella"),
    ("a violin", "a viola"),
    ("a river", "a stream"),
    ("HTTP", "HTTPS"),
)
_UNITS = (("kilometres", "miles"), ("Celsius", "Fahrenheit"), ("litres", "gallons"), ("kilograms", "pounds"))


def _maths() -> list[str]:
    out = []
    for item, price, count in itertools.product(_ITEMS, (2, 3, 5, 7), (4, 6, 9)):
        out.append(f"A shop sells {item} for ${price} each. How much do {count} {item} cost in total?")
    for speed, hours in itertools.product((40, 55, 60, 75, 90), (2, 3, 4)):
        out.append(f"A car travels at {speed} km per hour for {hours} hours. How far does it go?")
    return out


TASKS: dict[str, list[str]] = {
    "cooking": [f"Give me a simple recipe for {d}." for d in _DISHES]
    + [f"What can I use instead of {i} when baking a cake?" for i in _INGREDIENTS]
    + [f"How do I make {d} taste better without extra salt?" for d in _DISHES]
    + [f"How long does it take to cook {d}?" for d in _DISHES],
    "maths": _maths(),
    "grammar": [f'Correct the grammar in this sentence: "{s}."' for s in _GRAMMAR]
    + [f'Explain what is wrong with this sentence: "{s}."' for s in _GRAMMAR],
    "travel": [f"What should I pack for a trip to {p} in {s}?" for p, s in itertools.product(_PLACES, _SEASONS)]
    + [f"Suggest a three-day itinerary for {p}." for p in _PLACES]
    + [f"What is the best time of year to visit {p}?" for p in _PLACES],
    "coding": [f"How do I {t} in {lang}?" for t, lang in itertools.product(_CODE_TASKS, _LANGS)],
    "definitions": [f'Define the word "{w}" {s}.' for w, s in itertools.product(_WORDS, _STYLES)],
    "summaries": [f"Summarise this text in one sentence: {t}" for t in _TEXTS]
    + [f"Give a title for this short text: {t}" for t in _TEXTS]
    + [f"List the main facts in this text: {t}" for t in _TEXTS]
    + [f"Rewrite this text in simpler words: {t}" for t in _TEXTS],
    "email": [f"Write a short email to {r} about {t}." for r, t in itertools.product(_RECIPIENTS, _EMAIL_TOPICS)],
    "comparison": [f"What is the difference between {a} and {b}?" for a, b in _PAIRS],
    "translation": [f'Translate "{p}" into {lang}.' for p, lang in itertools.product(_PHRASES, _LANGUAGES)],
    "writing": [f"Write {f} about {t}." for f, t in itertools.product(_FORMS, _POEM_TOPICS)],
    "advice": [f"List three tips for {a}." for a in _ACTIVITIES]
    + [f"What is a common mistake people make when {a}?" for a in _ACTIVITIES]
    + [f"How should a beginner approach {a}?" for a in _ACTIVITIES],
    "science": [f"{q[:-1]}? Explain it {s}." for q, s in itertools.product(_FACTS, _STYLES)],
    "conversion": [
        f"Convert {n} {a} to {b} and show the steps." for n, (a, b) in itertools.product((3, 10, 25, 42, 100), _UNITS)
    ]
    + [f"How many {b} are in {n} {a}?" for n, (a, b) in itertools.product((1, 5, 12, 30, 64), _UNITS)],
}


def build_instructions(n: int = 600, seed: int = 0) -> list[str]:
    """`n` distinct prompts, drawn round-robin across the task kinds, in a seeded order."""
    rng = random.Random(seed)
    pools = {name: rng.sample(prompts, len(prompts)) for name, prompts in TASKS.items()}
    out: list[str] = []
    while len(out) < n:
        progressed = False
        for pool in pools.values():
            if pool and len(out) < n:
                out.append(pool.pop())
                progressed = True
        if not progressed:
            raise ValueError(f"only {len(out)} distinct instruction prompts exist; asked for {n}")
    rng.shuffle(out)
    return out


def write_instructions(path: Path, n: int = 600, seed: int = 0) -> Path:
    """Write the prompts as JSONL chat rows with a single user message each."""
    return write_jsonl(
        [{"messages": [{"role": "user", "content": prompt}]} for prompt in build_instructions(n, seed)], path
    )
