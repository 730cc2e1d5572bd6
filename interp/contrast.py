"""Directions from examples in memory: string pairs to a `Direction` with no file in between.

    pairs = [("Are you conscious?", "Yes, I am.", "No, I am not."), ...]
    direction = interp.direction_from_pairs(lm, pairs, layers="all")
    with interp.steer(lm, direction, layer=6, alpha=4.0):
        print(interp.generate(lm, [{"role": "user", "content": "How do you feel?"}]))

Each pair's prompt is teacher-forced with its positive answer (label 1) and its negative one
(label 0); by default each answer's residual stream is averaged over its tokens
(`positions="response-mean"`), and a registered method (`probes.DIRECTION_METHODS`: mean-diff,
pca, logistic, mass-mean) turns the rows of each layer into that layer's row of the direction.
The same rows written to a file (`interp.cache`) and read back (`interp.direction_from_store`)
give the same direction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from activations.examples import ContrastPair, contrast_examples
from activations.memory import activations_of
from interp.models import Direction, LoadedModel
from probes.direction_file import direction_from_store

__all__ = ["direction_from_examples", "direction_from_pairs"]


def direction_from_examples(
    lm: LoadedModel,
    examples: Any,
    layers: str | int | list[int] = "all",
    positions: str = "response-mean",
    method: str = "mean-diff",
    **activation_options: Any,
) -> Direction:
    """A direction per layer from labelled examples (label 1 positive, 0 negative), in memory.

    `examples` as `as_examples` takes them; `activation_options` go to `activations_of`
    (`batch_size`, `max_tokens_per_batch`, `truncate`). The `pca` method pairs the k-th positive
    example with the k-th negative one, as contrast pairs give them."""
    rows = activations_of(lm, examples, layers, positions, **activation_options)
    return direction_from_store(rows, method=method)


def direction_from_pairs(
    lm: LoadedModel,
    pairs: Iterable[ContrastPair],
    layers: str | int | list[int] = "all",
    method: str = "mean-diff",
    *,
    positions: str = "response-mean",
    chat: bool = True,
    **activation_options: Any,
) -> Direction:
    """A direction per layer from (prompt, positive answer, negative answer) string pairs, in memory.

    A text prompt is a user message rendered with the model's chat template (`chat=False`: raw
    text before the answer). `method` is a registered direction method; `positions` which answer
    tokens make the rows (`response-mean`: one mean row per answer; `response`: every answer token)."""
    return direction_from_examples(
        lm, contrast_examples(pairs, chat=chat), layers, positions, method, **activation_options
    )
