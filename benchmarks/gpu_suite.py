"""The GPU check: every GPU-side speed and exactness claim of the toolkit, measured in one run of ~8 minutes.

Needs no weights: random-initialised models with real shapes, built on the device. Each
measurement writes one JSON line (stdout and --out): its ratios against the alternative in the
same run, its goals and whether they were met, its numbers, its time against its budget and its
peak GPU memory; a summary line ends the run. `--dry-run` runs the same code on tiny shapes on
the CPU (Triton interpreted), in the default test run. Exit status: 0 when every measurement ran
and every exactness goal held, 1 otherwise, 2 when something it needs is missing.

    python benchmarks/gpu_suite.py --out-dir benchmarks/results          # on a CUDA machine
    python benchmarks/gpu_suite.py --only steer.alphas --out-dir /tmp    # one measurement again
    python benchmarks/gpu_suite.py --dry-run --out /tmp/dry.jsonl         # on the CPU, in seconds
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

__all__ = ["check_packages", "main", "measurements", "select"]

BUDGET_S = 480.0  # the whole suite on one H100, model builds included


def measurements() -> list:
    """The suite, in running order: the LoRA step after everything else on the dense model, since it puts
    adapters into it, and the MoE model built once the dense one is gone.

    Adding a measurement is one line here: a function `fn(ctx: Context) -> Result` and its budget.
    The budgets add up to 420 s, which leaves 60 s of the 480 s for one more.
    """
    from benchmarks import gpu_cache, gpu_fit, gpu_kernel, gpu_steer
    from benchmarks.gpu_run import Spec

    return [
        Spec("card.peak", gpu_kernel.card_peak, 15),
        Spec("kernel.fused", gpu_kernel.fused_kernel, 45),
        Spec("cache.exact", gpu_cache.cache_exact, 15, ("tiny",)),
        Spec("steer.exact", gpu_steer.steer_exact, 10, ("tiny",)),
        Spec("cache.dense.all", gpu_cache.cache_speed("dense", "all"), 40, ("dense",)),
        Spec("cache.dense.response-mean", gpu_cache.cache_speed("dense", "response-mean"), 30, ("dense",)),
        Spec("steer.dense", gpu_steer.steer_speed, 45, ("dense",)),
        Spec("steer.alphas", gpu_steer.steer_alphas, 55, ("dense",)),
        Spec("lora.dense", gpu_fit.lora_step, 45, ("dense",)),
        Spec("cache.moe.all", gpu_cache.cache_speed("moe", "all"), 35, ("moe",)),
        Spec("cache.moe.response-mean", gpu_cache.cache_speed("moe", "response-mean"), 25, ("moe",)),
        Spec("probe.sweep", gpu_fit.probe_sweep, 60),
    ]


def select(specs: list, only: list[str] | None) -> list:
    """The measurements named in `only` (a name, or a prefix ending at a dot: `cache` is every cache.*)."""
    if not only:
        return specs
    names = [spec.name for spec in specs]
    unknown = [want for want in only if not any(n == want or n.startswith(want + ".") for n in names)]
    if unknown:
        _stop(f"--only {', '.join(unknown)}: no such measurement; choose from {', '.join(names)}")
    return [spec for spec in specs if any(spec.name == want or spec.name.startswith(want + ".") for want in only)]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: python benchmarks/gpu_suite.py --out-dir benchmarks/results",
    )
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--out", type=Path, help="write the JSON lines to this file")
    out.add_argument("--out-dir", type=Path, help="write them to DIR/gpu-<card>-<date>.jsonl")
    parser.add_argument(
        "--only", action="append", metavar="NAME", help="run only this measurement (or every NAME.*); repeatable"
    )
    parser.add_argument("--dry-run", action="store_true", help="tiny shapes on the CPU, Triton interpreted")
    parser.add_argument(
        "--budget-s",
        type=float,
        default=None,
        help=f"seconds for the whole run; a measurement that no longer fits is skipped "
        f"(default {BUDGET_S:.0f}; none on a dry run)",
    )
    parser.add_argument("--list", action="store_true", help="print the measurements and their budgets, and exit")
    return parser.parse_args(argv)


def _stop(message: str) -> None:
    print(f"gpu_suite: {message}", file=sys.stderr)
    raise SystemExit(2)


def check_packages() -> None:
    """Stop with one line when a package the suite needs is missing or too old."""
    try:
        from benchmarks.gpu_wheels import problems  # packaging and the standard library only

        unmet = list(map(str, problems()))
    except ModuleNotFoundError as err:
        unmet = [f"{err.name} (not installed; needed to read the requirements)"]
    if unmet:
        _stop(
            "missing or too old: " + "; ".join(unmet) + ". Carry the wheels: run `bash benchmarks/gpu_suite.sh "
            "prepare` where pip reaches the package index, then run the suite through `bash benchmarks/gpu_suite.sh "
            "run` (it installs benchmarks/gpu_wheels/ first; see benchmarks/README.md)"
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Triton reads this when the kernel is first decorated: interpreted on the CPU, compiled on the GPU.
    os.environ["TRITON_INTERPRET"] = "1" if args.dry_run else "0"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    check_packages()
    import torch

    from benchmarks.gpu_run import run_suite

    specs = select(measurements(), args.only)
    if args.list:
        for spec in specs:
            print(f"{spec.name:<28} {spec.budget_s:>5.0f} s  {', '.join(spec.models)}")
        return 0
    if not args.dry_run and not torch.cuda.is_available():
        _stop("no CUDA device here; on a CPU use --dry-run")
    if args.budget_s is None:
        args.budget_s = float("inf") if args.dry_run else BUDGET_S
    if args.dry_run:
        torch.set_num_threads(1)  # a shared CPU
    return run_suite(specs, args, datetime.now(timezone.utc))


if __name__ == "__main__":
    raise SystemExit(main())
