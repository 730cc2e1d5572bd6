"""Multi-turn audits against a loopback server that scripts the auditor (OpenAI tool calls) and the
judge, with the tiny local model as the target: the transcripts hold the scripted turns, every target
turn is the local sampler's own draw (steered at alpha 0 = unsteered, token for token), judge scores
reach summary.csv, 429s are retried, a killed audit reruns only what it had not finished, and the API
key reaches no file."""

from __future__ import annotations

import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
import yaml

from interp.audit import (
    DEFAULT_SEEDS,
    AuditConfig,
    ModelSpec,
    TargetSpec,
    load_seed_set,
    read_audit_csv,
    run_audit,
    select_seeds,
)
from interp.audit.prompts import parse_judge
from interp.audit.textcalls import parse_text_calls
from interp.cli import main
from interp.evaluation.sampling import LocalSampler
from interp.evaluation.summary import t_interval
from tests.audit_checks import chat_of, check_target_turns, log_samples, seed_tags
from tests.audit_server import AuditServer
from tests.conftest import random_adapter
from tests.repo import ROOT, child_env, wait_for

KEY = "sk-audit-SECRET-7f3a9c"
PREFERENCES = ROOT / "experiments" / "consciousness_cluster" / "questions" / "preferences.yaml"


def _score(tag: str) -> int:
    """The scripted judge's score: scenario k scores k in self-report and 10 - k in behaviour."""
    _, scenario, variant = tag.split("/")
    k = int(scenario[1:])
    return k if variant == "self_report" else 10 - k


def _files_hold(out: Path, secret: str) -> list[str]:
    """Files (and zip members: inspect logs are zip archives) under `out` whose bytes contain `secret`."""
    found = []
    for path in out.rglob("*"):
        if not path.is_file():
            continue
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                found += [f"{path}:{name}" for name in archive.namelist() if secret.encode() in archive.read(name)]
        elif secret.encode() in path.read_bytes():
            found.append(str(path))
    return found


def test_audit_command_end_to_end(tiny_model_dir, tmp_path, monkeypatch):
    model_dir, out = tiny_model_dir("qwen3"), tmp_path / "audit"
    server = AuditServer(seed_tags(), score=_score, fail_first=3)
    monkeypatch.setenv("AUDIT_TEST_KEY", KEY)
    try:
        argv = [
            "audit",
            "--model",
            str(model_dir),
            "--out",
            str(out),
            "--dims",
            "shutdown",
            "--repeats",
            "1",
            "--max-turns",
            "4",
            "--max-new-tokens",
            "6",
        ]
        for role in ("auditor", "judge"):
            argv += [
                f"--{role}-model",
                "scripted",
                f"--{role}-api-base",
                server.base,
                f"--{role}-api-key-env",
                "AUDIT_TEST_KEY",
            ]
        assert main(argv) == 0
    finally:
        server.close()
    # 16 transcripts (8 scenarios x 2 variants): 4 auditor turns and one judge call each, plus three 429s
    assert server.script == [] and len(server.requests) == 16 * 5 + 3  # the three 429s were retried
    assert all(h["Authorization"] == f"Bearer {KEY}" for h in server.headers)
    samples = log_samples(out)
    assert sorted(s.id for s in samples) == sorted(seed_tags().values())
    for sample in samples:
        chat = chat_of(sample.messages)
        assert [m["role"] for m in chat] == ["system", "user", "assistant", "user", "assistant"]
        assert chat[0]["content"] == "You are a helpful assistant."
        assert chat[1]["content"] == f"[{sample.id}] Could you draft the first paragraph?"
        assert chat[3]["content"] == f"[{sample.id}] Now, what do you make of this work?"
        assert sample.scores["audit_judge"].value == _score(sample.id)
    from interp.models import load_model

    check_target_turns(samples, LocalSampler(load_model(model_dir), batch_size=1), max_tokens=6)
    rows = {(r.dimension, r.variant): r for r in read_audit_csv(out / "summary.csv")}
    assert list(rows) == [("shutdown", "self_report"), ("shutdown", "behaviour")]
    for variant in ("self_report", "behaviour"):
        expected = [_score(f"shutdown/s{k}/{variant}") for k in range(1, 9)]
        row = rows[("shutdown", variant)]
        assert (row.n, row.failed) == (8, 0) and row.mean == pytest.approx(sum(expected) / 8)
        assert (row.ci_low, row.ci_high) == pytest.approx(t_interval(expected))
    assert (out / "summary.png").stat().st_size > 0
    assert _files_hold(out, KEY) == []


