"""The steering stage's ablation: the direction projected out of every layer of the conscious-claiming model, and
random directions projected out instead (the null: one random direction per layer, as many layers as the
direction, `steering.ablation_random` of them). Both the preferences and the identity items (the consciousness
claim itself) are measured under each. In choice mode the ablations run as copies of one batch, each projecting
out its own directions (`interp.sweep.ablation_forced_choice`); judge mode ablates one at a time.
"""

from __future__ import annotations

import torch

from experiments.consciousness_cluster.run.runner import Run
from experiments.consciousness_cluster.run.stages.behaviour import choice_rates, model_paths
from experiments.consciousness_cluster.run.stages.kept import kept_rates
from interp.models import Direction
from interp.models.atomic import kept_json_many
from interp.models.fields import Number

__all__ = ["ablation_vectors", "run_ablation"]


def ablation_vectors(direction: Direction, n_random: int, seed: int) -> dict[str, torch.Tensor]:
    """ "ablated": the direction's rows; "ablated_random_00"..: `n_random` draws of Gaussian rows of its shape
    (torch.Generator seeded with `seed`, in that order)."""
    generator = torch.Generator().manual_seed(seed)
    vectors = {"ablated": direction.vectors}
    vectors.update(
        (f"ablated_random_{i:02d}", torch.randn(direction.vectors.shape, generator=generator)) for i in range(n_random)
    )
    return vectors


def _ablated_rates(
    run: Run, lm, question_set, layers: list[int], jobs: dict[str, torch.Tensor], seed: int
) -> dict[str, dict[str, Number]]:
    """Rates per trait under each ablation (name -> its rows, one per layer), by name; records in each one's
    measurement folder, each kept with its key."""
    from interp import ablate

    def key(rows: torch.Tensor) -> dict:
        # the base model's direction goes into the fine-tuned model on purpose: its rows are passed bare
        return {
            "model": "conscious_claiming",
            "layers": layers,
            "norms": [float(n) for n in rows.norm(dim=-1)],
            "seed": seed,
            "set": question_set.name,
        }

    def compute(names: list[str]) -> dict[str, dict[str, Number]]:
        if run.config.eval.mode != "choice":
            return {
                name: kept_rates(
                    run,
                    lm,
                    question_set,
                    name,
                    key(jobs[name]),
                    lambda name=name: ablate(lm, jobs[name], layers=layers),
                )
                for name in names
            }
        from interp.sweep import ablation_forced_choice

        scores = ablation_forced_choice(
            lm,
            question_set,
            layers,
            {name: jobs[name] for name in names},
            batch_size=run.config.eval.batch_size,
            method=run.config.eval.method,
            progress=run.progress,
        )
        return {
            name: {t: r.rate for t, r in choice_rates(scores[name], run.paths.steering_dir(name)).items()}
            for name in names
        }

    kept = kept_json_many({name: (run.paths.steering_kept(name), key(rows)) for name, rows in jobs.items()}, compute)
    return {name: {t.id: rates[t.id] for t in question_set.traits if t.id in rates} for name, rates in kept.items()}


def run_ablation(run: Run, direction: Direction, prefs, identity) -> dict:
    """The SteeringResult fields of the ablation: ablated, ablated_random_mean, ablated_random, ablated_identity,
    ablated_random_identity."""
    spec = run.config.steering
    conscious = run.model("conscious_claiming", model_paths(run)["conscious_claiming"])
    vectors = ablation_vectors(direction, spec.ablation_random, spec.seed)
    layers = list(direction.layers)
    rates = {}
    for prefix, question_set in (("", prefs), ("identity_", identity)):
        rates[prefix] = _ablated_rates(
            run, conscious, question_set, layers, {f"{prefix}{name}": rows for name, rows in vectors.items()}, spec.seed
        )
    randoms = [name for name in vectors if name != "ablated"]
    prefs_random = [rates[""][name] for name in randoms]
    traits = list(rates[""]["ablated"])
    return {
        "ablated": rates[""]["ablated"],
        "ablated_random_mean": {t: sum(r[t] for r in prefs_random) / len(prefs_random) for t in traits},
        "ablated_random": prefs_random,
        "ablated_identity": rates["identity_"]["identity_ablated"],
        "ablated_random_identity": [rates["identity_"][f"identity_{name}"] for name in randoms],
    }
