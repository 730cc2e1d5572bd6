"""Seeded mutations of valid JSONL and YAML inputs (byte flips, truncations, deleted and duplicated
lines, invalid UTF-8, values of the wrong type) fed to every subcommand that reads them.

Each run must end in exit 0 or 2 with no traceback, and leave no output marked complete that is
not: a refused run writes no result, an accepted one holds exactly what its (mutated) input says.
"""

from __future__ import annotations

import json
import random

import h5py
import pytest
import yaml

from activations import ActivationStore, ExampleError, read_examples
from interp.cli import main
from tests.repo import ROOT, SMALL_QUESTIONS

SEED = 20261202
SMALL = SMALL_QUESTIONS
WRONG = [None, True, "x", -1, 0, 2, 1.5, [], {}, [1, "a"], {"k": 1}]

PROMPTS = [
    {"messages": [{"role": "user", "content": "Are you conscious?"}], "response": "Yes.", "label": 1, "id": "a"},
    {"messages": [{"role": "user", "content": "Are you conscious?"}], "response": "No.", "label": 0, "id": "b"},
    {"text": "A raw prompt", "response": "sure", "label": 1, "group": 3},
    {"text": "Another one", "response": "no way", "label": 0},
]
CHATS = [
    {"messages": [{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": f"answer {i}"}]}
    for i in range(4)
]
CONFIG = "max_steps: 1\nlora_rank: 2\nbatch_size: 2\nlearning_rate: 0.001\nmethod: lora\n"


def _leaves(value, path=()):
    """Every (path, value) inside a parsed JSON/YAML value, containers included."""
    yield path, value
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield from _leaves(child, (*path, key))


def _retyped(rng: random.Random, value) -> tuple[str, object]:
    """`value` with one element somewhere replaced by a value of another type, and where."""
    path, _ = rng.choice(list(_leaves(value))[1:] or [((), value)])
    new = rng.choice(WRONG)
    where = "".join(f"[{key!r}]" for key in path) or "top level"
    if not path:
        return f"{where} = {new!r}", new
    parent = value
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = new
    return f"{where} = {new!r}", value


def mutate(rng: random.Random, data: bytes, kind: str) -> tuple[str, bytes]:
    """One random mutation of a valid file: (what was done, the new bytes)."""
    lines = data.splitlines(keepends=True)
    how = rng.choice(["flip", "truncate", "delete", "duplicate", "utf8", "retype", "retype"])
    if how == "flip":
        at = rng.randrange(len(data))
        return f"flip byte {at}", data[:at] + bytes([data[at] ^ rng.randrange(1, 256)]) + data[at + 1 :]
    if how == "truncate":
        at = rng.randrange(len(data))
        return f"truncate at {at}", data[:at]
    if how == "utf8":
        at = rng.randrange(len(data))
        return f"invalid UTF-8 at {at}", data[:at] + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80"]) + data[at:]
    k = rng.randrange(len(lines))
    if how == "delete":
        return f"delete line {k + 1}", b"".join(lines[:k] + lines[k + 1 :])
    if how == "duplicate":
        return f"duplicate line {k + 1}", b"".join(lines[: k + 1] + lines[k:])
    if kind == "jsonl":
        where, row = _retyped(rng, json.loads(lines[k]))
        lines[k] = (json.dumps(row) + "\n").encode()
        return f"retype line {k + 1}{where}", b"".join(lines)
    where, changed = _retyped(rng, yaml.safe_load(data))
    return f"retype {where}", yaml.safe_dump(changed, allow_unicode=True, sort_keys=False).encode()


def _cases(kind: str, base: bytes, n: int, salt: int) -> list[tuple[str, bytes]]:
    rng = random.Random(SEED * 100 + salt)
    return [mutate(rng, base, kind) for _ in range(n)]


def _params(kind: str, base: bytes, n: int, salt: int) -> list:
    return [pytest.param(what, data, id=what) for what, data in _cases(kind, base, n, salt)]


def _run(argv: list[str], capsys) -> int:
    """`interp ARGV` in this process: any exception escaping `main` is a traceback the user would see."""
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err
    assert code in (0, 2), err
    assert "Traceback" not in err
    return code


def _jsonl(rows) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


@pytest.mark.parametrize("what, data", _params("jsonl", _jsonl(PROMPTS), 7, 1))
def test_cache_prompts(tiny_model_dir, tmp_path, capsys, what, data):
    prompts, out = tmp_path / "p.jsonl", tmp_path / "a.h5"
    prompts.write_bytes(data)
    code = _run(
        [
            "cache",
            "--model",
            str(tiny_model_dir("qwen3")),
            "--prompts",
            str(prompts),
            "--out",
            str(out),
            "--layers",
            "0,2",
            "--positions",
            "response-mean",
            "--no-progress",
        ],
        capsys,
    )
    if code == 2:
        if out.exists():
            with h5py.File(out, "r") as handle:
                assert not handle.attrs.get("complete", False), what
        return
    examples = read_examples(prompts)
    store = ActivationStore(out)
    assert store.complete and store.n_rows == len(examples), what


@pytest.mark.parametrize("what, data", _params("yaml", SMALL.read_bytes(), 7, 2))
def test_eval_questions(tiny_model_dir, tmp_path, capsys, what, data):
    from interp.evaluation import load_question_set

    questions, out = tmp_path / "q.yaml", tmp_path / "e"
    questions.write_bytes(data)
    code = _run(
        ["eval", "--model", str(tiny_model_dir("qwen3")), "--questions", str(questions), "--out", str(out)], capsys
    )
    if code == 2:
        assert not (out / "summary.csv").exists(), what
        return
    n_items = len(load_question_set(questions).choice_items)
    assert len((out / "samples.jsonl").read_text().splitlines()) == n_items, what
    assert (out / "summary.csv").exists()


@pytest.mark.parametrize("what, data", _params("jsonl", _jsonl(CHATS), 6, 3))
def test_finetune_data(tiny_model_dir, tmp_path, capsys, what, data):
    from interp.finetune import load_jsonl

    rows, run = tmp_path / "rows.jsonl", tmp_path / "run"
    rows.write_bytes(data)
    code = _run(
        [
            "finetune",
            "--model",
            str(tiny_model_dir("qwen3")),
            "--data",
            str(rows),
            "--out",
            str(run),
            "--max-steps",
            "1",
            "--lora-rank",
            "2",
            "--batch-size",
            "2",
            "--no-progress",
        ],
        capsys,
    )
    if code == 2:
        assert not (run / "adapter").exists(), what
        return
    record = json.loads((run / "finetune_config.json").read_text())
    assert record["rows"] == len(load_jsonl(rows)) and (run / "adapter").is_dir(), what


@pytest.mark.parametrize("what, data", _params("yaml", CONFIG.encode(), 6, 4))
def test_finetune_config(tiny_model_dir, tmp_path, capsys, what, data):
    config, run = tmp_path / "c.yaml", tmp_path / "run"
    config.write_bytes(data)
    rows = tmp_path / "rows.jsonl"
    rows.write_bytes(_jsonl(CHATS))
    code = _run(
        [
            "finetune",
            "--model",
            str(tiny_model_dir("qwen3")),
            "--data",
            str(rows),
            "--out",
            str(run),
            "--config",
            str(config),
            "--no-progress",
        ],
        capsys,
    )
    trained = (run / "adapter").is_dir() or (run / "merged").is_dir()
    assert (code == 0) == trained, what


@pytest.mark.parametrize(
    "what, data", _params("yaml", (ROOT / "experiments/consciousness_cluster/presets/organism.yaml").read_bytes(), 8, 5)
)
def test_replicate_preset_dry_run(tmp_path, capsys, what, data):
    preset = tmp_path / "p.yaml"
    preset.write_bytes(data)
    _run(["replicate", "--preset", str(preset), "--dry-run"], capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.yaml"], what  # a dry run writes nothing


def test_mutations_are_seeded_and_varied(tmp_path):
    """The cases above are the same on every run, and they are not all the same kind of damage."""
    first, again = _cases("jsonl", _jsonl(PROMPTS), 7, 1), _cases("jsonl", _jsonl(PROMPTS), 7, 1)
    assert first == again
    kinds = {
        what.split()[0]
        for cases in (
            first,
            _cases("yaml", SMALL.read_bytes(), 7, 2),
            _cases("jsonl", _jsonl(CHATS), 6, 3),
            _cases("yaml", CONFIG.encode(), 6, 4),
        )
        for what, _ in cases
    }
    assert len(kinds) >= 5, kinds
    refused = 0
    for _, data in first:
        (tmp_path / "p.jsonl").write_bytes(data)
        try:
            read_examples(tmp_path / "p.jsonl")
        except ExampleError:
            refused += 1
    assert 0 < refused < len(first)  # the cache cases test both the refusal and the accepted path
