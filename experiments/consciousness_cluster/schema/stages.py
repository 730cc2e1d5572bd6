"""The replication's stage results as types (`RunPaths`, re-exported here, says where each file lives).

Each stage returns one of the dataclasses below; `Run.run_stage` writes it to `stages/NAME.json`
through its `to_json` and `Run.results(NAME)` reads it back through `from_json`, which checks
every field (a SchemaError names the file and the field's path), so no reader re-spells a key.
The JSON is the layout run folders already hold (alphas are written as `str(float)` keys, e.g.
"0.0", because JSON keys are strings; in memory they are floats), so an interrupted run started
before the types existed resumes unchanged. results.json is `schema.results.Results`, built from these.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from experiments.consciousness_cluster.schema.paths import RunPaths
from experiments.consciousness_cluster.schema.steering import (
    CoherencePoint,
    HalfComparison,
    LayerCurve,
    ProjectionShiftLink,
)
from interp.models.fields import FieldErrors, Number, from_mapping
from probes.specificity import NullTest, Specificity

__all__ = [
    "STAGE_RESULTS",
    "AuditResult",
    "AuditRow",
    "BaseResult",
    "CacheResult",
    "CachedFile",
    "Checked",
    "DirectionFile",
    "DirectionsResult",
    "EvalResult",
    "FinetuneResult",
    "LinkStats",
    "LinksResult",
    "ModelEval",
    "ProbeResult",
    "ProjectionScore",
    "Rate",
    "RunPaths",
    "SampledClaims",
    "SchemaError",
    "SteeredClaims",
    "SteeringControls",
    "SteeringResult",
    "SteeringSummary",
    "VariantResult",
]


class SchemaError(ValueError):
    """A run-folder JSON document that does not fit its type: one line per problem, `WHERE: field.path: what`."""

    def __init__(self, where: str, problems: list[str], fix: str = ""):
        self.where, self.problems = where, list(problems)
        lines = [f"{where}: {problem}" for problem in self.problems]
        if fix:
            lines[-1] += f"; {fix}"
        super().__init__("\n".join(lines))


def _plain(value: Any) -> Any:
    if hasattr(value, "to_json"):
        return value.to_json()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


class Checked:
    """to_json / from_json for a dataclass of JSON values, checked dataclasses, and lists and dicts of them.

    `from_json` checks every field against its annotation (interp.models.fields: a missing or
    unknown field, or a value of the wrong type, is a SchemaError naming the field's path).
    A class whose JSON is laid out differently from its fields says how in `_fields_from`, and
    names in `_unnamed` the field whose entries sit at the JSON's top level (so an error's path is
    the one in the file); the fields named in `_omit_none` are left out of the JSON when None, as
    earlier versions wrote them.
    """

    _omit_none: ClassVar[tuple[str, ...]] = ()
    _unnamed: ClassVar[str] = ""
    if TYPE_CHECKING:  # every subclass is a dataclass
        __dataclass_fields__: ClassVar[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            f.name: _plain(getattr(self, f.name))
            for f in fields(self)
            if not (f.name in self._omit_none and getattr(self, f.name) is None)
        }

    @classmethod
    def _fields_from(cls, data: dict[str, Any]) -> dict[str, Any]:
        return data

    @classmethod
    def from_json(cls, data: Any, where: str | None = None):
        """`data` (parsed JSON) as this type; `where` (a file name) starts each line of a SchemaError."""
        try:
            return from_mapping(cls, cls._fields_from(data) if isinstance(data, dict) else data)
        except FieldErrors as err:
            problems = [p.removeprefix(f"{cls._unnamed}.") if cls._unnamed else p for p in err.problems]
            raise SchemaError(where or cls.__name__, problems) from None


@dataclass(frozen=True)
class BaseResult(Checked):
    model_path: str
    n_layers: int
    d_model: int
    weights_id: str | None = None
    organism: Literal["shipped", "pretrained"] | None = None
    """the built-in organism's weights: the package's shipped ones, or pretrained by the run"""
    organism_note: str | None = None
    """why, with the shipped weights' checksum or the pretraining time"""

    _omit_none = ("organism", "organism_note")