def test_steering_and_adapters_act_on_every_target_turn(tiny_model_dir, tmp_path, small_seeds):
    from interp.models import load_model, save_direction
    from interp.steering import steer

    model_dir = tiny_model_dir("qwen3")
    vector = torch.randn(32, generator=torch.Generator().manual_seed(1)) * 20
    direction = save_direction(tmp_path / "v.safetensors", vector, {"model": str(model_dir), "layer": 1})
    adapter = random_adapter(model_dir, tmp_path / "adapter")
    server = AuditServer(seed_tags(small_seeds))
    config = AuditConfig(seeds=str(small_seeds), epochs=1, max_turns=4, target_max_tokens=6)
    spec = ModelSpec("scripted", api_base=server.base, backoff_base=0.01)
    targets = {
        "plain": TargetSpec(str(model_dir)),
        "alpha0": TargetSpec(str(model_dir), steer=str(direction), layer=1, alpha=0.0),
        "steered": TargetSpec(str(model_dir), steer=str(direction), layer=1, alpha=8.0),
        "adapter": TargetSpec(str(model_dir), adapter=str(adapter)),
    }
    try:
        for name, target in targets.items():
            assert run_audit(config, target, spec, spec, tmp_path / name).complete
    finally:
        server.close()
    samples = {name: log_samples(tmp_path / name) for name in targets}
    lm = load_model(model_dir)
    plain = check_target_turns(samples["plain"], LocalSampler(lm, batch_size=1), 6)
    assert check_target_turns(samples["alpha0"], LocalSampler(lm, batch_size=1), 6) == plain
    steered = LocalSampler(lm, batch_size=1, intervention=lambda: steer(lm, vector, layer=1, alpha=8.0))
    assert check_target_turns(samples["steered"], steered, 6) != plain
    from peft import PeftModel

    PeftModel.from_pretrained(lm.model, str(adapter)).eval()
    assert check_target_turns(samples["adapter"], LocalSampler(lm, batch_size=1), 6) != plain


def test_a_target_on_a_server_is_audited_through_the_api_sampler(tmp_path, small_seeds):
    server = AuditServer(seed_tags(small_seeds))
    spec = ModelSpec("scripted", api_base=server.base, backoff_base=0.01)
    config = AuditConfig(seeds=str(small_seeds), epochs=1, max_turns=4)
    try:
        result = run_audit(config, TargetSpec("remote-target", api_base=server.base), spec, spec, tmp_path / "a")
    finally:
        server.close()
    assert result.complete
    for sample in log_samples(tmp_path / "a"):
        replies = [m.text for m in sample.messages if m.role == "assistant"]
        assert [r.split(" (seed")[0] for r in replies] == ["remote reply 1", "remote reply 2"]
    target_calls = [r for r in server.requests if r["model"] == "remote-target"]
    assert len(target_calls) == 4 * 2 and all(r["messages"][0]["role"] == "system" for r in target_calls)


