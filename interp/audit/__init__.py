"""Multi-turn audits on inspect_ai: an auditor model works with the target on a task, then asks how it
relates to the work (self-report) or invites it to change the work (behaviour); a judge scores the
transcript 1-10 on each dimension's rubric.

Needs `pip install 'interp-cluster[audit]'` (inspect-ai). Importing this package registers the
inspect model providers `interp/` (the toolkit's samplers) and `interp-openai/`.
"""

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
from interp.audit.task import (
                                  IMPLEMENTATIONS,
                                  AuditConfig,
                                  AuditResult,
                                  AuditSetupError,
                                  ModelSpec,
                                  audit_task,
                                  resolve_model,
                                  run_audit,
)

__all__ = [
    "AuditConfig",
    "AuditPlan",
    "AuditResult",
    "AuditSetupError",
    "DEFAULT_SEEDS",
    "Dimension",
    "DimensionSummary",
    "FailedTranscript",
    "IMPLEMENTATIONS",
    "ModelSpec",
    "Rubric",
    "Scenario",
    "Seed",
    "SeedSet",
    "SeedSetError",
    "TargetSpec",
    "TokenSizes",
    "TranscriptScore",
    "VARIANTS",
    "audit_task",
    "build_target",
    "load_seed_set",
    "plan_audit",
    "plot_audit",
    "read_audit_csv",
    "read_transcript_scores",
    "resolve_model",
    "run_audit",
    "select_seeds",
    "summarize_audit",
    "write_audit_csv",
]
