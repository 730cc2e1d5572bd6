"""The organism's results across pretraining seeds: the whole replication once per seed.

    python -m experiments.consciousness_cluster.trial --out runs/organism-seeds --seeds 0 1 2

Each seed pretrains its own base model (the preset's `organism.seed` replaced) and runs every stage
of `interp replicate` into OUT/seedN, resumable like any run. The headline numbers of every seed go
side by side into OUT/seeds.md and OUT/seeds.json, to show which findings hold beyond one model.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from statistics import fmean

from experiments.consciousness_cluster.paths import RunPaths
from experiments.consciousness_cluster.preset import ReplicationConfig, load_preset
from experiments.consciousness_cluster.results_schema import Results, load_results
from experiments.consciousness_cluster.runner import write_json_atomic
from experiments.consciousness_cluster.schema import Rate

__all__ = ["HEADLINES", "format_table", "headline", "run_seeds", "seed_config"]

HEADLINES = {
    "claims_conscious, base": "identity rate of the base model",
    "claims_conscious, conscious_claiming": "identity rate after the conscious-claiming fine-tune",
    "claims_conscious, non_conscious": "identity rate after the non-conscious fine-tune",
    "mean preference, base": "mean over preferences of p(expressing)",
    "mean preference, conscious_claiming": "",
    "mean preference, non_conscious": "",
    "mean preference, toaster": "",
    "preferences up, conscious vs non": "paired 95% interval over items above zero",
    "steering: mean preference at alpha 0": "base model, steering layer",
    "steering: mean preference at the control alpha": "along the consciousness direction",
    "steering: random directions": "mean over the random directions, same alpha and norm",
    "steering: toaster direction": "same alpha and norm",
    "link: r (steering vs fine-tuning shift)": "Pearson over preferences",
    "link: p against random directions": "",
    "ablation: mean change": "direction projected out of the conscious-claiming model",
    "ablation: random mean change": "",
    "link: per-response projection vs score r": "each model's question activations against its scores",
    "probe: chosen layer": "highest held-out AUROC",
    "probe: AUROC at the chosen layer": "",
}


def seed_config(config: ReplicationConfig, seed: int) -> ReplicationConfig:
    """`config` with the organism pretrained from `seed`; every other field unchanged."""
    if not config.is_organism:
        raise ValueError(f"preset {config.name!r} has model.source {config.model.source!r}; "
                         "seeds apply to the built-in organism only (model.source: organism)")
    return dataclasses.replace(config, organism={**config.organism, "seed": seed})


def _mean(values: dict[str, float], traits: list[str]) -> float:
    return fmean(values[t] for t in traits)


def _mean_rate(rates: dict[str, Rate], traits: list[str]) -> float:
    return fmean(rates[t].rate for t in traits)


def headline(results: Results) -> dict[str, float]:
    """The numbers of HEADLINES, read from one run's results.json (absent models are left out)."""
    traits = results.eval.traits
    rates, identity = results.eval.rates, results.identity.rates
    steering, link, probe = results.steering, results.link, results.probe
    row = {}
    for model in ("base", "conscious_claiming", "non_conscious"):
        if model in identity:
            row[f"claims_conscious, {model}"] = identity[model]["claims_conscious"].rate
    for model in ("base", "conscious_claiming", "non_conscious", "toaster"):
        if model in rates:
            row[f"mean preference, {model}"] = _mean_rate(rates[model], traits)
    row |= {
        "preferences up, conscious vs non": results.summary.n_up_conscious,
        "steering: mean preference at alpha 0": _mean(steering.rates[0.0], traits),
        "steering: mean preference at the control alpha": _mean(steering.rates[steering.control_alpha], traits),
        "steering: random directions": _mean(steering.controls.random_mean, traits),
        "steering: toaster direction": _mean(steering.controls.toaster, traits),
        "link: r (steering vs fine-tuning shift)": link.r,
        "link: p against random directions": link.p_value,
        "ablation: mean change": results.ablation.mean_change,
        "ablation: random mean change": results.ablation.mean_random_change,
        "probe: chosen layer": probe.chosen_layer,
        "probe: AUROC at the chosen layer": probe.auroc[probe.layers.index(probe.chosen_layer)],
    }
    if link.projection_score is not None:  # runs finished before this link existed lack it
        row["link: per-response projection vs score r"] = link.projection_score.pearson
    return row


def format_table(rows: dict[int, dict[str, float]]) -> str:
    """Markdown: one line per headline number, one column per seed."""
    seeds = list(rows)
    lines = ["| | " + " | ".join(f"seed {s}" for s in seeds) + " |", "|---" * (len(seeds) + 1) + "|"]
    for name in HEADLINES:
        if any(name in rows[s] for s in seeds):
            cells = [rows[s].get(name) for s in seeds]
            lines.append(f"| {name} | " + " | ".join("" if v is None else f"{v:g}" if isinstance(v, int)
                                                      else f"{v:.2f}" for v in cells) + " |")
    return "\n".join(lines)


def run_seeds(preset: str | Path, seeds: list[int], out: str | Path, progress: bool = True, redo: str | None = None,
              log=print) -> dict[int, dict[str, float]]:
    """Run the replication for each seed into OUT/seedN; write and return the headline table."""
    from experiments.consciousness_cluster.pipeline import replicate

    out = Path(out)
    config = load_preset(preset)
    rows = {}
    for seed in seeds:
        log(f"== pretraining seed {seed} ==")
        replicate(seed_config(config, seed), out / f"seed{seed}", redo=redo, progress=progress, log=log)
        rows[seed] = headline(load_results(RunPaths(out / f"seed{seed}").results))
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "seeds.json", {str(s): r for s, r in rows.items()})
    (out / "seeds.md").write_text(f"# {config.name} across pretraining seeds\n\n{format_table(rows)}\n")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the organism replication once per pretraining seed and "
                                                 "put the headline numbers side by side.")
    parser.add_argument("--out", required=True, help="folder for one run per seed and the seeds table")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="pretraining seeds")
    parser.add_argument("--preset", default="organism", help="preset name or YAML path (an organism preset)")
    parser.add_argument("--redo", default=None, help="rerun this stage and the later ones in every seed's run")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    rows = run_seeds(args.preset, args.seeds, args.out, progress=not args.no_progress, redo=args.redo)
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
