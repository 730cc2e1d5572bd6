"""An OpenAI-compatible chat-completions client on the standard library, and the sampler on it.

Retries with exponential backoff and jitter on 429, 5xx, timeouts, dropped connections and
malformed bodies, honouring Retry-After. The API key is read from an environment variable at
request time and never stored on the object, in errors or in any artefact: a server's error body
that echoes it (or any bearer token) is shown with the key replaced by `[redacted]`.
"""

from __future__ import annotations

import json
import os
import queue
import random
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

from interp.evaluation.sampling import Chat, sample_seed

__all__ = ["APIError", "ChatAPIClient", "OpenAISampler", "redact", "thread_map"]

_RETRY_STATUS = {408, 409, 429} | set(range(500, 600))
_BEARER = re.compile(r"(?i)(bearer\s+)(?!\[redacted\])[^\s\"',;}\]]+")


def redact(text: str, *secrets: str | None) -> str:
    """`text` with each secret, and any bearer token, replaced by `[redacted]`."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return _BEARER.sub(r"\1[redacted]", text)


def thread_map(fn: Callable[[Any], Any], items: Iterable[Any], workers: int) -> list[Any]:
    """`[fn(x) for x in items]` on `workers` threads, in order; the first error is raised.

    The threads are daemons and the caller waits in short joins, so Ctrl-C stops the process at
    once instead of waiting for the requests in flight (their answers are not yet on disk anyway).
    """
    items = list(items)
    results: list[Any] = [None] * len(items)
    failures: list[BaseException] = []
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(len(items)):
        todo.put(index)

    def work() -> None:
        while not failures:
            try:
                index = todo.get_nowait()
            except queue.Empty:
                return
            try:
                results[index] = fn(items[index])
            except BaseException as err:  # handed to the caller's thread
                failures.append(err)

    threads = [threading.Thread(target=work, daemon=True) for _ in range(max(1, min(workers, len(items))))]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)
    if failures:
        raise failures[0]
    return results


class APIError(RuntimeError):
    """A request failed for good (after retries, or with a status that retrying cannot fix)."""


class ChatAPIClient:
    """POSTs to `{api_base}/chat/completions` and returns the first choice of a well-formed reply
    (`post` reaches the server's other JSON endpoints with the same retries)."""

    def __init__(
        self,
        api_base: str,
        model: str,
        api_key_env: str = "OPENAI_API_KEY",
        max_retries: int = 5,
        timeout: float = 60.0,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
    ):
        if max_retries < 0 or timeout <= 0:
            raise ValueError("max_retries must be >= 0 and timeout > 0")
        self.api_base = api_base.rstrip("/")
        self.url = self.api_base + "/chat/completions"
        self.model, self.api_key_env = model, api_key_env
        self.max_retries, self.timeout = max_retries, timeout
        self.backoff_base, self.backoff_max = backoff_base, backoff_max

    def complete(self, messages: Chat, **params: Any) -> dict:
        """The first choice (`message`, `logprobs`, ...) of one chat completion."""
        return self.reply(messages, **params)["choices"][0]

    def reply(self, messages: list[dict[str, Any]], **params: Any) -> dict:
        """The whole reply of one chat completion (`choices`, `usage`, ...), its first choice checked."""
        return self.post("chat/completions", {"model": self.model, "messages": messages, **params}, _first_choice)

    def post(self, path: str, payload: dict[str, Any], check: Callable[[Any], Any] | None = None) -> Any:
        """The JSON reply of `{api_base}/{path}` to `payload`, retried as the class docstring says; `check`
        raises ValueError on a reply that is malformed (retried too)."""
        url, body = f"{self.api_base}/{path}", json.dumps(payload).encode()
        key = os.environ.get(self.api_key_env)
        last = "no attempt made"
        for attempt in range(self.max_retries + 1):
            retry_after = None
            try:
                reply = self._post(url, body)
                if check is not None:
                    check(reply)
                return reply
            except urllib.error.HTTPError as err:
                detail = redact(err.read().decode("utf-8", "replace"), key)[:300]
                last = f"HTTP {err.code}: {detail}"
                if err.code not in _RETRY_STATUS:
                    raise APIError(redact(f"{url} (model {self.model}) refused the request: {last}", key)) from None
                retry_after = _parse_retry_after(err.headers.get("Retry-After"))
            except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
                last = f"connection problem: {getattr(err, 'reason', err)}"
            except ValueError as err:  # malformed JSON or missing fields
                last = f"malformed response: {err}"
            if attempt < self.max_retries:
                time.sleep(self._delay(attempt, retry_after))
        raise APIError(
            redact(f"{url} (model {self.model}) failed after {self.max_retries + 1} attempts; last: {last}", key)
        )

    def _post(self, url: str, body: bytes) -> Any:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            raw = response.read()
        try:
            return json.loads(raw)
        except json.JSONDecodeError as err:
            raise ValueError(f"body is not JSON ({raw[:80]!r})") from err

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.backoff_max)
        base = min(self.backoff_base * 2**attempt, self.backoff_max)
        return base * (0.5 + random.random() / 2)  # jitter spreads out clients that failed together


def _parse_retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _first_choice(reply: Any) -> dict:
    try:
        choice = reply["choices"][0]
        content = choice["message"]["content"]
    except (KeyError, IndexError, TypeError) as err:
        raise ValueError(f"no choices[0].message.content in the reply ({str(reply)[:80]})") from err
    # a reply that only calls tools may carry no text (the audits' auditor asks for tools)
    if not isinstance(content, str) and not (content is None and choice["message"].get("tool_calls")):
        raise ValueError("choices[0].message.content is not a string")
    return choice


class OpenAISampler:
    """Samples from any OpenAI-compatible server (OpenAI, vLLM serve, llama.cpp, `interp serve`, ...) with a
    thread pool. `extra_body` goes into every request as it is (e.g. `interp serve`'s `steering`)."""

    def __init__(
        self,
        api_base: str,
        model: str,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 8,
        max_retries: int = 5,
        timeout: float = 60.0,
        backoff_base: float = 1.0,
        extra_body: dict[str, Any] | None = None,
    ):
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        self.client = ChatAPIClient(api_base, model, api_key_env, max_retries, timeout, backoff_base)
        self.concurrency, self.name, self.extra_body = concurrency, model, dict(extra_body or {})

    @property
    def chunk_size(self) -> int:
        return self.concurrency

    def sample(
        self,
        prompts: list[Chat],
        n: int,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_tokens: int = 256,
        seed: int = 0,
    ) -> list[list[str]]:
        jobs = [(p, k) for p in prompts for k in range(n)]

        def one(job):
            prompt, k = job
            choice = self.client.complete(
                prompt,
                temperature=temperature,
                top_p=top_p,
                max_tokens=max_tokens,
                seed=sample_seed(seed, prompt, k),
                n=1,
                **self.extra_body,
            )
            return choice["message"]["content"]

        texts = thread_map(one, jobs, self.concurrency)
        return [texts[i * n : (i + 1) * n] for i in range(len(prompts))]
