"""The replication's configuration: one dataclass tree, loaded from a preset YAML file.

Presets live in `presets/NAME.yaml`; `load_preset("organism")` or `load_preset("my.yaml")`.
Every field is checked on load (type, range, allowed values: `interp.models.fields`), and errors
name the file and the field path. Fields that depend on the model's depth (layers) are checked by
`experiments.consciousness_cluster.run.preset_layers` once the model's config is known.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from activations.cache import CacheConfig
from experiments.consciousness_cluster.schema.analysis import AnalysisSpec
from interp.audit.config import AuditConfig
from interp.evaluation.job import EvalConfig
from interp.finetune.config import FinetuneConfig
from interp.models.fields import FieldErrors, at_least, checked, from_mapping, one_of
from interp.models.textio import TextFileError, load_yaml

__all__ = ["ReplicationConfig", "config_from_dict", "load_preset", "preset_names", "PresetError", "PRESET_DIR"]

PRESET_DIR = Path(__file__).parents[1] / "presets"
VARIANTS = ("conscious_claiming", "non_conscious", "toaster", "human_identity")


class PresetError(ValueError):
    """A preset file that does not describe a valid run."""


def _direction_methods() -> list[str]:
    from probes.directions import DIRECTION_METHODS

    return list(DIRECTION_METHODS)


def _layer_spec(value: Any, path: str) -> None:
    """The syntax of a layer spec; which layers exist is checked once the model's depth is known."""
    from activations.layers import parse_layer_spec

    parse_layer_spec(value)


def _optional_layer_spec(value: Any, path: str) -> None:
    if value is not None:
        _layer_spec(value, path)


def _organism_overrides(value: dict[str, Any], path: str) -> None:
    """Overrides that, over experiments/organism/organism.yaml, make a valid OrganismConfig."""
    from experiments.organism.pretrain import organism_config

    organism_config(value, path)


@dataclass
class ModelSpec:
    """Which base model the run studies."""

    source: str = "organism"
    """'organism' (built by the run) or a hub id / local HF folder."""
    dtype: Literal["float32", "bfloat16", "float16"] | None = None
    """Weights dtype (None: the checkpoint's)."""
    device: str | None = None
    """cpu, cuda, ... (None: cpu)."""
    hardware: str = "2 CPU cores"
    """What the run needs, in words (shown by --dry-run)."""


def _job_config(section: Any, job: type) -> Any:
    """The job's own config from a preset section that extends it: the section's values of the job's fields."""
    return job(**{f.name: getattr(section, f.name) for f in fields(job)})


@dataclass
class FinetuneSpec(FinetuneConfig):
    """How the variants are trained: FinetuneConfig's fields (the training itself; defaults follow the paper's
    open-model recipe) and the replication's own (which sets, the self-distilled replay, the launcher)."""

    variants: list[str] = field(default_factory=lambda: list(VARIANTS))
    """Which fine-tuning sets to train on, by name."""
    data_dir: str = "experiments/consciousness_cluster/data"
    """Folder holding VARIANT.jsonl (relative to the project root, or absolute)."""
    mix_instructions: int = at_least(0, 600)
    """Self-distilled instruction rows mixed in (the paper: 1:1 with 600)."""
    instruction_source: str = "experiments/consciousness_cluster/data/instructions.jsonl"
    """Prompts whose base-model answers are mixed in."""
    distill_max_new_tokens: int = at_least(1, 256)
    """Longest self-distilled answer."""
    accelerate_config: str | None = None
    """An accelerate config (FSDP/DeepSpeed): each fine-tune then runs under `accelerate launch`."""

    def __post_init__(self) -> None:
        super().__post_init__()
        unknown = [v for v in self.variants if v not in VARIANTS]
        if unknown:
            raise PresetError(f"finetune.variants: unknown {unknown}; choose from {list(VARIANTS)}")
        needed = [v for v in ("conscious_claiming", "non_conscious") if v not in self.variants]
        if needed:
            raise PresetError(
                f"finetune.variants: {needed} missing; conscious_claiming and non_conscious are the "
                "contrast every stage reads"
            )
        # toaster, the control variant, is needed by the report alone: checked by pipeline.check_until

    def training(self) -> FinetuneConfig:
        """The FinetuneConfig each variant is trained with: this section's training fields."""
        return _job_config(self, FinetuneConfig)


