"""Model objects of other libraries, used as they are: a TransformerLens `HookedTransformer` or
`TransformerBridge`, an nnsight `LanguageModel`, or a bare Hugging Face model.

Each becomes a `LoadedModel` whose layer `l` is what its library calls the residual stream after
block `l`, and the toolkit's hooks go on the user's own modules (nothing is copied or reloaded):

- TransformerLens: the hook point `blocks.{l}.hook_resid_post`. The toolkit's hooks run on it
  before the library's own, so `run_with_cache` records a steered stream and a `run_with_hooks`
  addition lands on top of the toolkit's. The toolkit tokenizes with the tokenizer alone, as for any
  model: `to_tokens` would prepend a BOS token, so compare on the same token ids.
- TransformerBridge: the same hook points, on the Hugging Face model it wraps (`original_model`),
  which is what the toolkit runs, so forced choice, sampling and `generate` work as on any model.
- HookedTransformer: it has no Hugging Face model underneath; a thin module (`HookedTransformerLM`)
  gives it the calls the toolkit makes (`forward(input_ids, attention_mask)` with `.logits`, and
  `generate` through the library's own). Paths that need Hugging Face's key-value cache (forced
  choice, sampling) say so.
- nnsight `LanguageModel`: the Hugging Face model it wraps (dispatched first if it was loaded lazily).
  nnsight's `.output` of a block the toolkit steers is read before the toolkit's addition; every
  later module sees it.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, NamedTuple

import torch
import torch.nn as nn

from interp.models.registry import Architecture, architecture_for

__all__ = ["HeldModel", "HookedTransformerLM", "INSTALL_HINT", "held_model", "library_of", "resid_post_hooks"]

INSTALL_HINT = "pip install 'interp-cluster[interop]'"
_LIBRARIES = ("transformer_lens", "nnsight")


def library_of(obj: object) -> str | None:
    """'transformer_lens' or 'nnsight' when the object's class comes from that library, else None."""
    roots = {cls.__module__.split(".")[0] for cls in type(obj).__mro__}
    return next((name for name in _LIBRARIES if name in roots), None)


def _require(library: str) -> None:
    """The library, importable; else an ImportError that says how to install it."""
    import importlib

    try:
        importlib.import_module(library)
    except ImportError as err:
        raise ImportError(f"using a {library} model needs {library}: {INSTALL_HINT} ({err})") from None


def resid_post_hooks(model: nn.Module, n_layers: int) -> nn.ModuleList:
    """TransformerLens's hook points `blocks.{l}.hook_resid_post`, l = 0..n_layers-1."""
    return nn.ModuleList(model.get_submodule(f"blocks.{layer}.hook_resid_post") for layer in range(n_layers))


class HeldModel(NamedTuple):
    """The parts of a `LoadedModel` that a model object gives (`load_model` makes the `LoadedModel`)."""

    model: nn.Module
    """the module the toolkit runs"""
    tokenizer: Any
    architecture: Architecture
    name: str
    block_outputs: nn.ModuleList | None = None
    """modules whose outputs are the residual stream after each block, where these are not the blocks"""


def _hugging_face(model: nn.Module, tokenizer: Any, name: str = "", block_outputs=None) -> HeldModel:
    config: Any = model.config  # a transformers config; nn.Module types its attributes as Tensor | Module
    architecture = architecture_for(config.model_type, type(model).__name__)
    return HeldModel(model, tokenizer, architecture, name or getattr(config, "_name_or_path", ""), block_outputs)


class HookedTransformerLM(nn.Module):
    """A TransformerLens `HookedTransformer` behind the calls the toolkit makes on a Hugging Face model."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.tl: Any = model  # typed Any: nn.Module types its attributes as Tensor | Module
        cfg: Any = model.cfg
        self.config = SimpleNamespace(
            model_type="hooked_transformer",
            hidden_size=cfg.d_model,
            num_hidden_layers=cfg.n_layers,
            max_position_embeddings=cfg.n_ctx,
            _name_or_path=cfg.model_name,
        )

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        use_cache: bool | None = None,
        **unsupported: Any,
    ):
        """Logits of `input_ids` `[batch, seq]`; positions come from `attention_mask` (TransformerLens
        counts each row's real tokens, as the toolkit's `position_ids` do)."""
        if use_cache or unsupported:
            asked = ", ".join(sorted(unsupported)) or "use_cache=True"
            raise NotImplementedError(
                f"a TransformerLens HookedTransformer runs plain forward passes; {asked} needs a "
                "Hugging Face model (TransformerBridge, or interp.load_model(name))"
            )
        logits = self.tl(input_ids, return_type="logits", attention_mask=attention_mask)
        return SimpleNamespace(logits=logits)

    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        max_new_tokens: int = 20,
        do_sample: bool = False,
        pad_token_id: int | None = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        """Prompt and new tokens `[batch, seq + new]`, through the library's own `generate` (its key-value
        cache: the prompt in one pass, then one token per pass). Rows must not be padded."""
        if attention_mask is not None and not bool(attention_mask.bool().all()):
            raise ValueError("a HookedTransformer generates from unpadded prompts; give one prompt at a time")
        return self.tl.generate(input_ids, max_new_tokens=max_new_tokens, do_sample=do_sample, verbose=False, **kwargs)


def _from_transformer_lens(model: Any, tokenizer: Any) -> HeldModel:
    _require("transformer_lens")
    tokenizer = tokenizer if tokenizer is not None else model.tokenizer
    if tokenizer is None:
        raise ValueError("this TransformerLens model has no tokenizer; pass load_model(model, tokenizer=...)")
    hooks, name = resid_post_hooks(model, model.cfg.n_layers), str(model.cfg.model_name)
    if hasattr(model, "original_model"):  # a TransformerBridge: the Hugging Face model it wraps runs its hooks
        return _hugging_face(model.original_model, tokenizer, name, hooks)
    architecture = Architecture(layers="tl.blocks", final_norm="tl.ln_final", embed="tl.embed")
    return HeldModel(HookedTransformerLM(model), tokenizer, architecture, name, hooks)


def _from_nnsight(model: Any, tokenizer: Any) -> HeldModel:
    _require("nnsight")
    if not getattr(model, "dispatched", True):
        model.dispatch()  # a lazily loaded model holds meta tensors until its real weights are read
    tokenizer = tokenizer if tokenizer is not None else getattr(model, "tokenizer", None)
    if tokenizer is None:
        raise ValueError("this nnsight model has no tokenizer; pass load_model(model, tokenizer=...)")
    return _hugging_face(model._module, tokenizer)  # nnsight's own attribute for the module it wraps


def held_model(model: Any, tokenizer: Any = None) -> HeldModel:
    """What the toolkit runs of a model object: see the module docstring for each kind."""
    library = library_of(model)
    if library == "transformer_lens":
        return _from_transformer_lens(model, tokenizer)
    if library == "nnsight":
        return _from_nnsight(model, tokenizer)
    if isinstance(model, nn.Module) and hasattr(model, "config"):
        if tokenizer is None:
            raise ValueError(f"a {type(model).__name__} object needs its tokenizer: load_model(model, tokenizer=...)")
        return _hugging_face(model, tokenizer)
    raise TypeError(
        f"load_model takes a hub id, a folder, a GGUF file or a packaged model's name, or a model object "
        f"of Hugging Face transformers, TransformerLens or nnsight; got a {type(model).__name__}"
    )
