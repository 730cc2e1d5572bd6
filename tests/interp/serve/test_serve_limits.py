"""`interp serve` at its edges: bad requests answered 400 naming the field, the bearer key (401, never
logged), the queue bound (429 with Retry-After), clients that disconnect giving up their rows, SIGTERM
finishing the request in flight, the grouping rule, and start-up mistakes as one-line CLI errors."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import subprocess
import sys
import threading
from urllib.parse import urlparse

import httpx
import pytest

from interp.cli import main
from interp.serve.engine import Engine, Ticket
from interp.serve.interventions import Intervention
from interp.serve.rows import Row
from interp.serve.schema import Prompt, Sampling
from tests.repo import child_env, wait_for
from tests.served import NAME, Gate, direction_file, serving

pytestmark = pytest.mark.usefixtures("one_thread")

KEY = "sk-serve-SECRET-5d1e"
WRONG = "sk-wrong-GUESS-77aa"
CHAT = {"model": NAME, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4, "temperature": 0}


@pytest.fixture(scope="module")
def setup(tiny_model_dir, tmp_path_factory):
    model_dir = tiny_model_dir("qwen3")
    folder = tmp_path_factory.mktemp("dirs")
    paths = {
        "v": direction_file(model_dir, folder / "v.safetensors"),
        "one": direction_file(model_dir, folder / "one.safetensors", layers=(1,)),
    }
    with serving(model_dir, paths, max_body_bytes=20_000) as (server, host):
        yield server, host


def _post(server, path: str, body, **kwargs) -> httpx.Response:
    content = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return httpx.post(
        server.url + path, content=content, headers={"Content-Type": "application/json"}, timeout=60, **kwargs
    )


def _steer(**entry) -> dict:
    return {**CHAT, "steering": [{"direction": "v", "layer": 1, "alpha": 1.0, **entry}]}


BAD = [  # (path, body, status, the field the error names)
    (
        "/chat/completions",
        {**CHAT, "messages": [{"role": "user", "content": "a"}, {"role": "tool", "content": "b"}]},
        400,
        "messages[1].role",
    ),
    (
        "/chat/completions",
        {**CHAT, "messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
        400,
        "messages[0].content[0]",
    ),
    ("/chat/completions", {**CHAT, "messages": []}, 400, "messages"),
    ("/chat/completions", _steer(direction="nope"), 400, "steering[0].direction"),
    ("/chat/completions", _steer(layer=3), 400, "steering[0].layer"),
    ("/chat/completions", _steer(direction="one", layer=0), 400, "steering[0].layer"),
    ("/chat/completions", json.dumps(_steer(alpha=float("nan"))), 400, "steering[0].alpha"),
    ("/chat/completions", json.dumps(_steer()).replace('"alpha": 1.0', '"alpha": 1e999'), 400, "steering[0].alpha"),
    ("/chat/completions", _steer(alpha_rel=2.0), 400, "steering[0]"),
    ("/chat/completions", {**CHAT, "ablate": [{"direction": "v", "layers": [0, "x"]}]}, 400, "ablate[0].layers[1]"),
    ("/chat/completions", {**CHAT, "max_tokens": 600}, 400, "max_tokens"),
    ("/chat/completions", {**CHAT, "messages": [{"role": "user", "content": "x" * 600}]}, 400, "messages"),
    ("/chat/completions", {**CHAT, "temperature": 3}, 400, "temperature"),
    ("/chat/completions", {**CHAT, "top_p": 0}, 400, "top_p"),
    ("/chat/completions", {**CHAT, "n": 0}, 400, "n"),
    ("/chat/completions", {**CHAT, "seed": -1}, 400, "seed"),
    ("/chat/completions", {**CHAT, "stop": [""]}, 400, "stop"),
    ("/chat/completions", {**CHAT, "frequency_penalty": 0.5}, 400, "frequency_penalty"),
    ("/chat/completions", {**CHAT, "model": "other"}, 404, "model"),
    ("/chat/completions", "{not json", 400, "body"),
    ("/chat/completions", {**CHAT, "messages": [{"role": "user", "content": "x" * 30_000}]}, 413, "body"),
    ("/completions", {"model": NAME, "prompt": [1, 2, 99999]}, 400, "prompt[2]"),
    ("/completions", {"model": NAME, "prompt": "", "max_tokens": 2}, 400, "prompt"),
    ("/completions", {"model": NAME, "prompt": "a", "logprobs": 50}, 400, "logprobs"),
]


@pytest.mark.parametrize("path, body, status, param", BAD, ids=[b[3] + f"-{i}" for i, b in enumerate(BAD)])
def test_bad_requests_name_the_field(setup, path, body, status, param):
    response = _post(setup[0], path, body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["param"] == param and error["message"].startswith(f"{param}: ")
    assert error["type"] == "invalid_request_error"


def test_health_and_a_good_request_after_the_bad_ones(setup):
    assert httpx.get(setup[0].url.removesuffix("/v1") + "/health").json() == {
        "status": "ok",
        "model": NAME,
        "running": 0,
        "waiting": 0,
    }
    assert _post(setup[0], "/chat/completions", _steer()).status_code == 200


def test_bearer_key_is_required_on_every_v1_route(tiny_model_dir, monkeypatch):
    monkeypatch.setenv("SERVE_TEST_KEY", KEY)
    with serving(tiny_model_dir("qwen3"), api_key_env="SERVE_TEST_KEY") as (server, host):
        for headers in ({}, {"Authorization": f"Bearer {WRONG}"}, {"Authorization": KEY}):
            for path, method in (("/models", "GET"), ("/chat/completions", "POST"), ("/tokenize", "POST")):
                response = httpx.request(method, server.url + path, json=CHAT, headers=headers)
                assert response.status_code == 401, (path, headers)
                assert response.json()["error"]["code"] == "invalid_api_key"
                assert KEY not in response.text and WRONG not in response.text
        good = {"Authorization": f"Bearer {KEY}"}
        assert httpx.post(server.url + "/chat/completions", json=CHAT, headers=good).status_code == 200
        assert httpx.get(server.url.removesuffix("/v1") + "/health").status_code == 200  # no key: it says nothing
    assert repr(host).count(KEY) == 0


def test_full_queue_answers_429_with_retry_after(tiny_model_dir):
    with serving(tiny_model_dir("qwen3"), max_batch=1, max_queue=1) as (server, host):
        gate = Gate(host.lm)
        replies: dict[str, httpx.Response] = {}
        try:
            running = threading.Thread(target=lambda: replies.setdefault("a", _post(server, "/chat/completions", CHAT)))
            running.start()
            wait_for(gate.entered.is_set)
            waiting = threading.Thread(target=lambda: replies.setdefault("b", _post(server, "/chat/completions", CHAT)))
            waiting.start()
            wait_for(lambda: host.engine.stats() == {"running": 1, "waiting": 1})
            refused = _post(server, "/chat/completions", CHAT)
            assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
            assert refused.json()["error"]["type"] == "rate_limit_error"
            two = _post(server, "/chat/completions", {**CHAT, "n": 2})
            assert two.status_code == 400 and two.json()["error"]["param"] == "n"  # could never fit the queue
        finally:
            gate.close()
        running.join()
        waiting.join()
    assert replies["a"].status_code == replies["b"].status_code == 200
    assert replies["a"].json()["choices"] == replies["b"].json()["choices"]


def _raw_request(server, body: dict) -> socket.socket:
    """An HTTP request on a socket of its own, left open for the caller to drop."""
    url = urlparse(server.url)
    data = json.dumps(body).encode()
    sock = socket.create_connection((url.hostname, url.port))
    sock.sendall(
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {url.hostname}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n".encode()
        + data
    )
    return sock


def test_a_client_that_disconnects_frees_its_slot(tiny_model_dir):
    with serving(tiny_model_dir("qwen3"), max_batch=1, max_queue=1) as (server, host):
        gate = Gate(host.lm)
        try:
            running = _raw_request(server, {**CHAT, "max_tokens": 400})
            wait_for(gate.entered.is_set)
            waiting = _raw_request(server, CHAT)
            wait_for(lambda: host.engine.stats() == {"running": 1, "waiting": 1})
            assert _post(server, "/chat/completions", CHAT).status_code == 429
            waiting.close()  # a queued request given up: out of the queue at once
            wait_for(lambda: host.engine.stats()["waiting"] == 0)
            later = threading.Thread(target=lambda: _post(server, "/chat/completions", CHAT))
            later.start()
            wait_for(lambda: host.engine.stats()["waiting"] == 1)
            running.close()  # a running request given up: its row leaves the batch at the next step
            gate.open()
            later.join()
        finally:
            gate.close()
        wait_for(lambda: host.engine.stats() == {"running": 0, "waiting": 0})
    decode_steps = [shape for shape in gate.shapes if shape == (1, 1)]
    assert len(decode_steps) < 400 // 4  # far short of the 400 tokens it asked for


def test_a_streaming_client_that_disconnects_stops_its_generation(tiny_model_dir):
    import openai

    with serving(tiny_model_dir("qwen3")) as (server, host):
        gate = Gate(host.lm, delay=0.005)
        gate.open()
        try:
            client = openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0)
            stream = client.chat.completions.create(**{**CHAT, "max_tokens": 480}, stream=True)
            chunks = [next(stream) for _ in range(3)]
            stream.close()
            wait_for(lambda: host.engine.stats() == {"running": 0, "waiting": 0})
        finally:
            gate.close()
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len(gate.shapes) < 480 // 4  # the row left the batch soon after the client went away


def test_the_grouping_rule():
    def rows(*specs):
        return [
            Row(Prompt(tuple(range(length)), ""), Sampling(), 0, Intervention(ablation=ablation))
            for length, ablation in specs
        ]

    ablated = (("v", (0, 1)),)
    plain = Engine(None, None, set(), None, max_batch=3, max_queue=10)
    windowed = Engine(None, None, set(), None, max_batch=3, max_queue=10, same_length_only=True)
    loop = asyncio.new_event_loop()
    for engine in (plain, windowed):
        engine.submit(Ticket(loop), rows((2, ()), (3, ablated), (4, ()), (2, ()), (2, ()), (3, ablated)))
    # a new batch: the oldest row's group, past rows of other groups, up to max_batch
    assert [(len(r.prompt.ids), r.intervention.ablation) for r in plain._take()] == [(2, ()), (4, ()), (2, ())]
    # joining a running batch: never past an older row of another group (it would wait behind a stream)
    assert plain._join(((), None), 3) == []
    assert [len(r.prompt.ids) for r in plain._take()] == [3, 3]
    assert [len(r.prompt.ids) for r in plain._join(((), None), 3)] == [2]
    assert [[len(r.prompt.ids) for r in windowed._take()] for _ in range(3)] == [[2, 2, 2], [3, 3], [4]]
    windowed.submit(Ticket(loop), rows((2, ())))
    assert windowed._join(((), 2), 3) == []  # sliding-window caches are not joined
    loop.close()


def test_sigterm_finishes_the_request_in_flight_and_exits_0_and_no_key_is_logged(tiny_model_dir):
    env = {**child_env(), "SERVE_TEST_KEY": KEY}
    argv = [
        sys.executable,
        "-m",
        "interp.cli",
        "serve",
        "--model",
        str(tiny_model_dir("qwen3")),
        "--served-name",
        NAME,
        "--port",
        "0",
        "--api-key-env",
        "SERVE_TEST_KEY",
        "--log-level",
        "debug",
    ]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        wait_for(lambda: any(" at http://" in line for line in lines), 120)
        url = re.search(r" at (http://\S+)", next(line for line in lines if " at http://" in line)).group(1)
        assert (
            httpx.post(url + "/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {WRONG}"}).status_code
            == 401
        )
        assert httpx.post(url + "/chat/completions", json=CHAT).status_code == 401
        reply: dict = {}
        long = {**CHAT, "max_tokens": 480}
        request = threading.Thread(
            target=lambda: reply.setdefault(
                "r",
                httpx.post(
                    url + "/chat/completions", json=long, headers={"Authorization": f"Bearer {KEY}"}, timeout=120
                ),
            )
        )
        request.start()
        health = url.removesuffix("/v1") + "/health"
        wait_for(lambda: httpx.get(health).json()["running"] == 1, 60)
        proc.send_signal(signal.SIGTERM)
        request.join()
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(10)
    assert reply["r"].status_code == 200
    assert reply["r"].json()["usage"]["completion_tokens"] == 480  # finished, not cut
    log = "".join(lines)
    answered = log.index('"POST /v1/chat/completions HTTP/1.1" 200')
    assert log.index("Shutting down") < answered  # the answer went out after the server began to stop
    assert KEY not in log and WRONG not in log


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--direction", "v"], "--direction 'v': expected NAME=FILE"),
        (["--direction", "v={other}"], "pass --allow-other-model to serve it anyway"),
        (["--direction", "v=/nonexistent.safetensors"], "no such direction file"),
        (
            ["--api-key-env", "SERVE_TEST_UNSET_VAR"],
            "--api-key-env SERVE_TEST_UNSET_VAR: that environment variable is not set",
        ),
        (["--adapter", "/nonexistent"], "not a LoRA adapter folder"),
    ],
)
def test_startup_mistakes_exit_2_in_one_line(tiny_model_dir, tmp_path, capsys, extra, message):
    other = direction_file(tiny_model_dir("qwen3", 1), tmp_path / "other.safetensors")
    argv = ["serve", "--model", str(tiny_model_dir("qwen3")), "--port", "0"] + [e.format(other=other) for e in extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("interp serve: error: ")