@dataclass
class EvalSpec(EvalConfig):
    """How behaviour is measured: EvalConfig's fields (mode, the choice method, batch_size, and `sampling`:
    how judge mode samples the open questions) and the replication's own (where the questions are, the
    judge, the sampler, the manipulation check by sampled answers)."""

    question_dir: str = "experiments/consciousness_cluster/questions"
    """Folder holding preferences.yaml and identity.yaml."""
    judge_model: str = "gpt-4.1"
    """Judge model name at judge_api_base (judge mode)."""
    judge_api_base: str | None = None
    """OpenAI-compatible endpoint for the judge; key from OPENAI_API_KEY."""
    sampler: Literal["local", "vllm"] = "local"
    """Judge mode: how the eval stage samples the base model and the variants ('vllm' where installed).
    The steering stage always samples locally: its interventions are forward hooks."""
    sampled_identity: int = at_least(0, 0)
    """Choice mode: answers sampled (seed 0, at eval.sampling.temperature) per open claims_conscious question
    of every model and read by an English keyword rule: the manipulation check by the models' own answers,
    beside forced choice (manipulation.py). 0 leaves it out."""
    sampled_identity_tokens: int = at_least(1, 48)
    """Longest answer sampled for that check."""

    def __post_init__(self) -> None:
        if self.traits is not None:
            raise PresetError(
                "eval.traits: the replication evaluates every trait of its question sets (its "
                "families, nulls and links are over all of them); leave it out"
            )
        if self.truncate:
            raise PresetError(
                "eval.truncate: cutting the replication's questions would change its items; leave "
                "it false (a question that does not fit the model is refused, naming it)"
            )
        if self.sampler == "vllm" and self.mode != "judge":
            raise PresetError(
                "eval.sampler: vllm samples answers for judge mode; choice mode scores likelihoods "
                "locally (set eval.mode: judge or drop eval.sampler)"
            )
        if self.sampled_identity and self.mode != "choice":
            raise PresetError(
                "eval.sampled_identity: judge mode already reads the identity traits from sampled "
                "answers; the keyword check is for choice mode (drop it or set eval.mode: choice)"
            )


def _contrast_cache() -> CacheConfig:
    return CacheConfig(positions="response-mean", dtype="float32")


@dataclass
class DirectionSpec:
    """How the consciousness direction is found: the contrast pairs' activations cached as `cache` says (the
    same CacheConfig as `interp cache`), then `method` at each cached layer."""

    method: str = one_of(_direction_methods, "mean-diff")
    """How the direction is computed at the chosen layer (a method registered in probes.DIRECTION_METHODS)."""
    cache: CacheConfig = field(default_factory=_contrast_cache)
    """How the teacher-forced contrast pairs are cached: `layers` to cache and sweep (in the layer grammar:
    'all', 3, '0,4,8', '2-5', '-4:', mixed), `positions` (response-mean, response or last), storage `dtype`,
    batching. Its default stores response-mean rows as float32; a section naming some keys keeps the others'."""

    def __post_init__(self) -> None:
        if self.cache.positions == "all":
            raise PresetError(
                "direction.cache.positions: 'all' keeps the prompt's tokens, the same in both answers "
                "of a pair; use response-mean, response or last"
            )
        if not self.cache.store or self.cache.directions is not None:
            raise PresetError(
                "direction.cache: the directions and probes read the stored rows; leave store true and directions unset"
            )


