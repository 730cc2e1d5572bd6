"""Direction files of every format the toolkit reads or writes, by name: one registry for the CLI and Python.

Every format goes through the `Direction` type, so any readable format converts to any writable
one with the layers mapped by each side's convention (see `control_vector` and `foreign`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch

from interp.interop.control_vector import GGUF_CONVENTIONS, load_control_vector, save_control_vector
from interp.interop.foreign import load_persona_vectors
from interp.models.direction import Direction, DirectionError

__all__ = ["DIRECTION_FORMATS", "DirectionFormat", "format_for", "read_direction", "scaled", "write_direction"]


@dataclass(frozen=True)
class DirectionFormat:
    """One on-disk format of directions: how it is read, and written where the toolkit writes it."""

    suffix: str
    """the file name ending it is detected by (several formats may share one; the first is the default)"""
    read: Callable[[Path], Direction]
    write: Callable[..., Path] | None
    """write(direction, path, *, layers, alpha, model_hint), or None for a format only read"""
    about: str


def scaled(direction: Direction, layers: Iterable[int] | None = None, alpha: float = 1.0) -> Direction:
    """The direction's rows for `layers` (default all it holds) times `alpha`, with the same metadata;
    `extra["alpha_baked"]` records the multiple of the original the rows now are."""
    alpha = float(alpha)
    if not math.isfinite(alpha):
        raise DirectionError(f"alpha {alpha} is not a finite number")
    if layers is None:
        layers = direction.layers
    layers = sorted({int(layer) for layer in layers})
    rows = torch.stack([direction.at(layer) for layer in layers]) if layers else direction.vectors
    meta = {**direction.metadata(), "layers": layers}
    if alpha != 1.0:
        meta["alpha_baked"] = alpha * float(meta.get("alpha_baked", 1.0))
    return Direction.from_metadata(torch.tensor(alpha, dtype=torch.float32) * rows, meta)


def _save_toolkit(direction: Direction, path: Path, *, layers=None, alpha: float = 1.0, model_hint=None) -> Path:
    if model_hint:
        raise DirectionError("a model hint is written only into control-vector GGUF files")
    return scaled(direction, layers, alpha).save(path)


def _gguf(name: str) -> DirectionFormat:
    rule = GGUF_CONVENTIONS[name]
    write = partial(save_control_vector, convention=name) if rule.writable else None
    return DirectionFormat(".gguf", partial(load_control_vector, convention=name), write, rule.about)


DIRECTION_FORMATS: dict[str, DirectionFormat] = {
    "toolkit": DirectionFormat(
        ".safetensors",
        Direction.load,
        _save_toolkit,
        "the toolkit's direction file: row for layer L = the output of block L",
    ),
    **{name: _gguf(name) for name in GGUF_CONVENTIONS},
    "persona-vectors": DirectionFormat(
        ".pt",
        load_persona_vectors,
        None,
        "persona_vectors' [n_layers + 1, d] tensor: row L = hidden_states[L] "
        "= the toolkit's layer L - 1 (row 0 dropped)",
    ),
}
"""Format name -> how it is read and written; the order is the order --help lists them in."""


def format_for(path: str | Path, name: str | None = None) -> str:
    """`name` checked, or the format a file name's ending says (the first format with that suffix)."""
    if name is not None:
        if name not in DIRECTION_FORMATS:
            raise DirectionError(f"format {name!r}: use one of {', '.join(DIRECTION_FORMATS)}")
        return name
    suffix = Path(path).suffix.lower()
    for known, spec in DIRECTION_FORMATS.items():
        if spec.suffix == suffix:
            return known
    endings = ", ".join(sorted({spec.suffix for spec in DIRECTION_FORMATS.values()}))
    raise DirectionError(
        f"{path}: cannot tell the format from the name (known endings: {endings}); "
        f"name it ({', '.join(DIRECTION_FORMATS)})"
    )


def read_direction(path: str | Path, fmt: str | None = None) -> Direction:
    """Read a direction file of format `fmt` (default: from its name) into a `Direction`."""
    return DIRECTION_FORMATS[format_for(path, fmt)].read(Path(path))


def write_direction(
    direction: Direction,
    path: str | Path,
    fmt: str | None = None,
    *,
    layers: Iterable[int] | None = None,
    alpha: float = 1.0,
    model_hint: str | None = None,
) -> Path:
    """Write `direction` (rows for `layers`, times `alpha`) as format `fmt` (default: from the name)."""
    name = format_for(path, fmt)
    writer = DIRECTION_FORMATS[name].write
    if writer is None:
        writable = ", ".join(n for n, spec in DIRECTION_FORMATS.items() if spec.write is not None)
        raise DirectionError(f"the toolkit reads {name} files but does not write them; write one of {writable}")
    return writer(direction, Path(path), layers=layers, alpha=alpha, model_hint=model_hint)
