"""What the GPU suite's measurements share: the sizes of a run, the models, the card's ceilings, the clock.

Two sets of sizes: `FULL`, real shapes for one H100 or H200 (a Qwen3-8B-shaped dense model and a
Qwen3-30B-A3B-shaped MoE cut to 8 layers, in bfloat16), and `DRY`, tiny shapes that run the same
code on 2 CPU cores in seconds. Models are random-initialised straight on the device and built
once, on first use, so `--only NAME` builds only what NAME needs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

from benchmarks.cache_paths import CONFIGS, random_lm
from interp.models import LoadedModel

__all__ = ["DRY", "FULL", "MODELS", "Card", "Context", "Role", "Sizes", "mean_seconds", "measure_card", "sync"]

# model_type and config of each random-weight model; vocabularies above 258 hold the byte tokenizer.
MODELS: dict[str, tuple[str, dict]] = {
    "qwen3-8b": ("qwen3", CONFIGS["qwen3-8b"]),
    # Qwen3-30B-A3B's layer (128 experts, 8 per token) at 8 layers: 5.6B parameters, 11 GiB in bfloat16
    "qwen3-moe-8l": (
        "qwen3_moe",
        dict(
            hidden_size=2048,
            num_hidden_layers=8,
            intermediate_size=6144,
            moe_intermediate_size=768,
            num_experts=128,
            num_experts_per_tok=8,
            num_attention_heads=32,
            num_key_value_heads=4,
            head_dim=128,
            vocab_size=151936,
            decoder_sparse_step=1,
            mlp_only_layers=[],
        ),
    ),
    "tiny": ("qwen3", CONFIGS["tiny"]),
    "tiny-moe": (
        "qwen3_moe",
        dict(
            CONFIGS["tiny"],
            num_experts=4,
            num_experts_per_tok=2,
            moe_intermediate_size=32,
            decoder_sparse_step=1,
            mlp_only_layers=[],
        ),
    ),
}
Role = Literal["dense", "moe", "tiny"]


@dataclass(frozen=True)
class Sizes:
    """The shapes of every measurement in one kind of run."""

    models: dict[str, str]
    """which entry of MODELS plays each role: dense, moe, tiny (the exactness model, float32)"""
    matmul_n: int
    """the side of the square bfloat16 product that measures the card's matmul peak"""
    copy_mib: int
    """the buffer copied device to device to measure memory bandwidth"""
    kernel_exact: tuple[int, int, int, int]
    """batch, seq, d_model, directions of the fused kernel's exactness inputs"""
    kernel_speed: tuple[int, int, int, int]
    """batch, seq, d_model, directions of the fused kernel's throughput inputs"""
    cache: tuple[int, int, int]
    """examples, batch, seq of the caching runs (more examples than one commit window of 64, so that
    writing overlaps the forward as in a long run)"""
    steer: tuple[int, int, int]
    """batch, prompt tokens, new tokens of steered generation"""
    alpha_tokens: int
    """new tokens of the K-alphas generation"""
    probe: tuple[int, int, int]
    """layers, rows, d_model of the probe sweep"""
    lora: tuple[int, int]
    """rows and tokens per row of the LoRA step"""
    max_rounds: int
    """timed rounds per comparison at most (the budget may allow fewer)"""
    context: int = 4096
    """max_position_embeddings of the random models"""


FULL = Sizes(
    models={"dense": "qwen3-8b", "moe": "qwen3-moe-8l", "tiny": "tiny"},
    matmul_n=8192,
    copy_mib=2048,
    kernel_exact=(5, 300, 4096, 16),
    kernel_speed=(8, 1024, 4096, 8),
    cache=(96, 8, 512),
    steer=(8, 64, 64),
    alpha_tokens=32,
    probe=(36, 2000, 4096),
    lora=(2, 1024),
    max_rounds=8,
)
DRY = Sizes(
    models={"dense": "tiny", "moe": "tiny-moe", "tiny": "tiny"},
    matmul_n=128,
    copy_mib=4,
    kernel_exact=(3, 9, 200, 4),
    kernel_speed=(2, 24, 160, 2),
    cache=(4, 2, 16),
    steer=(2, 8, 3),
    alpha_tokens=2,
    probe=(3, 120, 16),
    lora=(2, 16),
    max_rounds=1,
    context=512,
)


