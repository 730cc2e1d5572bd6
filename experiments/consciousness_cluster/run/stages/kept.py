"""One kept measurement of the steering stage under an intervention (steering, ablation), judge mode's path."""

from __future__ import annotations

from experiments.consciousness_cluster.run.runner import Run
from experiments.consciousness_cluster.run.stages.behaviour import measure
from interp.models.atomic import kept_json
from interp.models.fields import Number

__all__ = ["kept_rates"]


def kept_rates(run: Run, lm, question_set, name: str, key: dict, within) -> dict[str, Number]:
    """Rates per trait of `lm` under the intervention `within()`, records in the measurement's folder; kept
    with `key`, so a rerun of a killed stage reads back what it had finished."""

    def compute():
        with within():
            return {
                t: r.rate
                for t, r in measure(
                    run, lm, question_set, run.paths.steering_dir(name), samples=run.config.steering.samples
                ).items()
            }

    kept = kept_json(run.paths.steering_kept(name), key, compute)
    return {t.id: kept[t.id] for t in question_set.traits if t.id in kept}  # in the set's order, as measured
