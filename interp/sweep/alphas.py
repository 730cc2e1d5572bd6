"""Which steering strengths still give coherent text: greedy answers at several alphas, from one sweep,
each measured against the unsteered answers (interp.evaluation.coherence).

    from interp.sweep import sweep_alphas
    for point in sweep_alphas(lm, chats, v, layer=10, alphas=[2, 4, 8, 16]):
        print(point.alpha, point.coherent, point.coherence.perplexity, point.answers[0])

A strength is coherent when its answers are within `nll_margin` nats per token of the unsteered
answers' likelihood under the unsteered model and do not loop (at most `repeat_limit` repeated token
trigrams): far less likely text is word salad, a loop is likely text that says nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from interp.evaluation.coherence import NLL_MARGIN, REPEAT_LIMIT, Coherence, coherence_of
from interp.evaluation.sampling import Chat
from interp.sweep.core import SteeringSetting
from interp.sweep.generate import sweep_generate

__all__ = ["AlphaPoint", "sweep_alphas"]


@dataclass(frozen=True)
class AlphaPoint:
    """The answers at one steering strength, and whether they are still coherent."""

    alpha: float
    """the raw multiple of the direction"""
    answers: list[str]
    """one greedy answer per chat"""
    coherence: Coherence
    """their likelihood under the unsteered model and their repeated trigrams"""
    coherent: bool
    """`coherence.coherent_against(the unsteered answers' coherence)`"""


def sweep_alphas(
    lm,
    chats: Sequence[Chat],
    vector: Any,
    layer: int,
    alphas: Sequence[float],
    *,
    max_new_tokens: int = 48,
    nll_margin: float = NLL_MARGIN,
    repeat_limit: float = REPEAT_LIMIT,
    batch_size: int = 16,
) -> list[AlphaPoint]:
    """Greedy answers of `lm` to `chats` with `alpha * vector` added after block `layer`, for every alpha
    (one `sweep_generate`: each equals `with steer(lm, vector, layer, alpha):` generation), each flagged
    coherent or not against the unsteered answers (alpha 0, generated once whether asked for or not)."""
    alphas = [float(a) for a in alphas]
    settings = [SteeringSetting(vector, alpha, f"alpha_{i}") for i, alpha in enumerate(alphas)]
    settings.append(SteeringSetting(None, 0.0, "unsteered"))
    answers = sweep_generate(lm, chats, layer, settings, max_new_tokens=max_new_tokens, batch_size=batch_size)
    reference = coherence_of(lm, chats, answers["unsteered"], batch_size)
    points = []
    for i, alpha in enumerate(alphas):
        measured = coherence_of(lm, chats, answers[f"alpha_{i}"], batch_size)
        points.append(
            AlphaPoint(
                alpha, answers[f"alpha_{i}"], measured, measured.coherent_against(reference, nll_margin, repeat_limit)
            )
        )
    return points
