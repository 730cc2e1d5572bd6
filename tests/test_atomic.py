"""Atomic writes: a reader sees the old file or the whole new one; an error leaves the old file."""

from __future__ import annotations

import json

import pytest

from interp.models.atomic import atomic_open, write_json_atomic, write_jsonl, write_text_atomic


def test_writers_round_trip_and_leave_no_temporary_file(tmp_path):
    write_json_atomic(tmp_path / "a" / "x.json", {"b": 1, "a": [1.5]})
    assert json.loads((tmp_path / "a" / "x.json").read_text()) == {"a": [1.5], "b": 1}
    write_jsonl([{"t": "é"}, {"t": 2}], tmp_path / "rows.jsonl")
    assert (tmp_path / "rows.jsonl").read_bytes() == '{"t": "é"}\n{"t": 2}\n'.encode()
    write_text_atomic(tmp_path / "t.txt", "one\ntwo")
    assert (tmp_path / "t.txt").read_text() == "one\ntwo"
    assert sorted(p.name for p in tmp_path.rglob("*.tmp")) == []


def test_an_error_while_writing_keeps_the_old_file(tmp_path):
    path = tmp_path / "x.json"
    write_json_atomic(path, {"old": True})
    with pytest.raises(RuntimeError), atomic_open(path) as handle:
        handle.write('{"new": ')
        raise RuntimeError("crash halfway")
    assert json.loads(path.read_text()) == {"old": True}
    assert not (tmp_path / "x.json.tmp").exists()