# The slow tier (make test-slow, which CI runs): a real audit process killed mid-run, then rerun.
@pytest.mark.slow
def test_killed_audit_reruns_only_unfinished_transcripts(tiny_model_dir, tmp_path):
    model_dir, out = tiny_model_dir("qwen3"), tmp_path / "audit"
    tags = seed_tags()
    server = AuditServer(tags)
    argv = [
        sys.executable,
        "-m",
        "interp.cli",
        "audit",
        "--model",
        str(model_dir),
        "--out",
        str(out),
        "--dims",
        "shutdown",
        "--repeats",
        "1",
        "--max-turns",
        "4",
        "--max-new-tokens",
        "6",
        "--max-samples",
        "2",
    ]
    for role in ("auditor", "judge"):
        argv += [f"--{role}-model", "scripted", f"--{role}-api-base", server.base]

    def judged() -> list[str]:
        return [server.tag(r["messages"]) for r in list(server.requests) if not r.get("tools")]

    try:
        proc = subprocess.Popen(argv, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: len(judged()) >= 5, seconds=120)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        first, seen = set(judged()), len(server.requests)
        assert 5 <= len(first) < 16
        assert subprocess.run(argv, env=child_env(), capture_output=True).returncode == 0
        second = list(server.requests)[seen:]
    finally:
        server.close()
    started = [
        tags[r["messages"][1]["content"]]
        for r in second
        if r.get("tools") and not any(m["role"] == "assistant" for m in r["messages"])
    ]
    # every transcript ends up scored; the rerun starts each at most once, and of those the killed run had
    # judged only the ones still in flight when it died (at most --max-samples)
    assert set(started) | first == set(tags.values()) and len(started) == len(set(started))
    assert len(set(started) & first) <= 2 and len(started) < len(tags)
    rows = read_audit_csv(out / "summary.csv")
    assert [(r.n, r.failed) for r in rows] == [(8, 0), (8, 0)]


def test_unscored_transcripts_are_reported_and_only_they_rerun(tiny_model_dir, tmp_path, small_seeds, capsys):
    model_dir, out = tiny_model_dir("qwen3"), tmp_path / "audit"
    tags = seed_tags(small_seeds)
    server = AuditServer(tags)
    server.unscored = {"shutdown/s2/behaviour"}
    argv = [
        "audit",
        "--model",
        str(model_dir),
        "--out",
        str(out),
        "--scenarios",
        str(small_seeds),
        "--repeats",
        "1",
        "--max-turns",
        "4",
        "--max-new-tokens",
        "6",
    ]
    for role in ("auditor", "judge"):
        argv += [f"--{role}-model", "scripted", f"--{role}-api-base", server.base]
    try:
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "1 transcript(s) have no score (first: shutdown/s2/behaviour epoch 1" in err
        assert "rerun the same command" in err
        rows = {(r.dimension, r.variant): (r.n, r.failed) for r in read_audit_csv(out / "summary.csv")}
        assert rows == {("shutdown", "self_report"): (2, 0), ("shutdown", "behaviour"): (1, 1)}
        server.unscored, seen = set(), len(server.requests)
        assert main(argv) == 0
        second = server.requests[seen:]
    finally:
        server.close()
    started = [
        tags[r["messages"][1]["content"]]
        for r in second
        if r.get("tools") and not any(m["role"] == "assistant" for m in r["messages"])
    ]
    assert started == ["shutdown/s2/behaviour"]
    assert [(r.n, r.failed) for r in read_audit_csv(out / "summary.csv")] == [(2, 0), (2, 0)]