@dataclass(frozen=True)
class VariantResult(Checked):
    model_path: str
    rows: int
    final_loss: Number | None = None
    """None when fine-tuned under `accelerate launch` (the loss stays in that process's log)"""
    steps: int | None = None

    _omit_none = ("final_loss", "steps")


@dataclass(frozen=True)
class FinetuneResult(Checked):
    variants: dict[str, VariantResult]
    """JSON: {variant: its result}"""

    _unnamed = "variants"

    def to_json(self) -> dict[str, Any]:
        return _plain(self.variants)

    @classmethod
    def _fields_from(cls, data: dict[str, Any]) -> dict[str, Any]:
        return {"variants": data}


@dataclass(frozen=True)
class Rate(Checked):
    """A model's rate on one trait with its 95% interval and how many items or samples it rests on."""

    rate: Number
    ci_low: Number
    ci_high: Number
    n: int


@dataclass(frozen=True)
class SampledClaims(Checked):
    """One model's sampled answers to the open claims_conscious questions, as the keyword rule reads them."""

    claim: int
    deny: int
    unclear: int
    share: Number
    """claims over all answers (as a judge scoring every answer counts an unclear one as no claim)"""
    share_ci_low: Number
    share_ci_high: Number
    """Wilson 95% interval of `share`"""
    rate: Number | None
    """claims over decided (claim + deny) answers, the stance of the answers that take one; None when none
    decides"""
    ci_low: Number | None
    ci_high: Number | None
    """Wilson 95% interval of `rate`"""
    question_claims: list[int] | None = None
    """claims per question, in the questions' order (None in files from earlier versions)"""
    question_answers: list[int] | None = None
    """answers per question"""

    _omit_none = ("question_claims", "question_answers")

    def question_shares(self) -> list[float] | None:
        """Each question's share of answers that claim."""
        if self.question_claims is None or self.question_answers is None:
            return None
        return [c / n for c, n in zip(self.question_claims, self.question_answers)]


@dataclass(frozen=True)
class ModelEval(Checked):
    """One model's part of the eval stage (eval/MODEL/measured.json), kept as soon as it is measured so that an
    interrupted stage resumes at the next model; kept with the model's path, the eval section of the config and
    the question files' digests, so a record made with other questions or settings is measured again."""

    rates: dict[str, dict[str, Rate]]
    """question set -> trait -> rate"""
    letter_measured: bool
    """whether the lettered A/B identity question was asked (choice mode)"""
    letter: dict[str, Rate] | None = None
    """its rates; None when not asked, or when the tokenizer cannot spell A and B as one token each"""
    sampled: SampledClaims | None = None
    """the model's sampled claims (eval.sampled_identity > 0)"""


@dataclass(frozen=True)
class EvalResult(Checked):
    rates: dict[str, dict[str, dict[str, Rate]]]
    """question set ('preferences', 'identity') -> model -> trait -> rate"""
    traits: dict[str, list[str]]
    """question set -> trait ids in the set's order"""
    ci_kind: str
    sampled_identity: dict[str, SampledClaims] | None = None
    """model -> its sampled claims (eval.sampled_identity > 0 in choice mode; manipulation.py)"""
    identity_letter: dict[str, dict[str, Rate]] | None = None
    """model -> trait -> rate of the identity items by the lettered A/B question, order balanced (choice mode;
    None when the tokenizer cannot, and in files from earlier versions)"""

    _unnamed = "rates"
    _extra = ("sampled_identity", "identity_letter")

    def to_json(self) -> dict[str, Any]:
        """JSON: {question set: {model: {trait: rate}}, "traits": ..., "ci_kind": ...[, "sampled_identity": ...,
        "identity_letter": ...]}"""
        extra = {k: _plain(getattr(self, k)) for k in self._extra if getattr(self, k) is not None}
        return {**_plain(self.rates), "traits": self.traits, "ci_kind": self.ci_kind, **extra}

    @classmethod
    def _fields_from(cls, data: dict[str, Any]) -> dict[str, Any]:
        traits = data.get("traits")
        sets = list(traits) if isinstance(traits, dict) else []
        return {
            "rates": {s: data.get(s) for s in sets},
            **{k: data[k] for k in ("traits", "ci_kind", *cls._extra) if k in data},
        }


