"""Generation under many steering settings at one layer: the prompt's lower blocks run once per batch."""

from __future__ import annotations

from collections.abc import Sequence

from interp.evaluation.sampling import Chat, LocalSampler
from interp.sweep.core import SteeringSetting, run_sweep

__all__ = ["sweep_generate"]


def sweep_generate(
    lm,
    chats: Sequence[Chat],
    layer: int | None,
    settings: Sequence[SteeringSetting],
    *,
    max_new_tokens: int = 48,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int = 0,
    batch_size: int = 16,
    max_rows: int = 256,
    progress: bool = False,
    n: int = 1,
) -> dict[str, list[str]]:
    """`n` answers per chat under each setting (chat-major: chat i's at i * n .. i * n + n - 1), by setting
    name: what `LocalSampler(lm, batch_size, intervention=lambda: steer(lm, s.vector, layer, s.alpha)).sample(
    chats, n, temperature, top_p, max_new_tokens, seed)` answers, flattened (greedy at temperature 0; sampled
    answers draw with the same seeds).

    Per batch of `batch_size` chats, the prompt runs blocks 0..`layer` once; the steered settings run
    the blocks above on it, stacked as rows (settings x chats <= `max_rows` per batch), with the lower
    blocks' keys and values of the prompt shared; the decoding steps then run every block per row,
    each row steered by its setting. The unsteered settings take the plain run's answers. A setting may
    name its own layer (`SteeringSetting.layer`; all of them when `layer` is None)."""
    sampler = LocalSampler(lm, batch_size=batch_size)
    answers: dict[str, list[str]] = {s.name: [] for s in settings}
    from tqdm.auto import tqdm

    for start in tqdm(range(0, len(chats), batch_size), disable=not progress, desc="steered generation"):
        batch = list(chats[start : start + batch_size])

        def procedure(stack, batch=batch):
            return [
                [a for per_chat in per_copy for a in per_chat]
                for per_copy in sampler.sample_stacked(batch, n, stack, temperature, top_p, max_new_tokens, seed)
            ]

        got = run_sweep(
            lm,
            layer,
            settings,
            procedure,
            rows_per_copy=min(len(batch) * n, batch_size),
            max_rows=max_rows,
            prompt_only=True,
        )
        for name, texts in got.items():
            answers[name] += texts
    return answers
