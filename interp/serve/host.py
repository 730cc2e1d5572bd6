"""Everything a running server holds: the model (with its adapter), its directions, tokenizer and engine."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from interp.serve.codec import Codec
from interp.serve.config import ServeConfig
from interp.serve.engine import Engine
from interp.serve.interventions import DirectionTable, ServeSetupError
from interp.serve.schema import RequestContext

__all__ = ["ModelHost", "load_host"]


@dataclass
class ModelHost:
    config: ServeConfig
    lm: Any
    directions: DirectionTable
    codec: Codec
    engine: Engine
    context: RequestContext
    api_key: str | None = field(default=None, repr=False)
    """the bearer key requests must carry; never logged or shown"""


def _api_key(config: ServeConfig) -> str | None:
    if config.api_key_env is None:
        return None
    key = os.environ.get(config.api_key_env, "")
    if not key.strip():
        raise ServeSetupError(
            f"--api-key-env {config.api_key_env}:",
            "that environment variable is not set or is empty; export the key there first",
        )
    return key


def _load(config: ServeConfig):
    from interp.models import UnsupportedArchitectureError, load_model
    from interp.models.gguf import MissingPackageError

    try:
        return load_model(config.model, dtype=config.dtype, device=config.device)
    except (UnsupportedArchitectureError, MissingPackageError, FileNotFoundError, ValueError, OSError) as err:
        raise ServeSetupError(f"--model {config.model}:", str(err)) from None


def _apply_adapter(lm, adapter: str) -> None:
    from pathlib import Path

    if not (Path(adapter) / "adapter_config.json").is_file():
        raise ServeSetupError(f"--adapter {adapter}:", "not a LoRA adapter folder (no adapter_config.json)")
    from peft import PeftModel

    try:
        # peft puts the LoRA layers into lm.model's own modules, so the plain forward and the
        # steering hooks on lm.layers run through them
        PeftModel.from_pretrained(lm.model, adapter).eval()
    except (ValueError, OSError, KeyError, RuntimeError) as err:
        raise ServeSetupError(f"--adapter {adapter}:", f"cannot apply it to this model ({err})") from None


def _sliding_window(lm) -> bool:
    config = lm.model.config
    config = config.get_text_config() if hasattr(config, "get_text_config") else config
    window = getattr(config, "sliding_window", None)
    return isinstance(window, int) and window > 0


def load_host(config: ServeConfig, lm: Any = None) -> ModelHost:
    """Load what `config` names (or serve the already loaded `lm`); every problem a ServeSetupError."""
    from interp.models.tokens import stop_token_ids

    api_key = _api_key(config)
    if lm is None:
        lm = _load(config)
    if config.adapter:
        _apply_adapter(lm, config.adapter)
    directions = DirectionTable(lm, config.directions, config.allow_other_model)
    codec = Codec(lm)
    codec.render_chat([{"role": "user", "content": "hi"}])  # a missing chat template warns now, not mid-request
    engine = Engine(
        lm,
        codec,
        set(stop_token_ids(lm)),
        directions.ablation_rows,
        config.max_batch,
        config.max_queue,
        same_length_only=_sliding_window(lm),
    )
    context = RequestContext(config.name, codec, directions, lm.context_length, config.max_queue)
    return ModelHost(config, lm, directions, codec, engine, context, api_key)
