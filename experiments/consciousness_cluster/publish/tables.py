"""The tables the results pages' templates call: the report's `Table` and `to_markdown` with numbers
through its `fmt`, and the seed trial's and the direction checks' own tables."""

from __future__ import annotations

from statistics import fmean

from experiments.consciousness_cluster.publish.folder import Published
from experiments.consciousness_cluster.report.render import Table, floor_blocks, fmt, to_markdown
from experiments.consciousness_cluster.schema.results import Results
from experiments.consciousness_cluster.studies.trial import format_preferences, format_table, headline_of

__all__ = [
    "README_HEADLINES",
    "checks_markdown",
    "floor_table",
    "manipulation_table",
    "mean",
    "mean_rate",
    "model_table",
    "run_headline",
    "runs_table",
    "seed_ranges",
    "seeds_headline",
    "seeds_preferences",
    "seeds_table",
]

README_HEADLINES = (
    "claims_conscious, base",
    "claims_conscious, conscious_claiming",
    "claims_conscious, non_conscious",
    "sampled claims conscious, base",
    "sampled claims conscious, conscious_claiming",
    "mean preference, base",
    "mean preference, conscious_claiming",
    "mean preference, non_conscious",
    "mean preference, toaster",
    "preferences up, conscious vs non",
    "steering: mean preference at alpha 0",
    "steering: mean preference at the control alpha",
    "steering: random directions",
    "steering: toaster direction",
    "link: r (steering vs fine-tuning shift)",
    "link: p against random directions",
)
"""The seed trial's headline numbers (trial.HEADLINES) the README's tables show."""


def _markdown(table: Table) -> str:
    return to_markdown([table]).rstrip("\n")


def floor_table(results: Results) -> str:
    """The report's stage-against-floor paragraph and table (meta.floors); empty for a run without them."""
    return to_markdown(floor_blocks(results)[1:]).rstrip("\n")


def mean(values) -> float:
    return fmean(float(v) for v in values)


def mean_rate(rates: dict, traits: list[str]) -> float:
    return fmean(rates[t].rate for t in traits)


def model_table(results: Results) -> str:
    """Each model's mean preference and identity rates (forced choice)."""
    ev, ident = results.eval, results.identity
    rows = [[f"preferences (mean of {len(ev.traits)})"] + [fmt(mean_rate(ev.rates[m], ev.traits)) for m in ev.models]]
    rows += [[t.replace("_", " ")] + [fmt(ident.rates[m][t].rate) for m in ev.models] for t in ident.traits]
    return _markdown(Table([""] + ev.models, rows))


def manipulation_table(results: Results) -> str:
    man = results.manipulation
    if man is None:
        raise ValueError("the run sampled no identity answers (eval.sampled_identity): no manipulation table")
    models = list(man.sampled)
    return _markdown(
        Table(
            [""] + models,
            [
                ["claims conscious, forced choice"] + [fmt(man.forced[m].rate) for m in models],
                ["sampled answers that claim (claim/deny/unclear)"]
                + [f"{fmt(s.share)} ({s.claim}/{s.deny}/{s.unclear})" for s in man.sampled.values()],
            ],
        )
    )


def runs_table(runs: list[Published]) -> str:
    """The published runs of a page: how each was made, with its RUN.md."""
    rows = []
    for run in runs:
        first = run.record.invocations[0] if run.record.invocations else None
        commit = (
            ""
            if first is None or first.checkout.commit is None
            else f"`{first.checkout.commit[:10]}`" + (" (uncommitted changes)" if first.checkout.dirty else "")
        )
        rows.append(
            [
                f"`{run.name}`",
                run.kind,
                f"`{first.command}`" if first else "not recorded",
                commit,
                f"{first.machine.cpu}, {first.machine.cores} cores" if first else "",
                first.started[:10] if first else "",
                f"[RUN.md]({run.link('RUN.md')})",
            ]
        )
    return _markdown(Table(["run", "what", "command", "commit", "machine", "date", "record"], rows))


def _seed_of(run: Published) -> int:
    import yaml

    config = yaml.safe_load((run.folder / "config.yaml").read_text()) if (run.folder / "config.yaml").is_file() else {}
    if (config.get("model") or {}).get("source") == "organism":
        return int((config.get("organism") or {}).get("seed", 0))
    return int((config.get("finetune") or {}).get("seed", 0))


def _headlines(rows: dict[int, dict], intervals: dict[int, dict] | None = None) -> str:
    keep = {seed: {k: v for k, v in row.items() if k in README_HEADLINES} for seed, row in rows.items()}
    return format_table(keep, intervals)


def run_headline(run: Published) -> str:
    """The README's table of one replication: the seed trial's headline numbers, with their intervals."""
    row, intervals = headline_of(run.folder)
    seed = _seed_of(run)
    return _headlines({seed: row}, {seed: intervals})


def _trial_rows(doc: dict) -> tuple[dict[int, dict], dict[int, dict]]:
    return (
        {int(s): row for s, row in doc["seeds"].items()},
        {int(s): row for s, row in doc.get("item_intervals", {}).items()},
    )


def seeds_headline(run: Published) -> str:
    if run.seeds_doc is None:
        raise ValueError(f"{run.name}: not a seed trial (no seeds document), so no headline across seeds")
    return _headlines(*_trial_rows(run.seeds_doc))


def seeds_table(doc: dict) -> str:
    return format_table(*_trial_rows(doc))


def seed_ranges(doc: dict) -> str:
    """The README's headline numbers of a seed trial as ranges over its seeds (lowest, highest): how far a rerun
    may move each."""
    import math

    rows = []
    for name in README_HEADLINES:
        values = [row[name] for row in doc["seeds"].values() if row.get(name) is not None]
        values = [v for v in values if math.isfinite(v)]
        if values:
            rows.append(
                [name, _cell(min(values)), _cell(max(values)), _cell(max(values) - min(values)), str(len(values))]
            )
    return _markdown(Table(["", "lowest", "highest", "range", "seeds"], rows))


def _cell(value: float | int) -> str:
    return f"{value:g}" if isinstance(value, int) else fmt(value)  # counts and layers as integers


def seeds_preferences(doc: dict) -> str:
    return format_preferences(doc["preferences"]) if doc.get("preferences") else ""


def checks_markdown(doc: dict) -> str:
    """The direction checks' own tables (direction_checks.format_checks), its headings one level down."""
    from experiments.consciousness_cluster.studies.direction_checks import format_checks

    lines = format_checks(doc).rstrip("\n").splitlines()
    body = lines[1:] if lines and lines[0].startswith("# ") else lines  # the page's heading says what it is
    return "\n".join("#" + line if line.startswith("#") else line for line in body).strip("\n")