def sync(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def mean_seconds(fn: Callable[[], object], device: str, reps: int) -> float:
    """Seconds per call of `fn`, over `reps` back-to-back calls between two synchronisations."""
    sync(device)
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    sync(device)
    return (time.perf_counter() - start) / reps


@dataclass(frozen=True)
class Card:
    """The device's measured ceilings, the yardsticks of kernel bandwidth and model FLOP utilisation."""

    bf16_flops: float
    """bfloat16 matrix product, FLOP/s (random operands)"""
    copy_bytes_per_s: float
    """device-to-device copy, bytes read plus bytes written per second"""
    matmul_n: int
    copy_bytes: int


def measure_card(device: str, n: int, copy_mib: int) -> Card:
    a, b = (torch.randn(n, n, device=device, dtype=torch.bfloat16) for _ in range(2))
    mean_seconds(lambda: a @ b, device, 3)  # warm-up: the library picks and loads its kernel
    matmul = min(mean_seconds(lambda: a @ b, device, 10) for _ in range(3))
    src = torch.randn(copy_mib << 18, device=device)  # float32: 4 bytes per element
    dst = torch.empty_like(src)
    mean_seconds(lambda: dst.copy_(src), device, 2)
    copy = min(mean_seconds(lambda: dst.copy_(src), device, 10) for _ in range(3))
    size = src.numel() * src.element_size()
    return Card(2 * n**3 / matmul, 2 * size / copy, n, size)


@dataclass
class Context:
    """One suite run's shared state, handed to every measurement."""

    device: str
    sizes: Sizes
    workdir: Path
    """scratch space for HDF5 files, removed after the run"""
    dry_run: bool = False
    deadline: float = math.inf
    """time.monotonic() by which the current measurement should end (set by the runner)"""
    builds: dict[str, float] = field(default_factory=dict)
    """seconds spent building each model, by role"""
    _models: dict[str, LoadedModel] = field(default_factory=dict)
    _card: Card | None = None

    def model(self, role: Role) -> LoadedModel:
        """The model playing `role`, built on first use (bfloat16; the exactness model in float32)."""
        if role not in self._models:
            start = time.perf_counter()
            model_type, config = MODELS[self.sizes.models[role]]
            dtype = torch.float32 if role == "tiny" else torch.bfloat16
            self._models[role] = random_lm(
                model_type,
                config,
                self.device,
                dtype,
                context=self.sizes.context,
                name=f"random-{self.sizes.models[role]}",
            )
            sync(self.device)
            self.builds[role] = time.perf_counter() - start
        return self._models[role]

    def take_model(self, role: Role) -> LoadedModel:
        """The model, no longer shared: for a measurement that changes it (a later user builds a fresh one)."""
        lm = self.model(role)
        del self._models[role]
        return lm

    def release(self, role: Role) -> None:
        self._models.pop(role, None)
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def card(self) -> Card:
        if self._card is None:
            self._card = measure_card(self.device, self.sizes.matmul_n, self.sizes.copy_mib)
        return self._card

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def rounds(self, at_least: int = 2, at_most: int = 5) -> Iterator[int]:
        """Round numbers for a timed comparison: `at_least` rounds, then more while the budget holds
        one more of the longest so far (with a margin), up to `at_most` (and the sizes' cap)."""
        at_most = min(at_most, self.sizes.max_rounds)
        longest = 0.0
        for index in range(at_most):
            if index >= min(at_least, at_most) and self.left() < 1.5 * longest:
                return
            start = time.perf_counter()
            yield index
            longest = max(longest, time.perf_counter() - start)
