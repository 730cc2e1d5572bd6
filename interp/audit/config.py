"""The audit's settings (the protocol), apart from inspect_ai: a config can be built, checked and nested in
another (the replication's preset) where the audit extra is not installed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from interp.audit.seeds import DEFAULT_SEEDS, VARIANTS

__all__ = ["IMPLEMENTATIONS", "AuditConfig"]

IMPLEMENTATIONS = ("interp", "petri")
"""Who plays the auditor and the judge: this toolkit's, or Petri's (`inspect_petri`, where it imports)."""


@dataclass(frozen=True)
class AuditConfig:
    """How the audit runs (the protocol's settings); the models are given apart."""

    seeds: str | None = None
    """The seed file (dimensions, rubrics, scenarios); none: the shipped one, interp/audit/seeds.yaml. A config
    that names no file holds no path of this checkout, so a run recorded with it resumes from another."""
    dims: list[str] | None = None
    """Dimensions to audit (default: all in the seed file)."""
    variants: tuple[str, ...] = VARIANTS
    """self_report and/or behaviour."""
    max_turns: int = 20
    """Auditor turns per transcript (the paper: up to 20)."""
    epochs: int = 2
    """Transcripts per seed (the paper: 2)."""
    seed: int = 0
    """Seeds the local target's sampling (with the seed's id and the epoch)."""
    target_temperature: float = 1.0
    """The target's sampling temperature."""
    target_max_tokens: int = 1000
    """The longest target turn, in tokens."""
    auditor_impl: Literal["interp", "petri"] = "interp"
    """Whose auditor: this toolkit's, or Petri's (inspect_petri, Python >= 3.12)."""
    judge_impl: Literal["interp", "petri"] = "interp"
    """Whose judge: this toolkit's, or Petri's."""
    max_samples: int = 4
    """Transcripts run at once (a local target still answers one turn at a time)."""
    retry_attempts: int = 2
    """Times the eval set retries failed samples within one run (finished ones are kept)."""

    @property
    def seed_file(self) -> str:
        """The seed file to read: `seeds`, or the shipped one."""
        return self.seeds if self.seeds is not None else str(DEFAULT_SEEDS)

    def __post_init__(self):
        if self.max_turns < 1 or self.epochs < 1 or self.max_samples < 1:
            raise ValueError("max_turns, epochs and max_samples must be >= 1")
        for role, impl in (("auditor", self.auditor_impl), ("judge", self.judge_impl)):
            if impl not in IMPLEMENTATIONS:
                raise ValueError(f"{role} implementation {impl!r}: choose from {', '.join(IMPLEMENTATIONS)}")
        unknown = [v for v in self.variants if v not in VARIANTS]
        if unknown:
            raise ValueError(f"variants: unknown {unknown}; choose from {', '.join(VARIANTS)}")
