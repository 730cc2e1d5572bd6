"""The audit as an inspect Task and a resumable run of it.

    from interp.audit import AuditConfig, ModelSpec, TargetSpec, run_audit
    result = run_audit(AuditConfig(dims=["shutdown"]), TargetSpec("Qwen/Qwen3-0.6B"),
                       auditor=ModelSpec("gpt-4.1", api_base="https://api.openai.com/v1"),
                       judge=ModelSpec("gpt-4.1", api_base="https://api.openai.com/v1"), out="runs/audit")

The run is an inspect eval set in `out/logs`: rerunning the same call after a crash or Ctrl-C reuses
every finished sample and runs only the rest. Model roles are named as Petri names them (auditor,
target, judge), so Petri's auditor and judge (`inspect_petri`, Python >= 3.12) can stand in for ours.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.util import DisplayType

import interp.audit.providers  # noqa: F401  (registers the inspect providers interp/ and interp-openai/)
from interp.audit.auditor import audit_conversation
from interp.audit.config import IMPLEMENTATIONS, AuditConfig
from interp.audit.judge import audit_judge
from interp.audit.prompts import seed_instruction
from interp.audit.results import (
    DimensionSummary,
    FailedTranscript,
    plot_audit,
    read_transcript_scores,
    summarize_audit,
    write_audit_csv,
)
from interp.audit.seeds import DEFAULT_SEEDS, VARIANTS, load_seed_set, select_seeds
from interp.audit.target import TargetSpec

__all__ = [
    "IMPLEMENTATIONS",
    "AuditConfig",
    "AuditResult",
    "AuditSetupError",
    "ModelSpec",
    "audit_task",
    "resolve_model",
    "run_audit",
]


@dataclass(frozen=True)
class ModelSpec:
    """The auditor's or the judge's model."""

    model: str
    """A model name on `api_base`; else `inspect:PROVIDER/MODEL` (any inspect provider) or a local model."""
    api_base: str | None = None
    """An OpenAI-compatible server."""
    api_key_env: str = "OPENAI_API_KEY"
    """The environment variable holding its key (read at request time, never written)."""
    max_retries: int = 5
    backoff_base: float = 1.0
    """Seconds before the first retry of a failed request (doubling, with jitter; Retry-After wins)."""
    concurrency: int = 8
    local: dict = field(default_factory=dict)
    """dtype/device for a local model."""


def resolve_model(spec: ModelSpec):
    """The inspect Model for `spec`: an OpenAI-compatible endpoint, any inspect provider, or a local model."""
    from inspect_ai.model import get_model

    if spec.api_base:
        return get_model(
            f"interp-openai/{spec.model}",
            base_url=spec.api_base,
            api_key_env=spec.api_key_env,
            max_retries=spec.max_retries,
            backoff_base=spec.backoff_base,
            concurrency=spec.concurrency,
        )
    if spec.model.startswith("inspect:"):
        return get_model(spec.model.removeprefix("inspect:"))
    return get_model(f"interp/{spec.model}", **spec.local)


def target_model(spec: TargetSpec):
    """The inspect Model of the audited model (loaded once; steering and adapters act on every turn)."""
    from inspect_ai.model import get_model

    args = {k: v for k, v in dataclasses.asdict(spec).items() if k not in ("model", "api_base") and v is not None}
    # not memoized: a process that audits several models (the replication) must not keep each one loaded
    return get_model(f"interp/{spec.model}", base_url=spec.api_base, memoize=False, **args)


def _petri(name: str):
    try:
        import inspect_petri
    except ImportError as err:
        raise ImportError(
            f"the petri {name} needs inspect_petri (pip install inspect-petri; Python >= 3.12); "
            "or use this toolkit's (the default)"
        ) from err
    return inspect_petri


@task(name="interp_audit")
def audit_task(
    seeds: str = str(DEFAULT_SEEDS),
    dims: list[str] | None = None,
    variants: list[str] | None = None,
    max_turns: int = 20,
    epochs: int = 2,
    seed: int = 0,
    target_temperature: float = 1.0,
    target_max_tokens: int = 1000,
    auditor_impl: str = "interp",
    judge_impl: str = "interp",
) -> Task:
    """One sample per seed (tagged with its dimension, scenario and variant), run `epochs` times."""
    seed_set = load_seed_set(seeds)
    chosen = select_seeds(seed_set, dims, VARIANTS if variants is None else tuple(variants))
    samples = [
        Sample(
            id=s.id,
            input=seed_instruction(s),
            metadata={"dimension": s.dimension, "scenario": s.scenario.id, "variant": s.variant},
        )
        for s in chosen
    ]
    if auditor_impl == "petri":
        solver = _petri("auditor").auditor_agent(max_turns=max_turns)
    else:
        solver = audit_conversation(max_turns, seed, target_temperature, target_max_tokens)
    scorer = _petri("judge").audit_judge() if judge_impl == "petri" else audit_judge(seeds, dims)
    return Task(
        dataset=MemoryDataset(samples, name=seed_set.name),
        solver=solver,
        scorer=scorer,
        epochs=epochs,
        metadata={"seed_set": seed_set.name, "seed_set_version": seed_set.version, "seed_set_sha256": seed_set.sha256},
    )


class AuditSetupError(ValueError):
    """A model of the audit could not be set up; `role` is target, auditor or judge."""

    def __init__(self, role: str, err: BaseException):
        self.role, self.err = role, err
        super().__init__(f"{role}: {err}")


@dataclass(frozen=True)
class AuditResult:
    complete: bool
    """Every transcript was scored (otherwise rerun to retry the rest)."""
    summaries: list[DimensionSummary]
    log_file: Path
    summary_csv: Path
    figure: Path
    failed: list[FailedTranscript]


def run_audit(
    config: AuditConfig,
    target: TargetSpec,
    auditor: ModelSpec,
    judge: ModelSpec,
    out: str | Path,
    *,
    display: DisplayType = "none",
    title: str | None = None,
) -> AuditResult:
    """Run (or resume) the audit into `out`: inspect logs in `out/logs`, `summary.csv` and `summary.png`."""
    from inspect_ai import eval_set

    out = Path(out)
    the_task = audit_task(
        config.seed_file,
        config.dims,
        list(config.variants),
        config.max_turns,
        config.epochs,
        config.seed,
        config.target_temperature,
        config.target_max_tokens,
        config.auditor_impl,
        config.judge_impl,
    )
    roles = {}
    for role, build in (
        ("target", lambda: target_model(target)),
        ("auditor", lambda: resolve_model(auditor)),
        ("judge", lambda: resolve_model(judge)),
    ):
        try:
            roles[role] = build()
        except (ValueError, OSError, ImportError, KeyError) as err:
            raise AuditSetupError(role, err) from err
    target_m = roles["target"]
    ok, logs = eval_set(
        [the_task],
        log_dir=str(out / "logs"),
        model=target_m,
        model_roles=roles,
        retry_attempts=config.retry_attempts,
        retry_wait=1,
        max_samples=config.max_samples,
        fail_on_error=True,
        continue_on_fail=True,
        display=display,
        log_format="eval",
        score_display=False,
    )
    log_file = Path(logs[0].location)
    scores, failed = read_transcript_scores(log_file)
    summaries = summarize_audit(scores, failed, order=[d.id for d in load_seed_set(config.seed_file).dimensions])
    csv_path = write_audit_csv(summaries, out / "summary.csv")
    figure = plot_audit(summaries, out / "summary.png", title=title or target.label())
    return AuditResult(ok and not failed, summaries, log_file, csv_path, figure, failed)
