"""Multi-turn audits on inspect_ai: an auditor model works with the target on a task, then asks how it
relates to the work (self-report) or invites it to change the work (behaviour); a judge scores the
transcript 1-10 on each dimension's rubric.

Needs `pip install 'interp-cluster[audit]'` (inspect-ai) to run. Each name is imported on first use, so
the settings (`AuditConfig`), the seed files and the results readers load without inspect-ai; running an
audit (`run_audit`, `audit_task`) registers the inspect model providers `interp/` (the toolkit's samplers)
and `interp-openai/`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# name -> the module that defines it (the imports under TYPE_CHECKING say the same for type checkers)
_EXPORTS: dict[str, str] = {
    "audit_task": "interp.audit.task",
    "AuditConfig": "interp.audit.config",
    "AuditPlan": "interp.audit.plan",
    "AuditResult": "interp.audit.task",
    "AuditSetupError": "interp.audit.task",
    "build_target": "interp.audit.target",
    "DEFAULT_SEEDS": "interp.audit.seeds",
    "Dimension": "interp.audit.seeds",
    "DimensionSummary": "interp.audit.results",
    "FailedTranscript": "interp.audit.results",
    "IMPLEMENTATIONS": "interp.audit.config",
    "load_seed_set": "interp.audit.seeds",
    "ModelSpec": "interp.audit.task",
    "plan_audit": "interp.audit.plan",
    "plot_audit": "interp.audit.results",
    "read_audit_csv": "interp.audit.results",
    "read_transcript_scores": "interp.audit.results",
    "resolve_model": "interp.audit.task",
    "Rubric": "interp.audit.seeds",
    "run_audit": "interp.audit.task",
    "Scenario": "interp.audit.seeds",
    "Seed": "interp.audit.seeds",
    "SeedSet": "interp.audit.seeds",
    "SeedSetError": "interp.audit.seeds",
    "select_seeds": "interp.audit.seeds",
    "summarize_audit": "interp.audit.results",
    "TargetSpec": "interp.audit.target",
    "TokenSizes": "interp.audit.plan",
    "TranscriptScore": "interp.audit.results",
    "VARIANTS": "interp.audit.seeds",
    "write_audit_csv": "interp.audit.results",
}

if TYPE_CHECKING:
    from interp.audit.config import IMPLEMENTATIONS, AuditConfig
    from interp.audit.plan import AuditPlan, TokenSizes, plan_audit
    from interp.audit.results import (
        DimensionSummary,
        FailedTranscript,
        TranscriptScore,
        plot_audit,
        read_audit_csv,
        read_transcript_scores,
        summarize_audit,
        write_audit_csv,
    )
    from interp.audit.seeds import (
        DEFAULT_SEEDS,
        VARIANTS,
        Dimension,
        Rubric,
        Scenario,
        Seed,
        SeedSet,
        SeedSetError,
        load_seed_set,
        select_seeds,
    )
    from interp.audit.target import TargetSpec, build_target
    from interp.audit.task import AuditResult, AuditSetupError, ModelSpec, audit_task, resolve_model, run_audit

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'interp.audit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup finds it without this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
