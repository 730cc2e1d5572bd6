"""Other projects' files parsed with the line (from 1) of every value, so an importer can name
the file, line and field of a problem. JSON and YAML only; Python sources are read by `ast`.

A location is a path of keys and indices from the top (`(3, "prompts", 1)`); `Located.line`
gives the line of the longest part of it that was seen, so a missing field is reported at the
entry that lacks it.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interp.models.textio import TextFileError, load_yaml, read_text

__all__ = ["Located", "QuestionImportError", "load_json_located", "load_yaml_located"]


class QuestionImportError(ValueError):
    """A file another project wrote that cannot be imported: one line with file, line, field and what to do."""

    def __init__(self, path: str | Path, line: int | None, field_name: str | None, problem: str):
        self.path, self.line, self.field, self.problem = str(path), line, field_name, problem
        where = self.path if line is None else f"{self.path}:{line}"
        super().__init__(f"{where}: {field_name}: {problem}" if field_name else f"{where}: {problem}")


@dataclass(frozen=True)
class Located:
    path: Path
    data: Any
    lines: dict[tuple, int] = field(default_factory=dict)
    """(key or index, ...) -> line where that value (for a mapping entry: its key) starts."""

    def line(self, *where) -> int | None:
        for end in range(len(where), -1, -1):
            if where[:end] in self.lines:
                return self.lines[where[:end]]
        return None

    def error(self, where: tuple, field_name: str | None, problem: str) -> QuestionImportError:
        return QuestionImportError(self.path, self.line(*where), field_name, problem)


def _as_import_error(err: TextFileError) -> QuestionImportError:
    return QuestionImportError(err.path, err.line, None, err.problem)


def load_yaml_located(path: str | Path) -> Located:
    """Parse YAML safely (anchors and aliases resolved) and note where each entry starts."""
    import yaml

    path = Path(path)
    try:
        data = load_yaml(path)
        root = yaml.compose(read_text(path), Loader=yaml.SafeLoader)
    except TextFileError as err:
        raise _as_import_error(err) from None
    lines: dict[tuple, int] = {}
    if root is not None:
        _yaml_lines(root, (), lines, set())
    return Located(path, data, lines)


def _yaml_lines(node, where: tuple, lines: dict, active: set) -> None:
    import yaml

    lines.setdefault(where, node.start_mark.line + 1)
    if id(node) in active:  # a recursive alias
        return
    active.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _yaml_lines(item, where + (index,), lines, active)
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                lines[where + (key.value,)] = key.start_mark.line + 1
                _yaml_lines(value, where + (key.value,), lines, active)
    active.discard(id(node))


_SPACE = re.compile(r"[ \t\n\r]*")


def _past_space(text: str, index: int) -> int:
    """The index of the first character at or after `index` that is not JSON whitespace."""
    match = _SPACE.match(text, index)
    assert match is not None  # the pattern matches everywhere, if only the empty string
    return match.end()


def load_json_located(path: str | Path) -> Located:
    """Parse JSON (a decoding error names its line and column) and note where each value starts."""
    path = Path(path)
    try:
        text = read_text(path)
    except TextFileError as err:
        raise _as_import_error(err) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise QuestionImportError(
            path, err.lineno, None, f"not valid JSON ({err.msg} at column {err.colno}); fix the syntax there"
        ) from None
    except RecursionError:
        raise QuestionImportError(path, None, None, "not valid JSON (nested too deep)") from None
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    lines: dict[tuple, int] = {}
    # the text parsed above, so this second walk meets only well-formed JSON
    _json_lines(text, _past_space(text, 0), (), lines, starts)
    return Located(path, data, lines)


def _json_lines(text: str, index: int, where: tuple, lines: dict, starts: list[int]) -> int:
    """Record the line of the value at `index` and of everything inside it; return the index after it."""
    lines.setdefault(where, bisect_right(starts, index))
    opener = text[index]
    if opener not in "[{":
        return json.JSONDecoder().raw_decode(text, index)[1]
    closer, position = "]" if opener == "[" else "}", 0
    index = _past_space(text, index + 1)
    while text[index] != closer:
        if opener == "{":
            key, after = json.decoder.scanstring(text, index + 1)  # type: ignore[attr-defined]  # missing in typeshed
            lines[where + (key,)] = bisect_right(starts, index)
            index = _past_space(text, _past_space(text, after) + 1)  # past the colon
            index = _json_lines(text, index, where + (key,), lines, starts)
        else:
            index = _json_lines(text, index, where + (position,), lines, starts)
            position += 1
        index = _past_space(text, index)
        if text[index] == ",":
            index = _past_space(text, index + 1)
    return index + 1
