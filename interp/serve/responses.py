"""Answers in the OpenAI wire format: whole replies and server-sent-event chunks, for chat and completions."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field

from interp.serve.rows import RowUpdate, TokenLogprob
from interp.serve.schema import Job

__all__ = ["Answer", "Reply", "sse"]


@dataclass
class Answer:
    """One choice as its updates arrive."""

    text: str = ""
    tokens: list[TokenLogprob] = field(default_factory=list)
    prompt_tokens: tuple[TokenLogprob, ...] | None = None
    n_tokens: int = 0
    finish_reason: str | None = None

    def add(self, update: RowUpdate) -> None:
        self.text += update.text
        self.tokens += update.tokens
        self.n_tokens = update.n_tokens
        self.finish_reason = update.finish_reason
        if update.prompt_tokens is not None:
            self.prompt_tokens = update.prompt_tokens


def _bytes(text: str) -> list[int]:
    return list(text.encode("utf-8"))


def _chat_logprobs(tokens: list[TokenLogprob] | tuple[TokenLogprob, ...]) -> dict:
    return {
        "content": [
            {
                "token": t.text,
                "logprob": t.logprob,
                "bytes": _bytes(t.text),
                "top_logprobs": [{"token": s, "logprob": lp, "bytes": _bytes(s)} for s, lp in t.top],
            }
            for t in tokens
        ]
    }


def _by_text(top: tuple[tuple[str, float], ...]) -> dict[str, float]:
    """Alternatives keyed by text, most likely first; tokens that decode alike keep the likeliest's log-prob."""
    out: dict[str, float] = {}
    for text, logprob in top:
        out.setdefault(text, logprob)
    return out


def _completion_logprobs(prompt: tuple[TokenLogprob, ...], answer, echo: int) -> dict:
    """The legacy shape; `echo` is the length of the echoed prompt, where the answer's offsets start."""
    tokens = [*prompt, *answer]
    return {
        "tokens": [t.text for t in tokens],
        "token_logprobs": [t.logprob for t in tokens],
        "top_logprobs": [_by_text(t.top) if t.logprob is not None else None for t in tokens],
        "text_offset": [t.offset for t in prompt] + [echo + t.offset for t in answer],
    }


def sse(payload: dict | str) -> str:
    """One server-sent event: `data: <json>` and a blank line."""
    return f"data: {payload if isinstance(payload, str) else json.dumps(payload)}\n\n"


class Reply:
    """The reply to one job: its id, and the shapes chat and completions give their answers."""

    def __init__(self, job: Job, model: str) -> None:
        self.job, self.model = job, model
        self.chat = job.kind == "chat"
        self.id = f"{'chatcmpl' if self.chat else 'cmpl'}-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.prompt_tokens = sum(len(p.ids) for p in job.prompts)

    def _echo(self, index: int) -> str:
        return self.job.prompts[index // self.job.n].text if self.job.sampling.echo else ""

    def _head(self, kind: str) -> dict:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model}

    def usage(self, answers: list[Answer]) -> dict:
        done = sum(a.n_tokens for a in answers)
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": done,
            "total_tokens": self.prompt_tokens + done,
        }

    def whole(self, answers: list[Answer]) -> dict:
        """The non-streamed reply."""
        asked = self.job.sampling.logprobs is not None
        choices = []
        for i, a in enumerate(answers):
            if self.chat:
                choices.append(
                    {
                        "index": i,
                        "message": {"role": "assistant", "content": a.text},
                        "logprobs": _chat_logprobs(a.tokens) if asked else None,
                        "finish_reason": a.finish_reason,
                    }
                )
                continue
            echo = self._echo(i)
            logprobs = _completion_logprobs(a.prompt_tokens or (), a.tokens, len(echo)) if asked else None
            choices.append({"index": i, "text": echo + a.text, "logprobs": logprobs, "finish_reason": a.finish_reason})
        kind = "chat.completion" if self.chat else "text_completion"
        return {**self._head(kind), "choices": choices, "usage": self.usage(answers)}

    def opening(self) -> list[dict]:
        """Chunks sent before any token: each chat choice's role; each completion choice's echoed prompt."""
        if self.chat:
            return [self._chunk(i, {"role": "assistant", "content": ""}) for i in range(self._choices())]
        if not self.job.sampling.echo:
            return []
        return [self._chunk(i, self._echo(i)) for i in range(self._choices())]

    def chunk(self, index: int, update: RowUpdate) -> dict | None:
        """The chunk for one update of choice `index` (None when it adds nothing)."""
        asked = self.job.sampling.logprobs is not None
        if not (update.text or update.finish_reason or (asked and (update.tokens or update.prompt_tokens))):
            return None
        if self.chat:
            logprobs = _chat_logprobs(update.tokens) if asked and update.tokens else None
            return self._chunk(index, {"content": update.text} if update.text else {}, logprobs, update.finish_reason)
        logprobs = None
        if asked and (update.prompt_tokens or update.tokens):
            logprobs = _completion_logprobs(update.prompt_tokens or (), update.tokens, len(self._echo(index)))
        return self._chunk(index, update.text, logprobs, update.finish_reason)

    def final_usage(self, answers: list[Answer]) -> dict:
        """The last chunk when the client asked for usage (`stream_options.include_usage`)."""
        kind = "chat.completion.chunk" if self.chat else "text_completion"
        return {**self._head(kind), "choices": [], "usage": self.usage(answers)}

    def _choices(self) -> int:
        return len(self.job.prompts) * self.job.n

    def _chunk(self, index: int, content, logprobs: dict | None = None, finish: str | None = None) -> dict:
        if self.chat:
            choice = {"index": index, "delta": content, "logprobs": logprobs, "finish_reason": finish}
            return {**self._head("chat.completion.chunk"), "choices": [choice]}
        choice = {"index": index, "text": content, "logprobs": logprobs, "finish_reason": finish}
        return {**self._head("text_completion"), "choices": [choice]}
