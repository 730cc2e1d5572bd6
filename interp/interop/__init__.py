"""Directions that travel between tools: llama.cpp / repeng / EasySteer control vectors (GGUF),
persona_vectors tensors, steering-vectors and repeng objects, each with its layer index mapped
to the toolkit's (layer L = the output of block L)."""

from interp.interop.control_vector import (
    GGUF_CONVENTIONS,
    GgufConvention,
    load_control_vector,
    save_control_vector,
)
from interp.interop.foreign import from_repeng, from_steering_vector, load_persona_vectors
from interp.interop.formats import (
    DIRECTION_FORMATS,
    DirectionFormat,
    format_for,
    read_direction,
    scaled,
    write_direction,
)

__all__ = [
    "DIRECTION_FORMATS",
    "DirectionFormat",
    "GGUF_CONVENTIONS",
    "GgufConvention",
    "format_for",
    "from_repeng",
    "from_steering_vector",
    "load_control_vector",
    "load_persona_vectors",
    "read_direction",
    "save_control_vector",
    "scaled",
    "write_direction",
]
