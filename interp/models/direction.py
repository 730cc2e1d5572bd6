"""The `Direction` type and its file: one vector per residual-stream layer, with where it came from.

On disk (the one reader and writer of the format): safetensors with one tensor, `direction`
`[n_layers or 1, d_model]` float32, and metadata whose values are JSON strings: `model`,
`weights_id`, `layers` (one int per row), `method`, `dataset`, `norms` (L2 norm of each row),
`created_by`; any other key is kept in `extra`. A row is found by `layers`, never by index.
A file whose `layers` is empty or absent holds rows tied to no layer: one such row serves any
layer; several are a set of directions used together (stream mode projects onto each).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from jaxtyping import Float

from interp.models.version import toolkit_version

if TYPE_CHECKING:
    from interp.models.loading import LoadedModel

__all__ = [
    "Direction",
    "DirectionError",
    "OtherModelError",
    "OtherModelWarning",
    "load_direction",
    "save_direction",
    "toolkit_version",
]

TENSOR = "direction"
_TYPED = ("model", "weights_id", "method", "dataset", "created_by")
_DERIVED = ("layers", "layer", "norms")  # read into `layers` or recomputed from the vectors


class DirectionError(ValueError):
    """A direction (or direction file) that is malformed or does not fit where it is used."""


class OtherModelError(DirectionError):
    """A direction made on another model than the one it is applied to."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what}; pass allow_other_model=True to apply it anyway")
        self.what = what


class OtherModelWarning(UserWarning):
    """A direction made on another model is being applied (allow_other_model was given)."""


