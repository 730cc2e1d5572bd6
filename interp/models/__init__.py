"""The model side: loading, the architecture registry, chat rendering and the types every layer shares."""

from interp.models.chat import FALLBACK_CHAT_TEMPLATE, render_chat
from interp.models.direction import (
    Direction,
    DirectionError,
    OtherModelError,
    OtherModelWarning,
    load_direction,
    save_direction,
)
from interp.models.generation import generate
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
    "Direction",
    "DirectionError",
    "FALLBACK_CHAT_TEMPLATE",
    "LoadedModel",
    "OtherModelError",
    "OtherModelWarning",
    "OutputLockedError",
    "UnsupportedArchitectureError",
    "generate",
    "known_architectures",
    "load_direction",
    "load_model",
    "parse_dtype",
    "register_architecture",
    "render_chat",
    "save_direction",
    "write_lock",
]
