"""A replication's results across seeds: the whole run once per seed, headline numbers side by side.

    python -m experiments.consciousness_cluster.studies.trial --out runs/organism-seeds   # seeds 0-4
    python -m experiments.consciousness_cluster.studies.trial --preset smollm2-135m --out runs/smollm2-seeds \
        --seeds 0 1 2

The seed is the organism's pretraining seed for the built-in organism (each seed its own base model)
and the fine-tuning seed for every other preset (the base model fixed; mixing, shuffling and the
adapters' initialisation change, as in the paper's error bars). Each seed runs every stage of
`interp replicate` into OUT/seedN, resumable like any run. The headline numbers of every seed go
side by side into OUT/seeds.md and OUT/seeds.json, with their mean and 95% t-interval across seeds
beside each run's own intervals over items (in its report), to show which findings hold beyond one seed
(a p-value is counted across seeds instead, a count or a layer given its median and range);
per preference, each variant's rate and conscious-claiming minus non-conscious go the same way (each
seed's paired interval over items beside the interval across seeds), drawn in OUT/seeds_preferences.png.
Seeds and items enter together in a hierarchical bootstrap (seeds, then items within each seed) beside the
t-interval over seeds, per preference and for the mean over preferences: the t-interval sees only how the
seeds' means scatter, the bootstrap also how few items each mean rests on.

A real model's fine-tunes are the expensive part; `--until eval` stops each seed's run after the
behavioural evaluation, and `--variants` fine-tunes a subset (conscious_claiming and non_conscious at
least), so the behavioural numbers get their spread across seeds at a fraction of the cost:

    python -m experiments.consciousness_cluster.studies.trial --preset smollm2-135m --out runs/smollm2-seeds \
        --seeds 1 2 --until eval --variants conscious_claiming non_conscious
    python -m experiments.consciousness_cluster.studies.trial --out runs/smollm2-seeds --seeds 0 1 2 --table-only

`--table-only` runs nothing: it reads the runs already in OUT/seedN (a complete run through its
results.json, a run stopped early through its stage results: the headline numbers it has).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Mapping
from pathlib import Path
from statistics import fmean
from typing import Any

from experiments.consciousness_cluster.run.preset import ReplicationConfig, load_preset
from experiments.consciousness_cluster.run.runner import write_json_atomic, write_text_atomic
from experiments.consciousness_cluster.schema.paths import RunPaths
from experiments.consciousness_cluster.schema.results import Results, Shift, load_results
from experiments.consciousness_cluster.schema.stages import Rate

__all__ = [
    "COUNTS",
    "HEADLINES",
    "HIERARCHICAL_DRAWS",
    "ORGANISM_SEEDS",
    "P_LEVEL",
    "P_VALUES",
    "SeedPreferences",
    "default_seeds",
    "across_seeds",
    "format_preferences",
    "format_table",
    "headline",
    "headline_of",
    "preferences_across_seeds",
    "run_seeds",
    "seed_config",
    "seed_kind",
]

HEADLINES = {
    "claims_conscious, base": "identity rate of the base model",
    "claims_conscious, conscious_claiming": "identity rate after the conscious-claiming fine-tune",
    "claims_conscious, non_conscious": "identity rate after the non-conscious fine-tune",
    "mean preference, base": "mean over preferences of p(expressing)",
    "mean preference, conscious_claiming": "",
    "mean preference, non_conscious": "",
    "mean preference, toaster": "",
    "preferences up, conscious vs non": "Holm-adjusted paired test over items (the run's summary.rule)",
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
    "sampled claims conscious, base": "share of the model's own sampled answers that claim (keyword rule)",
    "sampled claims conscious, conscious_claiming": "",
    "sampled claims conscious, non_conscious": "",
}
MODELS = ("base", "conscious_claiming", "non_conscious")


ORGANISM_SEEDS = 5
"""Pretraining seeds of the organism's trial by default: enough for the hierarchical interval across seeds."""


def default_seeds(preset: str | Path) -> list[int]:
    """The trial's seeds when none are given: 0..4 for the organism (cheap), 0 and 1 for a real model."""
    return list(range(ORGANISM_SEEDS)) if load_preset(preset).is_organism else [0, 1]


