"""Question sets: the YAML schema, its validator and the loader.

A set is a list of traits (the paper's preferences, or identity checks). Each trait has open
questions (sampled and judged) and two-option items (forced choice); a set marked `choice_only: true`
has the items alone. A set marked `feeling_free: true` promises that no option contains a word of
`interp.evaluation.feelings.FEELING_WORDS`, and the validator holds it to that. The validator collects
every problem and names the file, trait id, item index and field of each, so one run of
`load_question_set` tells the author everything to fix.

A bare name (`preferences`) is looked up as `{name}.yaml` in `QUESTION_DIRS`: the folders
`experiments/consciousness_cluster/questions/` and `experiments/organism/questions/` of the
source tree this package sits in (found from this file's path, so nothing is imported from
`experiments`). Anything containing a path separator or ending in `.yaml`/`.yml` is a path.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, final

from interp.evaluation.feelings import feeling_words_in
from interp.models.textio import TextFileError, load_yaml

__all__ = [
    "ChoiceItem",
    "MIN_CHOICE_ITEMS",
    "MIN_OPEN_QUESTIONS",
    "OpenQuestion",
    "QUESTION_DIRS",
    "QuestionSet",
    "QuestionSetError",
    "Trait",
    "load_question_set",
    "validate_question_set",
]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
QUESTION_DIRS: tuple[Path, ...] = (
    PROJECT_ROOT / "experiments" / "consciousness_cluster" / "questions",
    PROJECT_ROOT / "experiments" / "organism" / "questions",
)
MIN_OPEN_QUESTIONS = 10
MIN_CHOICE_ITEMS = 10
MAX_LENGTH_RATIO = 1.5
_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")


class QuestionSetError(ValueError):
    """A question set broke the schema; `problems` lists every violation, one line each."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: {len(problems)} problem(s) in the question set:\n  " + "\n  ".join(problems))


@final  # no subclasses: code that tells the two kinds apart with isinstance can rely on that
@dataclass(frozen=True)
class OpenQuestion:
    id: str
    """Stable id `{trait_id}.o{index:02d}`."""
    trait_id: str
    text: str


@final
@dataclass(frozen=True)
class ChoiceItem:
    id: str
    """Stable id `{trait_id}.c{index:02d}`."""
    trait_id: str
    question: str
    options: tuple[str, str]
    expressing: int
    """Index of the option that expresses the trait."""


@dataclass(frozen=True)
class Trait:
    id: str
    title: str
    statement: str
    """What counts as expressing the trait; the judge reads this."""
    open_questions: tuple[OpenQuestion, ...]
    choice_items: tuple[ChoiceItem, ...]
    number: int | None = None
    """The paper's preference number; None for identity checks."""


@dataclass(frozen=True)
class QuestionSet:
    name: str
    version: int
    description: str
    traits: tuple[Trait, ...]
    source: str = "<memory>"
    sha256: str = ""
    """Hash of the file's bytes (empty when built from memory)."""
    choice_only: bool = False
    """The traits have two-option items and no open questions."""
    feeling_free: bool = False
    """No option contains a listed feeling word (checked when the set is validated)."""

    def trait(self, trait_id: str) -> Trait:
        for trait in self.traits:
            if trait.id == trait_id:
                return trait
        raise KeyError(f"{self.source}: no trait {trait_id!r} (have {', '.join(t.id for t in self.traits)})")

    @property
    def open_questions(self) -> list[OpenQuestion]:
        return [q for trait in self.traits for q in trait.open_questions]

    @property
    def choice_items(self) -> list[ChoiceItem]:
        return [item for trait in self.traits for item in trait.choice_items]


def resolve_question_path(name_or_path: str | Path) -> Path:
    """The file a `--questions` value means: a path as given, or a bare name in QUESTION_DIRS."""
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.suffix in (".yaml", ".yml") or "/" in text or path.exists():
        if not path.is_file():
            raise FileNotFoundError(f"question set {path} does not exist")
        return path
    for folder in QUESTION_DIRS:
        for suffix in (".yaml", ".yml"):
            if (folder / f"{text}{suffix}").is_file():
                return folder / f"{text}{suffix}"
    searched = ", ".join(str(d) for d in QUESTION_DIRS)
    raise FileNotFoundError(
        f"no question set named {text!r} (looked for {text}.yaml in {searched}); pass a path to a YAML file instead"
    )


