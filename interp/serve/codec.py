"""The served model's tokenizer behind one lock: request handlers (validation) and the batching
thread (decoding) share it, and a fast tokenizer that one thread reconfigures while another encodes
fails with "Already borrowed"."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

__all__ = ["Codec"]


class Codec:
    """Text to ids and back, as the toolkit's local samplers do it."""

    def __init__(self, lm: Any) -> None:
        self.lm, self.tokenizer = lm, lm.tokenizer
        self._lock = threading.Lock()
        self.vocab_size = len(self.tokenizer)

    def render_chat(self, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        """The chat through the model's template, ending with the assistant's turn when asked."""
        with self._lock:
            return self.lm.render_chat(messages, add_generation_prompt=add_generation_prompt)

    def encode(self, text: str, add_special_tokens: bool) -> list[int]:
        with self._lock:
            return self.tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"]

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        """An answer's text: special tokens left out, as `LocalSampler` decodes (a prompt's: kept)."""
        with self._lock:
            return self.tokenizer.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def token_texts(self, ids: Sequence[int]) -> list[str]:
        """Each token on its own (special tokens shown), for log-prob listings."""
        with self._lock:
            return [self.tokenizer.decode([i]) for i in ids]

    def offsets(self, ids: Sequence[int]) -> list[int]:
        """Where each prompt token's text starts in the prompt's decoding (the completions API's `text_offset`)."""
        with self._lock:
            return [len(self.tokenizer.decode(list(ids[:i]))) for i in range(len(ids))]
