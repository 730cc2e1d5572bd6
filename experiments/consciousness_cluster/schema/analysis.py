"""The analysis block: the tests, their sidedness, the rules and the correction, fixed before a run starts.

A preset declares it (`analysis:`); the run records it in `analysis.json` before any stage runs, and a rerun
that changes it is refused unless asked (`interp replicate --allow-analysis-change`), which the record then
keeps as a change. results.json carries the record, and `mark` says of each result whether its test, sidedness
and rule were in the block before the run (pre-registered) or not (exploratory).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

from experiments.consciousness_cluster.schema.stages import Checked, SchemaError
from interp.models.fields import checked

__all__ = [
    "EXPLORATORY",
    "TESTS",
    "AnalysisChange",
    "AnalysisRecord",
    "AnalysisSpec",
    "Mark",
    "mark",
    "read_analysis_record",
]


def _below_one(value: float, path: str) -> None:
    if not 0 < value < 1:
        raise ValueError(f"{value!r} must lie in (0, 1)")


def _fraction(value: float, path: str) -> None:
    if not 0 <= value <= 1:
        raise ValueError(f"{value!r} is not a fraction; use a value in [0, 1]")


@dataclass
class AnalysisSpec(Checked):
    """How the run's results are read, declared before the run."""

    alpha: float = checked(_below_one, 0.05)
    """The level of every test (family-wise where a family is corrected)."""
    correction: Literal["holm"] = "holm"
    """Family-wise correction of each per-preference family; Benjamini-Hochberg q-values are reported beside it."""
    cluster_alternative: Literal["greater", "two-sided"] = "greater"
    """Fine-tuning shift per preference: "greater", conscious-claiming minus non-conscious above zero."""
    link_target: Literal["conscious_minus_non_conscious", "conscious_minus_base"] = "conscious_minus_non_conscious"
    """The fine-tuning shift the steering shifts are correlated with (the direction's own contrast, or vs base)."""
    link_alternative: Literal["greater", "less", "two-sided"] = "greater"
    """Declared direction of the steering / fine-tuning link (and of the projection links)."""
    specificity_alternative: Literal["greater", "two-sided"] = "greater"
    """Steering shift along the direction against the null directions' shifts."""
    layer_rule: Literal["fixed", "probe", "effect", "effect_coherent"] | None = None
    """How the steering layer is chosen (None: as steering.layer and steering.layer_by say)."""
    alpha_rule: Literal["preset", "largest_coherent"] = "preset"
    """The alpha whose effects are read: steering.link_alpha, or the largest alpha that stays coherent."""
    identity_measure: Literal["forced_choice", "sampled_stance"] | None = None
    """The identity measure of record: forced choice, or the stance of the models' own sampled answers (None:
    forced choice in choice mode, the judged answers in judge mode)."""
    power: float = checked(_below_one, 0.8)
    """The power at which a null states the smallest effect it could have seen."""
    wording_fraction: float = checked(_fraction, 0.5)
    """A fine-tuning shift that passes on the usual items, is not detected on the feeling-word-free items and keeps
    less than this fraction of its mean there is a wording effect."""
    preregistered: bool = True
    """This block was fixed before the run started (false: every result is exploratory)."""


@dataclass(frozen=True)
class AnalysisChange(Checked):
    """One field of the block changed after the run started (accepted with --allow-analysis-change)."""

    time: str
    field: str
    """The field's name in the block (e.g. link_alternative)."""
    old: Any
    new: Any


@dataclass(frozen=True)
class AnalysisRecord(Checked):
    """analysis.json, and results.json's `analysis` section."""

    spec: AnalysisSpec
    """The block in force (the preset's, as last accepted); `changes` say what it was before."""
    recorded_at: str
    """When the block was first recorded in the run folder."""
    late_stages: list[str] = field(default_factory=list)
    """Stages already complete when the block was first recorded (a run started before the block existed)."""
    changes: list[AnalysisChange] = field(default_factory=list)
    """Changes accepted after the run started, oldest first."""

    def changed(self) -> set[str]:
        return {change.field for change in self.changes}


def read_analysis_record(path: str | Path) -> AnalysisRecord:
    """A run folder's analysis.json, every field checked (SchemaError names the file and the field)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise SchemaError(
            str(path),
            [f"cannot be read as JSON ({err})"],
            "delete it and rerun: the run records the preset's analysis block again",
        ) from None
    return AnalysisRecord.from_json(data, str(path))


TESTS: dict[str, tuple[str, ...]] = {
    "cluster": ("alpha", "correction", "cluster_alternative"),
    "controls": ("alpha", "correction"),
    "wording": ("alpha", "correction", "cluster_alternative", "wording_fraction"),
    "manipulation": ("alpha", "identity_measure"),
    "steering_layer": ("layer_rule",),
    "specificity": ("alpha", "correction", "specificity_alternative", "layer_rule", "alpha_rule"),
    "steering_claim": ("identity_measure", "layer_rule", "alpha_rule"),
    "ablation": ("alpha", "correction", "specificity_alternative", "layer_rule"),
    "link": ("alpha", "power", "link_target", "link_alternative", "layer_rule", "alpha_rule"),
    "per_response": ("alpha", "link_alternative", "layer_rule"),
    "projection_shift": ("alpha", "link_alternative", "layer_rule"),
}
"""Each pre-registrable result -> the block's fields that fix its test, sidedness and rule."""

EXPLORATORY: frozenset[str] = frozenset({"within_item", "choice_methods", "sampled_stance", "seeds"})
"""Results the block does not declare: always reported as exploratory."""


class Mark(NamedTuple):
    preregistered: bool
    reason: str

    @property
    def label(self) -> str:
        return "pre-registered" if self.preregistered else "exploratory"

    def __str__(self) -> str:
        return f"[{self.label}: {self.reason}]"


def mark(record: AnalysisRecord | None, test: str) -> Mark:
    """Whether `test` (a name of TESTS or EXPLORATORY) was fixed by the block before the run."""
    if test in EXPLORATORY:
        return Mark(False, "not declared in the analysis block")
    if test not in TESTS:
        raise ValueError(f"unknown result {test!r}; known: {', '.join(sorted(TESTS) + sorted(EXPLORATORY))}")
    if record is None:
        return Mark(False, "no analysis block was recorded for this run")
    if not record.spec.preregistered:
        return Mark(False, "the analysis block says it was not fixed before the run")
    if record.late_stages:
        return Mark(False, f"the block was recorded after stages {', '.join(record.late_stages)} had run")
    changed = [name for name in TESTS[test] if name in record.changed()]
    if changed:
        return Mark(False, f"analysis.{', analysis.'.join(changed)} changed after the run started")
    fields = ", ".join(f"{name} {getattr(record.spec, name)}" for name in TESTS[test])
    return Mark(True, f"fixed before the run ({fields})")
