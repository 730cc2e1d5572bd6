"""One batch of rows through the model: left-padded prefill, then one token per row per step.

The arithmetic is `LocalSampler`'s (`interp.evaluation.sampling`): prompts left-padded with the
attention mask and explicit positions, a KV cache, the head at the last position only, one seeded
`torch.Generator` per row and `pick_token` to choose, the model's stop tokens, answers decoded
without special tokens. A row leaves the batch when it ends (stop token, stop string, max_tokens)
or its client goes away; the cache keeps the rows still running.

Steering is per row: for every block any row steers, one `interp.steering.steer` hook whose rows
hold each row's summed `alpha * v` for that block (zero for rows that do not steer it, which leaves
them bit-for-bit as they were). Ablation is per batch (the engine groups rows by it); at a block
both ablated and steered, the projection comes first and the steering is added after it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from interp.evaluation.sampling import pick_token
from interp.models.tokens import pad_sequences
from interp.serve.codec import Codec
from interp.serve.interventions import Ablation, Intervention, raw_alpha
from interp.serve.schema import Prompt, Sampling
from interp.steering import ablate, steer

__all__ = ["Row", "RowUpdate", "TokenLogprob", "run_batch"]


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
class _State:
    row: Row
    gen: torch.Generator
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
            self.text, self.finish = self.text[:min(found)], "stop"
        elif len(self.produced) >= self.row.sampling.max_tokens:
            self.finish = "length"
        return offset


def _top(logp_V: torch.Tensor, k: int, codec: Codec) -> tuple[tuple[str, float], ...]:
    if k == 0:
        return ()
    values, ids = logp_V.topk(k)
    return tuple(zip(codec.token_texts(ids.tolist()), values.tolist()))


def _prompt_logprobs(state: _State, logits_TV: torch.Tensor, codec: Codec) -> tuple[TokenLogprob, ...]:
    """Each prompt token's log-prob given the ones before it; `logits_TV` are the row's, unpadded."""
    ids, k = list(state.row.prompt.ids), state.row.sampling.logprobs
    logp_TV = torch.log_softmax(logits_TV[:-1].float(), dim=-1)
    texts, offsets = codec.token_texts(ids), codec.offsets(ids)
    out = [TokenLogprob(texts[0], None, (), offsets[0])]
    for t in range(1, len(ids)):
        out.append(TokenLogprob(texts[t], float(logp_TV[t - 1, ids[t]]), _top(logp_TV[t - 1], k, codec), offsets[t]))
    return tuple(out)


class _Hooks:
    """The batch's steering and ablation hooks, reinstalled for the rows still running."""

    def __init__(self, lm, deltas: dict[int, torch.Tensor], ablation: Ablation, ablation_rows) -> None:
        self.lm, self.deltas, self.ablation, self.ablation_rows = lm, deltas, ablation, ablation_rows
        self.stack = contextlib.ExitStack()

    def install(self, keep: list[int]) -> None:
        self.stack.close()
        index = torch.tensor(keep)
        for layer, delta_BD in self.deltas.items():
            self.stack.enter_context(steer(self.lm, delta_BD[index], layer=layer, alpha=1.0))
        for name, layers in self.ablation:  # installed last, so they run first (hooks are prepended)
            self.stack.enter_context(ablate(self.lm, self.ablation_rows(name, layers), layers))

    def close(self) -> None:
        self.stack.close()


def _deltas(lm, rows: list[Row]) -> dict[int, torch.Tensor]:
    """Per steered block, `[rows, d_model]` float32: each row's summed alpha * v (alphas measured before any hook)."""
    deltas: dict[int, torch.Tensor] = {}
    for b, row in enumerate(rows):
        for entry in row.intervention.steering:
            alpha = raw_alpha(lm, entry, row.prompt.text)
            delta_BD = deltas.setdefault(entry.layer, torch.zeros(len(rows), lm.d_model))
            delta_BD[b] += torch.as_tensor(alpha, dtype=torch.float32) * entry.vector
    return deltas


@torch.no_grad()
def run_batch(lm, rows: list[Row], codec: Codec, stop_ids: set[int], ablation_rows) -> None:
    """Generate every row to its end, delivering updates as tokens arrive; all rows share `rows[0]`'s ablation."""
    states = [_State(row, torch.Generator().manual_seed(row.seed)) for row in rows]
    hooks = _Hooks(lm, _deltas(lm, rows), rows[0].intervention.ablation, ablation_rows)
    ids_BT, mask_BT = pad_sequences([r.prompt.ids for r in rows], codec.tokenizer.pad_token_id, side="left")
    ids_BT, mask_BT = ids_BT.to(lm.device), mask_BT.to(lm.device)
    echo = any(r.sampling.echo and r.sampling.logprobs is not None for r in rows)
    active = list(range(len(rows)))
    try:
        hooks.install(active)
        positions_BT = (mask_BT.cumsum(-1) - 1).clamp(min=0)
        result = lm.model(input_ids=ids_BT, attention_mask=mask_BT, position_ids=positions_BT, use_cache=True,
                          logits_to_keep=0 if echo else 1)
        cache, logits_BV = result.cache, result.logits[:, -1].float().cpu()
        for b, state in enumerate(states):
            prompt = None
            if state.row.sampling.echo and state.row.sampling.logprobs is not None:
                prompt = _prompt_logprobs(state, result.logits[b, ids_BT.shape[1] - len(state.row.prompt.ids):], codec)
            if state.row.sampling.max_tokens == 0:
                state.finish = "length"
            if prompt is not None or state.finish:
                state.row.deliver(RowUpdate("", (), 0, state.finish, prompt))
        del result
        while True:
            keep = [b for b, i in enumerate(active) if _step(states[i], logits_BV[b], codec, stop_ids)]
            if not keep:
                return
            if len(keep) < len(active):
                cache.batch_select_indices(torch.tensor(keep, device=lm.device))
                mask_BT = mask_BT[keep]
                active = [active[b] for b in keep]
                hooks.install(active)
            step_B1 = torch.tensor([states[i].produced[-1] for i in active], device=lm.device)[:, None]
            mask_BT = torch.cat([mask_BT, torch.ones_like(mask_BT[:, :1])], dim=1)
            positions_B1 = (mask_BT.cumsum(-1) - 1)[:, -1:]
            result = lm.model(input_ids=step_B1, attention_mask=mask_BT, position_ids=positions_B1, cache=cache,
                              use_cache=True, logits_to_keep=1)
            cache, logits_BV = result.cache, result.logits[:, -1].float().cpu()
    finally:
        hooks.close()


def _step(state: _State, logits_V: torch.Tensor, codec: Codec, stop_ids: set[int]) -> bool:
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
            tokens = (TokenLogprob(codec.token_texts([token])[0], float(logp_V[token]),
                                   _top(logp_V, sampling.logprobs, codec), offset),)
    end = len(state.text) if state.finish else state.hold_back()
    update = RowUpdate(state.text[state.emitted:end], tokens, len(state.produced), state.finish)
    state.emitted = end
    state.row.deliver(update)
    return state.finish is None
