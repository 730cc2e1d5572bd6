"""What trains (LoRA adapters through peft, or every weight) and how the result is written."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch.nn as nn

from interp.finetune.config import FinetuneConfig

__all__ = ["expert_parameters", "make_trainable", "save_trained"]


def expert_parameters(model: nn.Module) -> list[str]:
    """Names (relative to a decoder block's parent) of fused 3D expert weights, e.g. `mlp.experts.gate_up_proj`.

    transformers 5 stores Qwen3-MoE and DeepSeek-V3 experts as `[n_experts, out, in]` parameters
    rather than one `nn.Linear` per expert; peft reaches those only through `target_parameters`.
    """
    names = set()
    for name, param in model.named_parameters():
        parts = name.split(".")
        if param.ndim == 3 and "experts" in parts:
            at = parts.index("experts")
            names.add(".".join(parts[at - 1 :]) if at > 0 else ".".join(parts[at:]))
    return sorted(names)


def make_trainable(model: nn.Module, config: FinetuneConfig) -> nn.Module:
    """Wrap `model` in LoRA adapters (method "lora") or unfreeze it (method "full")."""
    if config.method == "full":
        model.requires_grad_(True)
        return model
    from peft import LoraConfig, get_peft_model

    target_parameters = None
    if config.adapt_experts:
        target_parameters = expert_parameters(model) or None
        if target_parameters is None:
            warnings.warn(
                "adapt_experts: no fused 3D expert weights found; experts stored as nn.Linear "
                "modules are adapted through target_modules like any other linear layer",
                stacklevel=2,
            )
    lora = LoraConfig(
        r=config.lora_rank,
        lora_alpha=config.lora_alpha,  # type: ignore[arg-type]  # peft says int; the scale alpha / r takes a float
        lora_dropout=config.lora_dropout,
        target_modules=config.target_modules or "all-linear",
        target_parameters=target_parameters,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)


def save_trained(
    accelerator: Any, model: nn.Module, tokenizer: Any, config: FinetuneConfig, out_dir: Path
) -> tuple[Path | None, Path | None]:
    """Write the adapter (LoRA) and/or the full model folder; returns (adapter_dir, merged_dir).

    Every process must call this: gathering a sharded (FSDP/DeepSpeed) state dict is collective.
    """
    state = accelerator.get_state_dict(model)
    unwrapped = accelerator.unwrap_model(model)
    main = accelerator.is_main_process
    adapter_dir = merged_dir = None
    if config.method == "lora":
        adapter_dir = out_dir / "adapter"
        unwrapped.save_pretrained(adapter_dir, state_dict=state, is_main_process=main, safe_serialization=True)
        if config.merge:
            merged_dir = out_dir / "merged"
            if main:
                # merge_and_unload folds the adapters into the base weights in place; training is over.
                merged = unwrapped.merge_and_unload()
                merged.save_pretrained(merged_dir, safe_serialization=True)
                tokenizer.save_pretrained(merged_dir)
    else:
        merged_dir = out_dir / "merged"
        unwrapped.save_pretrained(merged_dir, state_dict=state, is_main_process=main, safe_serialization=True)
        if main:
            tokenizer.save_pretrained(merged_dir)
    accelerator.wait_for_everyone()
    return adapter_dir, merged_dir
