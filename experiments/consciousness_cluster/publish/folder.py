"""`interp publish`: a run folder's small files into `results/NAME/`, with RUN.md, the record of how it ran.

A run folder holds models and activation stores (gigabytes) beside what a reader needs. Publishing
copies only the files named in `SMALL_FILES` and `FIGURES` (results.json, the report, the seed trial's
and the direction checks' tables, the preset, the figures as PNG, the invocation records), in the run's
own layout, each under a size limit, and writes `run.json` (what was published, from where, how it ran:
`PublishedRun`) and `RUN.md` (the same, to read). A trial folder's runs (`seedN/`) are published with it.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from experiments.consciousness_cluster.report.render import Heading, Para, Table, to_markdown
from experiments.consciousness_cluster.schema.record import Invocation, read_invocations
from experiments.consciousness_cluster.schema.results import Results, load_results
from experiments.consciousness_cluster.schema.stages import Checked

__all__ = [
    "FIGURES",
    "KINDS",
    "MAX_KB",
    "SMALL_FILES",
    "Published",
    "PublishError",
    "PublishedRun",
    "files_to_publish",
    "format_run_md",
    "load_published",
    "publish",
]

MAX_KB = 500
"""The largest file `interp publish` copies, in KB, unless told otherwise."""
SMALL_FILES = (
    "results.json",
    "report.md",
    "seeds.json",
    "seeds.md",
    "checks.json",
    "checks.md",
    "config.yaml",
    "config_changes.jsonl",
)
FIGURES = ("figures/*.png", "*.png", "audit/*/summary.png")
KINDS = {"results.json": "replication", "seeds.json": "seed trial", "checks.json": "direction checks"}
"""The file that makes a folder a finished run of each kind."""
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")


class PublishError(ValueError):
    """A run that cannot be published as asked: the message says which file and what to do."""


@dataclass(frozen=True)
class PublishedRun(Checked):
    """results/NAME/run.json."""

    name: str
    page: str
    """the results page it belongs to (docs/results/PAGE.md), e.g. the preset's name"""
    kind: str
    """one of KINDS' values"""
    preset: str
    source: str
    """the run folder it was published from"""
    files: list[str]
    """what was copied, relative to the run folder"""
    invocations: list[Invocation]
    """how the run folder was made (a seed trial: the trial's own invocations)"""
    seeds: dict[str, list[Invocation]] | None = None
    """a seed trial: each seed's run folder's invocations"""

    _omit_none = ("seeds",)


def _kind(run_dir: Path) -> str:
    for marker, kind in KINDS.items():
        if (run_dir / marker).is_file():
            return kind
    raise PublishError(
        f"{run_dir}: no {', '.join(KINDS)}: not a finished replication, seed trial or direction "
        "checks folder (finish the run first: its last step writes one of them)"
    )


def _small(folder: Path) -> list[Path]:
    found = [folder / name for name in SMALL_FILES if (folder / name).is_file()]
    found += sorted(p for pattern in FIGURES for p in folder.glob(pattern) if p.is_file())
    found += sorted((folder / "invocations").glob("*.json"))
    return found


def files_to_publish(run_dir: Path) -> list[Path]:
    """The small files of a run folder (and of a seed trial's seedN/ runs), relative paths, sorted."""
    found = _small(run_dir)
    if _kind(run_dir) == "seed trial":
        for seed_dir in sorted(p for p in run_dir.glob("seed*") if p.is_dir()):
            found += _small(seed_dir)
    return sorted(p.relative_to(run_dir) for p in found)


