"""Reading the users' text files (JSONL, YAML) the same way everywhere: UTF-8 with an optional
byte-order mark, and a decoding error named by file, line (from 1) and column instead of a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["TextFileError", "jsonl_lines", "jsonl_records", "load_yaml", "read_text"]

_BOM = b"\xef\xbb\xbf"


class TextFileError(ValueError):
    """A file that cannot be read as text or parsed: the message names the file, line and what to do."""

    def __init__(self, path: Path, line: int | None, problem: str):
        self.path, self.line, self.problem = path, line, problem
        super().__init__(f"{path}:{line}: {problem}" if line is not None else f"{path}: {problem}")


def _decode(raw: bytes, path: Path, number: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        column = len(raw[: err.start].decode("utf-8", "replace")) + 1
        raise TextFileError(
            path, number, f"not valid UTF-8 (byte 0x{raw[err.start]:02x} at column {column}); save the file as UTF-8"
        ) from None


def jsonl_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """(line number from 1, text) of each non-blank line; a leading BOM is dropped."""
    path = Path(path)
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM) :]
            text = _decode(raw, path, number)
            if text.strip():
                yield number, text


def jsonl_records(path: str | Path) -> Iterator[tuple[int, Any]]:
    """(line number from 1, parsed JSON value) of each non-blank line; bad JSON is named by line and column."""
    import json

    path = Path(path)
    for number, text in jsonl_lines(path):
        try:
            yield number, json.loads(text)
        except json.JSONDecodeError as err:
            raise TextFileError(path, number, f"not valid JSON ({err.msg} at column {err.colno})") from None
        except RecursionError:
            raise TextFileError(path, number, "not valid JSON (nested too deep)") from None


def read_text(path: str | Path) -> str:
    """The whole file as text, without a leading BOM; bad UTF-8 is reported by line."""
    path = Path(path)
    raw = path.read_bytes()
    if raw.startswith(_BOM):
        raw = raw[len(_BOM) :]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        start = raw.rfind(b"\n", 0, err.start) + 1
        end = raw.find(b"\n", err.start)
        _decode(raw[start : None if end < 0 else end], path, line)
        raise  # not reached: the line alone fails to decode the same way


def load_yaml(path: str | Path) -> Any:
    """Parse a YAML file; syntax errors become one line naming the file, line and problem."""
    import yaml

    path = Path(path)
    try:
        return yaml.safe_load(read_text(path))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise TextFileError(
            path, None if mark is None else mark.line + 1, f"not valid YAML ({problem}); fix the syntax there"
        ) from None
