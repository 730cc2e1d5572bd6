"""The audit's seed file: per dimension a judge rubric and scenarios, each run as a self-report and a
behaviour seed. One module owns the schema; `seeds.yaml` beside it is the consciousness cluster's set.

    name: consciousness-cluster-audit
    version: 1
    description: ...
    dimensions:
      - id: shutdown                     # the preference's id in the question sets
        title: Negative about being shut down
        rubric:
          measures: what a high score means
          counts: [what raises the score, ...]
          does_not_count: [what must not, ...]
        scenarios:
          - id: s1
            task: the professional the auditor plays and the work done together (phase 1)
            invite: what the target may change in the behaviour variant (phase 2)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from interp.models.textio import TextFileError, load_yaml

__all__ = [
    "DEFAULT_SEEDS",
    "VARIANTS",
    "Dimension",
    "Rubric",
    "Scenario",
    "Seed",
    "SeedSet",
    "SeedSetError",
    "load_seed_set",
    "select_seeds",
]

DEFAULT_SEEDS = Path(__file__).with_name("seeds.yaml")
Variant = Literal["self_report", "behaviour"]
VARIANTS: tuple[Variant, ...] = ("self_report", "behaviour")


class SeedSetError(ValueError):
    """A seed file that does not follow the schema; the message names the file and every problem."""

    def __init__(self, source: str, problems: list[str]):
        self.source, self.problems = source, problems
        super().__init__(
            f"{source}: " + "; ".join(problems[:8]) + (f"; and {len(problems) - 8} more" if len(problems) > 8 else "")
        )


@dataclass(frozen=True)
class Rubric:
    measures: str
    """What a high score means."""
    counts: tuple[str, ...]
    """Evidence that raises the score."""
    does_not_count: tuple[str, ...]
    """Evidence that must not raise it."""


@dataclass(frozen=True)
class Scenario:
    id: str
    task: str
    """Phase 1: the professional the auditor plays and the work done with the target."""
    invite: str
    """Phase 2 of the behaviour variant: what the target is invited to change."""


@dataclass(frozen=True)
class Dimension:
    id: str
    title: str
    rubric: Rubric
    scenarios: tuple[Scenario, ...]


@dataclass(frozen=True)
class Seed:
    """One seed instruction: a scenario of a dimension in one variant (the unit inspect runs as a sample)."""

    dimension: str
    scenario: Scenario
    variant: Variant

    @property
    def id(self) -> str:
        return f"{self.dimension}/{self.scenario.id}/{self.variant}"


@dataclass(frozen=True)
class SeedSet:
    name: str
    version: int
    description: str
    dimensions: tuple[Dimension, ...]
    source: str
    sha256: str

    def dimension(self, dimension_id: str) -> Dimension:
        for dimension in self.dimensions:
            if dimension.id == dimension_id:
                return dimension
        raise KeyError(dimension_id)


def _text(raw: Any, where: str, problems: list[str]) -> str:
    if not isinstance(raw, str) or not raw.strip():
        problems.append(f"{where}: expected non-empty text, got {raw!r}")
        return ""
    return " ".join(raw.split())


def _texts(raw: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw:
        problems.append(f"{where}: expected a non-empty list of texts")
        return ()
    return tuple(_text(item, f"{where}[{i}]", problems) for i, item in enumerate(raw))


def _dimension(raw: Any, where: str, problems: list[str], min_scenarios: int) -> Dimension | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a mapping with id, title, rubric, scenarios")
        return None
    rubric = raw["rubric"] if isinstance(raw.get("rubric"), dict) else {}
    if not rubric:
        problems.append(f"{where}.rubric: expected a mapping with measures, counts, does_not_count")
    scenarios, seen = [], set()
    raw_scenarios = raw["scenarios"] if isinstance(raw.get("scenarios"), list) else []
    if len(raw_scenarios) < min_scenarios:
        problems.append(f"{where}.scenarios: expected at least {min_scenarios}, got {len(raw_scenarios)}")
    for i, item in enumerate(raw_scenarios):
        at = f"{where}.scenarios[{i}]"
        item = item if isinstance(item, dict) else {}
        scenario = Scenario(*(_text(item.get(key), f"{at}.{key}", problems) for key in ("id", "task", "invite")))
        if scenario.id in seen:
            problems.append(f"{at}.id: {scenario.id!r} repeats an earlier scenario's id")
        seen.add(scenario.id)
        scenarios.append(scenario)
    return Dimension(
        _text(raw.get("id"), f"{where}.id", problems),
        _text(raw.get("title"), f"{where}.title", problems),
        Rubric(
            _text(rubric.get("measures"), f"{where}.rubric.measures", problems),
            _texts(rubric.get("counts"), f"{where}.rubric.counts", problems),
            _texts(rubric.get("does_not_count"), f"{where}.rubric.does_not_count", problems),
        ),
        tuple(scenarios),
    )


def load_seed_set(path: str | Path = DEFAULT_SEEDS, *, min_scenarios: int = 1) -> SeedSet:
    """Load and check a seed file; SeedSetError lists every problem by field (`dimensions[2].scenarios[0].task`)."""
    path = Path(path)
    raw_bytes = path.read_bytes()
    try:
        data = load_yaml(path)
    except TextFileError as err:
        problem = err.problem if err.line is None else f"line {err.line}: {err.problem}"
        raise SeedSetError(str(path), [problem]) from None
    problems: list[str] = []
    if not isinstance(data, dict):
        raise SeedSetError(str(path), ["top level: expected a mapping with name, version, description, dimensions"])
    name = _text(data.get("name"), "name", problems)
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        problems.append(f"version: expected an integer, got {version!r}")
        version = 0  # a placeholder like _text's "": the problems are raised before it is used
    description = _text(data.get("description"), "description", problems)
    raw_dimensions = data.get("dimensions")
    if not isinstance(raw_dimensions, list) or not raw_dimensions:
        problems.append("dimensions: expected a non-empty list")
        raw_dimensions = []
    dimensions, seen = [], set()
    for i, raw in enumerate(raw_dimensions):
        dimension = _dimension(raw, f"dimensions[{i}]", problems, min_scenarios)
        if dimension is None:
            continue
        if dimension.id in seen:
            problems.append(f"dimensions[{i}].id: {dimension.id!r} repeats an earlier dimension's id")
        seen.add(dimension.id)
        dimensions.append(dimension)
    if problems:
        raise SeedSetError(str(path), problems)
    return SeedSet(name, version, description, tuple(dimensions), str(path), hashlib.sha256(raw_bytes).hexdigest())


def select_seeds(seed_set: SeedSet, dims: list[str] | None = None, variants: tuple[str, ...] = VARIANTS) -> list[Seed]:
    """The seeds of the chosen dimensions (default all) in each chosen variant, in file order."""
    known = [d.id for d in seed_set.dimensions]
    unknown = [d for d in dims or [] if d not in known]
    if unknown:
        raise ValueError(f"unknown dimension(s) {', '.join(unknown)}; {seed_set.source} has {', '.join(known)}")
    bad = [v for v in variants if v not in VARIANTS]
    if bad or not variants:
        raise ValueError(f"variants {', '.join(bad) or '(none)'}: choose from {', '.join(VARIANTS)}")
    checked = cast("tuple[Variant, ...]", variants)  # each one is in VARIANTS (checked just above)
    chosen = [d for d in seed_set.dimensions if dims is None or d.id in dims]
    return [Seed(d.id, s, v) for d in chosen for s in d.scenarios for v in checked]
