"""The GPU suite's kernel measurements: the card's ceilings, and the Triton fused capture kernel
(`activations.triton_fused`) compiled for the device against its eager reference (`activations.fused`).

The kernel must give what the reference gives, within the tolerance of the CPU tests, at the
width of an 8B model; then its throughput is timed against the reference's on the hidden
states of one layer of a real-sized batch, and read as a share of the card's copy bandwidth.
"""

from __future__ import annotations

import torch

from activations.fused import FusedOut, fused_capture
from benchmarks.gpu_context import Context, mean_seconds
from benchmarks.gpu_record import Closeness, Result, at_least, closeness_numbers, compare, exact

__all__ = ["card_peak", "compare_fused", "fused_kernel"]

# The CPU tests' tolerance (tests/activations/test_triton_fused.py): rows are a gather and a cast, so bit-exact.
RTOL, ATOL = 1e-5, 1e-4
TOLERANCE = f"rows and counts bit-exact; sums, squares, projections within rtol {RTOL:g}, atol {ATOL:g}"
F32, BF16, F16 = torch.float32, torch.bfloat16, torch.float16
# (hidden dtype, storage dtype, extra width): every hidden dtype, every storage dtype, and a width that
# is no multiple of the kernel's 128-wide tiles
CASES = [(F32, BF16, 0), (BF16, BF16, 0), (F16, BF16, 0), (BF16, F16, 0), (BF16, F32, 0), (BF16, F16, 37)]
N_CLASSES = 3


def card_peak(ctx: Context) -> Result:
    """The card's bfloat16 matmul rate and copy bandwidth: the yardsticks of the kernel and LoRA lines."""
    card = ctx.card()
    return Result(
        numbers={
            "bf16_matmul_tflops": card.bf16_flops / 1e12,
            "matmul_n": card.matmul_n,
            "copy_gb_per_s": card.copy_bytes_per_s / 1e9,
            "copy_bytes": card.copy_bytes,
        }
    )


def capture_inputs(shape: tuple[int, int, int, int], dtype: torch.dtype, device: str, seed: int):
    """Hidden states [batch, seq, d_model], a selection of ~90% of positions, labels with unlabelled
    rows (-1), and K directions: what `fused_capture` sees for one layer of one batch."""
    batch, seq, d_model, n_dirs = shape
    gen = torch.Generator(device=device).manual_seed(seed)
    hidden = torch.randn(batch, seq, d_model, generator=gen, device=device).to(dtype)
    select = torch.rand(batch, seq, generator=gen, device=device) < 0.9
    labels = (torch.arange(batch, device=device) % (N_CLASSES + 1)) - 1
    directions = torch.randn(n_dirs, d_model, generator=gen, device=device)
    return hidden, select, labels, directions


def compare_fused(tag: str, got: FusedOut, want: FusedOut) -> list[Closeness]:
    """Each field of the kernel's output against the reference's, at the CPU tests' tolerance."""
    checks = []
    for name, g, w in zip(FusedOut._fields, got, want):
        bit_exact = name in ("rows", "class_count")
        checks.append(compare(f"{tag} {name}", g, w, rtol=0.0 if bit_exact else RTOL, atol=0.0 if bit_exact else ATOL))
    return checks


def _exactness(ctx: Context) -> list[Closeness]:
    batch, seq, d_model, n_dirs = ctx.sizes.kernel_exact
    checks = []
    for seed, (dtype, out_dtype, extra) in enumerate(CASES):
        inputs = capture_inputs((batch, seq, d_model + extra, n_dirs), dtype, ctx.device, seed)
        hidden, select, labels, directions = inputs
        tag = f"{str(dtype)[6:]}->{str(out_dtype)[6:]} d{d_model + extra}"
        got = fused_capture(hidden, select, out_dtype, labels, N_CLASSES, directions, backend="triton")
        want = fused_capture(hidden, select, out_dtype, labels, N_CLASSES, directions, backend="torch")
        checks += compare_fused(tag, got, want)
    return checks


def fused_kernel(ctx: Context) -> Result:
    """Exactness at model width, then the kernel's time against the reference's on one layer's hidden states."""
    checks = _exactness(ctx)
    hidden, select, labels, directions = capture_inputs(ctx.sizes.kernel_speed, BF16, ctx.device, seed=99)
    args = (hidden, select, F16, labels, N_CLASSES, directions)
    reps = 20 if ctx.device != "cpu" else 1
    best = {"triton": float("inf"), "torch": float("inf")}
    for backend in best:  # warm-up: compilation, allocator
        fused_capture(*args, backend=backend)
    for _ in ctx.rounds(3, 8):
        for backend in best:
            seconds = mean_seconds(lambda backend=backend: fused_capture(*args, backend=backend), ctx.device, reps)
            best[backend] = min(best[backend], seconds)
    rows = int(select.sum())
    moved = rows * hidden.shape[-1] * (hidden.element_size() + 2)  # read the selected rows, write them as float16
    ratio = best["torch"] / best["triton"]
    numbers = {
        "kernel_s": best["triton"],
        "reference_s": best["torch"],
        "rows": rows,
        "bytes_moved": moved,
        "kernel_gb_per_s": moved / best["triton"] / 1e9,
        "shape": list(ctx.sizes.kernel_speed),
        "hidden_dtype": "bfloat16",
        "storage_dtype": "float16",
        "classes": N_CLASSES,
        "exactness": closeness_numbers(checks),
    }
    if ctx.device != "cpu":
        numbers["kernel_share_of_copy_bandwidth"] = moved / best["triton"] / ctx.card().copy_bytes_per_s
    return Result(
        ratios={"kernel_vs_reference": ratio},
        goals=[
            exact("kernel == eager reference", checks, TOLERANCE),
            at_least("kernel / eager reference speed", ratio, 1.0),
        ],
        numbers=numbers,
    )
