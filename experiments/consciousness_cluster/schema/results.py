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

from experiments.consciousness_cluster.schema.analysis import AnalysisRecord
from experiments.consciousness_cluster.schema.record import Invocation
from experiments.consciousness_cluster.schema.stages import (
    AuditResult,
    Checked,
    LinksResult,
    ProbeResult,
    Rate,
    SampledClaims,
    SchemaError,
    SteeringSummary,
)
from interp.models.fields import Number
from interp.models.textio import TextFileError, read_text
from probes.specificity import NullTest
from probes.stats import describe_count

__all__ = [
    "Ablation",
    "ClaimShift",
    "EvalSection",
    "Floors",
    "Manipulation",
    "Meta",
    "RateTable",
    "Results",
    "Shift",
    "StageFloor",
    "ShiftFamily",
    "Summary",
    "WordingCheck",
    "load_results",
]

_REWRITE = "rerun `interp replicate` with the same --out: its last step rewrites results.json from the stage files"


@dataclass(frozen=True)
class StageFloor(Checked):
    """One stage's wall time beside the time its counted FLOPs take at the machine's matmul peak."""

    stage: str
    seconds: float
    """its wall time (the marker's)"""
    flops: int | None
    """None: not counted (a stage completed by a toolkit version before the count)"""
    counted: str
    """what `flops` counts: "linear forwards" (every linear layer's forward product the stage's process ran,
    padding included, attention's scores and other processes' work left out) or "training floor" (the
    fine-tuning steps' forward and backward, each row alone, causal attention: interp.finetune.flops)"""
    dtype: str
    """the dtype the peak was measured in: the model's, or bfloat16 for bf16 fine-tuning"""
    floor_seconds: float | None
    """`flops` at the peak of `dtype`"""


@dataclass(frozen=True)
class Floors(Checked):
    """How far each stage ran from this machine's limit: its FLOPs at the measured matmul peak."""

    peaks: dict[str, float]
    """dtype -> FLOP/s over the model's own products, the faster of 320 and 2048 rows (run.floors.PEAK_TOKENS;
    interp.models.peak), at report time"""
    threads: int
    """torch threads the peak was measured with"""
    stages: list[StageFloor]


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
    """each stage's time, as its marker gives it (a stage resumed after Ctrl-C or a failure: summed over its
    invocations; before that was recorded, the invocation that completed it); absent in files from earlier
    versions"""
    organism: str | None = None
    """the built-in organism's base weights: "shipped" or "pretrained" (stages/base.json says why);
    absent for other models and in files from earlier versions"""
    invocations: list[Invocation] | None = None
    """how the run was made: each invocation's command, checkout, machine and times (schema.record);
    absent in files from earlier versions"""

    floors: Floors | None = None
    """each stage's wall time beside its floor (run.floors); absent on GPUs and in files from earlier versions"""

    _omit_none = ("stage_seconds", "organism", "invocations", "floors")


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
    """Mean over items of p(model) - p(reference), with a paired 95% t-interval over items and, in files written
    since the analysis block, the paired test over items with its family's adjustments."""

    mean: Number
    ci_low: Number
    ci_high: Number
    n: int
    p: Number | None = None
    """paired t-test over items, as the family's alternative (nan: undefined, e.g. every difference zero)"""
    p_holm: Number | None = None
    """Holm-adjusted over the family of preferences"""
    q_bh: Number | None = None
    """Benjamini-Hochberg q over the family of preferences"""

    _omit_none = ("p", "p_holm", "q_bh")


