"""Request bodies in the OpenAI wire format, checked and turned into typed jobs.

Every problem is a `RequestError` naming the field (`messages[1].role`, `steering[0].layer`,
`max_tokens`). Fields the server cannot honour (penalties, logit bias, tools, JSON mode, suffix,
best_of) are refused when set to anything but their neutral value, never silently ignored; other
unknown fields (`user`, `metadata`, ...) are ignored as OpenAI's own API ignores them.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from typing import Any, Literal

from interp.serve.codec import Codec
from interp.serve.errors import RequestError
from interp.serve.interventions import DirectionTable, Intervention, parse_intervention

__all__ = ["Job", "Prompt", "RequestContext", "Sampling", "parse_chat", "parse_completion", "parse_tokenize"]

_ROLES = ("system", "user", "assistant")
_MAX_LOGPROBS = 20
_MAX_STOPS = 16
_MAX_SEED = 2**63
_NEUTRAL: dict[str, tuple] = {
    "frequency_penalty": (None, 0, 0.0),
    "presence_penalty": (None, 0, 0.0),
    "repetition_penalty": (None, 1, 1.0),
    "logit_bias": (None, {}),
    "tools": (None, []),
    "functions": (None, []),
    "tool_choice": (None, "none", "auto"),
    "response_format": (None, {"type": "text"}),
    "suffix": (None, ""),
    "best_of": (None, 1),
}


@dataclass(frozen=True)
class Sampling:
    """How each row of a job is sampled."""

    temperature: float = 1.0
    """0: greedy; else the softmax of logits / temperature"""
    top_p: float = 1.0
    """nucleus: the smallest set of tokens whose probability reaches top_p"""
    max_tokens: int = 16
    """answer tokens at most"""
    stop: tuple[str, ...] = ()
    """strings that end the answer (left out of it)"""
    seed: int | None = None
    """choice j draws with seed + j (None: a random seed per choice)"""
    logprobs: int | None = None
    """None: no log-probs; k: each token's log-prob and the k most likely alternatives"""
    echo: bool = False
    """completions: the prompt (and its tokens' log-probs) before the answer"""


@dataclass(frozen=True)
class Prompt:
    ids: tuple[int, ...]
    """the tokens the model reads"""
    text: str
    """the rendered chat or the completion prompt: what echo gives back and alpha_rel is measured over"""


@dataclass(frozen=True)
class Job:
    """One request, checked: its prompts, each answered `n` times, and what it does to the model."""

    kind: Literal["chat", "completion"]
    prompts: tuple[Prompt, ...]
    n: int
    sampling: Sampling
    intervention: Intervention
    stream: bool = False
    include_usage: bool = False

    def seeds(self) -> list[int]:
        """The seed of each choice of a prompt."""
        if self.sampling.seed is None:
            return [secrets.randbits(63) for _ in range(self.n)]
        return [(self.sampling.seed + j) % _MAX_SEED for j in range(self.n)]


@dataclass(frozen=True)
class RequestContext:
    """What validation needs to know about the server."""

    name: str
    codec: Codec
    directions: DirectionTable
    context_length: int | None
    max_rows: int
    """rows one request may ask for (prompts x n): the queue's length"""


def _int(body: dict, key: str, default: Any, low: int, high: int | None = None) -> Any:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        span = f"{low}..{high}" if high is not None else f">= {low}"
        raise RequestError(f"expected an integer {span}, got {value!r}", key)
    return value


def _number(body: dict, key: str, default: float, low: float, high: float, low_open: bool = False) -> float:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RequestError(f"expected a finite number, got {value!r}", key)
    if value < low or value > high or (low_open and value == low):
        raise RequestError(f"{value} is out of range; use {'(' if low_open else '['}{low}, {high}]", key)
    return float(value)


def _bool(body: dict, key: str, default: bool = False) -> bool:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise RequestError(f"expected true or false, got {value!r}", key)
    return value


def _check_common(body: Any, ctx: RequestContext) -> dict:
    if not isinstance(body, dict):
        raise RequestError("the body must be a JSON object", "body")
    if body.get("model") != ctx.name:
        raise RequestError(
            f"model {body.get('model')!r} is not served here; this server serves {ctx.name!r}",
            "model",
            status=404,
            code="model_not_found",
        )
    for key, neutral in _NEUTRAL.items():
        if key in body and body[key] not in neutral:
            raise RequestError("not supported by interp serve; leave it out", key)
    return body