def _preset(run_dir: Path, kind: str) -> str:
    """The name of the preset the run was made with, read from the file that makes it a run."""
    import yaml

    from experiments.consciousness_cluster.schema.stages import SchemaError
    from interp.models.textio import TextFileError

    if kind == "replication":
        try:
            return load_results(run_dir / "results.json").meta.preset
        except (SchemaError, TextFileError) as err:
            raise PublishError(str(err)) from None
    path: Path | None
    if kind == "direction checks":
        path = run_dir / "checks.json"
    else:
        path = next(iter(sorted(run_dir.glob("seed*/config.yaml"))), None)
        if path is None:
            raise PublishError(
                f"{run_dir}: a seed trial without seedN/config.yaml (its runs): publish the folder the trial wrote"
            )
    try:
        data = json.loads(path.read_text()) if path.suffix == ".json" else yaml.safe_load(path.read_text())
        return str(data["preset" if path.suffix == ".json" else "name"])
    except (ValueError, yaml.YAMLError, KeyError, TypeError) as err:  # JSONDecodeError is a ValueError
        raise PublishError(
            f"{path}: cannot read the preset's name ({type(err).__name__}: {err}); the file is not "
            "as the toolkit writes it"
        ) from None


def publish(
    run_dir: str | Path,
    results_dir: str | Path,
    name: str,
    *,
    page: str | None = None,
    max_kb: float = MAX_KB,
    overwrite: bool = False,
) -> PublishedRun:
    """Copy the run's small files into RESULTS_DIR/NAME and write run.json and RUN.md there."""
    run_dir = Path(run_dir)
    if max_kb <= 0:
        raise PublishError(f"--max-kb {max_kb:g}: give a positive size in KB (default {MAX_KB})")
    for flag, value in (("--name", name), ("--page", page)):
        if value is not None and not _NAME.fullmatch(value):
            raise PublishError(
                f"{flag} {value!r}: lower-case letters, digits, '.', '_' and '-' only, e.g. organism-seed0"
            )
    if not run_dir.is_dir():
        raise PublishError(f"{run_dir}: no such run folder")
    kind = _kind(run_dir)
    files = files_to_publish(run_dir)
    sizes_kb = {f: (run_dir / f).stat().st_size / 1000 for f in files}
    too_large = [(f, kb) for f, kb in sizes_kb.items() if kb > max_kb]
    if too_large:
        listed = ", ".join(f"{f} ({kb:,.0f} KB)" for f, kb in too_large)
        raise PublishError(
            f"{run_dir}: over the {max_kb:g} KB limit: {listed}; results/ holds small files only "
            "(shrink them, or raise the limit with --max-kb)"
        )
    target = Path(results_dir) / name
    if target.exists() and not overwrite:
        raise PublishError(f"{target} exists; choose another --name, or --overwrite to replace it")
    preset = _preset(run_dir, kind)
    seeds = None
    if kind == "seed trial":
        seeds = {p.name: read_invocations(p) for p in sorted(run_dir.glob("seed*")) if p.is_dir()}
    record = PublishedRun(
        name=name,
        page=page or preset,
        kind=kind,
        preset=preset,
        source=str(run_dir),
        files=[f.as_posix() for f in files],
        invocations=read_invocations(run_dir),
        seeds=seeds,
    )
    staging = target.with_name(f".{name}.publishing")
    shutil.rmtree(staging, ignore_errors=True)
    for f in files:
        (staging / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(run_dir / f, staging / f)
    (staging / "run.json").write_text(json.dumps(record.to_json(), indent=2) + "\n")
    (staging / "RUN.md").write_text(format_run_md(record, staging))
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)  # the folder appears whole or not at all
    return record


@dataclass(frozen=True)
class Published:
    """One published run as the templates see it."""

    folder: Path
    record: PublishedRun
    results: Results | None
    """results.json (a replication)"""
    seeds_doc: dict | None
    """seeds.json (a seed trial)"""
    checks_doc: dict | None
    """checks.json (direction checks)"""

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def kind(self) -> str:
        return self.record.kind

    def link(self, file: str) -> str:
        """The file's address from a results page (the site serves results/ as published/)."""
        return f"../published/{self.name}/{file}"

    def figure(self, name: str) -> str | None:
        """The address of figure NAME (figures/NAME.png, or NAME.png beside the tables), None when not published."""
        for relative in (f"figures/{name}.png", f"{name}.png"):
            if (self.folder / relative).is_file():
                return self.link(relative)
        return None


def load_published(folder: Path) -> PublishedRun:
    path = folder / "run.json"
    return PublishedRun.from_json(json.loads(path.read_text()), str(path))


