"""Where each architecture family keeps its decoder blocks, final norm and embeddings.

A small registry keyed by `config.model_type`. Supporting a new family is one call:

    interp.register_architecture("my_arch", Architecture(layers="model.layers",
                                                         final_norm="model.norm",
                                                         embed="model.embed_tokens"))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn as nn

__all__ = [
    "Architecture",
    "UnsupportedArchitectureError",
    "register_architecture",
    "known_architectures",
    "architecture_for",
    "get_submodule",
]


@dataclass(frozen=True)
class Architecture:
    """Attribute paths, from the `*ForCausalLM` module, to the parts the toolkit touches."""

    layers: str
    """The `nn.ModuleList` of decoder blocks; the residual stream is each block's output."""
    final_norm: str
    """The norm applied after the last block, before the LM head."""
    embed: str
    """The token embedding module."""


class UnsupportedArchitectureError(ValueError):
    """Raised for a model whose family the registry does not know."""


_DECODER_ONLY = Architecture(layers="model.layers", final_norm="model.norm", embed="model.embed_tokens")
_GPT2 = Architecture(layers="transformer.h", final_norm="transformer.ln_f", embed="transformer.wte")

_REGISTRY: dict[str, Architecture] = {
    name: _DECODER_ONLY
    for name in (
        "llama",
        "mistral",
        "mixtral",
        "qwen2",
        "qwen2_moe",
        "qwen3",
        "qwen3_moe",
        "gemma",
        "gemma2",
        "gemma3_text",
        "deepseek_v3",
        "olmo2",
        "phi3",
        "granite",
    )
}
_REGISTRY["gpt2"] = _GPT2


def register_architecture(model_type: str, architecture: Architecture, *, overwrite: bool = False) -> None:
    """Teach the toolkit a new family, keyed by the `model_type` field of its HF config."""
    if model_type in _REGISTRY and not overwrite:
        raise ValueError(f"architecture {model_type!r} is already registered; pass overwrite=True to replace it")
    _REGISTRY[model_type] = architecture


def known_architectures() -> list[str]:
    """The `model_type`s the registry knows, sorted."""
    return sorted(_REGISTRY)


def architecture_for(model_type: str, class_name: str) -> Architecture:
    try:
        return _REGISTRY[model_type]
    except KeyError:
        raise UnsupportedArchitectureError(
            f"model class {class_name} (config.model_type={model_type!r}) is not in the architecture registry. "
            f"Known: {', '.join(known_architectures())}. Register it before loading, e.g.\n"
            f"    from interp import Architecture, register_architecture\n"
            f"    register_architecture({model_type!r}, Architecture(layers='model.layers', "
            f"final_norm='model.norm', embed='model.embed_tokens'))\n"
            f"with the attribute paths of its decoder blocks, final norm and embedding."
        ) from None


def get_submodule(model: nn.Module, path: str) -> nn.Module:
    try:
        return model.get_submodule(path)
    except AttributeError as err:
        raise UnsupportedArchitectureError(
            f"{type(model).__name__} has no submodule {path!r}; its registry entry is wrong for this model "
            f"(re-register it with overwrite=True)"
        ) from err
