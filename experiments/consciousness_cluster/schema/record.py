"""How a run was made, as types: the command, the checkout, the machine and when, one record per invocation.

`run.record.recorded` writes `invocations/<start>-<pid>.json` (`RunPaths.invocation`) as an
invocation starts and again as it ends; `read_invocations` reads them back, oldest first.
results.json carries them (`meta.invocations`) and `interp publish` writes RUN.md from them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from experiments.consciousness_cluster.schema.paths import RunPaths
from experiments.consciousness_cluster.schema.stages import Checked, SchemaError

__all__ = ["Checkout", "Invocation", "Machine", "read_invocations"]


@dataclass(frozen=True)
class Machine(Checked):
    cpu: str
    """the CPU's model name"""
    extensions: list[str]
    """the vector extensions it has, of those that change how fast (and how exactly) matrix products run"""
    cores: int
    """logical cores the process may use"""
    torch_threads: int
    gpu: str | None
    """the CUDA device's name, when torch sees one"""
    system: str
    python: str
    torch: str


@dataclass(frozen=True)
class Checkout(Checked):
    commit: str | None
    """the git commit of the toolkit's checkout (None: not a git checkout, or no git)"""
    dirty: bool | None
    """whether tracked files differed from that commit"""


@dataclass(frozen=True)
class Invocation(Checked):
    command: str
    """the command line, as typed"""
    started: str
    """UTC, ISO 8601"""
    ended: str | None
    """None while it runs, or after a kill"""
    seconds: float | None
    """wall time from start to end"""
    stages: dict[str, float]
    """the stages this invocation completed, each with its time"""
    outcome: str | None
    """"done", "stopped (ErrorName)" after an error or Ctrl-C, or None while it runs or after a kill"""
    checkout: Checkout
    machine: Machine
    version: str
    """the toolkit's version"""


def read_invocations(out_dir: str | Path) -> list[Invocation]:
    """Every invocation recorded in a run folder, oldest first (none for a run that predates the records)."""
    found = []
    for path in sorted(RunPaths(Path(out_dir)).invocations.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise SchemaError(
                str(path), [f"not JSON ({err.msg})"], "the toolkit writes these records; delete the damaged one"
            ) from None
        found.append(Invocation.from_json(data, str(path)))
    return sorted(found, key=lambda invocation: invocation.started)
