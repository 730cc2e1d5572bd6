"""interp: read, steer and link the residual stream of Hugging Face causal LMs."""

from importlib.metadata import PackageNotFoundError, version

from interp.models import (
    Architecture,
    LoadedModel,
    UnsupportedArchitectureError,
    known_architectures,
    load_model,
    register_architecture,
)
from interp.steering import ablate, steer

try:
    __version__ = version("interp-cluster")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+local"

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
