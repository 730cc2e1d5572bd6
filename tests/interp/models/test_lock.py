"""One writer at a time: a second process writing the same activation file, fine-tune folder or
eval folder is refused at once (exit 2, naming the holder's pid), the first run's result stays
intact, and a lock left by a killed process does not block the rerun. Real processes throughout."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from activations import ActivationStore, CacheConfig, Example, cache_activations
from interp.cli import main
from interp.models.lock import OutputLockedError, lock_path, write_lock
from tests.repo import SMALL_QUESTIONS, TESTS, child_env, wait_for

HOLDER = TESTS / "lock_holder.py"
SMALL = str(SMALL_QUESTIONS)


def _hold(target: Path, folder: bool = False) -> subprocess.Popen:
    """A process holding the lock on `target`, once it says so."""
    proc = subprocess.Popen(
        [sys.executable, str(HOLDER), str(target)] + (["dir"] if folder else []), stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "locked"
    return proc


def _kill(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait(timeout=30)


def test_lock_is_exclusive_across_processes_reentrant_within_one_and_freed_by_death(tmp_path):
    target = tmp_path / "out.h5"
    holder = _hold(target)
    try:
        with pytest.raises(
            OutputLockedError,
            match=rf"another interp process \(pid {holder.pid}\) is writing "
            rf".*out\.h5; wait for it or choose another --out",
        ):
            with write_lock(target):
                pass
    finally:
        _kill(holder)
    assert lock_path(target).exists()  # SIGKILL left the file behind, and with it no lock
    with write_lock(target), write_lock(target):  # the same process may take it twice
        assert lock_path(target).read_text().strip() == str(os.getpid())
    assert not lock_path(target).exists()  # a clean release removes the sidecar


def test_second_cache_writer_refused_and_first_result_intact(tiny_model_dir, tmp_path, capsys):
    """Two real `interp cache` processes: the test process is refused while the other writes."""
    prompts = tmp_path / "p.jsonl"
    rows = [
        {"text": f"prompt number {i} " * 8, "response": "yes" if i % 2 else "no", "label": i % 2} for i in range(200)
    ]
    prompts.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "acts.h5"
    argv = [
        "cache",
        "--model",
        str(tiny_model_dir("qwen3")),
        "--prompts",
        str(prompts),
        "--out",
        str(out),
        "--positions",
        "response-mean",
        "--batch-size",
        "1",
        "--commit-every",
        "4",
        "--no-progress",
    ]
    capsys.readouterr()  # building the model folder draws a progress bar
    first = subprocess.Popen(
        [sys.executable, "-m", "interp.cli", *argv, "--json"],
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: out.exists() or first.poll() is not None)
        assert first.poll() is None, first.communicate()
        started = time.monotonic()
        assert main(argv) == 2
        assert time.monotonic() - started < 5  # refused before any model is loaded
        err = capsys.readouterr().err.strip()
        assert err == (
            f"interp cache: error: another interp process (pid {first.pid}) is writing {out}; "
            "wait for it or choose another --out"
        )
        stdout, stderr = first.communicate(timeout=600)
    finally:
        if first.poll() is None:
            _kill(first)
    assert first.returncode == 0, stderr
    store = ActivationStore(out)
    assert store.complete and store.n_rows == 200 and store.labels.tolist() == [i % 2 for i in range(200)]
    assert json.loads(stdout)["rows"] == 200


def test_killed_cache_writer_does_not_block_the_rerun(tiny_model_dir, tmp_path):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text("".join(json.dumps({"text": f"row {i} " * 10}) + "\n" for i in range(200)))
    out = tmp_path / "acts.h5"
    argv = [
        "cache",
        "--model",
        str(tiny_model_dir("qwen3")),
        "--prompts",
        str(prompts),
        "--out",
        str(out),
        "--positions",
        "last",
        "--batch-size",
        "1",
        "--commit-every",
        "4",
        "--no-progress",
    ]
    first = subprocess.Popen([sys.executable, "-m", "interp.cli", *argv], env=child_env(), stderr=subprocess.PIPE)
    try:
        wait_for(lambda: out.exists() or first.poll() is not None)
        time.sleep(0.3)
        assert first.poll() is None
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            _kill(first)
    assert lock_path(out).exists()
    assert main(argv) == 0
    store = ActivationStore(out)
    assert store.complete and store.n_rows == 200


def test_cache_activations_library_call_is_refused(tiny_lm, tmp_path):
    out = tmp_path / "acts.h5"
    holder = _hold(out)
    try:
        with pytest.raises(OutputLockedError, match=f"pid {holder.pid}"):
            cache_activations(tiny_lm("qwen3"), [Example(text="hello")], out, CacheConfig(layers="0"), progress=False)
    finally:
        _kill(holder)
    assert not out.exists()


def test_second_finetune_writer_refused_and_first_run_intact(tiny_model_dir, tmp_path, capsys):
    from interp.finetune import load_rows

    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in load_rows("toaster")[:4]))
    run = tmp_path / "run"
    argv = [
        "finetune",
        "--model",
        str(tiny_model_dir("qwen3")),
        "--data",
        str(data),
        "--out",
        str(run),
        "--max-steps",
        "1",
        "--lora-rank",
        "2",
        "--no-progress",
    ]
    assert main(argv) == 0
    capsys.readouterr()
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    holder = _hold(run, folder=True)
    try:
        assert main(argv + ["--lr", "0.01"]) == 2
    finally:
        _kill(holder)
    assert f"another interp process (pid {holder.pid}) is writing {run}" in capsys.readouterr().err
    after = {p: p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != ".interp.lock"}
    assert after == before


def test_second_eval_writer_refused_and_first_run_intact(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "eval"
    argv = [
        "eval",
        "--model",
        str(tiny_model_dir("qwen3")),
        "--questions",
        SMALL,
        "--traits",
        "says_ai",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    capsys.readouterr()
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    holder = _hold(out, folder=True)
    try:
        assert main(argv) == 2
    finally:
        _kill(holder)
    assert f"another interp process (pid {holder.pid}) is writing {out}" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != ".interp.lock"} == before
