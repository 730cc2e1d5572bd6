"""interp: read, steer and link the residual stream of Hugging Face causal LMs."""

from interp.models import (
    Architecture,
    LoadedModel,
    UnsupportedArchitectureError,
    known_architectures,
    load_model,
    register_architecture,
)
from interp.models.version import __version__
from interp.steering import ablate, steer

__all__ = [
    "Architecture",
    "LoadedModel",
    "UnsupportedArchitectureError",
    "__version__",
    "ablate",
    "known_architectures",
    "load_model",
    "register_architecture",
    "steer",
]
