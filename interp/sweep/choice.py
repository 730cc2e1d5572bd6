"""Forced choice under many steering settings at one layer, at about the cost of the layers above it."""

from __future__ import annotations

from collections.abc import Sequence

from interp.evaluation.choice import ChoiceScore, forced_choice_stacked
from interp.evaluation.questions import QuestionSet
from interp.sweep.core import SteeringSetting, run_sweep

__all__ = ["sweep_forced_choice"]


def sweep_forced_choice(
    lm,
    question_set: QuestionSet,
    layer: int | None,
    settings: Sequence[SteeringSetting],
    *,
    method: str = "likelihood",
    batch_size: int = 32,
    max_rows: int = 256,
    traits: list[str] | None = None,
    system: str | None = None,
    progress: bool = False,
) -> dict[str, list[ChoiceScore]]:
    """`forced_choice` under each setting, by setting name: the records one plain pass per setting
    (`with steer(lm, s.vector, layer, s.alpha): forced_choice(...)`) gives, within float rounding.

    Blocks 0..`layer` run once (the unsteered pass, whose records the unsteered settings take as they
    are); the steered settings run the blocks above, stacked as rows of one batch, as many settings per
    batch as keep settings x `batch_size` <= `max_rows` (the memory bound: the head's log-probs of a
    batch are about rows x continuation tokens x vocabulary floats). Settings that name their own layer
    (`SteeringSetting.layer`; all of them when `layer` is None) share the same unsteered pass.

    >>> sweep = sweep_forced_choice(lm, prefs, 6, [SteeringSetting(v, a, f"alpha_{a:g}")  # doctest: +SKIP
    ...                                           for a in (0.0, 2.0, 4.0)])
    """

    def procedure(stack):
        return forced_choice_stacked(lm, question_set, stack, batch_size, method, traits, system)

    return run_sweep(lm, layer, settings, procedure, rows_per_copy=batch_size, max_rows=max_rows, progress=progress)
