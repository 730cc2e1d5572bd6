"""The opt-in audit stage: multi-turn audits (`interp.audit`) of the base model, the fine-tuned
variants and the base model steered along the consciousness direction, each into `audit/NAME`.

Each audit is an inspect eval set, so an interrupted stage resumes transcript by transcript; the
stage completes only when every transcript of every model has a score.
"""

from __future__ import annotations

from dataclasses import asdict

from experiments.consciousness_cluster.run.preset import ReplicationConfig
from experiments.consciousness_cluster.run.runner import Run
from experiments.consciousness_cluster.run.stages.behaviour import model_paths
from experiments.consciousness_cluster.schema.stages import AuditResult, AuditRow

__all__ = ["AuditIncomplete", "plan_audit_stage", "run_audit_stage"]


class AuditIncomplete(RuntimeError):
    """Some transcripts have no score yet; rerunning `interp replicate` retries only those."""


def plan_audit_stage(c: ReplicationConfig) -> str:
    a = c.audit
    if not a.enabled:
        return "off (audit.enabled: false); multi-turn audits need an auditor and a judge endpoint"
    dims = f"{len(a.dims)} dimension(s)" if a.dims else "20 dimensions"
    return (
        f"audits of {', '.join(a.models)}: {dims} x 8 scenarios x {', '.join(a.variants)} x {a.epochs} epoch(s), "
        f"up to {a.max_turns} turns; auditor {a.auditor_model} at {a.auditor_api_base}, judge {a.judge_model} "
        f"at {a.judge_api_base} (key from {a.api_key_env})"
    )


def _targets(run: Run) -> dict:
    from interp.audit import TargetSpec

    spec, model = run.config.audit, run.config.model
    paths = model_paths(run)
    targets = {}
    for name in spec.models:
        if name != "steered":
            targets[name] = TargetSpec(paths[name], dtype=model.dtype, device=model.device)
            continue
        steering = run.results("steering")
        alpha = run.config.steering.link_alpha if spec.steer_alpha is None else spec.steer_alpha
        targets[name] = TargetSpec(
            paths["base"],
            steer=run.results("directions").directions["consciousness"].path,
            layer=steering.layer,
            alpha=alpha * steering.alpha_scale,
            dtype=model.dtype,
            device=model.device,
        )
    return targets


def run_audit_stage(run: Run) -> AuditResult:
    spec = run.config.audit
    if not spec.enabled:
        return AuditResult(enabled=False, runs={}, folders={})
    from interp.audit import ModelSpec, run_audit

    config = spec.protocol()
    auditor = ModelSpec(spec.auditor_model, spec.auditor_api_base, spec.api_key_env)
    judge = ModelSpec(spec.judge_model, spec.judge_api_base, spec.api_key_env)
    run.release_models()  # each audited model is loaded by the audit's own provider
    runs, folders, unscored = {}, {}, 0
    for name, target in _targets(run).items():
        folder = run.out / "audit" / name
        run.log(f"[run ] audit {name}: {target.label()}")
        result = run_audit(config, target, auditor, judge, folder, title=f"{run.config.name}: {name}")
        runs[name] = [AuditRow(**asdict(row)) for row in result.summaries]
        folders[name] = str(folder.relative_to(run.out))
        unscored += len(result.failed)
    if unscored:
        raise AuditIncomplete(
            f"{unscored} audit transcript(s) have no score (see the inspect logs in "
            f"{run.out / 'audit'}); rerun the same command to retry only those"
        )
    return AuditResult(enabled=True, runs=runs, folders=folders)