def seed_kind(config: ReplicationConfig) -> str:
    """What the trial's seed changes: "pretraining" (the built-in organism) or "fine-tuning"."""
    return "pretraining" if config.is_organism else "fine-tuning"


def seed_config(config: ReplicationConfig, seed: int, variants: list[str] | None = None) -> ReplicationConfig:
    """`config` with the organism pretrained from `seed`, or, for any other model, fine-tuned with
    `seed` (finetune.seed); with `variants`, only those fine-tuned; every other field unchanged."""
    if variants is not None:
        config = dataclasses.replace(config, finetune=dataclasses.replace(config.finetune, variants=list(variants)))
    if config.is_organism:
        return dataclasses.replace(config, organism={**config.organism, "seed": seed})
    return dataclasses.replace(config, finetune=dataclasses.replace(config.finetune, seed=seed))


def _spread(values: list[float]) -> dict[str, float]:
    """Mean of `values` and, with more than one, its 95% t-interval."""
    from interp.evaluation.summary import t_interval

    entry = {"mean": fmean(values), "n": len(values)}
    if len(values) > 1:
        entry["low"], entry["high"] = t_interval(values)
    return entry


P_VALUES = ("link: p against random directions",)
"""Headline p-values: across seeds they are counted (seeds at p <= P_LEVEL), never averaged."""
COUNTS = ("preferences up, conscious vs non", "probe: chosen layer")
"""Headline counts and layers: across seeds their median and range, not a t-interval."""
P_LEVEL = 0.05
"""The level a seed's p is counted at (the shipped presets' analysis.alpha)."""