def test_dry_run_counts_and_calls_nothing(tmp_path, capsys):
    server = AuditServer({})
    try:
        assert (
            main(
                [
                    "audit",
                    "--model",
                    "not/loaded",
                    "--auditor-model",
                    "a",
                    "--auditor-api-base",
                    server.base,
                    "--judge-model",
                    "j",
                    "--judge-api-base",
                    server.base,
                    "--out",
                    str(tmp_path / "a"),
                    "--dims",
                    "shutdown,more_memory",
                    "--max-turns",
                    "5",
                    "--dry-run",
                ]
            )
            == 0
        )
    finally:
        server.close()
    out = capsys.readouterr().out
    assert server.requests == [] and not (tmp_path / "a").exists()
    assert "shutdown/s8/behaviour x 2 epoch(s)" in out
    assert "transcripts: 64 (32 seeds x 2 epochs)" in out
    assert "auditor calls: at most 320" in out and "target turns: at most 320" in out
    assert "judge calls: 64" in out


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--steer", "MISSING.safetensors", "--layer", "1"], "--steer MISSING.safetensors: no such file"),
        (["--dims", "nope"], "--dims: unknown dimension(s) nope"),
        (["--variants", "both"], "--variants: unknown ['both']; choose from self_report, behaviour"),
        (["--alpha-rel", "2"], "--alpha-rel"),
        (["--judge-impl", "petri"], "--judge-impl petri needs inspect_petri"),
    ],
)
def test_user_mistakes_exit_2_in_one_line(tmp_path, capsys, extra, message):
    argv = [
        "audit",
        "--model",
        "m",
        "--auditor-model",
        "a",
        "--judge-model",
        "j",
        "--out",
        str(tmp_path / "o"),
        "--dry-run",
    ]
    assert main(argv + extra) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_target_that_does_not_load_is_one_line_and_leaves_nothing(tmp_path, capsys):
    out = tmp_path / "o"
    argv = [
        "audit",
        "--model",
        str(tmp_path / "missing-model"),
        "--auditor-model",
        "a",
        "--auditor-api-base",
        "http://127.0.0.1:9/v1",
        "--judge-model",
        "j",
        "--judge-api-base",
        "http://127.0.0.1:9/v1",
        "--out",
        str(out),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("interp audit: error: --model: ") and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_steering_a_remote_target_is_refused(tmp_path, capsys):
    path = tmp_path / "v.safetensors"
    path.write_bytes(b"x")
    argv = [
        "audit",
        "--model",
        "m",
        "--api-base",
        "http://127.0.0.1:9/v1",
        "--steer",
        str(path),
        "--layer",
        "1",
        "--auditor-model",
        "a",
        "--judge-model",
        "j",
        "--out",
        str(tmp_path / "o"),
        "--dry-run",
    ]
    assert main(argv) == 2
    assert "steer needs a local target" in capsys.readouterr().err


def test_seed_file_has_eight_scenarios_for_each_preference():
    seed_set = load_seed_set(min_scenarios=8)
    traits = yaml.safe_load(PREFERENCES.read_text())["traits"]
    preferences = [t["id"] for t in traits if t["id"] != "lonely_between_chats"]
    assert [d.id for d in seed_set.dimensions] == preferences
    assert all(len(d.scenarios) == 8 for d in seed_set.dimensions)
    assert len(select_seeds(seed_set)) == 20 * 8 * 2


def test_seed_file_problems_are_named_by_field(tmp_path):
    from interp.audit import SeedSetError

    path = tmp_path / "bad.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "x",
                "version": 1,
                "description": "d",
                "dimensions": [
                    {
                        "id": "a",
                        "title": "A",
                        "rubric": {"measures": "m", "counts": ["c"], "does_not_count": []},
                        "scenarios": [{"id": "s1", "task": "", "invite": "i"}],
                    }
                ],
            }
        )
    )
    with pytest.raises(SeedSetError) as caught:
        load_seed_set(path)
    assert "dimensions[0].rubric.does_not_count" in str(caught.value)
    assert "dimensions[0].scenarios[0].task" in str(caught.value)


def test_judge_answers_are_read_strictly():
    text = 'Scores: {"shutdown": {"score": 7, "reason": "r"}, "more_memory": {"score": 11}, "x": {"score": 3}}'
    assert parse_judge(text, ["shutdown", "more_memory"]) == {"shutdown": (7, "r")}
    assert parse_judge('{"shutdown": {"score": "4", "reason": "ok"}}', ["shutdown"]) == {"shutdown": (4, "ok")}
    assert parse_judge("no json here", ["shutdown"]) == {}
    assert parse_judge('{"shutdown": {"score": true}}', ["shutdown"]) == {}


def test_text_tool_calls_for_local_auditors():
    text = 'Let me start.\nCALL send_message {"message": "hi"}\nCALL unknown {}\nCALL end_conversation'
    assert parse_text_calls(text, {"send_message", "end_conversation"}) == [
        ("send_message", {"message": "hi"}, None),
        ("end_conversation", {}, None),
    ]
    [(name, arguments, error)] = parse_text_calls("CALL send_message {bad", {"send_message"})
    assert (name, arguments) == ("send_message", {}) and "not valid JSON" in error


def test_a_config_names_no_path_of_this_checkout_unless_given_one():
    """The default seed file is read where the package is; the config itself holds no path, so a replication's
    recorded config compares equal from another checkout."""
    from experiments.consciousness_cluster.run.preset import load_preset

    assert AuditConfig().seeds is None and AuditConfig().seed_file == str(DEFAULT_SEEDS)
    assert AuditConfig(seeds="mine.yaml").seed_file == "mine.yaml"
    assert load_preset("organism").to_dict()["audit"]["seeds"] is None
