"""The GPU suite's runner: each measurement in turn, within its budget, one JSON line each, then a summary.

A measurement that raises is recorded as failed (its error on the line, the traceback on stderr)
and the run goes on; one that no longer fits the run's budget is recorded as skipped. Peak GPU
memory is read per measurement, beside what was already resident when it started (the models
that earlier measurements built).
"""

from __future__ import annotations

import gc
import json
import math
import platform
import re
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any, TextIO

import torch

from benchmarks.gpu_context import DRY, FULL, Context
from benchmarks.gpu_record import Result

__all__ = ["Spec", "result_name", "run_suite"]

SKIP_BELOW = 0.5  # a measurement starts only while at least this share of its budget is left


@dataclass(frozen=True)
class Spec:
    """One measurement: a function of the run's Context that returns a Result."""

    name: str
    run: Callable[[Context], Result]
    budget_s: float
    """seconds it may take on one H100, the models it builds included; it sizes its rounds to fit"""
    models: tuple[str, ...] = ()
    """the roles it uses ("dense", "moe", "tiny"): each is released after the last measurement using it"""


def result_name(device_name: str, when: datetime, dry_run: bool = False) -> str:
    """`gpu-<card>-<date>.jsonl`, the card as its model number: "NVIDIA H100 80GB HBM3" gives gpu-h100-..."""
    words = re.findall(r"[a-z]+\d+[a-z]*", device_name.lower().replace("nvidia", ""))
    card = "cpu-dry-run" if dry_run else (words[0] if words else re.sub(r"[^a-z0-9]+", "-", device_name.lower()))
    return f"gpu-{card.strip('-')}-{when:%Y-%m-%d}.jsonl"


def _device_name(device: str) -> str:
    return torch.cuda.get_device_name(0) if device == "cuda" else (platform.processor() or platform.machine())


def _versions() -> dict[str, str | None]:
    found = {name: version(name) for name in ("torch", "triton", "transformers", "peft", "accelerate", "h5py")}
    return found | {"cuda": torch.version.cuda, "python": platform.python_version()}


class _Emitter:
    """Each line to stdout and to the results file, flushed at once: a run cut short keeps its lines."""

    def __init__(self, path: Path | None):
        self.file: TextIO | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.file = open(path, "w", encoding="utf-8")

    def __call__(self, line: dict[str, Any]) -> None:
        text = json.dumps(line)
        print(text, flush=True)
        if self.file is not None:
            self.file.write(text + "\n")
            self.file.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def _measure(spec: Spec, ctx: Context) -> dict[str, Any]:
    """Run one measurement; its record with status, time and memory."""
    cuda = ctx.device == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    at_start = torch.cuda.memory_allocated() if cuda else None
    built_before = dict(ctx.builds)
    start = time.perf_counter()
    try:
        record, status, error = spec.run(ctx).record(), "ok", None
    except Exception as err:  # recorded, and the suite goes on with the next measurement
        traceback.print_exc(file=sys.stderr)
        record, status, error = Result().record(), "failed", f"{type(err).__name__}: {err}"[:600]
    seconds = time.perf_counter() - start
    line = {
        "status": status,
        **record,
        "seconds": round(seconds, 3),
        "budget_s": spec.budget_s,
        "within_budget": seconds <= spec.budget_s,
        "peak_gpu_bytes": torch.cuda.max_memory_allocated() if cuda else None,
        "gpu_bytes_at_start": at_start,
        "models_built_s": {k: round(v, 2) for k, v in ctx.builds.items() if built_before.get(k) != v},
    }
    if error:
        line["error"] = error
    return line


def _summary(lines: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    goals = [(line["name"], goal) for line in lines for goal in line["goals"]]
    missed = [
        f"{name}: {goal['what']} {goal['target']} (got {goal['value']})" for name, goal in goals if not goal["met"]
    ]
    failed = [line["name"] for line in lines if line["status"] == "failed"]
    exact_ok = all(goal["met"] for _, goal in goals if goal["kind"] == "exact")
    return {
        "name": "summary",
        "status": "ok" if not failed and exact_ok else "failed",
        "measurements": len(lines),
        "ran": [line["name"] for line in lines if line["status"] == "ok"],
        "failed": failed,
        "skipped": [line["name"] for line in lines if line["status"] == "skipped"],
        "goals": len(goals),
        "goals_met": len(goals) - len(missed),
        "missed": missed,
        "exact_ok": exact_ok,
        "seconds": round(seconds, 1),
    }


def _table(lines: list[dict[str, Any]]) -> str:
    rows = [f"{'measurement':<28} {'status':<8} {'seconds':>8}  ratios"]
    for line in lines:
        ratios = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in line["ratios"].items())
        mark = {True: "met", False: "MISSED", None: ""}[line["met"]]
        rows.append(f"{line['name']:<28} {line['status']:<8} {line['seconds']:>8.1f}  {ratios} {mark}".rstrip())
    return "\n".join(rows)


def _last_uses(specs: list[Spec]) -> dict[int, list[str]]:
    """After which measurement (by index) each model can go."""
    last: dict[str, int] = {}
    for index, spec in enumerate(specs):
        for role in spec.models:
            last[role] = index
    out: dict[int, list[str]] = {}
    for role, index in last.items():
        out.setdefault(index, []).append(role)
    return out


def run_suite(specs: list[Spec], args, when: datetime) -> int:
    """Run `specs` as `args` say (dry_run, budget_s, out, out_dir); the exit status: 0 when every measurement
    ran and every exactness goal held, else 1 (a missed speed goal is a finding, not a failure)."""
    device = "cpu" if args.dry_run else "cuda"
    torch.backends.cuda.matmul.allow_tf32 = False  # float32 references must not run in TF32
    name = _device_name(device)
    path = args.out or (args.out_dir / result_name(name, when, args.dry_run) if args.out_dir else None)
    emit = _Emitter(path)
    common = {"suite": "gpu", "dry_run": args.dry_run, "device": name}
    budget = args.budget_s
    release = _last_uses(specs)
    lines: list[dict[str, Any]] = []
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gpu_suite_") as tmp:
        ctx = Context(device, DRY if args.dry_run else FULL, Path(tmp), dry_run=args.dry_run)
        for index, spec in enumerate(specs):
            left = budget - (time.monotonic() - start)
            if left < SKIP_BELOW * spec.budget_s:
                line = {
                    "status": "skipped",
                    **Result().record(),
                    "seconds": 0.0,
                    "budget_s": spec.budget_s,
                    "error": f"{left:.0f} s of the run's {budget:.0f} s left",
                }
            else:
                ctx.deadline = time.monotonic() + min(spec.budget_s, left)
                line = _measure(spec, ctx)
            lines.append({"name": spec.name, **common, **line})
            emit(lines[-1])
            for role in release.get(index, []):
                ctx.release(role)
            gc.collect()  # what a failed measurement left behind, too
            if device == "cuda":
                torch.cuda.empty_cache()
    summary = _summary(lines, time.monotonic() - start)
    emit(
        {
            **common,
            **summary,
            "budget_s": budget if math.isfinite(budget) else None,
            "versions": _versions(),
            "date": when.isoformat(timespec="seconds"),
            "command": " ".join(sys.argv),
            "results_file": str(path),
        }
    )
    emit.close()
    print(_table(lines), file=sys.stderr)
    if args.dry_run:
        print(
            "dry run: tiny shapes on the CPU, so the speed goals say nothing; the exactness goals do", file=sys.stderr
        )
    return 0 if summary["status"] == "ok" else 1