def _stops(body: dict) -> tuple[str, ...]:
    stop = body.get("stop")
    stops = [] if stop is None else [stop] if isinstance(stop, str) else stop
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops) or len(stops) > _MAX_STOPS:
        raise RequestError(f"expected a non-empty string or a list of at most {_MAX_STOPS} of them", "stop")
    return tuple(stops)


def _stream(body: dict) -> tuple[bool, bool]:
    stream = _bool(body, "stream")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise RequestError("expected an object", "stream_options")
    return stream, stream and _bool(options, "include_usage")


def _budget(ctx: RequestContext, prompts: list[Prompt], max_tokens: int | None, prompt_field: str) -> int:
    """max_tokens, defaulted to what the context leaves; too many tokens in all is a RequestError."""
    longest = max(len(p.ids) for p in prompts)
    context = ctx.context_length
    if context is not None and longest > context - (0 if max_tokens == 0 else 1):
        raise RequestError(
            f"the prompt has {longest} tokens; this model's context is {context}",
            prompt_field,
            code="context_length_exceeded",
        )
    if max_tokens is None:
        return context - longest if context is not None else 256
    if context is not None and longest + max_tokens > context:
        raise RequestError(
            f"{longest} prompt tokens + max_tokens {max_tokens} exceed this model's context of "
            f"{context} tokens; ask for at most {context - longest}",
            "max_tokens",
            code="context_length_exceeded",
        )
    return max_tokens


def _rows(ctx: RequestContext, n: int, prompts: int) -> None:
    if n * prompts > ctx.max_rows:
        raise RequestError(
            f"{prompts} prompt(s) x n {n} is {n * prompts} answers, more than this server's queue "
            f"of {ctx.max_rows}; ask for fewer",
            "n",
        )


def _content(message: dict, where: str) -> str:
    content = message.get("content")
    if content is None and message["role"] == "assistant":
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: text only
        for j, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise RequestError(
                    "only text parts ({'type': 'text', 'text': ...}) are supported", f"{where}.content[{j}]"
                )
        return "".join(part["text"] for part in content)
    raise RequestError("expected a string or a list of text parts", f"{where}.content")


def parse_messages(value: Any) -> list[dict[str, str]]:
    """`messages` as {role, content} with roles system/user/assistant ("developer" read as system)."""
    if not isinstance(value, list) or not value:
        raise RequestError("expected a non-empty list of {role, content} objects", "messages")
    chat = []
    for i, message in enumerate(value):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise RequestError("expected an object with role and content", where)
        role = "system" if message.get("role") == "developer" else message.get("role")
        if role not in _ROLES:
            raise RequestError(f"{message.get('role')!r} is not one of {', '.join(_ROLES)}", f"{where}.role")
        chat.append({"role": role, "content": _content({**message, "role": role}, where)})
    return chat


def _sampling(body: dict, max_tokens: int, logprobs: int | None, echo: bool = False) -> Sampling:
    return Sampling(
        temperature=_number(body, "temperature", 1.0, 0.0, 2.0),
        top_p=_number(body, "top_p", 1.0, 0.0, 1.0, low_open=True),
        max_tokens=max_tokens,
        stop=_stops(body),
        seed=_int(body, "seed", None, 0, _MAX_SEED - 1),
        logprobs=logprobs,
        echo=echo,
    )


def parse_chat(body: Any, ctx: RequestContext) -> Job:
    """A `/v1/chat/completions` body: the chat through the model's template, then the answer."""
    body = _check_common(body, ctx)
    text = ctx.codec.render_chat(parse_messages(body.get("messages")))
    prompt = Prompt(tuple(ctx.codec.encode(text, add_special_tokens=False)), text)
    n = _int(body, "n", 1, 1)
    _rows(ctx, n, 1)
    asked = _int(body, "max_completion_tokens", None, 1)
    max_tokens = _budget(ctx, [prompt], asked if asked is not None else _int(body, "max_tokens", None, 1), "messages")
    top = _int(body, "top_logprobs", None, 0, _MAX_LOGPROBS)
    if top is not None and not _bool(body, "logprobs"):
        raise RequestError("needs logprobs: true", "top_logprobs")
    logprobs = (top or 0) if _bool(body, "logprobs") else None
    stream, usage = _stream(body)
    return Job(
        "chat",
        (prompt,),
        n,
        _sampling(body, max_tokens, logprobs),
        parse_intervention(body, ctx.directions),
        stream,
        usage,
    )