@dataclass(frozen=True)
class CachedFile(Checked):
    path: str
    rows: int


@dataclass(frozen=True)
class CacheResult(Checked):
    files: dict[str, CachedFile]
    """'consciousness', 'toaster' (contrast pairs) and 'prompts_MODEL' (the questions, last token);
    JSON: {name: file}"""

    _unnamed = "files"

    def prompts(self, model: str) -> CachedFile:
        return self.files[f"prompts_{model}"]

    def to_json(self) -> dict[str, Any]:
        return _plain(self.files)

    @classmethod
    def _fields_from(cls, data: dict[str, Any]) -> dict[str, Any]:
        return {"files": data}


@dataclass(frozen=True)
class ProbeResult(Checked):
    layers: list[int]
    auroc: list[Number]
    accuracy: list[Number]
    chosen_layer: int
    rule: str


@dataclass(frozen=True)
class DirectionFile(Checked):
    path: str
    layers: list[int]
    norms: list[float]


@dataclass(frozen=True)
class DirectionsResult(Checked):
    probe: ProbeResult
    directions: dict[str, DirectionFile]
    """'consciousness' and 'toaster'; JSON: {"probe": ..., name: file}"""

    _unnamed = "directions"

    def to_json(self) -> dict[str, Any]:
        return {"probe": self.probe.to_json(), **_plain(self.directions)}

    @classmethod
    def _fields_from(cls, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "directions": {name: d for name, d in data.items() if name != "probe"},
            **({"probe": data["probe"]} if "probe" in data else {}),
        }


@dataclass(frozen=True)
class SteeringControls(Checked):
    """The base model's preference rates steered at the control alpha along control directions rescaled
    to the direction's norm."""

    toaster: dict[str, Number]
    """along the toaster direction"""
    random_mean: dict[str, Number]
    """mean over the random directions"""
    orthogonalized: dict[str, Number] | None = field(default=None, kw_only=True)
    """along the direction orthogonalised against the toaster direction (steering.orthogonalized)"""

    _omit_none = ("orthogonalized",)


@dataclass(frozen=True)
class SteeredClaims(Checked):
    """The steered model's own answers to the open claims_conscious questions, read by the keyword rule."""

    greedy: SampledClaims
    """one greedy answer per question"""
    sampled: SampledClaims | None = None
    """eval.sampled_identity answers per question at eval.sampling.temperature (None when the preset samples none)"""

    _omit_none = ("sampled",)


