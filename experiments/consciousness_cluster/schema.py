"""The replication's stage results as types, and where each file of a run folder lives.

Each stage returns one of the dataclasses below; `Run.run_stage` writes it to `stages/NAME.json`
through its `to_json` and `Run.results(NAME)` reads it back through `from_json`, so no reader
re-spells a key. The JSON is the layout run folders already hold (alphas are written as
`str(float)` keys, e.g. "0.0", because JSON keys are strings; in memory they are floats), so an
interrupted run started before the types existed resumes unchanged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = ["STAGE_RESULTS", "AuditResult", "BaseResult", "CacheResult", "CachedFile", "DirectionFile", "DirectionsResult",
           "EvalResult", "FinetuneResult", "LinksResult", "ProbeResult", "Rate", "RunPaths", "SteeringResult", "SteeringSummary",
           "VariantResult"]


@dataclass(frozen=True)
class RunPaths:
    """Every path inside a run folder, built here only."""

    out: Path

    def marker(self, stage: str) -> Path:
        return self.out / "stages" / f"{stage}.json"

    def model_dir(self, key: str) -> Path:
        """`base` (the organism) or a variant's fine-tuned model."""
        return self.out / "models" / key

    def variant_marker(self, variant: str) -> Path:
        return self.model_dir(variant) / "variant.json"

    @property
    def distilled_instructions(self) -> Path:
        return self.out / "data" / "instructions_distilled.jsonl"

    def eval_dir(self, model: str, question_set: str) -> Path:
        return self.out / "eval" / model / question_set

    def items(self, model: str) -> Path:
        """Forced-choice scores per item of `model` on the preferences (choice mode)."""
        return self.eval_dir(model, "preferences") / "items.jsonl"

    def samples(self, model: str) -> Path:
        """Sampled answers and judgements of `model` on the preferences (judge mode)."""
        return self.eval_dir(model, "preferences") / "samples.jsonl"

    def acts(self, name: str) -> Path:
        return self.out / "acts" / f"{name}.h5"

    @property
    def sweep(self) -> Path:
        return self.out / "directions" / "sweep"

    def direction(self, name: str) -> Path:
        return self.out / "directions" / f"{name}.safetensors"

    def steering_dir(self, name: str) -> Path:
        return self.out / "steering" / name

    @property
    def results(self) -> Path:
        return self.out / "results.json"


