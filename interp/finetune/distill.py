"""Self-distilled instruction data: the base model's own answers (temperature 1), mixed 1:1 with a set.

Replaying the model's own answers to everyday prompts keeps a fine-tune from also teaching a new
format or style, so what changes is what the identity set says (as in the paper).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import torch

from interp.models import LoadedModel
from interp.models.tokens import stop_token_ids

__all__ = ["mix_rows", "prompt_messages", "self_distill"]


def prompt_messages(prompt: str | dict | Sequence[dict]) -> list[dict[str, str]]:
    """A prompt as chat messages: a string, a chat row ({"messages": ...}) or a message list.

    A trailing assistant message (an answer already present) is dropped.
    """
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    messages = list(prompt["messages"] if isinstance(prompt, dict) else prompt)
    if messages and messages[-1]["role"] == "assistant":
        messages = messages[:-1]
    return [dict(m) for m in messages]


@torch.no_grad()
def self_distill(
    lm: LoadedModel,
    prompts: Sequence[str | dict | Sequence[dict]],
    max_new_tokens: int = 128,
    seed: int = 0,
    batch_size: int = 16,
    progress: bool = False,
    autocast: bool = False,
) -> list[dict[str, Any]]:
    """Sample `lm`'s own answer to each prompt (temperature 1, no top-k/top-p) as chat rows.

    Batched with left padding; seeded once, so the same call gives the same rows. `autocast` runs the
    matrix products in bfloat16 (faster; the answers then come from a bfloat16-rounded model).
    """
    from tqdm.auto import tqdm

    tokenizer = lm.tokenizer
    chats = [prompt_messages(p) for p in prompts]
    texts = [lm.render_chat(chat) for chat in chats]
    eos = stop_token_ids(lm)
    was_training, side = lm.model.training, tokenizer.padding_side
    lm.model.eval()
    tokenizer.padding_side = "left"
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    answers: list[str] = []
    model: Any = lm.model  # a transformers model (nn.Module types its attributes as Tensor | Module)
    try:
        for start in tqdm(range(0, len(texts), batch_size), disable=not progress, desc="self-distill"):
            batch = tokenizer(
                texts[start : start + batch_size], return_tensors="pt", padding=True, add_special_tokens=False
            ).to(lm.device)
            with torch.autocast(lm.device.type, dtype=torch.bfloat16, enabled=autocast):
                out = model.generate(
                    **batch,
                    do_sample=True,
                    temperature=1.0,
                    top_k=0,
                    top_p=1.0,
                    max_new_tokens=max_new_tokens,
                    eos_token_id=eos,
                    pad_token_id=tokenizer.pad_token_id,
                )
            new = out[:, batch["input_ids"].shape[1] :]
            answers += [text.strip() for text in tokenizer.batch_decode(new, skip_special_tokens=True)]
    finally:
        tokenizer.padding_side = side
        lm.model.train(was_training)
        torch.random.set_rng_state(generator_state)
    return [{"messages": chat + [{"role": "assistant", "content": answer}]} for chat, answer in zip(chats, answers)]


def mix_rows(a: Sequence[dict], b: Sequence[dict], seed: int = 0) -> list[dict]:
    """All rows of `a` and `b` in one seeded shuffle."""
    rows = list(a) + list(b)
    random.Random(seed).shuffle(rows)
    return rows
