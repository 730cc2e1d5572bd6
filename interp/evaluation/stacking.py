"""Stacked copies: a scoring or generation procedure that runs each of its batches several times in one pass.

The procedures of this package (continuation and next-token log-probs, forced choice, local
sampling) take a `Stack`. Each forward pass then holds `copies` copies of the batch it would hold
alone, copy-major (row `c * n + i` is copy `c` of row `i`), and goes through `forward` instead of
the model itself; results come back per copy. On its own a copy is the plain procedure: the
default `Stack()` is exactly the plain run. A caller makes the copies differ through `forward`:
the steering sweep (`interp.sweep`) steers each copy its own way and replays the blocks below the
steering layer from a plain run, so a sweep of many settings costs about one forward pass of the
layers above.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["PLAIN", "Stack"]


@dataclass(frozen=True)
class Stack:
    """How a procedure lays out its forward passes."""

    copies: int = 1
    """How many copies of each batch one forward pass holds (copy-major rows)."""
    forward: Callable[..., Any] | None = None
    """Called with the model's keyword inputs instead of `lm.model(...)`; None: the model itself."""

    def __post_init__(self) -> None:
        if self.copies < 1:
            raise ValueError(f"copies must be >= 1, got {self.copies}")

    def rows(self, tensor_B: torch.Tensor) -> torch.Tensor:
        """`[B, ...]` to `[copies * B, ...]`, copy-major; the tensor itself for one copy."""
        if self.copies == 1:
            return tensor_B
        return tensor_B.repeat(self.copies, *([1] * (tensor_B.ndim - 1)))

    def sources(self, rows_R: torch.Tensor, width: int) -> torch.Tensor:
        """Rows `rows_R` of a batch of `width` rows, picked from every copy: `[copies * R]` indices into a
        stacked batch of `copies * width` rows (to reorder a stacked cache)."""
        offsets_C = torch.arange(self.copies, device=rows_R.device) * width
        return (offsets_C[:, None] + rows_R[None, :]).reshape(-1)

    def run(self, lm, **inputs):
        """One forward pass of the (stacked) inputs."""
        return (self.forward or lm.model)(**inputs)


PLAIN = Stack()
"""One copy through the model itself: the plain procedure."""