def _token_ids(value: list, ctx: RequestContext, where: str) -> tuple[int, ...]:
    for i, token in enumerate(value):
        if isinstance(token, bool) or not isinstance(token, int) or not 0 <= token < ctx.codec.vocab_size:
            raise RequestError(
                f"token {token!r} is not an id of this model's vocabulary (0..{ctx.codec.vocab_size - 1})",
                f"{where}[{i}]",
            )
    return tuple(value)


def _prompts(body: dict, ctx: RequestContext) -> list[Prompt]:
    """`prompt`: a string, a list of strings, a list of token ids, or a list of such lists."""
    value = body.get("prompt")
    special = _bool(body, "add_special_tokens", True)
    if isinstance(value, str) or (isinstance(value, list) and value and all(isinstance(v, int) for v in value)):
        value = [value]
    if not isinstance(value, list) or not value:
        raise RequestError("expected a string, a list of strings, or token ids", "prompt")
    prompts = []
    for i, item in enumerate(value):
        where = "prompt" if len(value) == 1 else f"prompt[{i}]"
        if isinstance(item, str):
            ids = tuple(ctx.codec.encode(item, add_special_tokens=special))
            text = item
        elif isinstance(item, list):
            ids = _token_ids(item, ctx, where)
            text = ctx.codec.decode(ids, skip_special_tokens=False)
        else:
            raise RequestError("expected a string or a list of token ids", where)
        if not ids:
            raise RequestError("the prompt has no tokens; give at least one", where)
        prompts.append(Prompt(ids, text))
    return prompts


def parse_completion(body: Any, ctx: RequestContext) -> Job:
    """A `/v1/completions` body: raw prompts (no chat template); `echo` with `logprobs` scores a prompt."""
    body = _check_common(body, ctx)
    prompts = _prompts(body, ctx)
    n = _int(body, "n", 1, 1)
    _rows(ctx, n, len(prompts))
    echo = _bool(body, "echo")
    max_tokens = _budget(ctx, prompts, _int(body, "max_tokens", 16, 0), "prompt")
    logprobs = _int(body, "logprobs", None, 0, _MAX_LOGPROBS)
    stream, usage = _stream(body)
    return Job(
        "completion",
        tuple(prompts),
        n,
        _sampling(body, max_tokens, logprobs, echo),
        parse_intervention(body, ctx.directions),
        stream,
        usage,
    )


def parse_tokenize(body: Any, ctx: RequestContext) -> dict:
    """`/tokenize` (vLLM's shape): {"prompt": text} or {"messages": [...]} to token ids; for messages the
    rendered text comes back as `prompt` too. Special tokens: added to a prompt, not to a rendered chat
    (it holds its own), unless `add_special_tokens` says otherwise."""
    if not isinstance(body, dict):
        raise RequestError("the body must be a JSON object", "body")
    if body.get("model") not in (None, ctx.name):
        raise RequestError(
            f"model {body.get('model')!r} is not served here; this server serves {ctx.name!r}",
            "model",
            status=404,
            code="model_not_found",
        )
    if ("prompt" in body) == ("messages" in body):
        raise RequestError("give exactly one of prompt and messages", "body")
    if "messages" in body:
        text = ctx.codec.render_chat(parse_messages(body["messages"]), _bool(body, "add_generation_prompt", True))
        special = _bool(body, "add_special_tokens", False)
    else:
        text = body["prompt"]
        if not isinstance(text, str):
            raise RequestError("expected a string", "prompt")
        special = _bool(body, "add_special_tokens", True)
    tokens = ctx.codec.encode(text, add_special_tokens=special)
    return {"count": len(tokens), "max_model_len": ctx.context_length, "tokens": tokens, "prompt": text}
