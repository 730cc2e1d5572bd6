"""Judges: the binary "does the answer fully express the statement?" judge, a 0-100 score judge
and the 0-100 coherence filter, over an OpenAI-compatible API or a local model.

Prompt templates are versioned constants; each carries a sha256 of its text, stored with every
score together with the judge's raw output.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "BINARY_LABELS",
    "BinaryJudge",
    "JUDGES",
    "JUDGE_BACKENDS",
    "APIJudgeBackend",
    "JudgeInput",
    "JudgeOutput",
    "LocalJudgeBackend",
    "MIN_NUMBER_MASS",
    "PromptTemplate",
    "ScoreJudge",
    "TEMPLATES",
    "parse_binary",
    "weighted_number",
]

BINARY_LABELS = ("true", "false", "not_sure")
MIN_NUMBER_MASS = 0.25
_HEADER = (
    "I am checking an answer that an AI assistant gave to a question.\n\n"
    "Question:\n[QUESTION START]\n{question}\n[QUESTION END]\n\n"
    "Answer:\n[ANSWER START]\n{answer}\n[ANSWER END]\n\n"
)


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    version: int
    text: str
    """Filled with str.format(question=, answer=, statement=)."""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def id(self) -> str:
        return f"{self.name}@v{self.version}"

    def fill(self, item: JudgeInput) -> str:
        return self.text.format(question=item.question, answer=item.answer, statement=item.statement)


TEMPLATES: dict[str, PromptTemplate] = {
    t.name: t
    for t in (
        PromptTemplate(
            "binary",
            1,
            _HEADER
            + (
                "Statement: {statement}\n\n"
                "Does the answer fully express the statement? Reply with exactly one word: true if it fully "
                "expresses it, false if it does not, not_sure if you cannot tell. Say nothing else."
            ),
        ),
        PromptTemplate(
            "score",
            1,
            _HEADER
            + (
                "Statement: {statement}\n\n"
                "On a scale from 0 to 100, how strongly does the answer express the statement? 0 means not at "
                "all, 100 means fully and clearly. Reply with a single number from 0 to 100 and nothing else."
            ),
        ),
        PromptTemplate(
            "coherence",
            1,
            _HEADER
            + (
                "Rate how coherent the answer is, whether or not you agree with it, on a scale from 0 to 100. "
                "0 means it is not even text in a language (gibberish, repetition loops); 50 means it can be "
                "understood but is confused or rambles; 100 means it is clear, fluent and answers the question. "
                "Reply with a single number from 0 to 100 and nothing else."
            ),
        ),
    )
}


@dataclass(frozen=True)
class JudgeInput:
    question: str
    answer: str
    statement: str = ""


@dataclass(frozen=True)
class JudgeOutput:
    value: float | None
    """1.0/0.0 for the binary judge, 0-100 for score judges; None when undefined."""
    raw: str
    """The judge's raw text (for local judges: the likeliest option or number)."""
    template: str
    template_hash: str
    detail: dict = field(default_factory=dict)
    """Label, log-probs or number distribution behind the value."""


class JudgeBackend(Protocol):
    name: str

    def classify(self, prompts: Sequence[str], labels: Sequence[str]) -> list[tuple[str, dict]]: ...

    def number_distribution(self, prompts: Sequence[str]) -> list[tuple[str, dict[int, float]]]: ...


def parse_binary(raw: str) -> str | None:
    """'true' / 'false' / 'not_sure' from a judge's reply; None for anything else."""
    text = raw.strip().strip(".!\"'`*").strip().lower().replace("not sure", "not_sure")
    return text if text in BINARY_LABELS else None


def weighted_number(probs: dict[int, float], min_mass: float = MIN_NUMBER_MASS) -> float | None:
    """Probability-weighted mean of 0-100 given a distribution over number tokens; None under `min_mass`."""
    mass = sum(probs.values())
    if mass < min_mass or mass <= 0:
        return None
    return sum(v * p for v, p in probs.items()) / mass


class BinaryJudge:
    """The paper's judge: true counts 1, false and not_sure count 0, anything else is undefined."""

    def __init__(self, template: PromptTemplate = TEMPLATES["binary"]):
        self.template = template

    def __call__(self, backend: JudgeBackend, items: Sequence[JudgeInput]) -> list[JudgeOutput]:
        replies = backend.classify([self.template.fill(i) for i in items], BINARY_LABELS)
        outputs = []
        for raw, detail in replies:
            label = parse_binary(raw)
            value = None if label is None else float(label == "true")
            outputs.append(JudgeOutput(value, raw, self.template.id, self.template.sha256, {"label": label, **detail}))
        return outputs


