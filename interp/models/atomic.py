"""Writing result files so that a reader sees either the old file or the whole new one, never half of one.

Every writer goes through `atomic_open`: the text goes to a temporary file beside the target,
which replaces the target only once it is complete (a crash leaves the old file, or none).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_open", "kept_json", "kept_json_many", "write_json_atomic", "write_jsonl", "write_text_atomic"]


@contextmanager
def atomic_open(path: str | Path, newline: str | None = "\n") -> Iterator[IO[str]]:
    """A UTF-8 text handle whose content replaces `path` when the block ends without an error.

    Creates the parent folder; on an error the temporary file is removed and `path` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline=newline) as handle:
            yield handle
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write `text` to `path` atomically (see `atomic_open`)."""
    with atomic_open(path) as handle:
        handle.write(text)
    return Path(path)


def write_json_atomic(path: str | Path, data: Any) -> Path:
    """Write `data` as indented JSON with sorted keys, atomically; values JSON lacks are written as str."""
    return write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True, default=str))


def write_jsonl(rows: Iterable[dict[str, Any]], path: str | Path) -> Path:
    """One JSON object per line (UTF-8, `\\n` endings, non-ASCII kept), atomically."""
    with atomic_open(path) as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return Path(path)


def _kept(path: Path, key: Any) -> tuple[bool, Any]:
    """(whether `path` holds a value kept with a key equal to `key`, that value)."""
    if path.is_file():
        kept = json.loads(path.read_text(encoding="utf-8"))
        if kept.get("key") == json.loads(json.dumps(key)):
            return True, kept["value"]
    return False, None


def _keep(path: str | Path, key: Any, value: Any) -> Any:
    write_json_atomic(path, {"key": key, "value": value})
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def kept_json(path: str | Path, key: Any, compute: Callable[[], Any]) -> Any:
    """`compute()`'s JSON value, kept in `path` beside `key`: a later call with an equal key reads it back
    instead of computing it, so a killed run resumes where it stopped; another key computes it afresh.

    The value comes back as JSON gives it (dict keys sorted, tuples as lists), on both paths.
    """
    found, value = _kept(Path(path), key)
    return value if found else _keep(path, key, compute())


def kept_json_many(
    entries: Mapping[str, tuple[str | Path, Any]],
    compute: Callable[[list[str]], dict[str, Any]],
    chunk: int | None = None,
) -> dict[str, Any]:
    """`kept_json` for several values computed together: `entries` gives each name's (path, key); the names
    whose file holds an equal key are read back, the others come from `compute(names)` calls (their values
    by name), `chunk` names a call at most (None: one call), each call's values kept, each in its own file,
    before the next call: a run killed halfway keeps the chunks it finished. The values by name, in the
    order of `entries`."""
    if chunk is not None and chunk < 1:
        raise ValueError(f"chunk must be at least 1; got {chunk}")
    values, missing = {}, []
    for name, (path, key) in entries.items():
        found, values[name] = _kept(Path(path), key)
        if not found:
            missing.append(name)
    size = chunk or max(len(missing), 1)
    for start in range(0, len(missing), size):
        names = missing[start : start + size]
        computed = compute(names)
        for name in names:
            values[name] = _keep(entries[name][0], entries[name][1], computed[name])
    return values
