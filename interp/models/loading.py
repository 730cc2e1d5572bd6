"""Loading any registered Hugging Face causal LM: hub id, local folder, GGUF file or packaged model."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

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

    A model of another library (`load_model` of a TransformerLens or nnsight model) may name other
    modules for the residual stream: `block_outputs[l]`, whose output is the stream after block `l`
    (TransformerLens's `blocks.{l}.hook_resid_post` hook point); `layers` then gives those.
    """

    model: nn.Module
    tokenizer: Any
    architecture: Architecture
    name: str = ""
    revision: str | None = None
    _weights_id: str | None = field(default=None, repr=False)
    block_outputs: nn.ModuleList | None = field(default=None, repr=False)
    """modules whose outputs are the residual stream after each block, where these are not the blocks"""

    @classmethod
    def wrap(cls, model: nn.Module, tokenizer: Any, name: str = "", revision: str | None = None) -> LoadedModel:
        """Wrap an already-loaded HF model (and tokenizer) without reloading it."""
        config: Any = model.config  # a transformers config; nn.Module types its attributes as Tensor | Module
        architecture = architecture_for(config.model_type, type(model).__name__)
        _prepare_tokenizer(tokenizer)
        return cls(
            model=model,
            tokenizer=tokenizer,
            architecture=architecture,
            name=name or getattr(config, "_name_or_path", ""),
            revision=revision,
        )

    @property
    def layers(self) -> nn.ModuleList:
        """`layers[l]`'s output is the residual stream after block `l`: where the toolkit's hooks go."""
        if self.block_outputs is not None:
            return self.block_outputs
        return cast(nn.ModuleList, get_submodule(self.model, self.architecture.layers))  # the blocks, by the registry

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
        config: Any = self.model.config  # a transformers config (nn.Module types it as Tensor | Module)
        return int(getattr(config, "hidden_size", None) or config.n_embd)

    @property
    def context_length(self) -> int | None:
        """Positions the model was built for (`max_position_embeddings`, GPT-2's `n_positions`); None if unsaid."""
        config = self.model.config
        for key in ("max_position_embeddings", "n_positions", "n_ctx"):
            value = getattr(config, key, None)
            if isinstance(value, int) and value > 0:
                return value
        return None

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

    def render_chat(
        self, messages: list[dict[str, str]], *, add_generation_prompt: bool = True, **template_kwargs: Any
    ) -> str:
        """Render chat messages through the tokenizer's template (or the documented fallback)."""
        return render_chat(self.tokenizer, messages, add_generation_prompt=add_generation_prompt, **template_kwargs)

    def resolve_layer(self, layer: int) -> int:
        """A block index with Python's negative indexing, checked against the model's depth."""
        if not -self.n_layers <= layer < self.n_layers:
            raise ValueError(
                f"layer {layer} is out of range for a model with {self.n_layers} layers "
                f"(use 0..{self.n_layers - 1} or negative indices)"
            )
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


def _held_model(model: object, tokenizer: Any, loading: dict[str, Any]) -> LoadedModel:
    """A model object used as it is (`interp.models.interop`): nothing to load, so no loading options."""
    dtype = loading["dtype"]
    if dtype is not None and not isinstance(dtype, str | torch.dtype):
        raise TypeError(f"dtype is a {type(dtype).__name__}; pass a tokenizer as tokenizer=...")
    given = [key for key, value in loading.items() if value]
    if given:
        raise ValueError(
            f"{', '.join(given)}: a model object is used as it is, not loaded; move or cast it with its own .to() first"
        )
    from interp.models.interop import held_model

    held = held_model(model, tokenizer)
    _prepare_tokenizer(held.tokenizer)
    return LoadedModel(**held._asdict())


def _is_path(source: str) -> bool:
    """Whether `source` can only be a path, never a hub id (`org/name` or `name`)."""
    return source.startswith((".", "/", "~")) or source.count("/") > 1 or "\\" in source or source.endswith("/")


def load_model(
    name_or_path: str | Path | object,
    dtype: str | torch.dtype | None = None,
    device: str | torch.device | None = None,
    *,
    tokenizer: Any = None,
    revision: str | None = None,
    trust_remote_code: bool = False,
    **from_pretrained_kwargs: Any,
) -> LoadedModel:
    """Load a causal LM and its tokenizer from a hub id, a local folder in HF format, a GGUF
    file (`*.gguf`) or a packaged model's short name (see `interp.models.gguf.PACKAGED_MODELS`);
    or take a model object a user already holds, as it is: a TransformerLens `HookedTransformer` or
    `TransformerBridge`, an nnsight `LanguageModel`, or a Hugging Face model (with `tokenizer=`):
    see `interp.models.interop`.

    The architecture is checked against the registry from the config alone, before any
    weights are read. `dtype` accepts torch dtypes or names ("bfloat16", "float16", ...);
    None keeps the checkpoint's dtype on CPU float32 defaults. A GGUF file is dequantized and
    converted to an HF folder once (cached by its sha256, which becomes `weights_id`); its
    tokenizer and chat template come from the file.

    >>> lm = load_model("Qwen/Qwen3-8B", dtype="bfloat16", device="cuda")  # doctest: +SKIP
    >>> lm.n_layers, lm.d_model                                          # doctest: +SKIP
    (36, 4096)
    """
    if not isinstance(name_or_path, str | Path):
        loading = {
            "dtype": dtype,
            "device": device,
            "revision": revision,
            "trust_remote_code": trust_remote_code,
            **from_pretrained_kwargs,
        }
        return _held_model(name_or_path, tokenizer, loading)
    if tokenizer is not None:
        raise ValueError("tokenizer= goes with a model object; a name or path brings its own tokenizer")
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
    elif _is_path(source):
        raise FileNotFoundError(f"no such folder: {local.absolute()}")
    common = {"revision": revision, "trust_remote_code": trust_remote_code}
    try:
        config = AutoConfig.from_pretrained(source, **common)
    except OSError as err:
        if local.exists():
            raise
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise OSError(
            f"no such folder ({local.absolute()}), and {source!r} is not a model on the Hugging Face hub "
            f"or in its cache ({first})"
        ) from None
    class_name = (getattr(config, "architectures", None) or [type(config).__name__])[0]
    architecture = architecture_for(config.model_type, class_name)

    from safetensors import SafetensorError

    try:
        model = AutoModelForCausalLM.from_pretrained(
            source, dtype=parse_dtype(dtype), **common, **from_pretrained_kwargs
        )
    except SafetensorError as err:
        files = sorted(p.name for p in local.glob("*.safetensors")) if local.is_dir() else []
        raise OSError(
            f"{source}: a weights file ({', '.join(files) or 'safetensors'}) is truncated or corrupt "
            f"({err}); download or save the model again"
        ) from None
    if device is not None:
        model.to(device)  # type: ignore[arg-type]  # transformers' decorated `to` reads as unbound to mypy
    model.eval()
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **common)
    except ValueError as err:  # a damaged tokenizer.json surfaces as a JSON decoding error
        raise OSError(f"{source}: cannot read its tokenizer ({err}); download or save the model again") from None
    _prepare_tokenizer(tokenizer)
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        architecture=architecture,
        name=str(name_or_path),
        revision=revision,
        _weights_id=weights_id,
    )
