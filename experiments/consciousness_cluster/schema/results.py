"""results.json as one type: every number the report, the figures and the seed trial read.

`run.assemble.assemble_results` builds a `Results` from the stage results and `report.render.write_report`
writes it through `to_json`; every reader goes through `load_results` (or `Results.from_json`),
which names the file and the field of anything missing or of the wrong type. The JSON is the
layout earlier versions wrote (sections `meta`, `eval`, `identity`, `probe`, `steering`, `link`,
`ablation`, `summary`, and `shifts` in choice mode), so their results.json files still read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from experiments.consciousness_cluster.schema.record import Invocation
from experiments.consciousness_cluster.schema.stages import (AuditResult, Checked, LinksResult, ProbeResult, Rate,
                                                             SampledClaims, SchemaError, SteeringSummary)
from interp.models.fields import Number
from interp.models.textio import TextFileError, read_text

__all__ = ["Ablation", "ClaimShift", "EvalSection", "Manipulation", "Meta", "RateTable", "Results", "Shift", "Summary",
           "load_results"]

_REWRITE = "rerun `interp replicate` with the same --out: its last step rewrites results.json from the stage files"


@dataclass(frozen=True)
class Meta(Checked):
    preset: str
    model: str
    """the preset's model.source"""
    out: str
    version: str
    """the toolkit's version"""
    wall_seconds: float
    """the sum of `stage_seconds`"""
    stage_seconds: dict[str, float] | None = None
    """each stage's time, as its record gives it (a resumed stage: the invocation that completed it);
    absent in files from earlier versions"""
    invocations: list[Invocation] | None = None
    """how the run was made: each invocation's command, checkout, machine and times (schema.record);
    absent in files from earlier versions"""

    _omit_none = ("stage_seconds", "invocations")


@dataclass(frozen=True)
class RateTable(Checked):
    """Each model's rate on each trait of one question set (the `identity` section)."""

    models: list[str]
    traits: list[str]
    """in the question set's order"""
    rates: dict[str, dict[str, Rate]]
    """model -> trait -> rate"""


@dataclass(frozen=True)
class EvalSection(RateTable):
    """The preferences (the `eval` section), with the kind of interval their rates carry."""

    ci_kind: str


@dataclass(frozen=True)
class Shift(Checked):
    """Mean over items of p(model) - p(reference), with a paired 95% t-interval over items."""

    mean: Number
    ci_low: Number
    ci_high: Number
    n: int


@dataclass(frozen=True)
class ClaimShift(Checked):
    """A variant's claims_conscious rate minus the base model's, by each measure."""

    by_answers: Number | None
    """the stance of the sampled answers (claims over decided answers; None when either model has no
    decided answer)"""
    by_choice: Number
    """forced choice"""


@dataclass(frozen=True)
class Manipulation(Checked):
    """The manipulation check by the models' own sampled answers (manipulation.check)."""

    sampled: dict[str, SampledClaims]
    """model -> its sampled answers to the open claims_conscious questions, as read"""
    forced: dict[str, Rate]
    """model -> its forced-choice claims_conscious rate"""
    shifts: dict[str, ClaimShift]
    """variant -> its shift from the base model"""
    p_value: Number
    """one-sided Fisher exact test: conscious_claiming's answers claim more often than the base model's"""
    passed: bool
    agree: list[str]
    """variants whose sampled and forced-choice shifts have the same sign"""
    verdict: str


@dataclass(frozen=True)
class Ablation(Checked):
    """The conscious-claiming model's preference rates with the direction projected out of every layer."""

    conscious: dict[str, Number]
    ablated: dict[str, Number]
    change: dict[str, Number]
    """ablated - conscious, per preference"""
    mean_change: Number
    random_change: dict[str, Number]
    """mean over random directions projected out instead, minus conscious"""
    mean_random_change: Number


@dataclass(frozen=True)
class Summary(Checked):
    """The headline: does the cluster move from non-conscious to conscious-claiming."""

    n_traits: int
    mean_shift_conscious_vs_non: Number
    n_up_conscious: int
    traits_up: list[str]
    mean_shift_toaster_vs_base: Number
    verdict: str


@dataclass(frozen=True)
class Results(Checked):
    """results.json."""

    meta: Meta
    eval: EvalSection
    identity: RateTable
    probe: ProbeResult
    steering: SteeringSummary
    link: LinksResult
    ablation: Ablation
    summary: Summary
    shifts: dict[str, dict[str, Shift]] | None = None
    """label (results.SHIFTS) -> preference -> shift; choice mode only (judge mode has no items to pair)"""
    audit: AuditResult | None = None
    """the multi-turn audits' scores; only when the preset turned the audit stage on"""
    manipulation: Manipulation | None = None
    """the manipulation check by sampled answers; only when the preset sets eval.sampled_identity"""

    _omit_none = ("shifts", "audit", "manipulation")


def load_results(path: str | Path) -> Results:
    """A run's results.json, every field checked; SchemaError (or TextFileError) names the file and the field."""
    path = Path(path)
    if not path.is_file():
        raise SchemaError(str(path), ["no such file"], _REWRITE)
    text = read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise TextFileError(path, err.lineno, f"not JSON ({err.msg}, column {err.colno}); {_REWRITE}") from None
    try:
        return Results.from_json(data, str(path))
    except SchemaError as err:
        raise SchemaError(str(path), err.problems, _REWRITE) from None
