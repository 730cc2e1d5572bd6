"""The GPU suite's caching measurements: exactness on a tiny model, then speed at real sizes.

`cache_exact` runs `cache_activations` on the GPU (Triton kernel, side-stream host copies, the
writer thread) and compares every stored row with a plain forward pass of each example alone.
`cache_speed` times the toolkit against the compute limit (the forward cut after the deepest
cached layer) and the plain baseline (HF `output_hidden_states` + h5py) through the caching
benchmark's own paths (`benchmarks.bench_cache`, `benchmarks.cache_paths`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Literal

import torch

from activations import ActivationStore, CacheConfig, Example, cache_activations, encode_example
from benchmarks.bench_cache import BenchResult, report_json, run_benchmark
from benchmarks.cache_paths import Timing, setup_for, time_toolkit
from benchmarks.gpu_context import Context, Role
from benchmarks.gpu_record import Result, at_least, closeness_numbers, compare, exact

__all__ = ["cache_exact", "cache_speed"]

RULES = ("all", "response-mean")
# tests/activations/test_cache.py's tolerance for stored rows against the unpadded reference
RTOL, ATOL = 1e-4, 2e-5
BASELINE = "hf_output_hidden_states"
GOAL_VS_LIMIT, GOAL_VS_BASELINE = 0.95, 3.0


def _examples(n: int, seed: int) -> list[Example]:
    """Prompts and responses of different lengths, so batches are padded and length-sorted."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz .,"
    return [
        Example(
            text="".join(rng.choices(letters, k=rng.randint(6, 40))),
            response="".join(rng.choices(letters, k=rng.randint(3, 16))),
        )
        for _ in range(n)
    ]


@torch.no_grad()
def _reference_rows(lm, examples: list[Example], layers: list[int], rule: str) -> dict[int, torch.Tensor]:
    """Each example alone through the plain forward: `hidden_states[layer + 1]`, per token or response-averaged."""
    rows: dict[int, list[torch.Tensor]] = {layer: [] for layer in layers}
    for example in examples:
        encoded = encode_example(lm, example)
        states = lm.model(
            input_ids=torch.tensor([encoded.ids], device=lm.device), output_hidden_states=True, use_cache=False
        ).hidden_states
        for layer in layers:
            hidden_SD = states[layer + 1][0]
            rows[layer].append(
                hidden_SD[encoded.n_prompt :].mean(0, keepdim=True) if rule == "response-mean" else hidden_SD
            )
    return {layer: torch.cat(parts).cpu() for layer, parts in rows.items()}


def cache_exact(ctx: Context) -> Result:
    """Every row the toolkit stores on this device equals the plain forward's, for each positions rule."""
    lm = ctx.model("tiny")
    examples = _examples(6 if ctx.dry_run else 24, seed=0)
    layers = [0, lm.n_layers // 2, lm.n_layers - 2]  # the last block's HF hidden state is normed
    checks = []
    for rule in RULES:
        config = CacheConfig(layers=layers, positions=rule, dtype="float32", batch_size=4, commit_every=8)
        path = ctx.workdir / f"exact_{rule}.h5"
        path.unlink(missing_ok=True)
        cache_activations(lm, examples, path, config, progress=False)
        want = _reference_rows(lm, examples, layers, rule)
        with ActivationStore(path) as store:
            checks += [
                compare(f"{rule} layer {layer}", store.acts(layer, as_torch=True), want[layer], rtol=RTOL, atol=ATOL)
                for layer in layers
            ]
    return Result(
        goals=[exact("cached rows == plain forward of each example", checks, f"rtol {RTOL:g}, atol {ATOL:g}")],
        numbers={"examples": len(examples), "layers": layers, "exactness": closeness_numbers(checks)},
    )


def _faster(a: BenchResult, b: BenchResult) -> BenchResult:
    """Each path's faster timing of two rounds."""

    def best(x: Timing, y: Timing) -> Timing:
        return x if x.seconds <= y.seconds else y

    return BenchResult(
        best(a.toolkit, b.toolkit),
        best(a.bare_forward, b.bare_forward),
        {k: best(v, b.baselines[k]) for k, v in a.baselines.items()},
        {k: best(v, b.limits[k]) for k, v in a.limits.items()},
    )


def cache_speed(role: Role, positions: Literal["all", "response-mean"]) -> Callable[[Context], Result]:
    """The measurement for one model and positions rule."""

    def measure(ctx: Context) -> Result:
        n_examples, batch_size, seq = ctx.sizes.cache
        lm = ctx.model(role)
        # One batch of the same shape first: the kernel's compilation and the weights' fingerprint stay out
        # of the timed rounds.
        time_toolkit(setup_for(lm, batch_size, batch_size, seq, positions=positions), ctx.workdir / "warm.h5")
        setup = setup_for(lm, n_examples, batch_size, seq, positions=positions)
        timings, rounds = None, 0
        for _ in ctx.rounds(1, 3):
            timed = run_benchmark(setup, ctx.workdir, [BASELINE], repeats=1)
            rounds += 1
            timings = timed if timings is None else _faster(timings, timed)
        toolkit = timings.toolkit.tokens_per_s
        vs_limit = toolkit / timings.limits["compute"].tokens_per_s
        vs_baseline = toolkit / timings.baselines[BASELINE].tokens_per_s
        numbers = report_json(
            timings,
            setup,
            {
                "model": ctx.sizes.models[role],
                "positions": positions,
                "model_dtype": str(setup.lm.dtype)[6:],
                "rounds": rounds,
            },
        )
        return Result(
            ratios={"vs_compute_limit": vs_limit, f"vs_{BASELINE}": vs_baseline},
            goals=[
                at_least("toolkit / forward to the deepest cached layer", vs_limit, GOAL_VS_LIMIT),
                at_least("toolkit / HF output_hidden_states + h5py", vs_baseline, GOAL_VS_BASELINE),
            ],
            numbers=numbers,
        )

    return measure
