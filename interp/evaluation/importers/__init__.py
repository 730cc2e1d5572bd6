"""Question sets from other projects' formats, turned into the toolkit's schema (open questions
and a judge statement per trait, for judge mode). The importers read those files' structure;
the project ships no one else's questions.

`--questions FORMAT:PATH` picks a format from QUESTION_FORMATS; without the prefix the format is
told from the file (`.py`: facteval; `.json`: a list is facteval, an object persona-json; a
folder: persona-json; `.yaml`: a list is em-yaml, a mapping the toolkit's own), and a bare name
(`preferences`) is one of the toolkit's sets.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from interp.evaluation.importers.common import Dropped, ImportedSet, SourceTrait, snake_id
from interp.evaluation.importers.em_yaml import import_em_yaml
from interp.evaluation.importers.facteval import import_facteval
from interp.evaluation.importers.listing import describe_import, describe_judging
from interp.evaluation.importers.located import QuestionImportError, load_json_located
from interp.evaluation.importers.persona_json import import_persona_json
from interp.evaluation.questions import load_question_set

__all__ = [
    "Dropped",
    "ImportedSet",
    "QUESTION_FORMATS",
    "QuestionImportError",
    "SourceTrait",
    "describe_import",
    "describe_judging",
    "detect_format",
    "import_em_yaml",
    "import_facteval",
    "import_persona_json",
    "import_question_set",
    "snake_id",
    "split_format",
]


def _native(name_or_path: str, small: bool = False) -> ImportedSet:
    if small:  # a user's own quick set: no per-trait minimum (those are for the replication's statistics)
        return ImportedSet(load_question_set(name_or_path, min_open=0, min_choice=0), "yaml")
    return ImportedSet(load_question_set(name_or_path), "yaml")


QUESTION_FORMATS: dict[str, Callable[[str], ImportedSet]] = {
    "yaml": _native,
    "facteval": import_facteval,
    "em-yaml": import_em_yaml,
    "persona-json": import_persona_json,
}
"""Format name (the FORMAT of `--questions FORMAT:PATH`) -> importer of a name or path."""


def split_format(spec: str) -> tuple[str | None, str]:
    """(format, rest) of `FORMAT:PATH`, or (None, spec) when it starts with no known format name."""
    head, colon, rest = spec.partition(":")
    return (head, rest) if colon and head in QUESTION_FORMATS else (None, spec)


def detect_format(path: Path) -> str:
    """The format of an existing file or folder, from its name and, for JSON and YAML, its top level."""
    from interp.models.textio import TextFileError, load_yaml

    suffix = path.suffix.lower()
    if path.is_dir():
        if not any(path.glob("*.json")):
            raise QuestionImportError(
                path, None, None, "a folder, but no *.json trait files in it; give a file, or FORMAT:PATH"
            )
        return "persona-json"
    if suffix == ".py":
        return "facteval"
    if suffix == ".json":
        data = load_json_located(path).data
        if isinstance(data, list):
            return "facteval"
        if isinstance(data, dict):
            return "persona-json"
        raise QuestionImportError(
            path,
            1,
            None,
            "cannot tell the format (neither a list nor an object); prefix it with facteval: or persona-json:",
        )
    if suffix in (".yaml", ".yml"):
        try:
            data = load_yaml(path)
        except TextFileError:
            return "yaml"  # the toolkit's loader reports the syntax error
        return "em-yaml" if isinstance(data, list) else "yaml"
    return "yaml"


def import_question_set(spec: str | Path, *, small: bool = False) -> ImportedSet:
    """A question set from `FORMAT:PATH`, a path (format detected) or a bare set name. `small`: the
    toolkit's own format without the per-trait minimums of questions and items (a trait may then hold
    open questions or two-option items alone); the other formats have none."""
    fmt, rest = split_format(str(spec))
    if fmt is None:
        path = Path(rest).expanduser()
        fmt = detect_format(path) if path.exists() else "yaml"
    elif fmt != "yaml" and not Path(rest).expanduser().exists():
        raise FileNotFoundError(f"question file {rest} does not exist")
    if fmt == "yaml":
        return _native(rest, small) if QUESTION_FORMATS[fmt] is _native else QUESTION_FORMATS[fmt](rest)
    return QUESTION_FORMATS[fmt](str(Path(rest).expanduser()))
