"""Recording how a run is made: `with recorded(out, root) as record:` around an invocation.

The record (schema.record.Invocation) is written as the invocation starts and again as it ends, so a
resumed run keeps one per invocation and a killed one shows that it started and never ended. It holds
the command as typed, the toolkit checkout's git commit and whether tracked files had changed, the
machine (CPU model and the vector extensions that change how matrix products run, cores, torch
threads, GPU) and, at the end, the wall time and the stages the invocation completed.
"""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from experiments.consciousness_cluster.schema.paths import RunPaths
from experiments.consciousness_cluster.schema.record import Checkout, Invocation, Machine
from interp.models.atomic import write_json_atomic

__all__ = ["VECTOR_EXTENSIONS", "checkout", "command_line", "machine", "module_command", "recorded"]

VECTOR_EXTENSIONS = (
    "avx",
    "avx2",
    "fma",
    "avx512f",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
    "asimd",
    "sve",
)
"""CPU flags (as /proc/cpuinfo names them) that change how fast, and in float arithmetic how exactly, the
matrix products run: a run's numbers can move a little between CPUs that differ in them."""


def command_line(argv: list[str] | None = None) -> str:
    """The process's command as typed: `interp replicate ...`, `python -m MODULE ...`, else its argv."""
    argv = list(sys.orig_argv if argv is None else argv)
    if len(argv) > 2 and argv[1] == "-m":
        return shlex.join(["python", *argv[1:]])
    script = next((i for i, arg in enumerate(argv) if Path(arg).name == "interp"), None)
    if script is not None:
        return shlex.join(["interp", *argv[script + 1 :]])
    return shlex.join([Path(argv[0]).name, *argv[1:]])


def module_command(module: str, argv: list[str] | None) -> str:
    """`python -m MODULE ARGV...`: the command of a `main(argv)` called with its arguments (None: the process's)."""
    return shlex.join(["python", "-m", module, *(sys.argv[1:] if argv is None else argv)])


def _cpu() -> tuple[str, list[str]]:
    name, flags = platform.processor() or platform.machine(), set()
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: the model name platform gives, no flags
        return name, []
    for line in text.splitlines():
        key, _, value = (part.strip() for part in line.partition(":"))
        if key in ("model name", "Model") and value:
            name = value
        elif key in ("flags", "Features"):
            flags |= set(value.split())
    return name, [flag for flag in VECTOR_EXTENSIONS if flag in flags]


def machine() -> Machine:
    import torch

    cpu, extensions = _cpu()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return Machine(
        cpu=cpu,
        extensions=extensions,
        cores=cores,
        torch_threads=torch.get_num_threads(),
        gpu=torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        system=platform.platform(),
        python=platform.python_version(),
        torch=torch.__version__,
    )


def checkout(root: Path) -> Checkout:
    """The git commit of the checkout at `root` and whether tracked files differ from it."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return Checkout(commit=None, dirty=None)
    status = git("status", "--porcelain", "--untracked-files=no")
    return Checkout(commit=commit, dirty=None if status is None else bool(status))


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class recorded:
    """The record of one invocation, written into the run folder as it starts and as it ends.
    `record.stage(name, seconds)` notes a stage it completed; leaving the block ends the record (an
    exception, Ctrl-C included, ends it as stopped); `finish()` ends it earlier. A `kill -9` leaves the
    record as it was: started, the stages completed so far, no end."""

    def __init__(self, out_dir: str | Path, root: Path, command: str | None = None):
        from interp.models.version import __version__

        started = _now()
        self.invocation = Invocation(
            command=command or command_line(),
            started=started,
            ended=None,
            seconds=None,
            stages={},
            outcome=None,
            checkout=checkout(root),
            machine=machine(),
            version=__version__,
        )
        self.path = RunPaths(Path(out_dir)).invocation(started, os.getpid())
        self._start = time.perf_counter()

    def __enter__(self) -> recorded:
        write_json_atomic(self.path, self.invocation.to_json())
        return self

    def stage(self, name: str, seconds: float) -> None:
        """Note a stage this invocation completed (written at once: a later kill keeps it)."""
        self.invocation.stages[name] = round(seconds, 2)
        write_json_atomic(self.path, self.invocation.to_json())

    def finish(self, outcome: str = "done") -> Invocation:
        if self.invocation.ended is None:
            self.invocation = replace(
                self.invocation, ended=_now(), outcome=outcome, seconds=round(time.perf_counter() - self._start, 2)
            )
            write_json_atomic(self.path, self.invocation.to_json())
        return self.invocation

    def __exit__(self, kind, error, trace) -> None:
        self.finish("done" if kind is None else f"stopped ({kind.__name__})")
