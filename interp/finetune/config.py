"""The fine-tuning configuration: one dataclass, loadable from YAML or JSON, saved beside every run."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from interp.models.atomic import write_text_atomic
from interp.models.textio import load_yaml, read_text

__all__ = ["FinetuneConfig", "native_bf16", "uses_bf16"]

_METHODS = ("lora", "full")
_PRECISIONS = ("no", "bf16", "auto")
_FLOATS = ("lora_alpha", "lora_dropout", "learning_rate", "weight_decay", "warmup_ratio", "max_grad_norm")


@dataclass
class FinetuneConfig:
    """How to fine-tune. Defaults are the paper's open-model recipe (LoRA r16/a32, LR 2e-4, batch 4, 1 epoch)."""

    method: Literal["lora", "full"] = "lora"
    """"lora" trains low-rank adapters through peft; "full" trains every weight."""
    lora_rank: int = 16
    """LoRA rank r."""
    lora_alpha: float = 32.0
    """LoRA scaling numerator (the update is scaled by alpha / r)."""
    lora_dropout: float = 0.0
    """Dropout on the LoRA input."""
    target_modules: list[str] | None = None
    """Module names to adapt (e.g. ["q_proj", "v_proj"]); None adapts every linear layer but the LM head."""
    adapt_experts: bool = False
    """On MoE models whose experts are fused 3D parameters, also adapt them (peft `target_parameters`)."""
    learning_rate: float = 2e-4
    """Peak learning rate (AdamW)."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    warmup_ratio: float = 0.0
    """Fraction of the optimizer steps spent warming up linearly from 0; the rest decays linearly to 0."""
    epochs: int = 1
    """Passes over the data (ignored when max_steps is set)."""
    max_steps: int | None = None
    """Stop after this many optimizer steps (overrides epochs)."""
    batch_size: int = 4
    """Global batch: rows per optimizer step, summed over processes and accumulation steps."""
    grad_accum: int = 1
    """Gradient-accumulation steps per optimizer step (each process sees batch_size / (processes * grad_accum) rows)."""
    max_length: int = 4000
    """Longest tokenised row; longer rows are cut from the right."""
    max_grad_norm: float | None = 1.0
    """Clip the global gradient norm to this (None: no clipping)."""
    seed: int = 0
    """Seeds the data order, the adapter initialisation and dropout."""
    checkpoint_every: int = 0
    """Save a resumable checkpoint every N optimizer steps (0: none)."""
    merge: bool = False
    """LoRA only: also write the merged full model to DIR/merged (full fine-tuning always writes it)."""
    mixed_precision: Literal["no", "bf16", "auto"] = "no"
    """"bf16": the forward's matrix products in bfloat16 under torch.autocast (the weights, the adapters
    and the optimizer stay in their dtype). About 2x faster on CPUs with AVX512-BF16 or AMX, and on
    GPUs, but several times slower on CPUs without them (bf16 is emulated there); "auto": bf16 where
    the hardware has it natively (`native_bf16`), else "no"; "no": every product in the weights' dtype."""
    packing: bool = True
    """Each micro-batch's rows end to end in one sequence, positions restarting at every row (attention
    kept within each row), instead of right-padded to the longest: the same loss and gradients without
    the padding's compute (a quarter more tokens than the rows hold, on SmolLM2's mixed chat rows).
    Checked once against the padded loss at the start of a run; a model whose attention does not keep
    packed rows apart is trained padded, with a warning. Off for a few very long rows per batch, where
    attention over the packed length costs more than the padding it saves."""
    log_every: int = 1
    """Write a train_log.jsonl line (and update the progress bar) every N optimizer steps."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Free-form notes stored with the run (not read by the trainer)."""

    def __post_init__(self) -> None:
        self._check_types()
        if self.method not in _METHODS:
            raise ValueError(f"method: {self.method!r} is not one of {', '.join(_METHODS)}")
        if self.mixed_precision not in _PRECISIONS:
            raise ValueError(f"mixed_precision: {self.mixed_precision!r} is not one of {', '.join(_PRECISIONS)}")
        positive = {"lora_rank": self.lora_rank, "epochs": self.epochs, "batch_size": self.batch_size,
                    "grad_accum": self.grad_accum, "max_length": self.max_length, "log_every": self.log_every}
        for name, value in positive.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}: expected a positive integer, got {value!r}")
        if self.max_steps is not None and (not isinstance(self.max_steps, int) or isinstance(self.max_steps, bool)
                                           or self.max_steps < 1):
            raise ValueError(f"max_steps: expected a positive integer or None, got {self.max_steps!r}")
        if self.checkpoint_every < 0:
            raise ValueError(f"checkpoint_every: expected >= 0, got {self.checkpoint_every}")
        if not 0.0 <= self.lora_dropout < 1.0:
            raise ValueError(f"lora_dropout: expected a value in [0, 1), got {self.lora_dropout}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(f"warmup_ratio: expected a value in [0, 1), got {self.warmup_ratio}")
        if self.learning_rate <= 0 or self.lora_alpha <= 0:
            raise ValueError("learning_rate and lora_alpha must be positive")
        if self.weight_decay < 0 or (self.max_grad_norm is not None and self.max_grad_norm <= 0):
            raise ValueError("weight_decay must be >= 0 and max_grad_norm positive (or null for no clipping)")
        if self.batch_size % self.grad_accum:
            raise ValueError(f"batch_size {self.batch_size} is not a multiple of grad_accum {self.grad_accum}")
        if self.target_modules is not None:
            if isinstance(self.target_modules, str):
                self.target_modules = [self.target_modules]
            self.target_modules = list(self.target_modules)
        if self.merge and self.method == "full":
            self.merge = False  # the full model is always written; nothing to merge

    def _check_types(self) -> None:
        """Each field's type, named, before the range checks compare values (YAML reads `2e-4` as text)."""
        for name in _FLOATS:
            value = getattr(self, name)
            if isinstance(value, int) and not isinstance(value, bool):
                setattr(self, name, float(value))
            elif not (value is None and name == "max_grad_norm") and (
                    not isinstance(value, float) or not math.isfinite(value)):
                hint = "; YAML reads 2e-4 as text, write 2.0e-4" if isinstance(value, str) else ""
                raise ValueError(f"{name}: expected a finite number, got {value!r}{hint}")
        for name in ("seed", "checkpoint_every"):
            if not isinstance(getattr(self, name), int) or isinstance(getattr(self, name), bool):
                raise ValueError(f"{name}: expected an integer, got {getattr(self, name)!r}")
        for name in ("adapt_experts", "merge"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name}: expected true or false, got {getattr(self, name)!r}")
        modules = self.target_modules
        if modules is not None and not isinstance(modules, str) and (
                not isinstance(modules, (list, tuple)) or not all(isinstance(m, str) and m for m in modules)):
            raise ValueError(f"target_modules: expected a list of module names, got {modules!r}")
        if not isinstance(self.extra, dict):
            raise ValueError(f"extra: expected a mapping, got {self.extra!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "config") -> FinetuneConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        try:
            return cls(**data)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{where}: {err}") from err

    @classmethod
    def from_file(cls, path: str | Path) -> FinetuneConfig:
        """Load from a .yaml/.yml or .json mapping of fields, or a run's finetune_config.json."""
        path = Path(path)
        if path.suffix.lower() in (".yaml", ".yml"):
            data = load_yaml(path) or {}
        else:
            try:
                data = json.loads(read_text(path))
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{err.lineno}: not valid JSON ({err.msg} at column {err.colno})") from None
        if isinstance(data, dict) and isinstance(data.get("config"), dict):
            data = data["config"]  # a run's finetune_config.json
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of config fields")
        return cls.from_dict(data, where=str(path))

    def save(self, path: str | Path, **context: Any) -> None:
        """Write {"config": fields, **context} (context: model, data, ...) as JSON, atomically: the other
        processes of a multi-process run read it while the first one writes it."""
        write_text_atomic(path, json.dumps({"config": self.to_dict(), **context}, indent=2, default=str) + "\n")


def native_bf16(device) -> bool:
    """Whether `device` runs bfloat16 matrix products natively: a CUDA GPU that supports bf16, or a CPU
    with AVX512-BF16 or AMX. Elsewhere (AVX2 CPUs) bf16 autocast is emulated and several times slower."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(getattr(torch.cpu, name, lambda: False)() for name in probes)
    return False


def uses_bf16(mixed_precision: str, device) -> bool:
    """Whether the setting ("no" | "bf16" | "auto") runs bf16 autocast on `device`."""
    if mixed_precision not in _PRECISIONS:
        raise ValueError(f"mixed_precision: {mixed_precision!r} is not one of {', '.join(_PRECISIONS)}")
    return mixed_precision == "bf16" or (mixed_precision == "auto" and native_bf16(device))
