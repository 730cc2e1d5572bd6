"""The toolkit's version, recorded in every artefact it writes."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__", "toolkit_version"]

try:
    __version__ = version("interp-cluster")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+local"


def toolkit_version() -> str:
    """`interp X.Y.Z`, the `created_by` of direction files."""
    return f"interp {__version__}"
