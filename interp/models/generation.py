"""`generate`: one prompt in, the model's continuation out as text, for quick looks at a steered model.

Thin over `lm.model.generate`; whatever hooks are installed (`with interp.steer(...)`,
`interp.ablate`) apply to it as to any forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from interp.models.loading import LoadedModel

__all__ = ["generate"]


@torch.no_grad()
def generate(
    lm: LoadedModel,
    prompt: str | Sequence[dict[str, str]],
    max_new_tokens: int = 32,
    *,
    do_sample: bool = False,
    **generate_kwargs: Any,
) -> str:
    """The model's continuation of `prompt`, decoded without special tokens.

    `prompt` is raw text (tokenized with the tokenizer's special tokens) or a chat, a list of
    `{"role", "content"}` messages (rendered with the model's template and its generation prompt).
    Greedy unless `do_sample=True`; other keywords (temperature, top_p, ...) go to `lm.model.generate`.

    >>> with interp.steer(lm, direction, layer=6, alpha=4.0):        # doctest: +SKIP
    ...     print(interp.generate(lm, [{"role": "user", "content": "How do you feel?"}]))
    """
    if isinstance(prompt, str):
        text, special = prompt, True
    else:
        text, special = lm.render_chat(list(prompt)), False  # the template already placed its special tokens
    batch = lm.tokenizer(text, return_tensors="pt", add_special_tokens=special).to(lm.device)
    if batch["input_ids"].shape[1] == 0:
        raise ValueError("the prompt encodes to no tokens; give some text")
    model: Any = lm.model  # a transformers model (nn.Module types its attributes as Tensor | Module)
    out_BT = model.generate(
        **batch,
        max_new_tokens=max_new_tokens,
        do_sample=do_sample,
        pad_token_id=lm.tokenizer.pad_token_id,
        **generate_kwargs,
    )
    return lm.tokenizer.decode(out_BT[0, batch["input_ids"].shape[1] :], skip_special_tokens=True)