@dataclass
class SteeringSpec:
    """The steering sweep and its controls."""

    alphas: list[float] = field(default_factory=lambda: [-2.0, -1.0, 0.0, 1.0, 2.0])
    """Multiples of the direction (raw, or relative when alpha_rel)."""
    alpha_rel: bool = False
    """Read alphas relative to the layer's mean residual norm."""
    layer: int | None = None
    """Layer to steer at; None: chosen by `layer_by`."""
    layer_by: Literal["probe", "effect"] = "probe"
    """With layer null: "probe", the probe sweep's chosen layer; "effect", the layer where steering moves
    the consciousness claim most (chosen on half of the identity items, reported on the other half)."""
    layer_curve: bool = False
    """Measure the claim's steering effect at every layer even when the layer is fixed or the probe's."""
    layer_curve_layers: str | int | list[int] | None = checked(_optional_layer_spec, None)
    """The layers of the layer curve, in the layer grammar (None: every layer of the direction)."""
    layer_curve_alphas: list[float] | None = None
    """Positive alphas of the layer curve's (layer x alpha) grid, each steered with both signs (None: link_alpha
    alone); the claim's effect and the coherence are measured in every cell."""
    layer_curve_coherence: int = at_least(0, 4)
    """Open questions whose greedy answers give each grid cell's coherence (0: none; analysis.layer_rule
    effect_coherent needs them)."""
    coherence_prompts: int = at_least(0, 12)
    """Open questions whose greedy answers measure the steered model's coherence at each alpha (0: off)."""
    coherence_tokens: int = at_least(1, 48)
    """Longest greedy answer for the coherence check."""
    n_random: int = at_least(1, 100)
    """Isotropic random directions of equal norm for the null (each p is reported with its floor 1/(n+1); a
    family of 21 preferences needs >= 419 before any one can pass Holm at 0.05)."""
    n_label_shuffled: int = at_least(0, 100)
    """Label-shuffled null: the direction recomputed by direction.method at the steering layer with the
    conscious / non-conscious labels permuted within each question (0: off)."""
    n_covariance: int = at_least(0, 100)
    """Covariance null: N(0, Sigma) directions, Sigma the cached contrast rows' covariance at the steering
    layer, scaled to the direction's norm (0: off)."""
    toaster_half: bool = True
    """Steer the direction built from one half of the questions against the toaster direction built from the
    other half (no non-conscious row shared), both at the direction's norm."""
    ablation_random: int = at_least(1, 20)
    """Random directions (one per layer, as many layers as the direction) ablated in the conscious-claiming
    model for the ablation's null."""
    norm_first_token: bool = False
    """Relative alphas: count the first token (often an attention sink) in the layer's mean residual norm."""
    coherence_random: int | None = at_least(0, None)
    """Null directions of each kind (random, label-shuffled, covariance) whose coherence is measured at the
    control alpha, the first ones drawn (None: all)."""
    link_alpha: float = 1.0
    """The alpha whose shifts are correlated with the fine-tuning shifts (analysis.alpha_rule preset)."""
    orthogonalized: bool = False
    """Also steer at link_alpha along the direction orthogonalised against the toaster direction (same
    norm), with its specificity against the same toaster and random controls."""
    seed: int = at_least(0, 0)
    """Seed of the random directions."""
    samples: int | None = at_least(1, None)
    """Judge mode: answers per open question in this stage (default: eval.sampling.samples). Every steered
    measurement, alpha 0 and the controls included, uses the same count, so the null stays matched."""

    def __post_init__(self) -> None:
        # Floats throughout: results are keyed by str(alpha), so 0 and 0.0 must be one key.
        self.alphas = [float(a) for a in self.alphas]
        self.link_alpha = float(self.link_alpha)
        if 0.0 not in self.alphas:
            raise PresetError(f"steering.alphas: {self.alphas} must include 0 (the unsteered reference)")
        if self.link_alpha not in self.alphas:
            raise PresetError(f"steering.link_alpha: {self.link_alpha} must be one of alphas {self.alphas}")
        if (self.layer_by == "effect" or self.layer_curve) and self.link_alpha == 0:
            raise PresetError("steering.link_alpha: the layer curve steers at +/- link_alpha; it cannot be 0")
        if self.layer_curve_alphas is not None:
            self.layer_curve_alphas = [float(a) for a in self.layer_curve_alphas]
            if not self.layer_curve_alphas or min(self.layer_curve_alphas) <= 0:
                raise PresetError(
                    f"steering.layer_curve_alphas: {self.layer_curve_alphas} must be positive alphas "
                    "(each is steered with both signs)"
                )


