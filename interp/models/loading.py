"""Loading any registered Hugging Face causal LM: hub id, local folder, GGUF file or packaged model."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from interp.models.chat import render_chat
from interp.models.gguf import gguf_folder, gguf_path
from interp.models.registry import Architecture, architecture_for, get_submodule

__all__ = ["LoadedModel", "load_model", "parse_dtype"]

_DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
}


def parse_dtype(dtype: str | torch.dtype | None) -> torch.dtype | None:
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    try:
        return _DTYPES[dtype.lower()]
    except KeyError:
        raise ValueError(f"unknown dtype {dtype!r}; use one of {', '.join(sorted(_DTYPES))}") from None


@dataclass
class LoadedModel:
    """A causal LM with its tokenizer and the handles the toolkit needs on its residual stream.

    `layers[l]` is decoder block `l`; its output is the residual stream after that block, which
    equals `output_hidden_states[l + 1]` for every block but the last. For the last block,
    `output_hidden_states[-1]` is taken after the final norm in every registered architecture
    (transformers >= 5 records block outputs and then swaps in the normed last state), while
    `layers[-1]` gives the un-normed residual stream.
    """

    model: nn.Module
    tokenizer: Any
    architecture: Architecture
    name: str = ""
    revision: str | None = None
    _weights_id: str | None = field(default=None, repr=False)

    @classmethod
    def wrap(cls, model: nn.Module, tokenizer: Any, name: str = "", revision: str | None = None) -> LoadedModel:
        """Wrap an already-loaded HF model (and tokenizer) without reloading it."""
        config = model.config
        architecture = architecture_for(config.model_type, type(model).__name__)
        _prepare_tokenizer(tokenizer)
        return cls(model=model, tokenizer=tokenizer, architecture=architecture,
                   name=name or getattr(config, "_name_or_path", ""), revision=revision)

    @property
    def layers(self) -> nn.ModuleList:
        return get_submodule(self.model, self.architecture.layers)

    @property
    def final_norm(self) -> nn.Module:
        return get_submodule(self.model, self.architecture.final_norm)

    @property
    def embed(self) -> nn.Module:
        return get_submodule(self.model, self.architecture.embed)

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    @property
    def d_model(self) -> int:
        config = self.model.config
        return int(getattr(config, "hidden_size", None) or config.n_embd)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    @property
    def weights_id(self) -> str:
        """The hub revision when known, else a fingerprint of the weights (stored with every artefact)."""
        if self._weights_id is None:
            self._weights_id = self.revision or _fingerprint(self.model)
        return self._weights_id

    def render_chat(self, messages: list[dict[str, str]], *, add_generation_prompt: bool = True,
                    **template_kwargs: Any) -> str:
        """Render chat messages through the tokenizer's template (or the documented fallback)."""
        return render_chat(self.tokenizer, messages, add_generation_prompt=add_generation_prompt,
                           **template_kwargs)

    def resolve_layer(self, layer: int) -> int:
        """A block index with Python's negative indexing, checked against the model's depth."""
        if not -self.n_layers <= layer < self.n_layers:
            raise ValueError(f"layer {layer} is out of range for a model with {self.n_layers} layers "
                             f"(use 0..{self.n_layers - 1} or negative indices)")
        return layer % self.n_layers


def _prepare_tokenizer(tokenizer: Any) -> None:
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token


def _fingerprint(model: nn.Module) -> str:
    """A cheap, stable fingerprint: shapes plus a strided sample of every parameter's values."""
    digest = hashlib.sha256()
    with torch.no_grad():
        for name, param in model.state_dict().items():
            flat = param.detach().reshape(-1)
            sample = flat[:: max(1, flat.numel() // 256)].to("cpu", torch.float32).contiguous()
            digest.update(name.encode())
            digest.update(str(tuple(param.shape)).encode())
            digest.update(sample.numpy().tobytes())
    return "sha256:" + digest.hexdigest()[:16]


def load_model(
    name_or_path: str | Path,
    dtype: str | torch.dtype | None = None,
    device: str | torch.device | None = None,
    *,
    revision: str | None = None,
    trust_remote_code: bool = False,
    **from_pretrained_kwargs: Any,
) -> LoadedModel:
    """Load a causal LM and its tokenizer from a hub id, a local folder in HF format, a GGUF
    file (`*.gguf`) or a packaged model's short name (see `interp.models.gguf.PACKAGED_MODELS`).

    The architecture is checked against the registry from the config alone, before any
    weights are read. `dtype` accepts torch dtypes or names ("bfloat16", "float16", ...);
    None keeps the checkpoint's dtype on CPU float32 defaults. A GGUF file is dequantized and
    converted to an HF folder once (cached by its sha256, which becomes `weights_id`); its
    tokenizer and chat template come from the file.

    >>> lm = load_model("Qwen/Qwen3-8B", dtype="bfloat16", device="cuda")  # doctest: +SKIP
    >>> lm.n_layers, lm.d_model                                          # doctest: +SKIP
    (36, 4096)
    """
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    source, weights_id = str(name_or_path), None
    gguf = gguf_path(source)
    if gguf is not None:
        folder, sha = gguf_folder(gguf, check=lambda model_type: architecture_for(model_type, gguf.name))
        source, weights_id, revision = str(folder), f"sha256:{sha}", None
    local = Path(source).expanduser()
    if local.exists():
        if not (local / "config.json").is_file():
            raise FileNotFoundError(f"{local} is not a Hugging Face model folder (no config.json)")
        source = str(local)
    common = {"revision": revision, "trust_remote_code": trust_remote_code}
    config = AutoConfig.from_pretrained(source, **common)
    class_name = (getattr(config, "architectures", None) or [type(config).__name__])[0]
    architecture = architecture_for(config.model_type, class_name)

    model = AutoModelForCausalLM.from_pretrained(source, dtype=parse_dtype(dtype), **common,
                                                 **from_pretrained_kwargs)
    if device is not None:
        model.to(device)
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(source, **common)
    _prepare_tokenizer(tokenizer)
    return LoadedModel(model=model, tokenizer=tokenizer, architecture=architecture, name=str(name_or_path),
                       revision=revision, _weights_id=weights_id)