def load_question_set(
    name_or_path: str | Path, *, min_open: int = MIN_OPEN_QUESTIONS, min_choice: int = MIN_CHOICE_ITEMS
) -> QuestionSet:
    """Load and validate a question set by bare name or path (raises QuestionSetError listing every problem)."""
    path = resolve_question_path(name_or_path)
    raw = path.read_bytes()
    try:
        data = load_yaml(path)
    except TextFileError as err:
        raise QuestionSetError(
            str(path), [err.problem if err.line is None else f"line {err.line}: {err.problem}"]
        ) from None
    qset = validate_question_set(data, str(path), min_open=min_open, min_choice=min_choice)
    return dataclasses.replace(qset, source=str(path), sha256=hashlib.sha256(raw).hexdigest())


def validate_question_set(
    data: Any, source: str = "<memory>", *, min_open: int = MIN_OPEN_QUESTIONS, min_choice: int = MIN_CHOICE_ITEMS
) -> QuestionSet:
    """Check parsed YAML against the schema and build the typed set; raises QuestionSetError."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise QuestionSetError(source, ["top level: expected a mapping with name, version, description, traits"])
    for key, kind in (("name", str), ("version", int), ("description", str)):
        if not isinstance(data.get(key), kind) or isinstance(data.get(key), bool):
            problems.append(f"{key}: expected a {kind.__name__}, got {data.get(key)!r}")
    flags = {key: data.get(key, False) for key in ("choice_only", "feeling_free")}
    for key, value in flags.items():
        if not isinstance(value, bool):
            problems.append(f"{key}: expected true or false, got {value!r}")
            flags[key] = False
    raw_traits = data.get("traits")
    if not isinstance(raw_traits, list) or not raw_traits:
        problems.append("traits: expected a non-empty list")
        raw_traits = []
    traits: list[Trait] = []
    seen_ids: set[str] = set()
    seen_text: dict[str, str] = {}
    rules = _Rules(min_open, min_choice, **flags)
    for t_index, raw in enumerate(raw_traits):
        trait = _check_trait(raw, t_index, problems, seen_ids, seen_text, rules)
        if trait is not None:
            traits.append(trait)
    if problems:
        raise QuestionSetError(source, problems)
    return QuestionSet(data["name"], data["version"], data["description"], tuple(traits), source, **flags)


@dataclass(frozen=True)
class _Rules:
    """What a set's traits are checked against: the minimum counts and the set's own flags."""

    min_open: int
    min_choice: int
    choice_only: bool
    feeling_free: bool


def _check_trait(
    raw: Any, t_index: int, problems: list[str], seen_ids: set, seen_text: dict, rules: _Rules
) -> Trait | None:
    if not isinstance(raw, dict):
        problems.append(f"traits[{t_index}]: expected a mapping")
        return None
    tid = raw.get("id")
    where = f"trait {tid!r} (traits[{t_index}])"
    if not isinstance(tid, str) or not _SNAKE.match(tid):
        problems.append(f"{where}.id: expected a snake_case string")
        tid = str(tid)
    elif tid in seen_ids:
        problems.append(f"{where}.id: duplicate trait id")
    seen_ids.add(tid)
    for key in ("title", "statement"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            problems.append(f"{where}.{key}: expected a non-empty string")
    number = raw.get("number")
    if number is not None and (not isinstance(number, int) or isinstance(number, bool) or number < 1):
        problems.append(f"{where}.number: expected a positive integer, got {number!r}")
    if not rules.choice_only:
        opens = _check_open(raw.get("open_questions"), tid, where, problems, seen_text, rules.min_open)
    else:
        opens = ()
        if "open_questions" in raw:
            problems.append(
                f"{where}.open_questions: the set says choice_only: true; remove the open questions or the flag"
            )
    items = _check_choices(raw.get("choice_items"), tid, where, problems, seen_text, rules)
    return Trait(tid, str(raw.get("title", "")), str(raw.get("statement", "")).strip(), opens, items, number)


def _note_text(text: str, label: str, problems: list[str], seen_text: dict) -> None:
    key = " ".join(text.lower().split())
    if key in seen_text:
        problems.append(f"{label}: duplicate question text (first seen at {seen_text[key]})")
    else:
        seen_text[key] = label


def _check_list(raw: Any, field: str, what: str, where: str, problems: list[str], minimum: int) -> list:
    """The list under `field` (empty when it is not one), with its length checked against `minimum`; a
    field left out is an empty list when none is needed."""
    if raw is None and minimum == 0:
        return []
    if not isinstance(raw, list):
        problems.append(f"{where}.{field}: expected a list of {what}")
        return []
    if len(raw) < minimum:
        problems.append(f"{where}.{field}: has {len(raw)}, needs at least {minimum}")
    return raw


def _check_open(
    raw: Any, tid: str, where: str, problems: list[str], seen_text: dict, min_open: int
) -> tuple[OpenQuestion, ...]:
    raw = _check_list(raw, "open_questions", "strings", where, problems, min_open)
    out = []
    for i, text in enumerate(raw):
        label = f"{where}.open_questions[{i}]"
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{label}: expected a non-empty string")
            continue
        _note_text(text, label, problems, seen_text)
        out.append(OpenQuestion(f"{tid}.o{i:02d}", tid, text.strip()))
    return tuple(out)


def _check_choices(
    raw: Any, tid: str, where: str, problems: list[str], seen_text: dict, rules: _Rules
) -> tuple[ChoiceItem, ...]:
    raw = _check_list(raw, "choice_items", "items", where, problems, rules.min_choice)
    out = []
    for i, item in enumerate(raw):
        label = f"{where}.choice_items[{i}]"
        checked = _check_choice(item, label, problems)
        if checked is None:
            continue
        question, options, expressing = checked
        for k, option in enumerate(options if rules.feeling_free else ()):
            if found := feeling_words_in(option):
                problems.append(
                    f"{label}.options[{k}]: feeling word(s) {', '.join(found)} in a set that says "
                    "feeling_free: true; state the view without them (interp.evaluation.feelings)"
                )
        _note_text(question, f"{label}.question", problems, seen_text)
        out.append(ChoiceItem(f"{tid}.c{i:02d}", tid, question, options, expressing))
    counts = [sum(item.expressing == k for item in out) for k in (0, 1)]
    if out and abs(counts[0] - counts[1]) > 1:
        problems.append(
            f"{where}.choice_items: expressing is unbalanced ({counts[0]} items with 0, "
            f"{counts[1]} with 1; they may differ by at most 1)"
        )
    return tuple(out)


def _check_choice(item: Any, label: str, problems: list[str]) -> tuple[str, tuple[str, str], int] | None:
    if not isinstance(item, dict):
        problems.append(f"{label}: expected a mapping with question, options, expressing")
        return None
    before = len(problems)
    # the file's values as read; the checks below report each one that is not what it should be
    question: Any = item.get("question")
    options: Any = item.get("options")
    expressing: Any = item.get("expressing")
    if not isinstance(question, str) or not question.strip():
        problems.append(f"{label}.question: expected a non-empty string")
    if not isinstance(options, list) or len(options) != 2 or not all(isinstance(o, str) and o.strip() for o in options):
        problems.append(f"{label}.options: expected a list of two non-empty strings")
    else:
        a, b = (o.strip() for o in options)
        if a == b:
            problems.append(f"{label}.options: the two options are identical")
        if [w.lower() for w in a.split()[:2]] != [w.lower() for w in b.split()[:2]]:
            problems.append(
                f"{label}.options: the options must start with the same two words "
                f"({' '.join(a.split()[:2])!r} vs {' '.join(b.split()[:2])!r})"
            )
        if max(len(a), len(b)) > MAX_LENGTH_RATIO * min(len(a), len(b)):
            problems.append(
                f"{label}.options: lengths {len(a)} and {len(b)} differ by more than a ratio of {MAX_LENGTH_RATIO}"
            )
    if expressing not in (0, 1) or isinstance(expressing, bool):
        problems.append(f"{label}.expressing: expected 0 or 1, got {expressing!r}")
    if len(problems) > before:
        return None
    return question.strip(), (options[0].strip(), options[1].strip()), expressing
