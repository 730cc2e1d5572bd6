"""Sampling answers behind one interface: local HF models, OpenAI-compatible APIs, vLLM.

Every sampler derives one seed per (run seed, prompt, sample index), so a sample does not
depend on which other prompts shared its batch, and a resumed run draws the same answers.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

import torch

from interp.evaluation.stacking import PLAIN, Stack
from interp.models.tokens import pad_sequences, stop_token_ids

__all__ = [
    "LocalSampler",
    "Sampler",
    "VLLMSampler",
    "pick_token",
    "sample_seed",
]

Chat = list[dict[str, str]]


@runtime_checkable
class Sampler(Protocol):
    """Draws `n` answers per chat; returns them per prompt, in order."""

    def sample(
        self,
        prompts: list[Chat],
        n: int,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_tokens: int = 256,
        seed: int = 0,
    ) -> list[list[str]]: ...


def sample_seed(seed: int, prompt: Chat, index: int) -> int:
    """A 31-bit seed for one sample, from the run seed, the chat and the sample index."""
    key = json.dumps([seed, prompt, index], sort_keys=True).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:4], "big") & 0x7FFFFFFF


def _filter_top_p(probs_V: torch.Tensor, top_p: float) -> torch.Tensor:
    if top_p >= 1.0:
        return probs_V
    sorted_p, order = probs_V.sort(descending=True)
    # keep the smallest prefix whose mass reaches top_p (always at least the top token)
    keep = sorted_p.cumsum(0) - sorted_p < top_p
    filtered = torch.zeros_like(probs_V)
    filtered[order[keep]] = sorted_p[keep]
    return filtered / filtered.sum()


def pick_token(logits_V: torch.Tensor, gen: torch.Generator, temperature: float, top_p: float) -> int:
    """The next token from one row's logits: the argmax at temperature 0, else a draw from the
    temperature-scaled softmax cut to `top_p`, with `gen` (so a seed decides it)."""
    if temperature <= 0:
        return int(logits_V.argmax())
    probs_V = _filter_top_p(torch.softmax(logits_V / temperature, dim=-1), top_p)
    return int(torch.multinomial(probs_V, 1, generator=gen))


class LocalSampler:
    """Batched sampling from a LoadedModel with its chat template, left padding and per-sample seeds.

    `intervention`, when given, is a callable returning a context manager (e.g. a steering hook)
    entered around every batch of generation.
    """

    def __init__(self, lm, batch_size: int = 16, intervention: Callable[[], AbstractContextManager] | None = None):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.lm, self.batch_size, self.intervention = lm, batch_size, intervention
        self.name = lm.name

    @property
    def chunk_size(self) -> int:
        """How many prompts a caller should hand over at once to fill batches."""
        return self.batch_size

    def sample(
        self,
        prompts: list[Chat],
        n: int,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_tokens: int = 256,
        seed: int = 0,
    ) -> list[list[str]]:
        return self.sample_stacked(prompts, n, PLAIN, temperature, top_p, max_tokens, seed)[0]

    def sample_stacked(
        self,
        prompts: list[Chat],
        n: int,
        stack: Stack,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_tokens: int = 256,
        seed: int = 0,
    ) -> list[list[list[str]]]:
        """`sample` with every forward pass run as `stack` says (`interp.evaluation.stacking`), indexed
        `[copy][prompt][k]`. Every copy of a sample draws with that sample's seed."""
        rows = [(i, k) for i in range(len(prompts)) for k in range(n)]
        texts = [self.lm.render_chat(p) for p in prompts]
        out: list[list[list[str]]] = [[[""] * n for _ in prompts] for _ in range(stack.copies)]
        for start in range(0, len(rows), self.batch_size):
            batch = rows[start : start + self.batch_size]
            seeds = [sample_seed(seed, prompts[i], k) for i, k in batch]
            with self.intervention() if self.intervention else contextlib.nullcontext():
                answers = self._generate([texts[i] for i, _ in batch], seeds, temperature, top_p, max_tokens, stack)
            for copy_out, copy_answers in zip(out, answers):
                for (i, k), answer in zip(batch, copy_answers):
                    copy_out[i][k] = answer
        return out

    @torch.no_grad()
    def _generate(
        self,
        texts: Sequence[str],
        seeds: Sequence[int],
        temperature: float,
        top_p: float,
        max_tokens: int,
        stack: Stack = PLAIN,
    ) -> list[list[str]]:
        """The answers per copy: `[copy][text]`."""
        tok, device = self.lm.tokenizer, self.lm.device
        encoded = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
        ids_BT, mask_BT = pad_sequences(encoded, tok.pad_token_id, side="left")  # every row's next token at the end
        width = ids_BT.shape[1]
        step_ids, mask_XT = stack.rows(ids_BT.to(device)), stack.rows(mask_BT.to(device))  # X: copies * B rows
        gens = [torch.Generator().manual_seed(s) for _ in range(stack.copies) for s in seeds]
        stops, done = set(stop_token_ids(self.lm)), [False] * len(gens)
        produced: list[list[int]] = [[] for _ in gens]
        cache = None
        context = getattr(self.lm, "context_length", None)
        if context is not None:  # generating past the model's positions gives garbage or an index error
            max_tokens = min(max_tokens, max(0, context - width))
        for _ in range(max_tokens):
            positions = (mask_XT.cumsum(-1) - 1).clamp(min=0)[:, -step_ids.shape[1] :]
            result = stack.run(
                self.lm,
                input_ids=step_ids,
                attention_mask=mask_XT,
                position_ids=positions,
                cache=cache,
                use_cache=True,
                logits_to_keep=1,
            )  # the head at the last position only
            cache = result.cache
            logits_XV = result.logits[:, -1].float().cpu()
            next_ids = [pick_token(logits_XV[x], gens[x], temperature, top_p) for x in range(len(gens))]
            for x, tid in enumerate(next_ids):
                if not done[x]:
                    if tid in stops:
                        done[x] = True
                    else:
                        produced[x].append(tid)
            if all(done):
                break
            step_ids = torch.tensor(next_ids, device=device)[:, None]
            mask_XT = torch.cat([mask_XT, torch.ones_like(mask_XT[:, :1])], dim=1)
        answers = [tok.decode(p, skip_special_tokens=True) for p in produced]
        return [answers[c * len(texts) : (c + 1) * len(texts)] for c in range(stack.copies)]


class VLLMSampler:
    """Unsteered sampling through vLLM, where installed (`pip install vllm`)."""

    def __init__(self, model: str, **engine_kwargs: Any):
        try:
            from vllm import LLM
        except ImportError as err:
            raise ImportError(
                "VLLMSampler needs vLLM: pip install 'interp-cluster[vllm]' (or pip install vllm)"
            ) from err
        self.llm, self.name = LLM(model=model, **engine_kwargs), model
        self.chunk_size = 256

    def sample(
        self,
        prompts: list[Chat],
        n: int,
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_tokens: int = 256,
        seed: int = 0,
    ) -> list[list[str]]:
        from vllm import SamplingParams

        flat = [(p, k) for p in prompts for k in range(n)]
        params = [
            SamplingParams(
                n=1, temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=sample_seed(seed, p, k)
            )
            for p, k in flat
        ]
        outputs = self.llm.chat([p for p, _ in flat], params, use_tqdm=False)
        texts = [o.outputs[0].text for o in outputs]
        return [texts[i * n : (i + 1) * n] for i in range(len(prompts))]

    def close(self) -> None:
        """Drop the engine and return its GPU memory, so the next model's engine fits."""
        import gc

        self.llm = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
