"""The machine's matrix-product speed, measured: the denominator of a stage's floor time.

A stage's floor is its FLOPs (`interp.models.flops`, `interp.finetune.flops`) at the speed this
machine multiplies matrices of the stage's own shapes; a CPU's datasheet peak is reached by none of
them at a small model's sizes. `model_products` lists a model's products at a token count (forward
X @ W^T and, for training, the backward's dY @ W), `matmul_peak` times them.

    shapes = model_shapes(model)  # interp.models.flops
    peak = matmul_peak(model_products(shapes, tokens=320, backward=True, min_share=0.1))
    floor_seconds = flops / peak.flops_per_second

with `tokens` the rows a stage's products see at once (a training step's packed tokens, a scoring
batch's padded tokens) and `backward` for training stages.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from interp.models.flops import ModelShapes

__all__ = ["Peak", "Product", "matmul_peak", "model_products", "square_products"]


@dataclass(frozen=True)
class Product:
    """One matrix product [m, k] x [k, n], as a linear layer runs it."""

    m: int
    k: int
    n: int
    transposed: bool = True
    """The weight is stored [n, k] and read transposed (F.linear's forward); False: stored [k, n]."""

    @property
    def flops(self) -> int:
        return 2 * self.m * self.k * self.n


@dataclass(frozen=True)
class Peak:
    """A measured matmul speed."""

    flops: int
    """The FLOPs of one pass over the products (each counted as often as the model runs it)."""
    seconds: float
    """That pass's wall time: each distinct product at its fastest of the rounds."""
    cpu_seconds: float
    """The same in this process's CPU time (all threads), which time-slicing on a shared machine leaves alone."""
    dtype: str
    threads: int

    @property
    def flops_per_second(self) -> float:
        return self.flops / self.seconds

    @property
    def flops_per_cpu_second(self) -> float:
        return self.flops / self.cpu_seconds


def model_products(shapes: ModelShapes, tokens: int, backward: bool = False, min_share: float = 0.0) -> list[Product]:
    """The body's products at `tokens` rows: forward X @ W^T, and with `backward` the input gradients
    dY @ W too; those under `min_share` of the largest one's FLOPs (e.g. LoRA's rank-16 products) left out."""
    products = [
        Product(tokens, linear.in_features, linear.out_features) for linear in shapes.body for _ in range(linear.uses)
    ]
    if backward:
        products += [Product(p.m, p.n, p.k, transposed=False) for p in products]  # dY [m, n] @ W [n, k]
    largest = max(product.flops for product in products)
    return [product for product in products if product.flops >= min_share * largest]


def square_products(size: int = 2048) -> list[Product]:
    """One large square product, where a CPU comes nearest its datasheet peak."""
    return [Product(size, size, size)]


def _operands(product: Product, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    a = torch.randn(product.m, product.k, dtype=dtype)
    b = (
        torch.randn(product.n, product.k, dtype=dtype)
        if product.transposed
        else torch.randn(product.k, product.n, dtype=dtype)
    )
    return a, b


def _run(product: Product, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return F.linear(a, b) if product.transposed else a @ b


def _fastest(product: Product, a: torch.Tensor, b: torch.Tensor, rounds: int, min_seconds: float):
    """(wall, CPU) seconds of one product: each the least over `rounds` rounds of >= `min_seconds`."""
    wall = cpu = float("inf")
    for _ in range(rounds):
        repeats, start, start_cpu = 0, time.perf_counter(), time.process_time()
        while (elapsed := time.perf_counter() - start) < min_seconds or repeats == 0:
            _run(product, a, b)
            repeats += 1
        wall, cpu = min(wall, elapsed / repeats), min(cpu, (time.process_time() - start_cpu) / repeats)
    return wall, cpu


def matmul_peak(
    products: Sequence[Product], dtype: torch.dtype = torch.float32, rounds: int = 5, min_seconds: float = 0.02
) -> Peak:
    """FLOP/s over these products (repeats weigh as often as they occur), each distinct one timed
    `rounds` times for at least `min_seconds` and taken at its fastest: on a shared machine the
    fastest round is the one least disturbed."""
    flops = seconds = cpu_seconds = 0.0
    for product, count in Counter(products).items():
        a, b = _operands(product, dtype)
        _run(product, a, b)  # first call: allocation and kernel selection
        wall, cpu = _fastest(product, a, b, rounds, min_seconds)
        flops, seconds, cpu_seconds = flops + count * product.flops, seconds + count * wall, cpu_seconds + count * cpu
    return Peak(int(flops), seconds, cpu_seconds, str(dtype).removeprefix("torch."), torch.get_num_threads())