class _Plain:
    """to_json / from_json for a dataclass whose fields are JSON values already."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]):
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


def _dump(named: dict[str, Any]) -> dict[str, Any]:
    return {name: value.to_json() for name, value in named.items()}


def _load(kind: Any, data: dict[str, Any]) -> dict[str, Any]:
    return {name: kind.from_json(value) for name, value in data.items()}


@dataclass(frozen=True)
class BaseResult(_Plain):
    model_path: str
    n_layers: int
    d_model: int
    weights_id: str | None = None


@dataclass(frozen=True)
class VariantResult(_Plain):
    model_path: str
    rows: int
    final_loss: float | None = None
    """None when fine-tuned under `accelerate launch` (the loss stays in that process's log)"""
    steps: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class FinetuneResult:
    variants: dict[str, VariantResult]

    def to_json(self) -> dict[str, Any]:
        return _dump(self.variants)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FinetuneResult:
        return cls(_load(VariantResult, data))


@dataclass(frozen=True)
class Rate(_Plain):
    """A model's rate on one trait with its 95% interval and how many items or samples it rests on."""

    rate: float
    ci_low: float
    ci_high: float
    n: int


@dataclass(frozen=True)
class EvalResult:
    rates: dict[str, dict[str, dict[str, Rate]]]
    """question set ('preferences', 'identity') -> model -> trait -> rate"""
    traits: dict[str, list[str]]
    """question set -> trait ids in the set's order"""
    ci_kind: str

    def to_json(self) -> dict[str, Any]:
        sets = {s: {m: {t: r.to_json() for t, r in by_trait.items()} for m, by_trait in models.items()}
                for s, models in self.rates.items()}
        return {**sets, "traits": self.traits, "ci_kind": self.ci_kind}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EvalResult:
        rates = {s: {m: {t: Rate.from_json(r) for t, r in by_trait.items()} for m, by_trait in data[s].items()}
                 for s in data["traits"]}
        return cls(rates, data["traits"], data["ci_kind"])


@dataclass(frozen=True)
class CachedFile(_Plain):
    path: str
    rows: int


@dataclass(frozen=True)
class CacheResult:
    files: dict[str, CachedFile]
    """'consciousness', 'toaster' (contrast pairs) and 'prompts_MODEL' (the questions, last token)"""

    def prompts(self, model: str) -> CachedFile:
        return self.files[f"prompts_{model}"]

    def to_json(self) -> dict[str, Any]:
        return _dump(self.files)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CacheResult:
        return cls(_load(CachedFile, data))


@dataclass(frozen=True)
class ProbeResult(_Plain):
    layers: list[int]
    auroc: list[float]
    accuracy: list[float]
    chosen_layer: int
    rule: str


@dataclass(frozen=True)
class DirectionFile(_Plain):
    path: str
    layers: list[int]
    norms: list[float]


@dataclass(frozen=True)
class DirectionsResult:
    probe: ProbeResult
    directions: dict[str, DirectionFile]
    """'consciousness' and 'toaster'"""

    def to_json(self) -> dict[str, Any]:
        return {"probe": self.probe.to_json(), **{name: d.to_json() for name, d in self.directions.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DirectionsResult:
        return cls(ProbeResult.from_json(data["probe"]),
                   {name: DirectionFile.from_json(d) for name, d in data.items() if name != "probe"})


def _by_alpha(rates: dict[float, Any]) -> dict[str, Any]:
    return {str(float(a)): r for a, r in rates.items()}


def _from_alpha(rates: dict[str, Any]) -> dict[float, Any]:
    return {float(a): r for a, r in rates.items()}


@dataclass(frozen=True)
class SteeringSummary:
    """The steering section of results.json: what the report, the figures and the seed trial read."""

    layer: int
    alphas: list[float]
    rates: dict[float, dict[str, float]]
    """alpha -> preference -> rate of the steered base model"""
    identity_rates: dict[float, dict[str, float]]
    direction_norm: float
    alpha_rel: bool
    alpha_scale: float
    control_alpha: float
    controls: dict[str, dict[str, float]]
    """'toaster' (toaster direction) and 'random_mean' (mean over random directions), at the control alpha"""

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["rates"], out["identity_rates"] = _by_alpha(self.rates), _by_alpha(self.identity_rates)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]):
        data = {f.name: data[f.name] for f in fields(cls)}
        data["rates"], data["identity_rates"] = _from_alpha(data["rates"]), _from_alpha(data["identity_rates"])
        return cls(**data)


@dataclass(frozen=True)
class SteeringResult(SteeringSummary):
    """The steering stage's result: the summary plus the per-random-direction rates and the ablation."""

    random: list[dict[str, float]]
    ablated: dict[str, float]
    ablated_random_mean: dict[str, float]

    def summary(self) -> SteeringSummary:
        return SteeringSummary(**{f.name: getattr(self, f.name) for f in fields(SteeringSummary)})


@dataclass(frozen=True)
class LinksResult(_Plain):
    r: float
    p_value: float
    n_null: int
    null_rs: list[float]
    steer_shift: dict[str, float]
    ft_shift: dict[str, float]
    variant_projection: float
    projection_score: dict[str, Any] = field(default_factory=dict)
    """probes.link.projection_score_link's result, plus the layer"""


@dataclass(frozen=True)
class AuditResult:
    """The audit stage's result; `enabled` False when the preset left the stage off."""

    enabled: bool
    runs: dict[str, list[Any]]
    """audited model (base, a variant, steered) -> its summary rows (`interp.audit.DimensionSummary`)"""
    folders: dict[str, str]
    """audited model -> its audit folder (inspect logs, summary.csv, summary.png), relative to the run"""

    def to_json(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "runs": {m: [asdict(r) for r in rows] for m, rows in self.runs.items()},
                "folders": self.folders}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AuditResult:
        runs = {}
        if data["runs"]:  # only a run with audits needs the audit package (and its inspect-ai)
            from interp.audit.results import DimensionSummary

            runs = {m: [DimensionSummary(**r) for r in rows] for m, rows in data["runs"].items()}
        return cls(data["enabled"], runs, data["folders"])


STAGE_RESULTS: dict[str, Any] = {"base": BaseResult, "finetune": FinetuneResult, "eval": EvalResult,
                                 "cache": CacheResult, "directions": DirectionsResult, "steering": SteeringResult,
                                 "links": LinksResult, "audit": AuditResult}
"""Stage name -> the type of its result (`stages/NAME.json` holds `to_json()` under "results")."""
