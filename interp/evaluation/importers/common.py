"""What every importer hands over (traits as the source spelt them, entries left out and why)
and the one place they become a validated `QuestionSet`: ids made snake_case, clashes and
repeated questions named by file and line."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from interp.evaluation.importers.located import QuestionImportError
from interp.evaluation.questions import QuestionSet, validate_question_set

__all__ = ["Dropped", "ImportedSet", "SourceTrait", "build_question_set", "snake_id"]


@dataclass(frozen=True)
class SourceTrait:
    """One judged trait as read from another project's file."""

    source_id: str
    """Its name there (an entry id, a display name, a file name)."""
    line: int | None
    title: str
    statement: str
    """What the judge is asked whether the answer fully expresses."""
    questions: tuple[str, ...]
    question_lines: tuple[int | None, ...]
    file: Path | None = None
    """The file it came from, when the set is a folder of files."""


@dataclass(frozen=True)
class Dropped:
    """Something in the source that the toolkit's set does not carry, and why."""

    what: str
    line: int | None
    reason: str


@dataclass(frozen=True)
class ImportedSet:
    question_set: QuestionSet
    format: str
    """The format name it was read as (a key of QUESTION_FORMATS)."""
    trait_ids: tuple[tuple[str, str], ...] = ()
    """(name in the source, trait id in the set), for imported formats."""
    dropped: tuple[Dropped, ...] = ()
    notes: tuple[str, ...] = ()
    """How the format's fields map onto the toolkit's schema, one line each."""


def snake_id(text: str) -> str:
    """A trait id from any name: ASCII, lower case, runs of other characters as one underscore,
    `q_` in front when it would not start with a letter (ids are snake_case)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")
    return words if words[:1].isalpha() else f"q_{words}".rstrip("_")


def file_sha256(path: Path) -> str:
    """Hash of a file's bytes, or of a folder's `*.json` names and bytes in name order."""
    digest = hashlib.sha256()
    if path.is_dir():
        for item in sorted(path.glob("*.json")):
            digest.update(item.name.encode() + b"\0" + item.read_bytes() + b"\0")
    else:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def build_question_set(
    path: Path, fmt: str, traits: list[SourceTrait], dropped: list[Dropped], notes: list[str]
) -> ImportedSet:
    """The toolkit's set (open questions only, version 1, named after the file) from what an importer read."""
    if not traits:
        reasons = "; ".join(f"{d.what}: {d.reason}" for d in dropped[:3]) or "the file holds no entries"
        raise QuestionImportError(path, None, None, f"nothing to import as {fmt} ({reasons})")
    ids: dict[str, SourceTrait] = {}
    seen: dict[str, tuple[str, int | None]] = {}
    for trait in traits:
        tid = snake_id(trait.source_id)
        if tid in ids:
            raise QuestionImportError(
                trait.file or path,
                trait.line,
                None,
                f"{trait.source_id!r} and {ids[tid].source_id!r} (line {ids[tid].line}) both "
                f"become trait id {tid!r}; rename one",
            )
        ids[tid] = trait
        for text, line in zip(trait.questions, trait.question_lines):
            key = " ".join(text.lower().split())
            if key in seen:
                first = seen[key]
                raise QuestionImportError(
                    trait.file or path,
                    line,
                    None,
                    f"question {text[:60]!r} of "
                    f"{trait.source_id!r} repeats one of {first[0]!r} (line {first[1]}); "
                    "remove one of them",
                )
            seen[key] = (trait.source_id, line)
    data = {
        "name": snake_id(path.stem) if path.stem else "imported",
        "version": 1,
        "description": f"Imported from the {fmt} file {path}.",
        "traits": [
            {
                "id": tid,
                "title": t.title,
                "statement": t.statement,
                "open_questions": list(t.questions),
                "choice_items": [],
            }
            for tid, t in ids.items()
        ],
    }
    qset = validate_question_set(data, str(path), min_open=1, min_choice=0)
    qset = QuestionSet(qset.name, qset.version, qset.description, qset.traits, str(path), file_sha256(path))
    return ImportedSet(qset, fmt, tuple((t.source_id, tid) for tid, t in ids.items()), tuple(dropped), tuple(notes))