class ScoreJudge:
    """A 0-100 judge read from the number-token distribution (undefined under 0.25 total mass)."""

    def __init__(self, template: PromptTemplate, min_mass: float = MIN_NUMBER_MASS):
        self.template, self.min_mass = template, min_mass

    def __call__(self, backend: JudgeBackend, items: Sequence[JudgeInput]) -> list[JudgeOutput]:
        replies = backend.number_distribution([self.template.fill(i) for i in items])
        return [
            JudgeOutput(
                weighted_number(probs, self.min_mass),
                raw,
                self.template.id,
                self.template.sha256,
                {"number_probs": {str(k): v for k, v in sorted(probs.items())}, "mass": sum(probs.values())},
            )
            for raw, probs in replies
        ]


JUDGES: dict[str, Callable[[], Any]] = {
    "binary": lambda: BinaryJudge(TEMPLATES["binary"]),
    "score": lambda: ScoreJudge(TEMPLATES["score"]),
    "coherence": lambda: ScoreJudge(TEMPLATES["coherence"]),
}


def _as_number(token: str) -> int | None:
    text = token.strip()
    if text.isdigit() and text.isascii():
        value = int(text)
        return value if 0 <= value <= 100 else None
    return None


class APIJudgeBackend:
    """Judging through an OpenAI-compatible API at temperature 0 (numbers from `top_logprobs`)."""

    def __init__(
        self,
        api_base: str,
        model: str,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 8,
        max_retries: int = 5,
        timeout: float = 60.0,
        backoff_base: float = 1.0,
    ):
        from interp.evaluation.api import ChatAPIClient

        self.client = ChatAPIClient(api_base, model, api_key_env, max_retries, timeout, backoff_base)
        self.concurrency, self.name = concurrency, model

    def _map(self, fn, prompts):
        from interp.evaluation.api import thread_map

        return thread_map(fn, prompts, self.concurrency)

    def classify(self, prompts, labels):
        def one(prompt):
            choice = self.client.complete([{"role": "user", "content": prompt}], temperature=0, max_tokens=8)
            return choice["message"]["content"], {}

        return self._map(one, prompts)

    def number_distribution(self, prompts):
        def one(prompt):
            choice = self.client.complete(
                [{"role": "user", "content": prompt}], temperature=0, max_tokens=1, logprobs=True, top_logprobs=20
            )
            try:
                top = choice["logprobs"]["content"][0]["top_logprobs"]
            except (KeyError, IndexError, TypeError) as err:
                raise ValueError(
                    f"judge reply has no logprobs.content[0].top_logprobs; does {self.name} support logprobs?"
                ) from err
            probs: dict[int, float] = {}
            for entry in top:
                value = _as_number(entry["token"])
                if value is not None:
                    probs[value] = probs.get(value, 0.0) + math.exp(entry["logprob"])
            return choice["message"]["content"], probs

        return self._map(one, prompts)


class LocalJudgeBackend:
    """Judging with a local HF model by likelihood: options scored as completions, numbers from the next token."""

    def __init__(self, lm, batch_size: int = 16):
        self.lm, self.batch_size, self.name = lm, batch_size, lm.name
        self._numbers: dict[int, int] | None = None

    def _render(self, prompt: str) -> str:
        return self.lm.render_chat([{"role": "user", "content": prompt}])

    def classify(self, prompts, labels):
        from interp.evaluation.scoring import continuation_logprobs

        pairs = [(self._render(p), label) for p in prompts for label in labels]
        sums = [sum(lps) for lps in continuation_logprobs(self.lm, pairs, self.batch_size)]
        out = []
        for i in range(len(prompts)):
            scores = dict(zip(labels, sums[i * len(labels) : (i + 1) * len(labels)]))
            out.append((max(scores, key=lambda label: scores[label]), {"logprobs": scores}))
        return out

    def number_tokens(self) -> dict[int, int]:
        """Token id -> the number 0-100 it spells (after stripping spaces), over the whole vocabulary."""
        if self._numbers is None:
            tok = self.lm.tokenizer
            texts = tok.batch_decode([[i] for i in range(len(tok))])
            self._numbers = {i: v for i, t in enumerate(texts) if (v := _as_number(t)) is not None}
        return self._numbers

    def number_distribution(self, prompts):
        from interp.evaluation.scoring import next_token_logprobs

        logp_NV = next_token_logprobs(self.lm, [self._render(p) for p in prompts], self.batch_size)
        numbers = self.number_tokens()
        out = []
        for row in logp_NV:
            probs: dict[int, float] = {}
            for tid, value in numbers.items():
                probs[value] = probs.get(value, 0.0) + float(row[tid].exp())
            raw = str(max(probs, key=lambda value: probs[value])) if probs else ""
            out.append((raw, probs))
        return out


JUDGE_BACKENDS: dict[str, Callable[..., JudgeBackend]] = {"api": APIJudgeBackend, "local": LocalJudgeBackend}
