"""The model side: loading, the architecture registry and chat rendering."""

from interp.models.chat import FALLBACK_CHAT_TEMPLATE, render_chat
from interp.models.loading import LoadedModel, load_model, parse_dtype
from interp.models.lock import OutputLockedError, write_lock
from interp.models.registry import (
    Architecture,
    UnsupportedArchitectureError,
    known_architectures,
    register_architecture,
)

__all__ = [
    "Architecture",
    "FALLBACK_CHAT_TEMPLATE",
    "LoadedModel",
    "OutputLockedError",
    "UnsupportedArchitectureError",
    "known_architectures",
    "load_model",
    "parse_dtype",
    "register_architecture",
    "render_chat",
    "write_lock",
]
