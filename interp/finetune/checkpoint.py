"""Resumable checkpoints: `DIR/checkpoints/step_{n}/`, complete once `checkpoint.json` is written.

Optimizer and RNG state go through `Accelerator.save_state`. In accelerate 1.15 that writes them
with `torch.save` (optimizer.bin, random_states_*.pkl) and reads them back with
`torch.load(weights_only=True)` plus a short allow-list of numpy types, so loading executes no
pickled code. The LR scheduler is not registered with accelerate (its custom-object path loads
with weights_only=False); its plain-number state lives in checkpoint.json instead. Model weights: on
one process or DDP, a save hook replaces accelerate's full-model dump with the trainable parameters
only (`trainable.safetensors`: the LoRA adapters, or every weight for full fine-tuning); under FSDP
or DeepSpeed accelerate writes its own sharded state instead.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, NamedTuple

import torch
from safetensors.torch import load_file, save_file

__all__ = ["Checkpoint", "install_state_hooks", "latest_checkpoint", "save_checkpoint"]

_TRAINABLE = "trainable.safetensors"
_MARKER = "checkpoint.json"


class Checkpoint(NamedTuple):
    path: Path
    step: int
    scheduler: dict[str, Any]
    """The LR scheduler's state (plain numbers, kept in checkpoint.json rather than a pickle)."""


def _trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().contiguous().cpu().clone() for name, p in model.named_parameters() if p.requires_grad}


def install_state_hooks(accelerator: Any) -> list[Any]:
    """Save/load only trainable parameters, as safetensors (no-op under FSDP and DeepSpeed)."""
    from accelerate.utils import DistributedType

    if accelerator.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED):
        return []

    def save_hook(models: list, weights: list, output_dir: str) -> None:
        if accelerator.is_main_process:
            for i, model in enumerate(models):
                state = _trainable_state(accelerator.unwrap_model(model))
                save_file(state, str(Path(output_dir) / f"{i}_{_TRAINABLE}"))
        weights.clear()  # accelerate would otherwise also write the whole (frozen) model

    def load_hook(models: list, input_dir: str) -> None:
        for i, model in enumerate(models):
            state = load_file(str(Path(input_dir) / f"{i}_{_TRAINABLE}"))
            params = dict(accelerator.unwrap_model(model).named_parameters())
            missing = sorted(set(state) - set(params))
            if missing:
                raise ValueError(f"{input_dir}: checkpoint has parameters this model lacks: {missing[:3]}")
            with torch.no_grad():
                for name, value in state.items():
                    params[name].copy_(value)
        models.clear()

    return [accelerator.register_save_state_pre_hook(save_hook), accelerator.register_load_state_pre_hook(load_hook)]


def save_checkpoint(accelerator: Any, out_dir: Path, step: int, seed: int, scheduler: dict[str, Any]) -> Path:
    """Write a checkpoint after optimizer step `step`; every process must call this."""
    path = out_dir / "checkpoints" / f"step_{step}"
    if accelerator.is_main_process and path.exists():
        shutil.rmtree(path)  # a stale partial write from a killed run
    accelerator.wait_for_everyone()
    accelerator.save_state(str(path))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        record = {"step": step, "seed": seed, "scheduler": scheduler}
        (path / _MARKER).write_text(json.dumps(record) + "\n", encoding="utf-8")
    accelerator.wait_for_everyone()
    return path


def latest_checkpoint(out_dir: Path) -> Checkpoint | None:
    """The complete checkpoint with the highest step, or None."""
    found = []
    for marker in (out_dir / "checkpoints").glob(f"step_*/{_MARKER}"):
        saved = json.loads(marker.read_text(encoding="utf-8"))
        found.append(Checkpoint(marker.parent, int(saved["step"]), saved.get("scheduler", {})))
    return max(found, key=lambda c: c.step) if found else None