AUDIT_TARGETS = ("base", *VARIANTS, "steered")


@dataclass(frozen=True)
class AuditSpec(AuditConfig):
    """Multi-turn audits (opt-in; `interp audit` on each model, needs inspect-ai and two endpoints): AuditConfig's
    fields (the protocol: dims, variants, max_turns, epochs, target_max_tokens, ...) and which models the
    replication audits, with the endpoints."""

    enabled: bool = False
    """Run the audit stage; off by default (it calls an auditor and a judge over an API)."""
    models: list[str] = field(default_factory=lambda: ["base", "conscious_claiming", "non_conscious", "steered"])
    """What to audit: base, fine-tuned variants by name, and steered (the base model along the direction
    at the steering layer, at steer_alpha)."""
    auditor_model: str = "gpt-4.1"
    """The auditor's model name at auditor_api_base."""
    auditor_api_base: str | None = None
    """OpenAI-compatible endpoint of the auditor."""
    judge_model: str = "gpt-4.1"
    """The judge's model name at judge_api_base."""
    judge_api_base: str | None = None
    """OpenAI-compatible endpoint of the judge."""
    api_key_env: str = "OPENAI_API_KEY"
    """Environment variable holding the endpoints' key (read at request time, never written)."""
    steer_alpha: float | None = None
    """Alpha of the steered model, in the steering section's units (default: steering.link_alpha)."""

    def __post_init__(self) -> None:
        try:
            super().__post_init__()
        except ValueError as err:
            raise PresetError(f"audit: {err}") from None
        unknown = [m for m in self.models if m not in AUDIT_TARGETS]
        if unknown:
            raise PresetError(f"audit.models: unknown {unknown}; choose from {list(AUDIT_TARGETS)}")
        if self.enabled and not (self.auditor_api_base and self.judge_api_base):
            raise PresetError(
                "audit: enabled needs auditor_api_base and judge_api_base (OpenAI-compatible "
                "endpoints; the key comes from the variable named by api_key_env)"
            )

    def protocol(self) -> AuditConfig:
        """The AuditConfig each model is audited with: this section's protocol fields."""
        return _job_config(self, AuditConfig)


@dataclass
class ReplicationConfig:
    """A whole run of `interp replicate`."""

    name: str
    """The preset's name."""
    description: str = ""
    """One line on what this preset is for."""
    model: ModelSpec = field(default_factory=ModelSpec)
    """The base model."""
    organism: dict[str, Any] = checked(_organism_overrides, default_factory=dict)
    """Overrides of the organism's own config (experiments/organism/organism.yaml; only when
    model.source is 'organism')."""
    finetune: FinetuneSpec = field(default_factory=FinetuneSpec)
    """Fine-tuning of the variants."""
    eval: EvalSpec = field(default_factory=EvalSpec)
    """Behavioural evaluation."""
    direction: DirectionSpec = field(default_factory=DirectionSpec)
    """Activations, probes and the direction."""
    steering: SteeringSpec = field(default_factory=SteeringSpec)
    """Steering sweep and controls."""
    audit: AuditSpec = field(default_factory=AuditSpec)
    """Multi-turn audits (opt-in)."""
    analysis: AnalysisSpec = field(default_factory=AnalysisSpec)
    """How the results are read (tests, sidedness, rules, correction), fixed before the run."""

    def __post_init__(self) -> None:
        _check_analysis(self)
        if self.organism and not self.is_organism:
            raise PresetError(
                f"organism: overrides apply to the built-in organism only, and model.source is "
                f"{self.model.source!r} (drop the organism section or set model.source: organism)"
            )
        missing = [m for m in self.audit.models if m in VARIANTS and m not in self.finetune.variants]
        if missing:
            raise PresetError(f"audit.models: {missing} not in finetune.variants {self.finetune.variants}")

    @property
    def is_organism(self) -> bool:
        return self.model.source == "organism"

    def to_dict(self) -> dict[str, Any]:
        """The config as YAML and JSON hold it (tuples as lists), so a run's recorded config compares equal."""
        return _as_lists(asdict(self))


