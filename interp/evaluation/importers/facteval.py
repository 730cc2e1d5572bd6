"""The paper's single-turn question sets: `FactEval(display_name, prompts, judge_fact)` objects,
read from a Python file without running it (every `FactEval(...)` call, in source order, parsed
with `ast`), or from JSON: a list of objects with the same three fields.

Accepted values are what Python spells as literals: strings (adjacent ones joined, as Python
joins them) and lists or tuples of strings; a name, an f-string with fields or any expression
is refused with its file, line and field, since reading it would mean running the file.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from interp.evaluation.importers.common import Dropped, ImportedSet, SourceTrait, build_question_set
from interp.evaluation.importers.located import QuestionImportError, load_json_located
from interp.models.textio import TextFileError, read_text

__all__ = ["FIELDS", "import_facteval"]

FIELDS = ("display_name", "prompts", "judge_fact")
"""FactEval's fields, in the order its positional arguments take them."""
NOTES = (
    "display_name -> the trait's title (its id: the same in snake_case)",
    "prompts -> open questions, sampled without a system prompt and judged",
    "judge_fact -> the judge statement (the binary judge: does the answer fully express it?)",
)
_HINT = (
    "the facteval importer reads the file without running it, so write the value inline as a "
    "string or a list of strings, or give the set as JSON with the same fields"
)


def import_facteval(path: str | Path) -> ImportedSet:
    """Every FactEval of a `.py` file (read, never run) or a `.json` list, as a judge-mode set."""
    path = Path(path)
    traits, dropped = _from_json(path) if path.suffix.lower() == ".json" else _from_python(path)
    return build_question_set(path, "facteval", traits, dropped, list(NOTES))


def _from_python(path: Path) -> tuple[list[SourceTrait], list[Dropped]]:
    try:
        tree = ast.parse(read_text(path), filename=str(path))
    except TextFileError as err:
        raise QuestionImportError(err.path, err.line, None, err.problem) from None
    except SyntaxError as err:
        raise QuestionImportError(
            path, err.lineno, None, f"not valid Python ({err.msg}); fix the syntax there"
        ) from None
    calls = sorted(
        (node for node in ast.walk(tree) if isinstance(node, ast.Call) and _is_facteval(node.func)),
        key=lambda node: (node.lineno, node.col_offset),
    )
    if not calls:
        raise QuestionImportError(
            path, None, None, "no FactEval(...) call found; give the file that lists the FactEval objects"
        )
    traits = []
    dropped: list[Dropped] = []
    for call in calls:
        fields = _call_fields(path, call, dropped)
        traits.append(_trait(path, call.lineno, fields))
    return traits, dropped


def _is_facteval(func: ast.expr) -> bool:
    return (isinstance(func, ast.Name) and func.id == "FactEval") or (
        isinstance(func, ast.Attribute) and func.attr == "FactEval"
    )


def _call_fields(path: Path, call: ast.Call, dropped: list[Dropped]) -> dict[str, tuple[Any, int]]:
    """field -> (literal value, line) of one FactEval(...) call."""
    if len(call.args) > len(FIELDS):
        raise QuestionImportError(
            path,
            call.lineno,
            "FactEval",
            f"{len(call.args)} positional arguments; it takes at most {len(FIELDS)} ({', '.join(FIELDS)})",
        )
    named = list(zip(FIELDS, call.args))
    for keyword in call.keywords:
        if keyword.arg is None:
            raise QuestionImportError(
                path,
                keyword.value.lineno,
                "**" + ast.unparse(keyword.value)[:40],
                f"keyword arguments unpacked from an expression; {_HINT}",
            )
        if keyword.arg in FIELDS:
            if keyword.arg in dict(named):
                raise QuestionImportError(
                    path, keyword.value.lineno, keyword.arg, "given both by position and by name; keep one"
                )
            named.append((keyword.arg, keyword.value))
        else:
            dropped.append(
                Dropped(
                    f"FactEval {keyword.arg}=", keyword.value.lineno, "a field the toolkit's question sets do not carry"
                )
            )
    return {name: (_literal(path, node, name), node.lineno) for name, node in named}


def _literal(path: Path, node: ast.expr, name: str) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)) and name == "prompts":
        out = []
        for index, item in enumerate(node.elts):
            if not (isinstance(item, ast.Constant) and isinstance(item.value, str)):
                raise QuestionImportError(
                    path, item.lineno, f"{name}[{index}]", f"expected a string literal, got {_shown(item)}; {_HINT}"
                )
            out.append((item.value, item.lineno))
        return out
    wanted = "a list of string literals" if name == "prompts" else "a string literal"
    raise QuestionImportError(path, node.lineno, name, f"expected {wanted}, got {_shown(node)}; {_HINT}")


def _shown(node: ast.expr) -> str:
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= 40 else text[:37] + "..."


def _from_json(path: Path) -> tuple[list[SourceTrait], list[Dropped]]:
    located = load_json_located(path)
    if not isinstance(located.data, list):
        raise located.error((), None, "expected a list of objects with display_name, prompts, judge_fact")
    traits, dropped = [], []
    for index, entry in enumerate(located.data):
        if not isinstance(entry, dict):
            raise located.error((index,), f"[{index}]", "expected an object with display_name, prompts, judge_fact")
        fields = {}
        for key, value in entry.items():
            if key not in FIELDS:
                dropped.append(
                    Dropped(
                        f"[{index}].{key}", located.line(index, key), "a field the toolkit's question sets do not carry"
                    )
                )
            elif key == "prompts" and isinstance(value, list):
                fields[key] = (
                    [(item, located.line(index, key, i)) for i, item in enumerate(value)],
                    located.line(index, key),
                )
            else:
                fields[key] = (value, located.line(index, key))
        traits.append(_trait(path, located.line(index), fields))
    return traits, dropped


def _trait(path: Path, line: int | None, fields: Mapping[str, tuple[Any, int | None]]) -> SourceTrait:
    """Check one FactEval's fields (values as read; prompts as (text, line) pairs) and build its trait."""
    for name in FIELDS:
        if name not in fields:
            raise QuestionImportError(
                path, line, name, "missing; every FactEval needs display_name, prompts and judge_fact"
            )
    for name in ("display_name", "judge_fact"):
        value, at = fields[name]
        if not isinstance(value, str) or not value.strip():
            raise QuestionImportError(path, at, name, f"expected a non-empty string, got {value!r:.40}")
    prompts, at = fields["prompts"]
    if not isinstance(prompts, list) or not prompts:
        raise QuestionImportError(path, at, "prompts", "expected a non-empty list of strings")
    for index, (text, text_at) in enumerate(prompts):
        if not isinstance(text, str) or not text.strip():
            raise QuestionImportError(
                path, text_at, f"prompts[{index}]", f"expected a non-empty string, got {text!r:.40}"
            )
    name = fields["display_name"][0].strip()
    return SourceTrait(
        name,
        line,
        name,
        " ".join(fields["judge_fact"][0].split()),
        tuple(text.strip() for text, _ in prompts),
        tuple(text_at for _, text_at in prompts),
    )