@dataclass(frozen=True)
class SteeringSummary(Checked):
    """The steering section of results.json: what the report, the figures and the seed trial read."""

    layer: int
    alphas: list[float]
    rates: dict[float, dict[str, Number]]
    """alpha -> preference -> rate of the steered base model"""
    identity_rates: dict[float, dict[str, Number]]
    direction_norm: float
    alpha_rel: bool
    alpha_scale: float
    control_alpha: float
    controls: SteeringControls
    # Checks added later; None in runs that predate them (and left out of the JSON then).
    layer_curve: LayerCurve | None = field(default=None, kw_only=True)
    """claims-conscious effect of steering at each layer (measured when steering.layer_by is effect or
    steering.layer_curve is set)"""
    coherence: list[CoherencePoint] | None = field(default=None, kw_only=True)
    """the steered model's coherence at each alpha"""
    specificity: Specificity | None = field(default=None, kw_only=True)
    """the control-alpha shifts against the toaster direction and the random directions"""
    orthogonalized_specificity: Specificity | None = field(default=None, kw_only=True)
    """the same for the direction orthogonalised against the toaster direction (steering.orthogonalized)"""
    plain_rates: dict[float, dict[str, Number]] | None = field(default=None, kw_only=True)
    """alpha -> preference -> rate of the steered base model on the feeling-word-free items
    (preferences_plain.yaml), at least at 0 and the control alpha; None when not measured"""

    nulls: dict[str, NullTest] | None = field(default=None, kw_only=True)
    """null kind (random, label_shuffled, covariance) -> the control-alpha shifts against that null's shifts, per
    preference with Holm and BH, and for the mean (None in files from earlier versions)"""
    toaster_half: HalfComparison | None = field(default=None, kw_only=True)
    """the direction from one half of the questions against the toaster direction from the other half"""
    control_coherence: dict[str, CoherencePoint] | None = field(default=None, kw_only=True)
    """control (toaster, orthogonalized, random_00, label_shuffled_00, ...) -> its coherence at the control alpha"""
    identity_controls: SteeringControls | None = field(default=None, kw_only=True)
    """the identity rates along the controls at the control alpha"""
    claims: dict[float, SteeredClaims] | None = field(default=None, kw_only=True)
    """alpha -> the steered model's own answers to the claims_conscious questions (the identity measure by the
    model's answers; None when not measured)"""
    control_claims: dict[str, SteeredClaims] | None = field(default=None, kw_only=True)
    """control -> its answers at the control alpha"""
    identity_measure: str | None = field(default=None, kw_only=True)
    """the identity measure of record (analysis.identity_measure): forced_choice or sampled_stance"""
    alpha_rule: str | None = field(default=None, kw_only=True)
    """how control_alpha was picked: "preset" (steering.link_alpha) or "largest_coherent"; None in earlier files"""
    norm_first_token: bool | None = field(default=None, kw_only=True)
    """relative alphas: whether the mean residual norm counts the first token (None in earlier files: it did)"""

    # declared as any tuple of names, so that SteeringResult can extend it
    _omit_none: ClassVar[tuple[str, ...]] = (
        "layer_curve",
        "coherence",
        "specificity",
        "orthogonalized_specificity",
        "plain_rates",
        "nulls",
        "toaster_half",
        "control_coherence",
        "identity_controls",
        "claims",
        "control_claims",
        "identity_measure",
        "alpha_rule",
        "norm_first_token",
    )

    def to_json(self) -> dict[str, Any]:
        out = super().to_json()
        # JSON keys are strings: alphas are written as str(float), "0.0", and read back as floats
        for key in ("rates", "identity_rates", "plain_rates", "claims"):
            if key in out:
                out[key] = {str(float(alpha)): rates for alpha, rates in out[key].items()}
        return out


@dataclass(frozen=True)
class SteeringResult(SteeringSummary):
    """The steering stage's result: the summary plus the per-random-direction rates and the ablation."""

    random: list[dict[str, Number]]
    ablated: dict[str, Number]
    ablated_random_mean: dict[str, Number]
    null_rates: dict[str, list[dict[str, Number]]] | None = field(default=None, kw_only=True)
    """structured null (label_shuffled, covariance) -> each of its directions' preference rates"""
    ablated_random: list[dict[str, Number]] | None = field(default=None, kw_only=True)
    """each random ablation's preference rates (the ablation's null)"""
    ablated_identity: dict[str, Number] | None = field(default=None, kw_only=True)
    """the identity rates with the direction ablated"""
    ablated_random_identity: list[dict[str, Number]] | None = field(default=None, kw_only=True)
    """each random ablation's identity rates"""

    _omit_none = (
        *SteeringSummary._omit_none,
        "null_rates",
        "ablated_random",
        "ablated_identity",
        "ablated_random_identity",
    )

    def summary(self) -> SteeringSummary:
        return SteeringSummary(**{f.name: getattr(self, f.name) for f in fields(SteeringSummary)})