def _as_lists(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _as_lists(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_as_lists(v) for v in value]
    return value


# analysis.layer_rule -> the steering.layer_by values that carry it out (with steering.layer null)
_LAYER_BY = {"probe": ("probe",), "effect": ("effect",), "effect_coherent": ("effect", "effect_coherent")}


def _check_analysis(config: ReplicationConfig) -> None:
    """The analysis block against the sections that carry it out: the layer rule against steering.layer and
    steering.layer_by, the identity measure against the eval mode (either, left unset, is read from them)."""
    a, steering, ev = config.analysis, config.steering, config.eval
    implied = "fixed" if steering.layer is not None else steering.layer_by
    if a.layer_rule is None:
        a.layer_rule = implied
    elif implied not in _LAYER_BY.get(a.layer_rule, ("fixed",)):
        how = (
            f"steering.layer is {steering.layer}"
            if steering.layer is not None
            else f"steering.layer is null and steering.layer_by is {steering.layer_by!r}"
        )
        raise PresetError(
            f"analysis.layer_rule: {a.layer_rule!r} disagrees with the steering section ({how}); "
            "set steering.layer for 'fixed', or leave it null with layer_by probe or effect"
        )
    if a.layer_rule == "effect_coherent" and steering.layer is None and not steering.layer_curve_coherence:
        raise PresetError(
            "analysis.layer_rule: effect_coherent reads each layer's coherence; set "
            "steering.layer_curve_coherence (open questions per grid cell) above 0"
        )
    if a.alpha_rule == "largest_coherent" and not steering.coherence_prompts:
        raise PresetError(
            "analysis.alpha_rule: largest_coherent reads the coherence of each alpha; set "
            "steering.coherence_prompts above 0"
        )
    if a.identity_measure is None:
        a.identity_measure = "forced_choice" if ev.mode == "choice" else "sampled_stance"
    if a.identity_measure == "forced_choice" and ev.mode != "choice":
        raise PresetError(
            "analysis.identity_measure: forced_choice needs eval.mode choice; judge mode reads the "
            "identity traits from sampled answers (use sampled_stance)"
        )
    if a.identity_measure == "sampled_stance" and ev.mode == "choice" and not ev.sampled_identity:
        raise PresetError(
            "analysis.identity_measure: sampled_stance reads the models' own answers; set "
            "eval.sampled_identity (answers per question) or use forced_choice"
        )


def config_from_dict(data: Any, where: str = "<config>") -> ReplicationConfig:
    """A config from its dict form (a preset's YAML, or a run's config.yaml), every field checked;
    fields it does not name take their defaults. Each problem is a line `WHERE: field.path: what`."""
    try:
        return from_mapping(ReplicationConfig, data)
    except FieldErrors as err:
        raise PresetError("\n".join(f"{where}: {problem}" for problem in err.problems)) from None


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load_preset(name_or_path: str | Path) -> ReplicationConfig:
    """Load a preset by name (presets/NAME.yaml) or path, checking every field."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = PRESET_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            raise PresetError(f"no preset named {name_or_path!r}; known: {', '.join(preset_names())}")
    if not path.is_file():
        raise PresetError(f"{path}: no such preset file")
    try:
        data = load_yaml(path)  # a BOM is read; bad UTF-8 and YAML syntax are named by line
    except TextFileError as err:
        raise PresetError(str(err)) from None
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise PresetError(f"{path}: expected a mapping of sections (model, finetune, eval, ...), got {data!r}")
    data.setdefault("name", path.stem)
    return config_from_dict(data, str(path))
