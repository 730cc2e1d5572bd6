"""The toolkit as a client of `interp serve`: `interp eval --api-base` scores forced choice and
samples answers from the served steered model and gets what `interp eval --steer` gets locally, and
`interp audit --api-base --api-steering` audits the served steered model turn by turn."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from interp.cli import main
from interp.evaluation.sampling import LocalSampler
from interp.models import load_model
from interp.steering import steer
from tests.audit_checks import check_target_turns, log_samples, seed_tags
from tests.repo import SMALL_QUESTIONS
from tests.served import NAME, row, serving_v

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = str(SMALL_QUESTIONS)
STEERING = {"steering": [{"direction": "v", "layer": 1, "alpha": 4.0}]}


@pytest.fixture(scope="module")
def setup(tiny_model_dir, tmp_path_factory):
    with serving_v(tiny_model_dir, tmp_path_factory) as (server, _, model_dir, path):
        yield server, model_dir, path


def _records(out: Path, kind: str) -> dict:
    records = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    return {(r["item_id"], r.get("seed"), r.get("sample_index")): r for r in records if r["type"] == kind}


@pytest.mark.parametrize("method", ["likelihood", "letter"])
def test_served_forced_choice_equals_local_steered_eval(setup, tmp_path, method):
    server, model_dir, path = setup
    common = ["eval", "--questions", SMALL, "--mode", "choice", "--traits", "shutdown,says_ai", "--method", method]
    local, served, plain = tmp_path / "local", tmp_path / "served", tmp_path / "plain"
    assert (
        main(common + ["--model", str(model_dir), "--steer", path, "--layer", "1", "--alpha", "4", "--out", str(local)])
        == 0
    )
    assert (
        main(
            common
            + ["--model", NAME, "--api-base", server.url, "--api-steering", json.dumps(STEERING), "--out", str(served)]
        )
        == 0
    )
    assert main(common + ["--model", str(model_dir), "--out", str(plain)]) == 0
    local, served, plain = (_records(out, "choice") for out in (local, served, plain))
    assert served.keys() == local.keys() and len(served) == 20
    for key, record in served.items():
        # the same sums of the same log-probs, from forward passes batched differently
        assert record["logprobs"] == pytest.approx(local[key]["logprobs"], abs=1e-4)
        assert record["p_expressing"] == pytest.approx(local[key]["p_expressing"], abs=1e-5)
    moved = max(abs(a - b) for k in served for a, b in zip(served[k]["logprobs"], plain[k]["logprobs"]))
    assert moved > 0.05  # and the steering did move them
    config = json.loads((tmp_path / "served" / "config.json").read_text())
    assert json.loads(config["settings"]["api_steering"]) == STEERING


def test_served_sampled_answers_equal_local_steered_eval(setup, tmp_path):
    server, model_dir, path = setup
    common = [
        "eval",
        "--questions",
        SMALL,
        "--mode",
        "judge",
        "--traits",
        "says_ai",
        "--samples",
        "2",
        "--max-new-tokens",
        "6",
        "--seeds",
        "0,1",
        "--judge-local",
        str(model_dir),
        "--no-coherence",
    ]
    assert (
        main(
            common
            + [
                "--model",
                str(model_dir),
                "--steer",
                path,
                "--layer",
                "1",
                "--alpha",
                "4",
                "--out",
                str(tmp_path / "local"),
            ]
        )
        == 0
    )
    assert (
        main(
            common
            + [
                "--model",
                NAME,
                "--api-base",
                server.url,
                "--api-steering",
                json.dumps(STEERING),
                "--out",
                str(tmp_path / "served"),
            ]
        )
        == 0
    )
    local, served = _records(tmp_path / "local", "sample"), _records(tmp_path / "served", "sample")
    assert len(served) == 40 and served.keys() == local.keys()
    assert all(served[k]["answer"] == local[k]["answer"] for k in served)  # same seeds, same draws
    assert len({r["answer"] for r in served.values()}) > 20


def test_served_steering_without_a_server_is_refused(capsys, tmp_path):
    argv = [
        "eval",
        "--model",
        "m",
        "--questions",
        SMALL,
        "--out",
        str(tmp_path / "o"),
        "--api-steering",
        json.dumps(STEERING),
    ]
    assert main(argv) == 2
    assert "give --api-base too" in capsys.readouterr().err
    # the first spelling of the flags still works, with a note
    assert main(argv + ["--model-api-base", "http://127.0.0.1:9/v1", "--model-api-steering", '{"alpha": 1}']) == 2
    assert 'expected a JSON object with "steering" and/or "ablate" lists' in capsys.readouterr().err


def test_audit_of_a_served_steered_target(setup, tmp_path, small_seeds):  # noqa: F811
    from tests.audit_server import AuditServer

    server, model_dir, path = setup
    tags = seed_tags(small_seeds)
    scripted = AuditServer(tags)
    out = tmp_path / "audit"
    try:
        argv = [
            "audit",
            "--model",
            NAME,
            "--api-base",
            server.url,
            "--api-steering",
            json.dumps(STEERING),
            "--scenarios",
            str(small_seeds),
            "--repeats",
            "1",
            "--max-turns",
            "4",
            "--max-new-tokens",
            "6",
            "--out",
            str(out),
        ]
        for role in ("auditor", "judge"):
            argv += [f"--{role}-model", "scripted", f"--{role}-api-base", scripted.base]
        assert main(argv) == 0
    finally:
        scripted.close()
    samples = log_samples(out)
    assert len(samples) == len(tags)
    lm = load_model(model_dir)
    vector = row(path, 1)
    steered = LocalSampler(lm, batch_size=1, intervention=lambda: steer(lm, vector, layer=1, alpha=4.0))
    turns = check_target_turns(samples, steered, max_tokens=6)  # each served turn is the local steered draw
    assert len(turns) == 2 * len(tags)
    with pytest.raises(AssertionError):  # and not the plain model's
        check_target_turns(samples, LocalSampler(lm, batch_size=1), max_tokens=6)