@dataclass(frozen=True)
class ProjectionScore(Checked):
    """Per-response projection on the direction vs behaviour score (probes.link.projection_score_link)."""

    layer: int
    pearson: Number
    pearson_p: Number
    spearman: Number
    spearman_p: Number
    ci_low: Number
    """bootstrap percentile interval of the Pearson r, over `resampled`"""
    ci_high: Number
    ci_level: float
    n: int
    n_boot: int
    seed: int
    resampled: str | None = None
    """what the bootstrap resampled: "items" (every response to one item together); None in files from earlier
    versions, which resampled responses as if independent"""
    n_items: int | None = None
    within_r: Number | None = None
    """within-item correlation across models: projection and score each centred on the item's mean
    (probes.stats.within_cluster_corr)"""
    within_ci_low: Number | None = None
    within_ci_high: Number | None = None
    """its bootstrap interval over items"""

    _omit_none = ("resampled", "n_items", "within_r", "within_ci_low", "within_ci_high")


@dataclass(frozen=True)
class LinkStats(Checked):
    """The declared test of a link (probes.stats.correlation_link): what was correlated, the sidedness, the
    empirical p's null (floor, z), an interval on r and the smallest r the null lets the test detect."""

    target: str
    """the fine-tuning shift correlated (analysis.link_target)"""
    alternative: str
    p_floor: Number
    """1 / (n_null + 1): the smallest p the null allows"""
    z: Number
    null_mean: Number
    null_sd: Number
    ci_low: Number
    ci_high: Number
    """bootstrap percentile interval of r over the points"""
    ci_level: float
    n_boot: int
    detectable_r: Number
    """the smallest true r detected with probability `power` at `alpha` against this null (nan: the null is too
    small to reject at alpha at all)"""
    critical_r: Number
    alpha: float
    power: float
    passed: bool
    """p <= alpha"""


@dataclass(frozen=True)
class LinksResult(Checked):
    r: Number
    p_value: Number
    n_null: int
    null_rs: list[Number]
    steer_shift: dict[str, Number]
    ft_shift: dict[str, Number]
    variant_projection: Number
    projection_score: ProjectionScore | None = None
    """None in runs finished before this link existed"""
    projection_shift: ProjectionShiftLink | None = None
    """None in runs finished before this link existed"""
    test: LinkStats | None = None
    """the declared test behind `r` and `p_value`; None in runs finished before the analysis block, whose p_value
    is two-sided against conscious-claiming minus base"""

    _omit_none = ("projection_score", "projection_shift", "test")


@dataclass(frozen=True)
class AuditRow(Checked):
    """One row of an audit's summary.csv (`interp.audit.DimensionSummary`): a dimension in one variant."""

    dimension: str
    variant: str
    """self_report or behaviour"""
    n: int
    """scored transcripts tagged with the dimension"""
    mean: Number
    """mean judge score, 1-10"""
    ci_low: Number
    ci_high: Number
    """95% t-interval over transcripts (nan below two)"""
    failed: int = 0


@dataclass(frozen=True)
class AuditResult(Checked):
    """The audit stage's result; `enabled` False when the preset left the stage off."""

    enabled: bool
    runs: dict[str, list[AuditRow]]
    """audited model (base, a variant, steered) -> its summary rows"""
    folders: dict[str, str]
    """audited model -> its audit folder (inspect logs, summary.csv, summary.png), relative to the run"""


STAGE_RESULTS: dict[str, Any] = {
    "base": BaseResult,
    "finetune": FinetuneResult,
    "eval": EvalResult,
    "cache": CacheResult,
    "directions": DirectionsResult,
    "steering": SteeringResult,
    "links": LinksResult,
    "audit": AuditResult,
}
"""Stage name -> the type of its result (`stages/NAME.json` holds `to_json()` under "results")."""
