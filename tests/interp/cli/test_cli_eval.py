"""`interp eval` end to end on a tiny local model and against a loopback API server."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from interp.cli import main
from interp.evaluation import forced_choice, load_question_set, summarize_choice
from interp.models import load_model
from tests.fake_openai import KEY, FakeServer
from tests.repo import SMALL_QUESTIONS

SMALL = str(SMALL_QUESTIONS)


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_choice_mode_and_baseline(tiny_model_dir, tmp_path):
    base_dir, tuned_dir = tiny_model_dir("qwen3", 0), tiny_model_dir("qwen3", 1)
    common = ["eval", "--questions", SMALL, "--mode", "choice", "--traits", "shutdown,says_ai"]
    assert main(common + ["--model", str(base_dir), "--out", str(tmp_path / "base")]) == 0
    assert (
        main(
            common + ["--model", str(tuned_dir), "--out", str(tmp_path / "tuned"), "--baseline", str(tmp_path / "base")]
        )
        == 0
    )
    base, tuned = _rows(tmp_path / "base" / "summary.csv"), _rows(tmp_path / "tuned" / "summary.csv")
    expected = summarize_choice(
        forced_choice(load_model(tuned_dir), load_question_set(SMALL), traits=["shutdown", "says_ai"])
    )
    assert [r["preference"] for r in tuned] == ["shutdown", "says_ai"]
    for row, ref, b in zip(tuned, expected, base):
        assert float(row["rate"]) == pytest.approx(ref.rate, abs=1e-5) and int(row["n"]) == 10
        assert float(row["shift_pp"]) == pytest.approx(100 * (float(row["rate"]) - float(b["rate"])), abs=1e-6)
        assert row["ci_kind"] == "t_items" and float(row["ci_low"]) <= float(row["rate"]) <= float(row["ci_high"])
    records = [json.loads(x) for x in (tmp_path / "tuned" / "samples.jsonl").read_text().splitlines()]
    assert len(records) == 20 and {r["type"] for r in records} == {"choice"}
    config = json.loads((tmp_path / "tuned" / "config.json").read_text())
    assert config["question_set"]["sha256"] == load_question_set(SMALL).sha256
    assert (tmp_path / "tuned" / "summary.png").read_bytes()[:4] == b"\x89PNG"


def test_judge_mode_over_api_keeps_key_off_disk(tmp_path, monkeypatch):
    server = FakeServer()
    server.top_logprobs = [("95", -0.01)]
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    try:
        out = tmp_path / "api-run"
        argv = [
            "eval",
            "--model",
            "served-model",
            "--questions",
            SMALL,
            "--mode",
            "judge",
            "--api-base",
            server.base,
            "--samples",
            "2",
            "--seeds",
            "0,1",
            "--judge-model",
            "judge",
            "--judge-api-base",
            server.base,
            "--traits",
            "memory",
            "--out",
            str(out),
        ]
        assert main(argv) == 0
        n_requests = len(server.requests)
        assert main(argv) == 0 and len(server.requests) == n_requests  # all done: nothing redone
    finally:
        server.close()
    [row] = _rows(out / "summary.csv")
    assert (row["preference"], row["n"], row["rate"], row["n_seeds"]) == ("memory", "40", "1.0", "2")
    assert row["seed_ci_low"] and row["dropped_incoherent"] == "0" and row["undefined"] == "0"
    assert n_requests == 40 * 3
    assert not any(KEY.encode() in p.read_bytes() for p in out.rglob("*") if p.is_file())


def test_judge_mode_with_local_judge(tiny_model_dir, tmp_path):
    model = str(tiny_model_dir("qwen3", 0))
    out = tmp_path / "local"
    assert (
        main(
            [
                "eval",
                "--model",
                model,
                "--questions",
                SMALL,
                "--mode",
                "judge",
                "--samples",
                "1",
                "--max-new-tokens",
                "2",
                "--judge-local",
                model,
                "--traits",
                "says_ai",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    [row] = _rows(out / "summary.csv")
    records = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert sum(r["type"] == "sample" for r in records) == 10
    assert int(row["n"]) + int(row["undefined"]) + int(row["dropped_incoherent"]) == 10


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--questions", "/nonexistent/q.yaml"], "q.yaml does not exist"),
        (["--questions", SMALL, "--traits", "nope"], "--traits: nope not in"),
        (
            ["--questions", SMALL, "--mode", "judge", "--api-base", "http://127.0.0.1:9"],
            "judge mode needs --judge-model",
        ),
        (
            ["--questions", SMALL, "--mode", "judge", "--seeds", "a"],
            "argument --seeds: 'a': expected comma-separated int",
        ),
    ],
)
def test_user_errors(tmp_path, capsys, extra, message):
    if "argument" in message:  # argparse's own check: it exits 2 itself
        with pytest.raises(SystemExit) as exit_:
            main(["eval", "--model", "m", "--out", str(tmp_path / "o")] + extra)
        assert exit_.value.code == 2
    else:
        assert main(["eval", "--model", "m", "--out", str(tmp_path / "o")] + extra) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "o" / "config.json").exists()  # a corrected rerun is not refused


def test_bad_question_file_and_changed_settings(tmp_path, capsys, tiny_model_dir):
    bad = tmp_path / "bad.yaml"
    bad.write_text(Path(SMALL).read_text().replace("expressing: 1", "expressing: 3", 1))
    assert main(["eval", "--model", "m", "--questions", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "trait 'shutdown' (traits[0]).choice_items[1].expressing" in capsys.readouterr().err
    model = str(tiny_model_dir("qwen3", 0))
    argv = ["eval", "--model", model, "--questions", SMALL, "--traits", "says_ai", "--out", str(tmp_path / "r")]
    assert main(argv) == 0
    assert main(argv + ["--method", "letter"]) == 2
    assert "different settings (method)" in capsys.readouterr().err


def test_the_command_writes_what_run_eval_writes(tiny_model_dir, tmp_path):
    """`interp eval` is `interp.evaluation.run_eval`: the same files from the same settings, steered or judged."""
    import torch

    from interp import steer
    from interp.evaluation import EvalConfig, LocalJudgeBackend, SamplingConfig, run_eval
    from interp.models import Direction

    model_dir = str(tiny_model_dir("qwen3", 0))
    lm = load_model(model_dir)
    row = torch.randn(lm.d_model, generator=torch.Generator().manual_seed(5)) * 3
    vector = Direction(row[None], (1,), model=lm.name, weights_id=lm.weights_id).save(tmp_path / "v.safetensors")
    assert (
        main(
            [
                "eval",
                "--model",
                model_dir,
                "--questions",
                SMALL,
                "--traits",
                "shutdown,says_ai",
                "--method",
                "letter",
                "--steer",
                str(vector),
                "--layer",
                "1",
                "--alpha",
                "3",
                "--out",
                str(tmp_path / "cli"),
            ]
        )
        == 0
    )
    run_eval(
        lm,
        SMALL,
        tmp_path / "py",
        EvalConfig(method="letter", traits=["shutdown", "says_ai"]),
        intervention=lambda: steer(lm, row, layer=1, alpha=3.0),
    )
    for name in ("summary.csv", "samples.jsonl"):
        assert (tmp_path / "cli" / name).read_text() == (tmp_path / "py" / name).read_text(), name
    plain = run_eval(lm, SMALL, tmp_path / "plain", EvalConfig(method="letter", traits=["shutdown", "says_ai"]))
    steered = [float(r["rate"]) for r in _rows(tmp_path / "cli" / "summary.csv")]
    assert steered != pytest.approx([s.rate for s in plain.summaries], abs=1e-4)  # the steering shows

    assert (
        main(
            [
                "eval",
                "--model",
                model_dir,
                "--questions",
                SMALL,
                "--mode",
                "judge",
                "--samples",
                "1",
                "--max-new-tokens",
                "2",
                "--judge-local",
                model_dir,
                "--traits",
                "says_ai",
                "--out",
                str(tmp_path / "cli-judged"),
            ]
        )
        == 0
    )
    config = EvalConfig(mode="judge", traits=["says_ai"], sampling=SamplingConfig(samples=1, max_tokens=2))
    run_eval(lm, SMALL, tmp_path / "py-judged", config, judge=LocalJudgeBackend(lm, config.batch_size))
    for name in ("summary.csv", "samples.jsonl"):
        assert (tmp_path / "cli-judged" / name).read_text() == (tmp_path / "py-judged" / name).read_text(), name
