"""Ctrl-C (SIGINT) stops a real `interp` process promptly with exit 130 and one line, no
traceback, and what it had committed resumes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from activations import ActivationStore
from interp.cli import main
from tests.fake_openai import FakeServer
from tests.repo import SMALL_QUESTIONS, child_env, wait_for

SMALL = str(SMALL_QUESTIONS)


def _terminal_sigint() -> None:
    # A shell starts background jobs with SIGINT ignored, and children inherit that (Python then
    # keeps it ignored): give the child the disposition a terminal's foreground process has.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt(argv: list[str], started) -> tuple[int, str, float]:
    """Run `interp ARGV`, send SIGINT once `started()` holds; (exit code, stderr, seconds to exit)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "interp.cli", *argv],
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_terminal_sigint,
    )
    try:
        wait_for(lambda: started() or proc.poll() is not None, 120)
        assert proc.poll() is None, proc.communicate()
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        return proc.returncode, err, time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _check(code: int, err: str, seconds: float, command: str) -> None:
    assert code == 130, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == f"interp {command}: interrupted; rerun the same command to resume"
    assert seconds < 10


def test_cache_stops_and_resumes(tiny_model_dir, tmp_path):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text("".join(json.dumps({"text": f"row {i} " * 10, "label": i % 2}) + "\n" for i in range(300)))
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
    code, err, seconds = _interrupt(argv, out.exists)
    _check(code, err, seconds, "cache")
    assert not ActivationStore(out, allow_partial=True).complete
    assert main(argv) == 0
    store = ActivationStore(out)
    assert store.complete and store.n_rows == 300 and store.labels.tolist() == [i % 2 for i in range(300)]


def test_eval_stops_while_requests_hang(tmp_path):
    server = FakeServer()
    server.delay = 30.0  # every request hangs: the threads waiting on them must not hold the process
    try:
        argv = [
            "eval",
            "--model",
            "m",
            "--questions",
            SMALL,
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
        code, err, seconds = _interrupt(argv, lambda: bool(server.requests))
    finally:
        server.close()
    _check(code, err, seconds, "eval")


def test_finetune_stops_between_steps(tiny_model_dir, tmp_path):
    from interp.finetune import load_rows

    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in load_rows("toaster")[:8]))
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
        "100000",
        "--lora-rank",
        "2",
        "--checkpoint-every",
        "5",
        "--no-progress",
    ]
    log = run / "train_log.jsonl"
    code, err, seconds = _interrupt(argv, lambda: log.exists() and log.read_text().count("\n") >= 6)
    _check(code, err, seconds, "finetune")
    record = json.loads((run / "finetune_config.json").read_text())
    assert record["config"]["max_steps"] == 100000 and (run / "checkpoints" / "step_5" / "checkpoint.json").exists()


def test_replicate_stops_inside_a_stage(tmp_path):
    out = tmp_path / "run"
    # --pretrain: the organism is pretrained (minutes), not copied from the shipped weights (a second)
    argv = ["replicate", "--preset", "organism", "--pretrain", "--out", str(out), "--no-progress"]
    code, err, seconds = _interrupt(argv, lambda: (out / "models").exists())  # the organism is being built
    _check(code, err, seconds, "replicate")
    assert not (out / "stages" / "base.json").exists()  # the interrupted stage is not marked done
