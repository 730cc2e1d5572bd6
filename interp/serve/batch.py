"""Rows through the model together: left-padded prefill, one token per row per step, rows joining and leaving.

The arithmetic is `LocalSampler`'s (`interp.evaluation.sampling`): prompts left-padded with the
attention mask and explicit positions, a KV cache, the head at the last position only. A row leaves
the batch when it ends or its client goes away (the cache keeps the rows still running). Rows that
arrive while a batch runs join it between two steps (continuous batching): their prompts are
prefilled together, and their keys and values are put beside the running rows', the shorter side
left-padded (masked) to the longer. Joining needs plain dynamic caches; with sliding-window or
other caches a batch runs with the rows it started with.

Steering is per row: for every block any row steers, one `interp.steering.steer` hook whose rows
hold each row's summed `alpha * v` for that block (zero for rows that do not steer it, which leaves
them bit for bit as they were). Ablation is per batch (the engine groups rows by it); at a block
both ablated and steered, the projection comes first and the steering is added after it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from interp.models.tokens import pad_sequences
from interp.serve.codec import Codec
from interp.serve.interventions import Ablation
from interp.serve.rows import Row, RowState, RowUpdate, advance, prompt_logprobs, start_row
from interp.steering import ablate, steer

__all__ = ["Batch", "run_batch"]


class _Hooks:
    """The batch's steering and ablation hooks, reinstalled whenever its rows change."""

    def __init__(self, lm, ablation: Ablation, ablation_rows) -> None:
        self.lm, self.ablation, self.ablation_rows = lm, ablation, ablation_rows
        self.stack = contextlib.ExitStack()

    def install(self, states: list[RowState]) -> None:
        self.stack.close()
        for layer in sorted({layer for s in states for layer in s.deltas}):
            zero = torch.zeros(self.lm.d_model)
            delta_BD = torch.stack([s.deltas.get(layer, zero) for s in states])
            self.stack.enter_context(steer(self.lm, delta_BD, layer=layer, alpha=1.0))
        for name, layers in self.ablation:  # installed last, so they run first (hooks are prepended)
            self.stack.enter_context(ablate(self.lm, self.ablation_rows(name, layers), layers))

    def close(self) -> None:
        self.stack.close()


def _joinable(cache) -> bool:
    from transformers.cache_utils import DynamicLayer

    return all(type(layer) is DynamicLayer and layer.is_initialized for layer in getattr(cache, "layers", [None]))


def _left_pad(x: torch.Tensor, n: int) -> torch.Tensor:
    return F.pad(x, (0, 0, n, 0)) if n else x  # dim -2 (positions) of [batch, heads, positions, head_dim]