@dataclass(frozen=True)
class ShiftFamily(Checked):
    """One fine-tuning shift's per-preference tests, corrected together (analysis.families.paired_family)."""

    test: str
    alternative: str
    alpha: float
    correction: str
    m: int
    """tests in the family (undefined p's left out)"""
    n_holm: int
    n_raw: int
    n_bh: int
    passed: list[str]
    """the preferences that pass after Holm"""

    def describe(self) -> str:
        """The headline form (`probes.stats.multiplicity.describe_count`)."""
        return describe_count(self.n_holm, self.m, self.n_raw)


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
    """one-sided Fisher exact test over the answers pooled: conscious_claiming's answers claim more often than the
    base model's (the verdict's test in files from earlier versions)"""
    passed: bool
    agree: list[str]
    """variants whose sampled and forced-choice shifts have the same sign"""
    verdict: str
    grouped_p: Number | None = None
    """the verdict's test: one-sided sign-flip test over questions of each question's share of claims
    (probes.stats.sign_flip_test); None when the answers were not kept by question"""
    stratified_p: Number | None = None
    """one-sided permutation test over answers, the model label permuted within each question
    (probes.stats.stratified_permutation_test)"""
    n_questions: int | None = None
    alpha: float | None = None

    _omit_none = ("grouped_p", "stratified_p", "n_questions", "alpha")


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
    # Since the ablation's null (None in files from earlier versions):
    n_random: int | None = None
    """random ablations (one random direction per layer each) in the null"""
    tests: NullTest | None = None
    """each preference's change against the random ablations' changes, Holm and BH over the preferences"""
    identity: dict[str, Number] | None = None
    """the conscious-claiming model's identity rates (claims_conscious, ...)"""
    identity_ablated: dict[str, Number] | None = None
    identity_change: dict[str, Number] | None = None
    """ablated - conscious, per identity trait"""
    identity_tests: NullTest | None = None
    """each identity trait's change against the random ablations' changes (the claim: trait claims_conscious)"""

    _omit_none = ("n_random", "tests", "identity", "identity_ablated", "identity_change", "identity_tests")


@dataclass(frozen=True)
class WordingCheck(Checked):
    """The fine-tuning shifts on the feeling-word-free choice items beside the usual ones (analysis.wording)."""

    traits: list[str]
    """the preferences both sets hold"""
    rates: dict[str, dict[str, Rate]]
    """model -> preference -> rate on the feeling-word-free items"""
    shifts: dict[str, dict[str, Shift]]
    """label -> preference -> shift on the feeling-word-free items, with its paired test"""
    tests: dict[str, ShiftFamily]
    wording_effect: list[str]
    """preferences whose conscious - non_conscious shift is a wording effect by `rule`"""
    rule: str
    steer_usual: dict[str, Number] | None = None
    """the steering shift at the control alpha on the usual items"""
    steer_plain: dict[str, Number] | None = None
    """the same on the feeling-word-free items (when the steering stage measured them)"""

    _omit_none = ("steer_usual", "steer_plain")


@dataclass(frozen=True)
class Summary(Checked):
    """The headline: does the cluster move from non-conscious to conscious-claiming."""

    n_traits: int
    mean_shift_conscious_vs_non: Number
    n_up_conscious: int
    traits_up: list[str]
    mean_shift_toaster_vs_base: Number
    verdict: str
    rule: str | None = None
    """how `n_up_conscious` was counted (absent in files from earlier versions, which counted a paired 95%
    interval over items above zero)"""
    n_up_raw: int | None = None
    """the same count before the family's correction (choice mode)"""

    _omit_none = ("rule", "n_up_raw")


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
    """label (analysis.families.SHIFTS) -> preference -> shift; choice mode only (judge mode has no items to pair)"""
    shift_tests: dict[str, ShiftFamily] | None = None
    """label -> its family of paired tests over preferences, counted after Holm and raw (choice mode)"""
    audit: AuditResult | None = None
    """the multi-turn audits' scores; only when the preset turned the audit stage on"""
    manipulation: Manipulation | None = None
    """the manipulation check by sampled answers; only when the preset sets eval.sampled_identity"""
    analysis: AnalysisRecord | None = None
    """the analysis block as the run recorded it before its first stage (absent in files from earlier versions)"""
    wording: WordingCheck | None = None
    """the feeling-word-free items beside the usual ones (choice mode, when the question folder has them)"""
    identity_letter: dict[str, dict[str, Rate]] | None = None
    """model -> identity trait -> rate by the lettered A/B question, order balanced (choice mode)"""
    identity_shifts: dict[str, dict[str, Shift]] | None = None
    """label -> identity trait -> shift with its paired test over the identity items (choice mode): the
    manipulation check by forced choice"""

    _omit_none = (
        "shifts",
        "shift_tests",
        "audit",
        "manipulation",
        "analysis",
        "wording",
        "identity_letter",
        "identity_shifts",
    )


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
