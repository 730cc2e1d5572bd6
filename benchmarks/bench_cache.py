"""Activation caching to HDF5: this toolkit against the tools users would pick instead.

One run, one random-weight Qwen3 model, one set of examples, the same layers, batch size and
float16 storage for every path, each writing with h5py. Also timed: the bare forward pass (the
whole model, which every baseline runs), the forward cut after the deepest requested layer (the
toolkit stops there: its compute ceiling), the host copy of the rows and the raw h5py write
rate. The slowest of compute, host copy and disk is the limit that binds.

    python benchmarks/bench_cache.py --quick
    python benchmarks/bench_cache.py --config 100m --json bench_cache_100m.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.cache_paths import (  # noqa: E402
    BASELINES,
    CONFIGS,
    LIMITS,
    Setup,
    Timing,
    build_setup,
    time_bare_forward,
    time_toolkit,
)

__all__ = ["BenchResult", "main", "report_json", "run_benchmark"]


@dataclass
class BenchResult:
    """Every timing of one run, by role."""

    toolkit: Timing
    bare_forward: Timing
    baselines: dict[str, Timing]
    limits: dict[str, Timing]

    @property
    def binding(self) -> tuple[str, Timing]:
        return min(self.limits.items(), key=lambda item: item[1].tokens_per_s)


def run_benchmark(setup: Setup, workdir: Path, baselines: list[str] | None = None, repeats: int = 1) -> BenchResult:
    """Time every path `repeats` times, after one untimed warm-up batch; keep each path's best.

    Each round runs the paths in a rotated order, so on a shared machine no path always goes
    first or last, and the best of the rounds is the least disturbed measurement.
    """
    with torch.inference_mode():
        setup.lm.model(input_ids=setup.batches[0], use_cache=False)
    names = list(BASELINES) if baselines is None else baselines
    paths = {"bare": time_bare_forward, **LIMITS, "toolkit": time_toolkit, **{n: BASELINES[n] for n in names}}
    best: dict[str, Timing] = {}
    for round_ in range(repeats):
        keys = list(paths)
        shift = round_ % len(keys)
        for key in keys[shift:] + keys[:shift]:
            timing = paths[key](setup, workdir / f"{key.replace(' ', '_')}.h5")
            if key not in best or timing.seconds < best[key].seconds:
                best[key] = timing
    return BenchResult(
        best["toolkit"], best["bare"], {name: best[name] for name in names}, {name: best[name] for name in LIMITS}
    )


def report_json(result: BenchResult, setup: Setup, meta: dict) -> dict:
    """The JSON record: the four contract keys, then everything needed to reproduce the run."""
    name, limit = result.binding
    return {
        "toolkit_tokens_per_s": result.toolkit.tokens_per_s,
        "bare_forward_tokens_per_s": result.bare_forward.tokens_per_s,
        "baselines": {key: timing.tokens_per_s for key, timing in result.baselines.items()},
        "binding_limit": {"name": name, "tokens_per_s": limit.tokens_per_s},
        "limits": {key: timing.tokens_per_s for key, timing in result.limits.items()},
        "toolkit_vs_bare_forward": result.toolkit.tokens_per_s / result.bare_forward.tokens_per_s,
        "layers": setup.layers,
        "n_layers": setup.lm.n_layers,
        "toolkit_stops_after_layer": max(setup.layers),
        "tokens": setup.n_tokens,
        "batch_size": setup.batch_size,
        "seq": setup.batches[0].shape[1],
        "d_model": setup.lm.d_model,
        "storage_dtype": "float16",
        **meta,
    }


def format_table(result: BenchResult) -> str:
    bare = result.bare_forward.tokens_per_s
    rows = [("toolkit", result.toolkit), ("bare", result.bare_forward)]
    rows += [("baseline", timing) for timing in result.baselines.values()]
    rows += [(f"limit: {name}", timing) for name, timing in result.limits.items()]
    width = max(len(timing.name) for _, timing in rows)
    lines = [f"{'role':<16} {'path':<{width}} {'tokens/s':>10} {'x bare':>7} {'seconds':>8}"]
    for role, timing in rows:
        lines.append(
            f"{role:<16} {timing.name:<{width}} {timing.tokens_per_s:>10.0f} "
            f"{timing.tokens_per_s / bare:>7.2f} {timing.seconds:>8.2f}"
        )
    name, limit = result.binding
    lines.append(f"binding limit: {name} ({limit.tokens_per_s:.0f} tokens/s)")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: python benchmarks/bench_cache.py --quick --json out.json",
    )
    parser.add_argument("--config", choices=sorted(CONFIGS), default="100m", help="random-weight Qwen3 size")
    parser.add_argument("--quick", action="store_true", help="the 'small' config and few examples (< 2 min on 2 cores)")
    parser.add_argument("--examples", type=int, default=None, help="number of examples (default 32; quick 16)")
    parser.add_argument("--batch-size", type=int, default=8, help="examples per forward pass, for every path")
    parser.add_argument("--seq", type=int, default=256, help="tokens per example")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--model-dtype",
        choices=["float32", "bfloat16", "float16"],
        default=None,
        help="compute dtype (default float32 on CPU, bfloat16 on CUDA)",
    )
    parser.add_argument("--baselines", default=",".join(BASELINES), help="comma-separated subset of baselines")
    parser.add_argument("--repeats", type=int, default=2, help="rounds over all paths; each path keeps its best")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.quick:
        args.config = "small"
    args.examples = args.examples or (16 if args.quick else 32)
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    dtype_name = args.model_dtype or ("bfloat16" if args.device.startswith("cuda") else "float32")
    baselines = [name for name in args.baselines.split(",") if name]
    unknown = sorted(set(baselines) - set(BASELINES))
    if unknown:
        raise SystemExit(f"--baselines: unknown {', '.join(unknown)}; choose from {', '.join(BASELINES)}")
    with tempfile.TemporaryDirectory(prefix="bench_cache_") as tmp:
        workdir = Path(tmp)
        (workdir / "model").mkdir()
        setup = build_setup(
            args.config,
            args.examples,
            args.batch_size,
            args.seq,
            workdir / "model",
            args.device,
            getattr(torch, dtype_name),
        )
        result = run_benchmark(setup, workdir, baselines, args.repeats)
    meta = {
        "config": args.config,
        "repeats": args.repeats,
        "device": args.device,
        "model_dtype": dtype_name,
        "cpu_threads": torch.get_num_threads(),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "machine": platform.processor() or platform.machine(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python benchmarks/bench_cache.py " + " ".join(sys.argv[1:] if argv is None else argv),
    }
    record = report_json(result, setup, meta)
    print(
        f"{args.config}: {setup.n_tokens} tokens, layers {setup.layers} of {setup.lm.n_layers}, "
        f"batch {args.batch_size} x seq {args.seq}, {args.device} {dtype_name}, float16 storage"
    )
    print(format_table(result))
    if args.json is not None:
        args.json.write_text(json.dumps(record, indent=2) + "\n")
    return record


if __name__ == "__main__":
    main()