@dataclass(frozen=True, eq=False)
class Direction:
    """One `[d_model]` vector per layer it holds, plus the metadata of how it was made."""

    vectors: Float[torch.Tensor, "n d_model"]
    """[n, d_model] float32 on the CPU, row i for `layers[i]` (or tied to no layer when `layers` is empty)"""
    layers: tuple[int, ...] = ()
    """the layer (block output) of each row; empty: rows tied to no layer"""
    model: str = ""
    """name of the model the direction was made on"""
    weights_id: str = ""
    """that model's `LoadedModel.weights_id` (hub revision or weights fingerprint)"""
    method: str = ""
    """how it was made (mean-diff, pca, logistic, ...)"""
    dataset: str = ""
    """the activation file it was made from"""
    created_by: str = field(default_factory=toolkit_version)
    """the toolkit and version that made it"""
    extra: dict[str, Any] = field(default_factory=dict)
    """any other metadata, JSON values"""

    def __post_init__(self) -> None:
        vectors = torch.as_tensor(self.vectors).detach().to("cpu", torch.float32)
        vectors = vectors.reshape(1, -1) if vectors.ndim == 1 else vectors
        if vectors.ndim != 2 or vectors.shape[1] == 0 or vectors.shape[0] == 0:
            raise DirectionError(f"a direction is [d_model] or [n, d_model]; got shape {tuple(vectors.shape)}")
        finite = torch.isfinite(vectors)
        if not bool(finite.all()):
            row, col = (int(i) for i in (~finite).nonzero()[0])
            where = f"layer {self.layers[row]}" if row < len(self.layers) else f"row {row}"
            raise DirectionError(
                f"the direction holds {float(vectors[row, col])} ({where}, component {col}); directions must be finite"
            )
        layers = tuple(_layer_number(x) for x in self.layers)
        if layers and len(layers) != vectors.shape[0]:
            raise DirectionError(f"{len(layers)} layers {list(layers)} for a direction with {vectors.shape[0]} rows")
        if len(set(layers)) != len(layers):
            raise DirectionError(f"layers {list(layers)} name a layer twice")
        object.__setattr__(self, "vectors", vectors.contiguous())
        object.__setattr__(self, "layers", layers)
        object.__setattr__(self, "extra", dict(self.extra))

    @property
    def d_model(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def norms(self) -> list[float]:
        """The L2 norm of each row."""
        return [float(n) for n in self.vectors.norm(dim=1)]

    def at(self, layer: int) -> Float[torch.Tensor, " d_model"]:
        """The `[d_model]` row stored for `layer` (a copy); a single row tied to no layer serves any layer."""
        if not self.layers and self.vectors.shape[0] == 1:
            return self.vectors[0].clone()
        if not self.layers:
            raise DirectionError(
                f"the direction holds {self.vectors.shape[0]} rows tied to no layer "
                "(no 'layers' metadata), so none is the row for one layer"
            )
        if layer not in self.layers:
            raise DirectionError(f"no direction for layer {layer}; the file holds layers {list(self.layers)}")
        return self.vectors[self.layers.index(layer)].clone()

    def other_model(self, lm: LoadedModel) -> str | None:
        """What differs between the model this was made on and `lm`, or None when it is the same (or unknown).

        The weights decide when both sides know them (a model reached by another path is the same
        model); the name is compared only for files that record no weights."""
        if self.weights_id:
            if self.weights_id == lm.weights_id:
                return None
            return (
                f"the direction was made on {self.model or 'another model'} (weights {self.weights_id}), "
                f"not on {lm.name or 'this model'} (weights {lm.weights_id})"
            )
        if self.model and not _same_name(self.model, lm.name):
            return f"the direction was made on {self.model}, not on {lm.name or 'this model'}"
        return None

    def for_model(self, lm: LoadedModel, layer: int, *, allow_other_model: bool = False) -> torch.Tensor:
        """The row for `layer`, checked against `lm`: its width and the model it was made on.

        A direction made on another model raises `OtherModelError`, or warns (`OtherModelWarning`)
        when `allow_other_model` is given."""
        if self.d_model != lm.d_model:
            raise DirectionError(f"the direction has width {self.d_model}; the model's d_model is {lm.d_model}")
        row = self.at(layer)
        other = self.other_model(lm)
        if other and not allow_other_model:
            raise OtherModelError(other)
        if other:
            warnings.warn(other, OtherModelWarning, stacklevel=2)
        return row

    def metadata(self) -> dict[str, Any]:
        """The file's metadata, before each value is written as a JSON string."""
        meta = {key: value for key, value in self.extra.items() if key not in _DERIVED}
        meta.update({key: getattr(self, key) for key in _TYPED if getattr(self, key)})
        meta["layers"] = list(self.layers)
        meta["norms"] = self.norms
        return meta

    @classmethod
    def from_metadata(cls, vectors, meta: Mapping[str, Any]) -> Direction:
        """A direction from its rows and a metadata mapping: `layers` (or one `layer`), the typed
        keys, and the rest kept as `extra`; `norms` is recomputed from the rows."""
        layers = meta.get("layers", meta.get("layer"))
        layers = () if layers is None else (layers,) if isinstance(layers, int | float | str) else layers
        if not isinstance(layers, list | tuple):
            raise DirectionError(f"metadata 'layers' is {layers!r}; expected a list of layer numbers")
        typed = {key: str(meta[key]) for key in _TYPED if meta.get(key) not in (None, "")}
        typed.setdefault("created_by", "")  # unknown: not this toolkit's version
        extra = {key: value for key, value in meta.items() if key not in _TYPED and key not in _DERIVED}
        return cls(vectors, tuple(layers), **typed, extra=extra)

    def save(self, path: str | Path) -> Path:
        """Write the direction file (parent folders made as needed)."""
        from safetensors.torch import save_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file(
            {TENSOR: self.vectors},
            str(path),
            metadata={key: json.dumps(value) for key, value in self.metadata().items()},
        )
        return path

    @classmethod
    def load(cls, path: str | Path) -> Direction:
        """Read a direction file; every problem is a `DirectionError` naming the file."""
        from safetensors import SafetensorError, safe_open

        path = Path(path)
        if not path.is_file():
            raise DirectionError(f"{path}: no such direction file")
        try:
            with safe_open(str(path), framework="pt") as handle:
                if TENSOR not in handle.keys():
                    found = ", ".join(handle.keys()) or "none"
                    raise DirectionError(f"{path}: no '{TENSOR}' tensor (found {found}); not a direction file")
                vectors = handle.get_tensor(TENSOR)
                raw = handle.metadata() or {}
        except (SafetensorError, OSError) as err:
            raise DirectionError(
                f"{path}: not a safetensors file ({err}); direction files come from "
                "`interp direction` or Direction.save"
            ) from None
        try:
            return cls.from_metadata(vectors, {key: _json_or_text(value) for key, value in raw.items()})
        except DirectionError as err:
            raise DirectionError(f"{path}: {err}") from None


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value  # files from other tools may hold plain strings


def _layer_number(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise DirectionError(f"layer {value!r} is not a layer number")
    try:
        number = float(value)
    except ValueError:
        raise DirectionError(f"layer {value!r} is not a layer number") from None
    if not math.isfinite(number) or number != int(number) or number < 0:
        raise DirectionError(f"layer {value!r} is not a layer number (0, 1, 2, ...)")
    return int(number)


def _same_name(a: str, b: str) -> bool:
    """Two model names that are the same string, or two paths to the same folder or file."""
    if a == b:
        return True
    try:
        return Path(a).exists() and Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def load_direction(path: str | Path) -> Direction:
    """Read a direction file: `Direction.load`."""
    return Direction.load(path)


def save_direction(path: str | Path, direction, meta: Mapping[str, Any] | None = None) -> Path:
    """Write a `Direction`, or rows (`[d]` or `[n, d]`) with a metadata mapping (`layers` or `layer`,
    `model`, `method`, ...; other keys are kept): `Direction.save`."""
    if not isinstance(direction, Direction):
        direction = Direction.from_metadata(direction, {"created_by": toolkit_version(), **(meta or {})})
    elif meta:
        raise TypeError("save_direction takes metadata only with raw rows; a Direction carries its own")
    return direction.save(path)