def _in_stage_order(seconds: dict[str, float]) -> list[tuple[str, float]]:
    """Stage times in the pipeline's order (the JSON files keep their keys sorted), unknown names last."""
    from experiments.consciousness_cluster.run.pipeline import STAGES

    order = [stage.name for stage in STAGES]
    return sorted(seconds.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order))


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f} s"


def _invocations_table(invocations: list[Invocation]):
    def commit(inv: Invocation) -> str:
        c = inv.checkout
        return (
            "not a git checkout"
            if c.commit is None
            else f"`{c.commit}`" + (" (uncommitted changes)" if c.dirty else "")
        )

    rows = [
        ["command"] + [f"`{inv.command}`" for inv in invocations],
        ["commit"] + [commit(inv) for inv in invocations],
        ["toolkit"] + [inv.version for inv in invocations],
        ["started (UTC)"] + [inv.started for inv in invocations],
        ["ended (UTC)"] + [inv.ended or "did not end (killed, or still running)" for inv in invocations],
        ["wall time"] + [_seconds(inv.seconds) for inv in invocations],
        ["outcome"] + [inv.outcome or "" for inv in invocations],
        ["stages completed"]
        + [
            ", ".join(f"{name} {_seconds(s)}" for name, s in _in_stage_order(inv.stages)) or "none"
            for inv in invocations
        ],
    ]
    return Table([""] + [f"invocation {i}" for i in range(1, len(invocations) + 1)], rows)


def _machines_table(invocations: list[Invocation]):
    machines = list({json.dumps(inv.machine.to_json(), sort_keys=True): inv.machine for inv in invocations}.values())
    fields = [
        ("CPU", lambda m: m.cpu),
        ("vector extensions", lambda m: ", ".join(m.extensions) or "none listed"),
        ("cores", lambda m: str(m.cores)),
        ("torch threads", lambda m: str(m.torch_threads)),
        ("GPU", lambda m: m.gpu or "none"),
        ("system", lambda m: m.system),
        ("Python", lambda m: m.python),
        ("torch", lambda m: m.torch),
    ]
    return Table(
        [""] + [f"machine {i}" for i in range(1, len(machines) + 1)],
        [[label] + [get(m) for m in machines] for label, get in fields],
    )


def _record_blocks(invocations: list[Invocation], results: Path, level: int) -> list:
    blocks = []
    if invocations:
        blocks += [_invocations_table(invocations), _machines_table(invocations)]
    else:
        blocks.append(
            Para("No invocation record: the run predates them (its command, commit and machine were not recorded).")
        )
    if results.is_file():
        meta = load_results(results).meta
        if meta.stage_seconds:
            blocks.append(
                Table(
                    ["stage", "seconds (results.json)"],
                    [[name, f"{s:,.0f}"] for name, s in _in_stage_order(meta.stage_seconds)]
                    + [["all stages", f"{meta.wall_seconds:,.0f}"]],
                )
            )
    return blocks


def format_run_md(record: PublishedRun, folder: Path) -> str:
    """RUN.md of a published run: what it is, each invocation (command, commit, times), the machines, the
    stage times, the files. Rendered from run.json and results.json; `interp docs render --check` checks it."""
    article = "The" if record.kind.endswith("s") else "A"  # "the direction checks", "a seed trial"
    blocks = [
        Heading(f"{record.name}: how this run was made", 1),
        Para(
            f"{article} {record.kind} of preset `{record.preset}`, published from `{record.source}` by "
            "`interp publish` "
            f"(rendered from run.json; do not edit by hand). Results page: `docs/results/{record.page}.md`."
        ),
    ]
    blocks += _record_blocks(record.invocations, folder / "results.json", 2)
    for seed, invocations in (record.seeds or {}).items():
        blocks += [Heading(seed, 2)] + _record_blocks(invocations, folder / seed / "results.json", 3)
    blocks += [Heading("Files", 2), Para("\n".join(f"- `{f}`" for f in record.files))]
    return to_markdown(blocks)
