"""The fine-tuning configuration: one dataclass, loadable from YAML or JSON, saved beside every run."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from interp.models.atomic import write_text_atomic
from interp.models.fields import FieldErrors, above, at_least, check_fields, checked, from_mapping
from interp.models.textio import load_yaml, read_text

__all__ = ["FinetuneConfig", "native_bf16", "uses_bf16"]

_PRECISIONS = ("no", "bf16", "auto")


def _below_one(value: float, path: str) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"expected a value in [0, 1), got {value}")


@dataclass
class FinetuneConfig:
    """How to fine-tune. Defaults are the paper's open-model recipe (LoRA r16/a32, LR 2e-4, batch 4, 1 epoch)."""

    method: Literal["lora", "full"] = "lora"
    """"lora" trains low-rank adapters through peft; "full" trains every weight."""
    lora_rank: int = at_least(1, 16)
    """LoRA rank r."""
    lora_alpha: float = above(0, 32.0)
    """LoRA scaling numerator (the update is scaled by alpha / r)."""
    lora_dropout: float = checked(_below_one, 0.0)
    """Dropout on the LoRA input."""
    target_modules: list[str] | None = None
    """Module names to adapt (e.g. ["q_proj", "v_proj"]); None adapts every linear layer but the LM head."""
    adapt_experts: bool = False
    """On MoE models whose experts are fused 3D parameters, also adapt them (peft `target_parameters`)."""
    learning_rate: float = above(0, 2e-4)
    """Peak learning rate (AdamW)."""
    weight_decay: float = at_least(0, 0.0)
    """AdamW weight decay."""
    warmup_ratio: float = checked(_below_one, 0.0)
    """Fraction of the optimizer steps spent warming up linearly from 0; the rest decays linearly to 0."""
    epochs: int = at_least(1, 1)
    """Passes over the data (ignored when max_steps is set)."""
    max_steps: int | None = at_least(1, None)
    """Stop after this many optimizer steps (overrides epochs)."""
    batch_size: int = at_least(1, 4)
    """Global batch: rows per optimizer step, summed over processes and accumulation steps."""
    grad_accum: int = at_least(1, 1)
    """Gradient-accumulation steps per optimizer step (each process sees batch_size / (processes * grad_accum) rows)."""
    max_length: int = at_least(1, 4000)
    """Longest tokenised row; longer rows are cut from the right."""
    max_grad_norm: float | None = above(0, 1.0)
    """Clip the global gradient norm to this (None: no clipping)."""
    seed: int = at_least(0, 0)
    """Seeds the data order, the adapter initialisation and dropout."""
    checkpoint_every: int = at_least(0, 0)
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
    log_every: int = at_least(1, 1)
    """Write a train_log.jsonl line (and update the progress bar) every N optimizer steps."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Free-form notes stored with the run (not read by the trainer)."""

    def __post_init__(self) -> None:
        if isinstance(self.target_modules, (str, tuple)):  # one name, or names in a tuple, read as a list
            self.target_modules = (
                [self.target_modules] if isinstance(self.target_modules, str) else list(self.target_modules)
            )
        try:
            check_fields(self)  # the annotations and the limits above, as for a preset or a config file
        except FieldErrors as err:
            raise ValueError(str(err)) from None
        if self.batch_size % self.grad_accum:
            raise ValueError(f"batch_size {self.batch_size} is not a multiple of grad_accum {self.grad_accum}")
        if self.merge and self.method == "full":
            self.merge = False  # the full model is always written; nothing to merge

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "config") -> FinetuneConfig:
        """From a mapping of fields, each checked by `interp.models.fields.from_mapping` (every problem listed)."""
        try:
            return from_mapping(cls, data)
        except FieldErrors as err:
            raise ValueError("\n".join(f"{where}: {problem}" for problem in err.problems)) from None

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
