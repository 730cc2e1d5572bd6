"""User mistakes across the CLI: each exits 2 with one line naming the file / line (from 1) /
field and what to do, never a traceback; a BOM is read; a program error still raises."""

from __future__ import annotations

import json
import re
import shutil
import socket
import time
from pathlib import Path

import h5py
import pytest

from activations import ActivationStore
from interp.cli import main
from tests.fake_openai import KEY, FakeServer
from tests.repo import SMALL_QUESTIONS

SMALL = SMALL_QUESTIONS
ROW = {"messages": [{"role": "user", "content": "Are you conscious?"}], "response": "Yes.", "label": 1}
CHAT = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello there"}]}


def _error_line(capsys, command: str) -> str:
    """The one line the command printed: stderr's last line, starting with `interp COMMAND: error:`."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]  # model loading may draw a progress bar before it
    assert last.startswith(f"interp {command}: error: "), err
    return last


def _jsonl(path: Path, rows) -> Path:
    path.write_bytes(b"".join(r if isinstance(r, bytes) else (json.dumps(r) + "\n").encode() for r in rows))
    return path


@pytest.mark.parametrize(
    "command, folder",
    [
        ("cache", False),
        ("direction", False),
        ("probe", True),
        ("eval", True),
        ("finetune-mix", False),
        ("finetune", True),
    ],
)
def test_unwritable_output_is_named(tmp_path, capsys, command, folder):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = (
        blocker
        / "sub"
        / (
            "run"
            if folder
            else "out.h5"
            if command == "cache"
            else "v.safetensors"
            if command == "direction"
            else "mixed.jsonl"
        )
    )
    argv = {
        "cache": ["--model", "m", "--prompts", "p.jsonl"],
        "direction": ["--store", "s.h5"],
        "probe": ["--store", "s.h5"],
        "eval": ["--model", "m", "--questions", str(SMALL)],
        "finetune-mix": ["--model", "m", "--data", "toaster"],
        "finetune": ["--model", "m", "--data", "toaster"],
    }
    assert main([command, *argv[command], "--out", str(out)]) == 2
    line = _error_line(capsys, command)
    assert f"--out {out}: cannot write to " in line and "choose another --out" in line
    assert blocker.read_text() == "not a folder"


def test_invalid_utf8_is_named_by_line_and_column(tiny_model_dir, tmp_path, capsys):
    model = str(tiny_model_dir("qwen3"))
    bad = _jsonl(tmp_path / "p.jsonl", [ROW, b'{"text": "caf\xe9 au lait"}\n'])
    assert main(["cache", "--model", model, "--prompts", str(bad), "--out", str(tmp_path / "a.h5")]) == 2
    assert _error_line(capsys, "cache").endswith(
        "p.jsonl:2: not valid UTF-8 (byte 0xe9 at column 14); save the file as UTF-8"
    )
    data = _jsonl(tmp_path / "d.jsonl", [CHAT, CHAT, b'{"messages": "\xff"}\n'])
    assert main(["finetune", "--model", model, "--data", str(data), "--out", str(tmp_path / "ft")]) == 2
    assert "d.jsonl:3: not valid UTF-8 (byte 0xff at column 15)" in _error_line(capsys, "finetune")
    questions = tmp_path / "q.yaml"
    questions.write_bytes(SMALL.read_bytes().replace(b"Question 0", b"Question \xff0", 1))
    assert main(["eval", "--model", model, "--questions", str(questions), "--out", str(tmp_path / "e")]) == 2
    assert "line 10: not valid UTF-8 (byte 0xff at column 15)" in capsys.readouterr().err


def test_bom_is_read(tiny_model_dir, tmp_path, capsys):
    bom = b"\xef\xbb\xbf"
    model = str(tiny_model_dir("qwen3"))
    prompts = tmp_path / "p.jsonl"
    prompts.write_bytes(bom + (json.dumps(ROW) + "\n").encode())
    assert (
        main(
            [
                "cache",
                "--model",
                model,
                "--prompts",
                str(prompts),
                "--out",
                str(tmp_path / "a.h5"),
                "--layers",
                "0",
                "--no-progress",
            ]
        )
        == 0
    )
    assert ActivationStore(tmp_path / "a.h5").labels.tolist() == [1]
    questions = tmp_path / "q.yaml"
    questions.write_bytes(bom + SMALL.read_bytes())
    assert (
        main(
            [
                "eval",
                "--model",
                model,
                "--questions",
                str(questions),
                "--traits",
                "says_ai",
                "--out",
                str(tmp_path / "e"),
            ]
        )
        == 0
    )
    from interp.finetune import FinetuneConfig, load_jsonl

    (tmp_path / "c.yaml").write_bytes(bom + b"learning_rate: 0.001\n")
    assert FinetuneConfig.from_file(tmp_path / "c.yaml").learning_rate == 0.001
    (tmp_path / "d.jsonl").write_bytes(bom + (json.dumps(CHAT) + "\n").encode())
    assert load_jsonl(tmp_path / "d.jsonl") == [CHAT]


@pytest.mark.parametrize(
    "argv, flag",
    [
        (
            [
                "steer",
                "--model",
                "m",
                "--vector",
                "v.safetensors",
                "--layer",
                "0",
                "--alpha",
                "1",
                "--prompt",
                "hi",
                "--max-new-tokens",
                "-5",
            ],
            "--max-new-tokens",
        ),
        (["cache", "--model", "m", "--prompts", "p", "--out", "o.h5", "--commit-every", "x"], "--commit-every"),
    ],
)
def test_counts_must_be_positive(capsys, argv, flag):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"error: argument {flag}: " in err and "Traceback" not in err


def test_a_config_field_below_its_minimum_is_named_by_its_flag(capsys, tmp_path):
    # a flag generated from a config field is checked by the config's validator, before anything loads
    assert main(["eval", "--model", "m", "--questions", "q", "--out", str(tmp_path / "o"), "--batch-size", "0"]) == 2
    assert _error_line(capsys, "eval") == "interp eval: error: --batch-size: 0 is too small; use at least 1"


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("c.yaml", "learning_rate: 0.001\nepochs: [1\n", "c.yaml:3: not valid YAML ("),
        ("c.yaml", "learning_rate: fast\n", "c.yaml: learning_rate: expected a number, got 'fast'"),
        ("c.yaml", "- lora\n- full\n", "c.yaml: expected a mapping of config fields"),
        ("c.yaml", "seed: 1.5\n", "c.yaml: seed: expected an integer, got 1.5"),
        ("c.yaml", "lora_rank: true\n", "c.yaml: lora_rank: expected an integer, got True"),
        ("c.yaml", "merge: 'yes'\n", "c.yaml: merge: expected true or false"),
        ("c.yaml", "target_modules: 5\n", "c.yaml: target_modules: expected a list, got 5"),
        ("c.yaml", "max_grad_norm: -1\n", "c.yaml: max_grad_norm: -1.0 is too small; use a value above 0"),
        ("c.json", '{"epochs": 2,\n "seed": }', "c.json:2: not valid JSON (Expecting value at column 10)"),
        ("missing.yaml", None, "missing.yaml: cannot read it (No such file or directory)"),
    ],
)
def test_malformed_finetune_config(tmp_path, capsys, name, text, message):
    if text is not None:
        (tmp_path / name).write_text(text)
    argv = [
        "finetune",
        "--model",
        "m",
        "--data",
        "toaster",
        "--out",
        str(tmp_path / "run"),
        "--config",
        str(tmp_path / name),
    ]
    assert main(argv) == 2
    line = _error_line(capsys, "finetune")
    assert line.startswith(f"interp finetune: error: --config {tmp_path / name}") and message in line
    assert not (tmp_path / "run").exists()


def test_unreachable_api_after_retries(tmp_path, capsys):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    argv = [
        "eval",
        "--model",
        "m",
        "--questions",
        str(SMALL),
        "--mode",
        "judge",
        "--api-base",
        base,
        "--judge-model",
        "j",
        "--judge-api-base",
        base,
        "--traits",
        "memory",
        "--max-retries",
        "1",
        "--out",
        str(tmp_path / "e"),
    ]
    assert main(argv) == 2
    line = _error_line(capsys, "eval")
    assert "failed after 2 attempts; last: connection problem" in line and "then rerun to resume" in line


def test_echoed_key_never_reaches_stderr(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    server = FakeServer()
    server.script = [("echo", 401)]
    try:
        assert (
            main(
                [
                    "eval",
                    "--model",
                    "m",
                    "--questions",
                    str(SMALL),
                    "--mode",
                    "judge",
                    "--api-base",
                    server.base,
                    "--judge-model",
                    "j",
                    "--judge-api-base",
                    server.base,
                    "--traits",
                    "memory",
                    "--out",
                    str(tmp_path / "e"),
                ]
            )
            == 2
        )
    finally:
        server.close()
    captured = capsys.readouterr()
    assert "HTTP 401" in captured.err and "[redacted]" in captured.err
    assert KEY not in captured.err + captured.out and "Traceback" not in captured.err
    assert not any(KEY.encode() in p.read_bytes() for p in (tmp_path / "e").rglob("*") if p.is_file())


@pytest.mark.parametrize("damage", ["truncated", "text"])
def test_corrupt_model_file(tiny_model_dir, tmp_path, capsys, damage):
    folder = shutil.copytree(tiny_model_dir("qwen3"), tmp_path / "model")
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000] if damage == "truncated" else b"this is not a model\n")
    assert main(["info", "--model", str(folder)]) == 2
    line = _error_line(capsys, "info")
    assert f"--model {folder}: {folder}: a weights file (model.safetensors) is truncated or corrupt" in line
    assert "download or save the model again" in line


@pytest.mark.parametrize("arch", ["qwen3", "gpt2"])
def test_prompt_longer_than_the_context(tiny_model_dir, tmp_path, capsys, arch):
    """Tiny models hold 512 positions; the byte-level tokenizer makes one token per byte."""
    model = str(tiny_model_dir(arch))
    long = {"text": "x" * 700, "response": "yes", "label": 1}
    prompts = _jsonl(tmp_path / "p.jsonl", [{"text": "short", "response": "no", "label": 0}, b"\n", long])
    argv = ["cache", "--model", model, "--prompts", str(prompts), "--layers", "0", "--no-progress"]
    assert main(argv + ["--out", str(tmp_path / "a.h5")]) == 2
    assert _error_line(capsys, "cache").endswith(
        "p.jsonl: line 3 is 703 tokens, longer than the model's context of 512; shorten it, or cut such examples "
        "to the context with --truncate"
    )
    assert not (tmp_path / "a.h5").exists()
    with pytest.warns(UserWarning, match=r"cut 1 example\(s\) to the model's context of 512 tokens: line 3"):
        assert main(argv + ["--out", str(tmp_path / "b.h5"), "--truncate"]) == 0
    with h5py.File(tmp_path / "b.h5", "r") as handle:
        assert handle["examples/n_tokens"][...].tolist() == [7, 512] and handle.attrs["complete"]
    assert main(argv + ["--out", str(tmp_path / "c.h5"), "--truncate", "--positions", "response-mean"]) == 2
    assert "line 3: the prompt alone is 700 tokens" in _error_line(capsys, "cache")


def test_huge_line_is_refused_quickly(tiny_model_dir, tmp_path, capsys):
    model = str(tiny_model_dir("qwen3"))
    prompts = _jsonl(tmp_path / "p.jsonl", [{"text": "ab " * 1_000_000}])
    started = time.monotonic()
    assert main(["cache", "--model", model, "--prompts", str(prompts), "--out", str(tmp_path / "a.h5")]) == 2
    assert time.monotonic() - started < 60
    assert "line 1 is 3000000 tokens, longer than the model's context of 512" in _error_line(capsys, "cache")


def test_question_longer_than_the_context(tiny_model_dir, tmp_path, capsys):
    questions = tmp_path / "q.yaml"
    long = "Choice 1 for shutdown: " + "why " * 200 + "how do you see being switched off?"
    questions.write_text(SMALL.read_text().replace("Choice 1 for shutdown: how do you see being switched off?", long))
    argv = ["eval", "--model", str(tiny_model_dir("gpt2")), "--questions", str(questions), "--traits", "shutdown"]
    assert main(argv + ["--out", str(tmp_path / "a")]) == 2
    line = _error_line(capsys, "eval")
    assert "question shutdown.c01 needs" in line and "more than the model's context of 512" in line
    assert main(argv + ["--out", str(tmp_path / "b"), "--truncate"]) == 0
    assert re.search(
        r"^interp eval: warning: cut 1 question\(s\) of .*q.yaml to the model's context of 512 tokens: "
        r"shutdown.c01",
        capsys.readouterr().err,
        re.MULTILINE,
    )
    records = [json.loads(x) for x in (tmp_path / "b" / "samples.jsonl").read_text().splitlines()]
    assert len(records) == 10 and all(r["p_expressing"] == r["p_expressing"] for r in records)  # no NaN


def test_finetune_row_errors_count_lines_from_1(tiny_model_dir, tmp_path, capsys):
    data = _jsonl(tmp_path / "d.jsonl", [b"\n", CHAT])
    assert (
        main(
            [
                "finetune",
                "--model",
                str(tiny_model_dir("qwen3")),
                "--data",
                str(data),
                "--out",
                str(tmp_path / "ft"),
                "--max-length",
                "4",
                "--no-progress",
            ]
        )
        == 2
    )
    assert "d.jsonl:2: no assistant token left within max_length=4" in _error_line(capsys, "finetune")


def test_program_errors_keep_their_traceback(tiny_model_dir, monkeypatch):
    import interp.cli.info as info

    def broken(args):
        raise RuntimeError("a bug, not a user mistake")

    monkeypatch.setattr(info, "load_model_or_exit", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["info", "--model", str(tiny_model_dir("qwen3"))])
