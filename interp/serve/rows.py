"""One row of a batch: what it is (a prompt, its sampling, its steering), what it has produced, and
the updates its request receives as tokens arrive.

Tokens are chosen as `LocalSampler` chooses them (`interp.evaluation.sampling.pick_token`, one seeded
`torch.Generator` per row), and answers decoded as it decodes them (special tokens left out). A row
ends at one of the model's stop tokens (left out), at a stop string (left out) or at max_tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from interp.evaluation.sampling import pick_token
from interp.serve.codec import Codec
from interp.serve.interventions import Intervention, raw_alpha
from interp.serve.schema import Prompt, Sampling

__all__ = ["Row", "RowState", "RowUpdate", "TokenLogprob", "advance", "prompt_logprobs", "start_row"]


@dataclass(frozen=True)
class TokenLogprob:
    """One token with its log-prob under the model (raw logits, before temperature) and the top alternatives."""

    text: str
    logprob: float | None
    """None for a prompt's first token, which nothing predicts"""
    top: tuple[tuple[str, float], ...] = ()
    offset: int = 0
    """where the token's text starts: in the answer (generated tokens) or in the prompt (echoed ones)"""


@dataclass(frozen=True)
class RowUpdate:
    """What a row produced since its last update."""

    text: str
    """new answer text (text that could still turn out to begin a stop string is held back)"""
    tokens: tuple[TokenLogprob, ...] = ()
    """the new tokens, when log-probs were asked for"""
    n_tokens: int = 0
    """answer tokens so far"""
    finish_reason: str | None = None
    """stop or length once the row has ended"""
    prompt_tokens: tuple[TokenLogprob, ...] | None = None
    """the prompt's tokens with their log-probs (echo with logprobs), in the first update only"""


def _nowhere(update: RowUpdate | Exception) -> None:
    pass


@dataclass
class Row:
    """One answer to generate; `deliver` hands its updates (or the error that ended it) to its request
    (the engine connects both callables when the row is queued)."""

    prompt: Prompt
    sampling: Sampling
    seed: int
    intervention: Intervention
    deliver: Callable[[RowUpdate | Exception], None] = _nowhere
    cancelled: Callable[[], bool] = lambda: False


@dataclass
class RowState:
    """A row while it runs: its generator, its tokens and text so far, its steering per block."""

    row: Row
    gen: torch.Generator
    deltas: dict[int, torch.Tensor] = field(default_factory=dict)
    """per steered block, the row's summed alpha * v ([d_model] float32)"""
    produced: list[int] = field(default_factory=list)
    text: str = ""
    emitted: int = 0
    finish: str | None = None

    def hold_back(self) -> int:
        """How much of `text` may go out now: not a possible start of a stop string, nor half a character."""
        safe = len(self.text.rstrip("\ufffd"))
        longest = max((len(s) for s in self.row.sampling.stop), default=1)
        return max(self.emitted, min(safe, len(self.text) - (longest - 1)))

    def add(self, token: int, codec: Codec) -> int:
        """Append `token`; returns where its text starts in the answer."""
        offset = len(self.text)
        self.produced.append(token)
        self.text = codec.decode(self.produced)
        found = [i for i in (self.text.find(s) for s in self.row.sampling.stop) if i >= 0]
        if found:
            self.text, self.finish = self.text[: min(found)], "stop"
        elif len(self.produced) >= self.row.sampling.max_tokens:
            self.finish = "length"
        return offset


def _top(logp_V: torch.Tensor, k: int, codec: Codec) -> tuple[tuple[str, float], ...]:
    if k == 0:
        return ()
    values, ids = logp_V.topk(k)
    return tuple(zip(codec.token_texts(ids.tolist()), values.tolist()))


def prompt_logprobs(state: RowState, logits_TV: torch.Tensor, codec: Codec) -> tuple[TokenLogprob, ...]:
    """Each prompt token's log-prob given the ones before it; `logits_TV` are the row's, unpadded."""
    ids, k = list(state.row.prompt.ids), state.row.sampling.logprobs
    if k is None:
        raise ValueError("prompt log-probs need sampling.logprobs (how many top tokens to list)")
    logp_TV = torch.log_softmax(logits_TV[:-1].float(), dim=-1)
    texts, offsets = codec.token_texts(ids), codec.offsets(ids)
    out = [TokenLogprob(texts[0], None, (), offsets[0])]
    for t in range(1, len(ids)):
        out.append(TokenLogprob(texts[t], float(logp_TV[t - 1, ids[t]]), _top(logp_TV[t - 1], k, codec), offsets[t]))
    return tuple(out)


def advance(state: RowState, logits_V: torch.Tensor, codec: Codec, stop_ids: set[int]) -> bool:
    """Pick the row's next token and deliver what it adds; False once the row has ended or was given up."""
    if state.finish or state.row.cancelled():
        return False
    sampling = state.row.sampling
    token = pick_token(logits_V, state.gen, sampling.temperature, sampling.top_p)
    tokens: tuple[TokenLogprob, ...] = ()
    if token in stop_ids:
        state.finish = "stop"
    else:
        offset = state.add(token, codec)
        if sampling.logprobs is not None:
            logp_V = torch.log_softmax(logits_V, dim=-1)
            tokens = (
                TokenLogprob(
                    codec.token_texts([token])[0], float(logp_V[token]), _top(logp_V, sampling.logprobs, codec), offset
                ),
            )
    end = len(state.text) if state.finish else state.hold_back()
    update = RowUpdate(state.text[state.emitted : end], tokens, len(state.produced), state.finish)
    state.emitted = end
    state.row.deliver(update)
    return state.finish is None


def start_row(lm, row: Row) -> RowState:
    """The row's state before its prefill; relative alphas are measured here, so no hook may be on."""
    deltas: dict[int, torch.Tensor] = {}
    for entry in row.intervention.steering:
        alpha = raw_alpha(lm, entry, row.prompt.text)
        delta_D = deltas.setdefault(entry.layer, torch.zeros(lm.d_model))
        delta_D += torch.as_tensor(alpha, dtype=torch.float32) * entry.vector  # as steer's alpha * v, in float32
    return RowState(row, torch.Generator().manual_seed(row.seed), deltas)