class Batch:
    """The rows running together: their states, in cache order, the KV cache and the attention mask."""

    def __init__(self, lm, codec: Codec, stop_ids: set[int], ablation: Ablation, ablation_rows) -> None:
        self.lm, self.codec, self.stop_ids = lm, codec, stop_ids
        self.hooks = _Hooks(lm, ablation, ablation_rows)
        self.states: list[RowState] = []
        # the model's KV cache (a transformers DynamicCache) and the rows' mask: None while no row runs
        self.cache: Any = None
        self.mask_BT: torch.Tensor | None = None

    @property
    def can_join(self) -> bool:
        return self.cache is None or _joinable(self.cache)

    def admit(self, rows: list[Row]) -> None:
        """Prefill `rows`, pick their first tokens and put the ones still running beside the others."""
        self.hooks.close()  # relative alphas are measured on the plain model
        states = [start_row(self.lm, row) for row in rows]
        self.hooks.install(states)
        ids_BT, mask_BT = pad_sequences([r.prompt.ids for r in rows], self.codec.tokenizer.pad_token_id, side="left")
        ids_BT, mask_BT = ids_BT.to(self.lm.device), mask_BT.to(self.lm.device)
        echo = any(r.sampling.echo and r.sampling.logprobs is not None for r in rows)
        result = self.lm.model(
            input_ids=ids_BT,
            attention_mask=mask_BT,
            use_cache=True,
            position_ids=(mask_BT.cumsum(-1) - 1).clamp(min=0),
            logits_to_keep=0 if echo else 1,
        )
        for b, state in enumerate(states):
            prompt = None
            if state.row.sampling.echo and state.row.sampling.logprobs is not None:
                width = ids_BT.shape[1]
                prompt = prompt_logprobs(state, result.logits[b, width - len(state.row.prompt.ids) :], self.codec)
            if state.row.sampling.max_tokens == 0:
                state.finish = "length"
            if prompt is not None or state.finish:
                state.row.deliver(RowUpdate("", (), 0, state.finish, prompt))
        logits_BV = result.logits[:, -1].float().cpu()
        keep = [b for b, state in enumerate(states) if advance(state, logits_BV[b], self.codec, self.stop_ids)]
        self._merge([states[b] for b in keep], self._select(result.cache, keep, len(states)), mask_BT[keep])

    def _select(self, cache, keep: list[int], rows: int):
        if keep and len(keep) < rows:
            cache.batch_select_indices(torch.tensor(keep, device=self.lm.device))
        return cache

    def _merge(self, states: list[RowState], cache, mask_BT: torch.Tensor) -> None:
        if not states:
            self.hooks.install(self.states)
            return
        if self.mask_BT is None:  # no row runs (the states are empty too)
            self.states, self.cache, self.mask_BT = states, cache, mask_BT
        else:
            old, new = self.mask_BT.shape[1], mask_BT.shape[1]
            width = max(old, new)
            for mine, theirs in zip(self.cache.layers, cache.layers):
                mine.keys = torch.cat([_left_pad(mine.keys, width - old), _left_pad(theirs.keys, width - new)])
                mine.values = torch.cat([_left_pad(mine.values, width - old), _left_pad(theirs.values, width - new)])
            self.mask_BT = torch.cat([F.pad(self.mask_BT, (width - old, 0)), F.pad(mask_BT, (width - new, 0))])
            self.states = self.states + states
        self.hooks.install(self.states)

    def step(self) -> None:
        """One token for every running row; rows that end (or whose client left) leave the batch."""
        if self.mask_BT is None:
            raise RuntimeError("no row runs: admit rows before stepping")
        step_B1 = torch.tensor([s.produced[-1] for s in self.states], device=self.lm.device)[:, None]
        self.mask_BT = torch.cat([self.mask_BT, torch.ones_like(self.mask_BT[:, :1])], dim=1)
        result = self.lm.model(
            input_ids=step_B1,
            attention_mask=self.mask_BT,
            cache=self.cache,
            use_cache=True,
            position_ids=(self.mask_BT.cumsum(-1) - 1)[:, -1:],
            logits_to_keep=1,
        )
        self.cache, logits_BV = result.cache, result.logits[:, -1].float().cpu()
        keep = [b for b, state in enumerate(self.states) if advance(state, logits_BV[b], self.codec, self.stop_ids)]
        if len(keep) < len(self.states):
            self.cache = self._select(self.cache, keep, len(self.states))
            self.states, self.mask_BT = [self.states[b] for b in keep], self.mask_BT[keep]
            self.hooks.install(self.states)
            if not self.states:
                self.cache = self.mask_BT = None

    def close(self) -> None:
        self.hooks.close()


@torch.no_grad()
def run_batch(
    lm,
    rows: list[Row],
    codec: Codec,
    stop_ids: set[int],
    ablation_rows,
    more: Callable[[int], list[Row]] = lambda room: [],
    max_rows: int = 8,
    running: Callable[[int], None] = lambda n: None,
) -> None:
    """Generate every row to its end, delivering updates as tokens arrive; rows from `more(room)` (rows with
    `rows[0]`'s ablation) join between steps while there is room and the cache allows it."""
    batch = Batch(lm, codec, stop_ids, rows[0].intervention.ablation, ablation_rows)
    try:
        batch.admit(rows)
        while batch.states:
            running(len(batch.states))
            batch.step()
            room = max_rows - len(batch.states)
            joining = more(room) if room > 0 and batch.states and batch.can_join else []
            if joining:
                batch.admit(joining)
    finally:
        running(0)
        batch.close()
