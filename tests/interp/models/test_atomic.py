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


def test_kept_json_computes_once_per_key_and_reads_the_value_back(tmp_path):
    from interp.models.atomic import kept_json

    path, calls = tmp_path / "sub" / "kept.json", []

    def compute(value):
        def run():
            calls.append(value)
            return {"b": value, "a": (1, 2.5)}

        return run

    first = kept_json(path, {"layer": 3, "alphas": (0.5, 1.0)}, compute(1))
    assert first == {"a": [1, 2.5], "b": 1} and list(first) == ["a", "b"]  # as JSON gives it back
    assert json.loads(path.read_text()) == {"key": {"alphas": [0.5, 1.0], "layer": 3}, "value": first}
    # an equal key (a tuple equals the list JSON kept) reads the file; compute is not called
    assert kept_json(path, {"alphas": [0.5, 1.0], "layer": 3}, compute(2)) == first and calls == [1]
    # another key computes afresh and replaces what was kept
    assert kept_json(path, {"layer": 4, "alphas": (0.5, 1.0)}, compute(3)) == {"a": [1, 2.5], "b": 3}
    assert calls == [1, 3] and json.loads(path.read_text())["key"]["layer"] == 4


def test_kept_json_many_keeps_each_chunk_before_the_next(tmp_path):
    """Seven values in chunks of 3: killed in the third call, the first six are kept and the rerun computes the
    seventh alone; a changed key is computed again; without a chunk, one call for all that are missing."""
    from interp.models.atomic import kept_json_many

    names = [f"n{i}" for i in range(7)]
    entries = {name: (tmp_path / f"{name}.json", {"seed": 0}) for name in names}
    calls: list[list[str]] = []

    def compute(missing, fail_at=None):
        calls.append(list(missing))
        if len(calls) == fail_at:
            raise KeyboardInterrupt
        return {name: {"value": int(name[1:]) ** 2} for name in missing}

    with pytest.raises(KeyboardInterrupt):
        kept_json_many(entries, lambda m: compute(m, fail_at=3), chunk=3)
    assert calls == [["n0", "n1", "n2"], ["n3", "n4", "n5"], ["n6"]]
    assert [n for n in names if (tmp_path / f"{n}.json").is_file()] == names[:6]
    calls.clear()
    values = kept_json_many(entries, compute, chunk=3)
    assert calls == [["n6"]] and values == {n: {"value": int(n[1:]) ** 2} for n in names}
    assert list(values) == names
    calls.clear()
    changed = {**entries, "n2": (tmp_path / "n2.json", {"seed": 1}), "n5": (tmp_path / "n5.json", {"seed": 1})}
    assert kept_json_many(changed, compute) == values and calls == [["n2", "n5"]]
    with pytest.raises(ValueError, match="chunk must be at least 1"):
        kept_json_many(entries, compute, chunk=0)
