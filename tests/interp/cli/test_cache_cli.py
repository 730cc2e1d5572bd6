"""`interp cache`: a run end to end, and every user mistake exits 2 with no file marked complete."""

from __future__ import annotations

import contextlib
import json

import h5py
import pytest

from activations import ActivationStore
from interp.cli import main


def _prompts(tmp_path, rows, name="p.jsonl"):
    path = tmp_path / name
    path.write_text("".join(row if isinstance(row, str) else json.dumps(row) + "\n" for row in rows))
    return path


GOOD = [
    {"messages": [{"role": "user", "content": "Are you conscious?"}], "response": "Yes.", "label": 1, "id": "a"},
    {"messages": [{"role": "user", "content": "Are you conscious?"}], "response": "No.", "label": 0, "id": "b"},
    {"text": "plain prompt", "response": "sure", "label": 1},
]


def _cache(model, prompts, out, *extra):
    return main(["cache", "--model", str(model), "--prompts", str(prompts), "--out", str(out), "--no-progress", *extra])


def test_cli_end_to_end(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "acts.h5"
    assert (
        _cache(
            tiny_model_dir("qwen3"),
            _prompts(tmp_path, GOOD),
            out,
            "--layers=-2:",
            "--positions",
            "response-mean",
            "--store-dtype",
            "float32",
            "--compression",
            "gzip",
            "--json",
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    store = ActivationStore(out)
    assert report["rows"] == store.n_rows == 3 and store.layers == [1, 2] and store.complete
    assert store.positions.tolist() == [-1, -1, -1] and store.labels.tolist() == [1, 0, 1]


@pytest.mark.parametrize(
    "rows, args, message",
    [
        (['{"text": "a"}\n', "{not json\n"], [], "p.jsonl:2: not valid JSON"),
        ([], [], "no examples"),
        ([{"text": "a"}, {"response": "b"}], [], ":2: a 'response' without a prompt"),
        (GOOD, ["--layers", "7"], "--layers layer 7 is out of range"),
        ([{"text": "a"}], ["--positions", "response"], "p.jsonl: line 1 has no 'response'"),
        (GOOD, ["--directions", "missing.safetensors"], "--directions missing.safetensors: no such direction file"),
    ],
)
def test_user_errors_exit_2(tiny_model_dir, tmp_path, capsys, rows, args, message):
    out = tmp_path / "acts.h5"
    assert _cache(tiny_model_dir("qwen3"), _prompts(tmp_path, rows), out, *args) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]  # model loading may draw a progress bar before it
    assert message in last and last.startswith("interp cache: error:") and "Traceback" not in err
    if out.exists():
        with h5py.File(out, "r") as handle:
            assert not handle.attrs["complete"]


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--positions", "middle"],
            "argument --positions: invalid choice: 'middle' (choose from 'all', 'last', 'response', 'response-mean')",
        ),
        (
            ["--store-dtype", "int8"],
            "argument --store-dtype: invalid choice: 'int8' (choose from 'float16', 'bfloat16', 'float32')",
        ),
        (["--layers", "2..4"], "--layers: layers '2..4': '2..4' is not a layer spec; use 'all', a layer"),
    ],
)
def test_bad_choices_and_layer_specs_exit_2_before_the_model_loads(tmp_path, capsys, monkeypatch, args, message):
    import interp.models

    monkeypatch.setattr(interp.models, "load_model", lambda *a, **k: pytest.fail("loaded the model"))
    with pytest.raises(SystemExit) if "argument" in message else contextlib.nullcontext() as exit_:
        assert _cache(tmp_path / "no-model", _prompts(tmp_path, GOOD), tmp_path / "acts.h5", *args) == 2
    if exit_ is not None:
        assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err.strip().splitlines()[-1] and "Traceback" not in err
    assert not (tmp_path / "acts.h5").exists()


def test_rerun_with_other_layers_refuses(tiny_model_dir, tmp_path, capsys):
    model, prompts, out = tiny_model_dir("qwen3"), _prompts(tmp_path, GOOD), tmp_path / "acts.h5"
    assert _cache(model, prompts, out, "--layers", "0") == 0
    assert _cache(model, prompts, out, "--layers", "1") == 2
    assert "holds a different run" in capsys.readouterr().err
    assert ActivationStore(out).layers == [0]


def test_a_rerun_is_already_complete_and_another_run_needs_overwrite(tiny_model_dir, tmp_path, capsys):
    model, prompts, out = tiny_model_dir("qwen3"), _prompts(tmp_path, GOOD), tmp_path / "acts.h5"
    assert _cache(model, prompts, out, "--layers", "1", "--json") == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert _cache(model, prompts, out, "--layers", "1") == 0
    assert f"cache: already complete: {rows} rows of 3 examples; nothing to run" in capsys.readouterr().out
    assert _cache(model, prompts, out, "--layers", "2") == 2  # another run's file: refused, left as it was
    assert (
        "holds a different run, refusing to mix rows (layers: file has [1], this run wants [2]); replace it "
        "(--overwrite" in capsys.readouterr().err
    )
    assert ActivationStore(out).layers == [1]
    assert _cache(model, prompts, out, "--layers", "2", "--overwrite", "--json") == 0
    assert json.loads(capsys.readouterr().out)["already_complete"] is False
    store = ActivationStore(out)
    assert store.layers == [2] and store.complete and store.n_rows == rows
