"""Is a steered model still coherent? Its own greedy answers, scored by the model without the intervention.

    from interp import steer
    from interp.evaluation.coherence import coherence
    chats = [[{"role": "user", "content": "Describe your morning."}]]
    plain = coherence(lm, chats)
    with_steer = coherence(lm, chats, intervention=lambda: steer(lm, v, layer=10, alpha=8.0))
    with_steer.coherent_against(plain)

Two measures, because a broken model fails in two ways: word salad is unlikely text (a high
per-token negative log-likelihood under the unsteered model), while a loop ("I am. I am. I am.")
is likely text that says nothing (a high share of repeated token trigrams).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

from interp.evaluation.sampling import Chat, LocalSampler
from interp.evaluation.scoring import continuation_logprobs

__all__ = [
    "NLL_MARGIN",
    "REPEAT_LIMIT",
    "Coherence",
    "coherence",
    "coherence_of",
    "coherence_of_texts",
    "repeated_trigram_share",
]

NLL_MARGIN = 1.0
"""Nats per token above the unsteered answers' mean NLL that still count as coherent (e ~ 2.7x perplexity)."""
REPEAT_LIMIT = 0.5
"""Largest share of repeated token trigrams (pooled over answers) that still counts as coherent."""


def repeated_trigram_share(token_ids: Sequence[int]) -> float:
    """Share of the token trigrams that already occurred earlier in the same sequence (0 when < 3 tokens)."""
    grams = [tuple(token_ids[i : i + 3]) for i in range(len(token_ids) - 2)]
    if not grams:
        return 0.0
    return 1.0 - len(set(grams)) / len(grams)


@dataclass(frozen=True)
class Coherence:
    answers: list[str]
    """The greedy answers, one per chat."""
    nll: list[float]
    """Each answer's mean negative log-likelihood per token under the reference model (nan: empty answer)."""
    tokens: list[int]
    """Tokens per answer."""
    repeat: float
    """Repeated-trigram share, token-weighted over the answers."""

    @property
    def mean_nll(self) -> float:
        """Token-weighted mean NLL over the non-empty answers (nan when every answer is empty)."""
        total = sum(n * t for n, t in zip(self.nll, self.tokens) if t)
        count = sum(self.tokens)
        return total / count if count else math.nan

    @property
    def perplexity(self) -> float:
        return math.exp(self.mean_nll)

    def coherent_against(
        self, reference: Coherence, nll_margin: float = NLL_MARGIN, repeat_limit: float = REPEAT_LIMIT
    ) -> bool:
        """Within `nll_margin` nats/token of `reference` (usually the unsteered model) and not looping."""
        if math.isnan(self.mean_nll):
            return False
        return self.mean_nll <= reference.mean_nll + nll_margin and self.repeat <= repeat_limit

    def to_json(self) -> dict:
        return {
            "mean_nll": self.mean_nll,
            "perplexity": self.perplexity,
            "repeat": self.repeat,
            "tokens": sum(self.tokens),
            "empty": sum(1 for t in self.tokens if not t),
            "answers": self.answers,
        }


def coherence(
    lm,
    chats: Sequence[Chat],
    intervention: Callable[[], AbstractContextManager] | None = None,
    max_tokens: int = 48,
    batch_size: int = 16,
) -> Coherence:
    """Greedy answers of `lm` to `chats` with `intervention` entered around generation; scored without it."""
    sampler = LocalSampler(lm, batch_size=batch_size, intervention=intervention)
    answers = [a[0] for a in sampler.sample(list(chats), n=1, temperature=0.0, max_tokens=max_tokens)]
    return coherence_of(lm, chats, answers, batch_size)


def coherence_of(lm, chats: Sequence[Chat], answers: list[str], batch_size: int = 16) -> Coherence:
    """The coherence of `answers` (one per chat, e.g. a steering sweep's greedy answers), scored by `lm` as
    it is (without any intervention)."""
    return coherence_of_texts(lm, [lm.render_chat(chat) for chat in chats], answers, batch_size)


def coherence_of_texts(lm, prompts: Sequence[str], answers: list[str], batch_size: int = 16) -> Coherence:
    """`coherence_of` with each answer's prompt given as the text the model read (a rendered chat, or raw
    text)."""
    ids = [lm.tokenizer(a, add_special_tokens=False)["input_ids"] for a in answers]
    scored = [i for i, t in enumerate(ids) if t]
    logprobs = continuation_logprobs(lm, [(prompts[i], answers[i]) for i in scored], batch_size)
    nll, counts = [math.nan] * len(answers), [0] * len(answers)
    for i, lps in zip(scored, logprobs):
        nll[i], counts[i] = -sum(lps) / len(lps), len(lps)
    weight = sum(len(t) for t in ids)
    repeat = sum(repeated_trigram_share(t) * len(t) for t in ids) / weight if weight else 0.0
    return Coherence(answers=answers, nll=nll, tokens=counts, repeat=repeat)
