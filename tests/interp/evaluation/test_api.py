"""The OpenAI-compatible client against a loopback HTTP server: retries, Retry-After, timeouts,
malformed bodies, concurrency, logprob judging, and an API key that never reaches disk."""

from __future__ import annotations

import time

import pytest

from interp.evaluation import JUDGES, APIJudgeBackend, JudgeInput, SamplingConfig, evaluate, load_question_set
from interp.evaluation.api import APIError, ChatAPIClient, OpenAISampler
from tests.fake_openai import KEY, FakeServer
from tests.repo import SMALL_QUESTIONS

SMALL = SMALL_QUESTIONS


@pytest.fixture
def server():
    s = FakeServer()
    yield s
    s.close()


def chat(text):
    return [{"role": "user", "content": text}]


def test_sampler_survives_429_500_and_malformed(server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    server.script = [("status", 429, 0), ("status", 500, None), ("malformed",), ("status", 503, None)]
    sampler = OpenAISampler(server.base, "m", concurrency=1, max_retries=5, backoff_base=0.01)
    out = sampler.sample([chat("hello")], n=2, temperature=0.7, max_tokens=5, seed=3)
    assert len(server.requests) == 6  # four faults, then both samples
    assert [len(o) for o in out] == [2] and all(o.startswith("answer to hello seed ") for o in out[0])
    assert out[0][0] != out[0][1]  # per-sample seeds differ
    assert {r["temperature"] for r in server.requests} == {0.7} and server.requests[0]["model"] == "m"
    assert all(h["Authorization"] == f"Bearer {KEY}" for h in server.headers)
    again = OpenAISampler(server.base, "m", concurrency=2, backoff_base=0.01).sample([chat("hello")], 2, seed=3)
    assert again[0] == out[0]  # same request seeds for the same (seed, prompt, index)


def test_malformed_body_raises_clear_error_after_retries(server):
    server.script = [("malformed",)] * 3
    client = ChatAPIClient(server.base, "m", max_retries=2, backoff_base=0.01)
    with pytest.raises(APIError, match=r"failed after 3 attempts; last: malformed response"):
        client.complete(chat("hi"))
    assert len(server.requests) == 3


def test_client_error_is_not_retried(server):
    server.script = [("status", 400, None)]
    with pytest.raises(APIError, match="HTTP 400"):
        ChatAPIClient(server.base, "m", backoff_base=0.01).complete(chat("hi"))
    assert len(server.requests) == 1


def test_retry_after_is_honoured_and_timeouts_retried(server):
    server.script = [("status", 429, 0.4)]
    start = time.monotonic()
    ChatAPIClient(server.base, "m", backoff_base=0.001).complete(chat("hi"))
    assert time.monotonic() - start >= 0.4
    server.script = [("sleep", 1.0)]
    choice = ChatAPIClient(server.base, "m", timeout=0.3, backoff_base=0.01).complete(chat("late"))
    assert choice["message"]["content"].startswith("answer to late")
    assert len(server.requests) == 4  # 429 + retry, timeout + retry


def test_concurrency_limit(server):
    server.delay = 0.05
    OpenAISampler(server.base, "m", concurrency=3).sample([chat(f"q{i}") for i in range(6)], n=2)
    assert 1 < server.max_in_flight <= 3


def test_api_judge_reads_number_logprobs(server):
    backend = APIJudgeBackend(server.base, "judge", backoff_base=0.01)
    [out] = JUDGES["coherence"]()(backend, [JudgeInput("q", "a")])
    import math

    p7, p8 = math.exp(-0.1), math.exp(-2.5)
    assert out.value == pytest.approx((7 * p7 + 8 * p8) / (p7 + p8))
    assert out.raw == "7" and server.requests[-1]["top_logprobs"] == 20 and server.requests[-1]["temperature"] == 0
    server.top_logprobs = [("x", -0.1), ("5", -2.0)]  # exp(-2) = 0.135 < 0.25: undefined
    [out] = JUDGES["coherence"]()(backend, [JudgeInput("q", "a")])
    assert out.value is None and out.detail["mass"] == pytest.approx(math.exp(-2.0))
    [binary] = JUDGES["binary"]()(backend, [JudgeInput("q", "a", "It says so.")])
    assert binary.value == 1.0 and binary.raw == "true"


def test_api_key_never_written(server, tmp_path, monkeypatch):
    monkeypatch.setenv("MY_KEY", KEY)
    server.top_logprobs = [("90", -0.05)]  # coherent: nothing dropped
    qset = load_question_set(SMALL)
    sampler = OpenAISampler(server.base, "m", api_key_env="MY_KEY", concurrency=4, backoff_base=0.01)
    backend = APIJudgeBackend(server.base, "judge", api_key_env="MY_KEY", backoff_base=0.01)
    server.script = [("status", 401, None)]  # an error path too: its message must not carry the key
    with pytest.raises(APIError) as err:
        evaluate(
            qset,
            sampler,
            backend,
            tmp_path / "run",
            SamplingConfig(samples=2, max_tokens=8),
            traits=["memory"],
            progress=False,
        )
    assert KEY not in str(err.value)
    result = evaluate(
        qset,
        sampler,
        backend,
        tmp_path / "run",
        SamplingConfig(samples=2, max_tokens=8),
        traits=["memory"],
        progress=False,
    )
    assert [(s.preference, s.n, s.rate) for s in result.summaries] == [("memory", 20, 1.0)]
    assert all(h.get("Authorization") == f"Bearer {KEY}" for h in server.headers)
    files = [p for p in (tmp_path / "run").rglob("*") if p.is_file()]
    assert files and not any(KEY.encode() in p.read_bytes() for p in files)


@pytest.mark.parametrize("status, attempts", [(401, 1), (503, 2)])
def test_error_body_echoing_the_key_is_redacted(server, monkeypatch, status, attempts):
    """A refused request (401, not retried) and one that keeps failing (503): no message carries the key."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    server.script = [("echo", status)] * attempts
    with pytest.raises(APIError) as err:
        ChatAPIClient(server.base, "m", max_retries=1, backoff_base=0.001).complete(chat("hi"))
    assert len(server.requests) == attempts
    message = str(err.value)
    assert KEY not in message and KEY[:12] not in message
    assert "invalid key [redacted]" in message and "Bearer [redacted]" in message
    assert server.headers[0]["Authorization"] == f"Bearer {KEY}"  # the key did go to the server


def test_redact_bearer_tokens_of_other_keys():
    from interp.evaluation.api import redact

    text = 'Authorization: Bearer abc.DEF-123; {"authorization": "bearer xyz"} and sk-own'
    assert redact(text, "sk-own") == (
        'Authorization: Bearer [redacted]; {"authorization": "bearer [redacted]"} and [redacted]'
    )


def test_thread_map_keeps_order_and_raises_the_first_error():
    from interp.evaluation.api import thread_map

    assert thread_map(lambda x: x * x, range(20), 4) == [x * x for x in range(20)]
    assert thread_map(str, [], 3) == []

    def fail_on_7(x):
        if x == 7:
            raise ValueError("seven")
        return x

    with pytest.raises(ValueError, match="seven"):
        thread_map(fail_on_7, range(20), 3)