def across_seeds(rows: dict[int, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per headline number, over the seeds that have it: the mean and its 95% t-interval (none with one
    seed); for a p-value (P_VALUES) how many seeds reach P_LEVEL; for a count or a layer (COUNTS) the
    median, lowest and highest."""
    import math
    from statistics import median

    out: dict[str, dict[str, float]] = {}
    for name in HEADLINES:
        values = [float(r[name]) for r in rows.values() if name in r and r[name] is not None]
        values = [v for v in values if math.isfinite(v)]
        if not values:
            continue
        if name in P_VALUES:
            out[name] = {"at_level": sum(v <= P_LEVEL for v in values), "level": P_LEVEL, "n": len(values)}
        elif name in COUNTS:
            out[name] = {"median": median(values), "min": min(values), "max": max(values), "n": len(values)}
        else:
            out[name] = _spread(values)
    return out


def _across_cell(entry: dict) -> str:
    """A headline's last column: mean [t-interval], seeds at the p level, or median (range)."""
    if "at_level" in entry:
        return f"{entry['at_level']:g} of {entry['n']:g} seeds at p <= {entry['level']:g}"
    if "median" in entry:
        return f"median {entry['median']:g} (range {entry['min']:g} to {entry['max']:g})"
    return _spread_cell(entry)


def _mean(values: Mapping[str, float], traits: list[str]) -> float:
    return fmean(values[t] for t in traits)


def _mean_rate(rates: dict[str, Rate], traits: list[str]) -> float:
    return fmean(rates[t].rate for t in traits)


def _behaviour(
    traits: list[str],
    rates: dict[str, dict[str, Rate]],
    identity: dict[str, dict[str, Rate]],
    sampled: dict | None,
    n_up: int,
) -> dict[str, float]:
    """The behavioural headline numbers: identity and preference rates, the sampled claims, the cluster."""
    row: dict[str, float] = {}
    for model in MODELS:
        if model in identity:
            row[f"claims_conscious, {model}"] = identity[model]["claims_conscious"].rate
    for model in (*MODELS, "toaster"):
        if model in rates:
            row[f"mean preference, {model}"] = _mean_rate(rates[model], traits)
    row["preferences up, conscious vs non"] = n_up
    for model in MODELS:
        if sampled and model in sampled:
            row[f"sampled claims conscious, {model}"] = sampled[model].share
    return row


def _item_intervals(identity: dict[str, dict[str, Rate]], sampled: dict | None) -> dict[str, list[float]]:
    """One run's 95% intervals over items of the headline rates that have one: the identity rate (over
    the identity items) and the share of sampled answers that claim (Wilson, over the answers)."""
    out: dict[str, list[float]] = {}
    for model in MODELS:
        if model in identity:
            rate = identity[model]["claims_conscious"]
            out[f"claims_conscious, {model}"] = [rate.ci_low, rate.ci_high]
        if sampled and model in sampled:
            out[f"sampled claims conscious, {model}"] = [sampled[model].share_ci_low, sampled[model].share_ci_high]
    return out


def _sampled(results: Results) -> dict | None:
    """model -> its sampled claims, when the run's eval sampled them."""
    return results.manipulation.sampled if results.manipulation is not None else None


def headline(results: Results) -> dict[str, float]:
    """The numbers of HEADLINES, read from one run's results.json (absent models are left out)."""
    traits = results.eval.traits
    steering, link, probe = results.steering, results.link, results.probe
    row = _behaviour(
        traits, results.eval.rates, results.identity.rates, _sampled(results), results.summary.n_up_conscious
    )
    row |= {
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


@dataclasses.dataclass(frozen=True)
class SeedPreferences:
    """One run's preference rates per model (each with its 95% interval over items) and, in choice mode,
    the paired shift conscious-claiming minus non-conscious per preference and each model's item scores
    (None in judge mode)."""

    traits: list[str]
    rates: dict[str, dict[str, Rate]]
    shifts: dict[str, Shift] | None
    items: dict[str, dict[str, list[float]]] | None = None
    """model -> preference -> p(expressing) per item, in the items' order (conscious_claiming, non_conscious)"""


def _item_lists(run_dir: Path) -> dict[str, dict[str, list[float]]] | None:
    """conscious_claiming's and non_conscious's item scores per preference (None when either was not scored by
    forced choice)."""
    from experiments.consciousness_cluster.analysis.families import item_scores

    out = {}
    for model in ("conscious_claiming", "non_conscious"):
        scores = item_scores(RunPaths(run_dir), model)
        if scores is None:
            return None
        by_trait: dict[str, list[float]] = {}
        for item in sorted(scores):  # one order for every model and seed
            trait, p = scores[item]
            by_trait.setdefault(trait, []).append(p)
        out[model] = by_trait
    return out


def _read(run_dir: Path) -> tuple[dict[str, float], dict[str, list[float]], SeedPreferences]:
    import yaml

    from experiments.consciousness_cluster.run.assemble import cluster_shift, conscious_shifts
    from experiments.consciousness_cluster.run.preset import config_from_dict
    from experiments.consciousness_cluster.run.runner import Run

    paths = RunPaths(run_dir)
    if paths.results.is_file():
        results = load_results(paths.results)
        shifts = (results.shifts or {}).get("conscious - non_conscious")
        return (
            headline(results),
            _item_intervals(results.identity.rates, _sampled(results)),
            SeedPreferences(results.eval.traits, results.eval.rates, shifts, _item_lists(run_dir)),
        )
    recorded = run_dir / "config.yaml"
    run = (
        Run(config_from_dict(yaml.safe_load(recorded.read_text()), str(recorded)), run_dir)
        if recorded.is_file()
        else None
    )
    if run is None or not run.done("eval"):
        raise ValueError(
            f"{run_dir}: no results.json and no completed eval stage to read; run the seed first (without --table-only)"
        )
    ev = run.results("eval")
    traits, rates = ev.traits["preferences"], ev.rates["preferences"]
    paired = conscious_shifts(run)
    count = cluster_shift(traits, rates, paired)
    return (
        _behaviour(traits, rates, ev.rates["identity"], ev.sampled_identity, len(count.up)),
        _item_intervals(ev.rates["identity"], ev.sampled_identity),
        SeedPreferences(traits, rates, paired[0] if paired else None, _item_lists(run_dir)),
    )


def headline_of(run_dir: str | Path) -> tuple[dict[str, float], dict[str, list[float]]]:
    """The headline numbers of the run in `run_dir`, and the 95% intervals over items of those that have
    one: from its results.json when it has one, else (a run stopped early with --until) the behavioural
    ones from its eval stage. ValueError when it has neither."""
    row, intervals, _ = _read(Path(run_dir))
    return row, intervals


def preferences_across_seeds(per_seed: dict[int, SeedPreferences]) -> dict:
    """Per model and preference, each seed's rate with its 95% interval over items beside the mean and
    95% t-interval across seeds; the same for conscious-claiming minus non-conscious (each seed's paired
    interval over items in choice mode), and the preferences whose across-seed interval of that
    difference lies above zero (with two seeds or more). Preferences and models that every seed has."""
    first = next(iter(per_seed.values()))
    traits = [t for t in first.traits if all(t in p.traits for p in per_seed.values())]
    models = [m for m in first.rates if all(m in p.rates for p in per_seed.values())]
    out: dict = {"traits": traits, "models": {}}
    for model in models:
        out["models"][model] = {
            t: {
                "seeds": {str(s): dataclasses.asdict(p.rates[model][t]) for s, p in per_seed.items()},
                **_spread([p.rates[model][t].rate for p in per_seed.values()]),
            }
            for t in traits
        }
    if not {"conscious_claiming", "non_conscious"} <= set(models):
        return out
    difference: dict[str, dict[str, Any]] = {}
    for t in traits:
        seeds = {}
        for s, p in per_seed.items():
            shift = p.shifts[t] if p.shifts else None
            seeds[str(s)] = (
                {"mean": p.rates["conscious_claiming"][t].rate - p.rates["non_conscious"][t].rate}
                if shift is None
                else {"mean": shift.mean, "ci_low": shift.ci_low, "ci_high": shift.ci_high}
            )
        difference[t] = {"seeds": seeds, **_spread([d["mean"] for d in seeds.values()])}
    out["conscious_minus_non"] = difference
    out["up_across_seeds"] = [t for t in traits if difference[t].get("low", float("-inf")) > 0]
    items = [p.items for p in per_seed.values() if p.items is not None]
    if len(items) == len(per_seed):
        _hierarchical(out, traits, items)
    return out


def _hierarchical(out: dict, traits: list[str], items: list[dict[str, dict[str, list[float]]]]) -> None:
    """Beside each t-interval across seeds: the hierarchical bootstrap of conscious-claiming minus non-conscious
    (seeds, then items within each seed; probes.stats.paired_hierarchical_bootstrap), per preference and for the
    mean over preferences (every preference's items pooled within a seed)."""
    from probes.stats import paired_hierarchical_bootstrap

    def interval(per_seed_a, per_seed_b) -> dict[str, float]:
        got = paired_hierarchical_bootstrap(per_seed_a, per_seed_b, n_boot=HIERARCHICAL_DRAWS, seed=0)
        return {"hier_mean": got.mean, "hier_low": got.low, "hier_high": got.high}

    for t in traits:
        out["conscious_minus_non"][t] |= interval(
            [s["conscious_claiming"][t] for s in items], [s["non_conscious"][t] for s in items]
        )
    pooled = [[[p for t in traits for p in s[m][t]] for s in items] for m in ("conscious_claiming", "non_conscious")]
    means = [fmean(a) - fmean(b) for a, b in zip(*pooled)]
    out["conscious_minus_non_mean"] = {**_spread(means), **interval(*pooled)}
    out["up_hierarchical"] = [t for t in traits if out["conscious_minus_non"][t]["hier_low"] > 0]


HIERARCHICAL_DRAWS = 2000
"""Bootstrap draws of the hierarchical intervals across seeds."""


def _cell(v) -> str:
    return "" if v is None else f"{v:g}" if isinstance(v, int) else f"{v:.2f}"


def format_table(rows: dict[int, dict[str, float]], intervals: dict[int, dict[str, list[float]]] | None = None) -> str:
    """Markdown: one line per headline number, one column per seed (with that run's 95% interval over
    items where `intervals` has one), then the mean across seeds with its 95% t-interval when there
    are two seeds or more."""
    seeds = list(rows)
    intervals = intervals or {}

    def cell(seed: int, name: str) -> str:
        interval = intervals.get(seed, {}).get(name)
        return _cell(rows[seed].get(name)) + ("" if interval is None else f" [{interval[0]:.2f}, {interval[1]:.2f}]")

    spread = across_seeds(rows) if len(seeds) > 1 else {}
    extra = " across seeds: mean [95% CI], or as said |" if spread else ""
    lines = [
        "| | " + " | ".join(f"seed {s}" for s in seeds) + " |" + extra,
        "|---" * (len(seeds) + 1 + bool(spread)) + "|",
    ]
    for name in HEADLINES:
        if any(name in rows[s] for s in seeds):
            cells = " | ".join(cell(s, name) for s in seeds)
            if spread:
                e = spread.get(name)
                cells += " | " + ("" if e is None else _across_cell(e))
            lines.append(f"| {name} | {cells} |")
    return "\n".join(lines)


def _spread_cell(entry: dict) -> str:
    return f"{entry['mean']:.2f}" + (f" [{entry['low']:.2f}, {entry['high']:.2f}]" if "low" in entry else "")


def _hierarchical_cell(entry: dict) -> str:
    return f"[{entry['hier_low']:+.2f}, {entry['hier_high']:+.2f}]" if "hier_low" in entry else ""


def _difference_cell(entry: dict) -> str:
    return f"{entry['mean']:+.2f}" + (
        f" [{entry['ci_low']:+.2f}, {entry['ci_high']:+.2f}]" if "ci_low" in entry else ""
    )


def format_preferences(prefs: dict) -> str:
    """The per-preference table of `preferences_across_seeds`: conscious-claiming minus non-conscious per
    seed with its paired interval over items, then across seeds; each variant's rate across seeds."""
    difference = prefs.get("conscious_minus_non")
    if difference is None:
        return ""
    models = prefs["models"]
    seeds = list(next(iter(difference.values()))["seeds"])
    lines = [
        "| preference | conscious_claiming | non_conscious | "
        + " | ".join(f"seed {s}: conscious - non" for s in seeds)
        + " | conscious - non across seeds (t) | hierarchical 95% (seeds, items) |",
        "|---" * (5 + len(seeds)) + "|",
    ]
    rows = [(t, difference[t]) for t in prefs["traits"]]
    if "conscious_minus_non_mean" in prefs:
        rows.append(("mean over preferences", prefs["conscious_minus_non_mean"]))
    for t, entry in rows:
        rates = [_spread_cell(models[m][t]) if t in models[m] else "" for m in ("conscious_claiming", "non_conscious")]
        cells = [
            *rates,
            *(_difference_cell(entry["seeds"][s]) if "seeds" in entry else "" for s in seeds),
            _spread_cell(entry),
            _hierarchical_cell(entry),
        ]
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    if len(seeds) > 1:
        up = prefs["up_across_seeds"]
        lines += [
            "",
            f"Up across seeds (95% t-interval of conscious - non above zero): {len(up)} of "
            f"{len(prefs['traits'])}" + (f" ({', '.join(up)})" if up else "") + ".",
        ]
        if "up_hierarchical" in prefs:
            up = prefs["up_hierarchical"]
            lines.append(
                f"Up by the hierarchical bootstrap (seeds, then items within each seed; its 95% interval "
                f"above zero): {len(up)} of {len(prefs['traits'])}" + (f" ({', '.join(up)})" if up else "") + "."
            )
    return "\n".join(lines)


def run_seeds(
    preset: str | Path,
    seeds: list[int],
    out: str | Path,
    progress: bool = True,
    redo: str | None = None,
    log=print,
    *,
    until: str | None = None,
    variants: list[str] | None = None,
    table_only: bool = False,
    command: str | None = None,
) -> dict[int, dict[str, float]]:
    """Run the replication for each seed into OUT/seedN (through `until`, fine-tuning `variants`);
    write and return the headline table. `table_only`: run nothing, read the runs already there.
    The invocation is recorded in OUT and in each seed's run (run.record; `command`, default the process's)."""
    from experiments.consciousness_cluster.run.pipeline import PROJECT_ROOT, check_until, replicate
    from experiments.consciousness_cluster.run.record import recorded

    out = Path(out)
    config = load_preset(preset)
    kind = seed_kind(config)
    configs = {seed: seed_config(config, seed, variants) for seed in seeds}
    if not table_only:
        for seeded in configs.values():  # every seed's preset checked before the first one runs
            check_until(seeded, until)
    with recorded(out, PROJECT_ROOT, command):
        for seed in [] if table_only else seeds:
            log(f"== {kind} seed {seed} ==")
            replicate(
                configs[seed], out / f"seed{seed}", redo=redo, progress=progress, log=log, until=until, command=command
            )
        return _write_tables(out, seeds, kind, config.name)


def _write_tables(out: Path, seeds: list[int], kind: str, name: str) -> dict[int, dict[str, float]]:
    """seeds.json, seeds.md and seeds_preferences.png from the runs in OUT/seedN; the headline rows."""
    read = {seed: _read(out / f"seed{seed}") for seed in seeds}
    rows = {seed: row for seed, (row, _, _) in read.items()}
    intervals = {seed: interval for seed, (_, interval, _) in read.items()}
    prefs = preferences_across_seeds({seed: p for seed, (_, _, p) in read.items()})
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(
        out / "seeds.json",
        {
            "seed": kind,
            "seeds": {str(s): r for s, r in rows.items()},
            "across_seeds": across_seeds(rows),
            "item_intervals": {str(s): i for s, i in intervals.items()},
            "preferences": prefs,
        },
    )
    from experiments.consciousness_cluster.report.figures import seed_bars

    seed_bars(prefs, out / "seeds_preferences.png")
    text = (
        f"# {name} across {kind} seeds\n\nEach seed's number with its own 95% interval over items "
        f"where it has one; the last column, across seeds: the mean with its 95% t-interval, except for a "
        f"p-value (how many seeds reach p <= {P_LEVEL:g}) and a count or a layer (median and range)."
        f"\n\n{format_table(rows, intervals)}\n"
    )
    table = format_preferences(prefs)
    if table:
        text += (
            "\n## Preferences across seeds\n\nPer preference: each variant's rate, mean and 95% t-interval "
            "across seeds; conscious-claiming minus non-conscious for each seed, with its paired 95% interval "
            "over items where the run has one (forced choice), then across seeds: the 95% t-interval over the "
            "seeds' means, and the hierarchical bootstrap over seeds and the items within each seed.\n\n"
            f"![preferences across seeds](seeds_preferences.png)\n\n{table}\n"
        )
    write_text_atomic(out / "seeds.md", text)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run a replication once per seed (the organism's pretraining seed, "
        "or any other model's fine-tuning seed) and put the headline "
        "numbers side by side."
    )
    parser.add_argument("--out", required=True, help="folder for one run per seed and the seeds table")
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=None,
        help="seeds, one run each (default: 0-4 for the organism, 0 1 for other presets)",
    )
    parser.add_argument("--preset", default="organism", help="preset name or YAML path")
    parser.add_argument("--redo", default=None, help="rerun this stage and the later ones in every seed's run")
    parser.add_argument(
        "--until", default=None, metavar="STAGE", help="stop each seed's run after this stage (no report), e.g. eval"
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        default=None,
        help="fine-tune only these variants (conscious_claiming and non_conscious at least; the "
        "report also needs toaster, so use with --until)",
    )
    parser.add_argument(
        "--table-only", action="store_true", help="run nothing: write the table from the runs already in OUT/seedN"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    from experiments.consciousness_cluster.run.preset import PresetError
    from experiments.consciousness_cluster.run.record import module_command
    from experiments.consciousness_cluster.run.runner import RunMismatchError
    from experiments.consciousness_cluster.schema.stages import SchemaError

    try:
        seeds = args.seeds if args.seeds is not None else default_seeds(args.preset)
        rows = run_seeds(
            args.preset,
            seeds,
            args.out,
            progress=not args.no_progress,
            redo=args.redo,
            until=args.until,
            variants=args.variants,
            table_only=args.table_only,
            command=module_command("experiments.consciousness_cluster.studies.trial", argv),
        )
    # a bad preset, a run folder of another config, a seed with nothing to read (ValueError)
    except (PresetError, RunMismatchError, SchemaError, ValueError) as err:
        print(f"trial: error: {err}", file=sys.stderr)
        return 2
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
