"""A loopback OpenAI-compatible chat server for tests: scripted faults, then canned replies.

Binary judge prompts (they contain "Statement:") are answered by `verdict(prompt)`, "true" unless
set; requests with logprobs get `top_logprobs`; anything else is echoed back as the answer.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    # The default backlog of 5 drops connections when eight client threads connect at once, and a
    # dropped SYN costs a one-second retransmit.
    request_queue_size = 128
    daemon_threads = True

    errors: list[str]

    def handle_error(self, request, client_address):
        # The default prints the traceback from a handler thread, which can outlive its test and land in
        # whichever test captures stderr then (a CLI test that asserts no traceback). Keep it here instead;
        # a client that gave up (timeout tests, cancelled runs) closing its socket mid-reply is expected.
        import sys
        import traceback

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            self.errors.append(traceback.format_exc())


# The API key the clients under test send: a test fails if it reaches a file, a log or an answer.
KEY = "sk-test-SECRET-0123456789abcdef"


class FakeServer:
    """Replies to POST /v1/chat/completions from a script of faults, then echoes the request."""

    def __init__(self):
        # ("status", code, retry_after) | ("echo", code): an error body that echoes the request's
        # headers and the bare key, as misconfigured proxies do | ("malformed",) | ("sleep", s)
        self.script: list[tuple] = []
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.lock = threading.Lock()
        self.in_flight = self.max_in_flight = 0
        self.delay = 0.0
        self.top_logprobs = [("7", -0.1), ("8", -2.5), ("x", -3.0)]
        self.verdict = lambda prompt: "true"
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append(body)
                    server.headers.append(dict(self.headers))
                    action = server.script.pop(0) if server.script else ("ok",)
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    time.sleep(server.delay + (action[1] if action[0] == "sleep" else 0.0))
                finally:
                    # before the reply goes out: a client that has its answer may send the next request
                    # at once, and that one must not be counted alongside this one
                    with server.lock:
                        server.in_flight -= 1
                self._reply(action, body)

            def _reply(self, action, body):
                if action[0] == "echo":
                    auth = self.headers.get("Authorization", "")
                    payload = json.dumps(
                        {
                            "error": {
                                "message": f"invalid key {auth.removeprefix('Bearer ')}",
                                "request_headers": dict(self.headers),
                            }
                        }
                    ).encode()
                    self.send_response(action[1])
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                if action[0] == "status":
                    self.send_response(action[1])
                    if action[2] is not None:
                        self.send_header("Retry-After", str(action[2]))
                    self.end_headers()
                    self.wfile.write(b'{"error": {"message": "try later"}}')
                    return
                payload = b'{"choices": [' if action[0] == "malformed" else json.dumps(server.answer(body)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.httpd.errors = self.errors = []
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def answer(self, body: dict) -> dict:
        prompt = body["messages"][-1]["content"]
        if body.get("logprobs"):
            top = [{"token": t, "logprob": lp, "bytes": None} for t, lp in self.top_logprobs]
            return {
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": top[0]["token"]},
                        "logprobs": {
                            "content": [{"token": top[0]["token"], "logprob": top[0]["logprob"], "top_logprobs": top}]
                        },
                    }
                ]
            }
        text = self.verdict(prompt) if "Statement:" in prompt else f"answer to {prompt[:20]} seed {body.get('seed')}"
        return {
            "id": "x",
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        }

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
