"""The append-only record file of a run (`samples.jsonl`): every sample and judgement, flushed as it arrives.

Records are keyed, so a killed run reloads the file and redoes only what is missing. A torn last
line (the process died mid-write) is dropped on load and rewritten.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from interp.models.textio import read_text

__all__ = ["RecordFileError", "RecordStore", "judgement_key", "sample_key"]


class RecordFileError(ValueError):
    """A damaged record file: the message names the file and line."""


def sample_key(model: str, item_id: str, index: int, seed: int) -> tuple:
    return ("sample", model, item_id, index, seed)


def judgement_key(
    model: str, item_id: str, index: int, seed: int, judge: str, template_hash: str, judge_model: str
) -> tuple:
    return ("judgement", model, item_id, index, seed, judge, template_hash, judge_model)


def _key(record: dict) -> tuple:
    if record["type"] == "sample":
        return sample_key(record["model"], record["item_id"], record["sample_index"], record["seed"])
    return judgement_key(
        record["model"],
        record["item_id"],
        record["sample_index"],
        record["seed"],
        record["judge"],
        record["template_hash"],
        record["judge_model"],
    )


class RecordStore:
    """Keyed JSONL records: `get(key)`, `add(record)` (appends and flushes; duplicates are ignored)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.records: dict[tuple, dict] = {}
        if self.path.exists():
            self._load()
        self._handle = self.path.open("a", encoding="utf-8")

    def _load(self) -> None:
        good: list[str] = []
        lines = read_text(self.path).splitlines()
        for number, line in enumerate(lines, 1):
            try:
                record = json.loads(line)
                key = _key(record)
            except (json.JSONDecodeError, KeyError, TypeError):
                if number == len(lines):
                    break  # torn last line from a killed run
                raise RecordFileError(
                    f"{self.path}:{number}: not a record of this toolkit; the file is damaged "
                    "(delete that line, or the file to start the run over)"
                ) from None
            self.records.setdefault(key, record)
            good.append(line)
        if len(good) != len(lines):
            self.path.write_text("".join(g + "\n" for g in good), encoding="utf-8")

    def get(self, key: tuple) -> dict | None:
        return self.records.get(key)

    def __contains__(self, key: tuple) -> bool:
        return key in self.records

    def add(self, record: dict) -> None:
        key = _key(record)
        if key in self.records:
            return
        self.records[key] = record
        self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._handle.flush()

    def of_type(self, kind: str) -> Iterator[dict]:
        return (r for r in self.records.values() if r["type"] == kind)

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> RecordStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
