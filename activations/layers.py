"""The one grammar for naming layers (`--layers` of cache, probe and direction; `direction.cache.layers`
of a preset): parsed once, then resolved against the layers that exist.

    all          every layer
    3  -1        a layer; a negative one counts from the last (-1: the last)
    0,4,8        a list
    2-5          an inclusive range (ends may be negative: 0--1 is every layer)
    -4:  2:20:2  a Python slice over the layers that exist
    0,2-4,-1     any of these, comma-separated

Against a model the layers that exist are 0..n_layers-1; against an activation file, the layers
it holds (there `-1` is the last layer stored).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral

__all__ = ["GRAMMAR", "LayerSpec", "LayerSpecError", "parse_layer_spec", "parse_layers", "select_layers"]

GRAMMAR = "'all', a layer (3, or -1 for the last), a list (0,4,8), a range (2-5) or a slice (-4:), mixed as 0,2-4,-1"

_INT = re.compile(r"^-?\d+$")
_RANGE = re.compile(r"^(-?\d+)-(-?\d+)$")
_SLICE = re.compile(r"^(-?\d*)(?::(-?\d*)){1,2}$")


class LayerSpecError(ValueError):
    """A layer spec that is malformed, or names a layer that does not exist."""


@dataclass(frozen=True)
class LayerSpec:
    """A parsed layer spec: its parts, each ('all',), ('layer', k), ('range', a, b) or ('slice', start, stop, step)."""

    text: str
    parts: tuple[tuple, ...]

    def resolve(self, available: Sequence[int], where: str, *, model: bool = False) -> list[int]:
        """The layers it names among `available`, sorted and unique. `where` names what holds them in
        errors ('the store'); `model`: they are a model's blocks 0..n-1 (see `parse_layers`)."""
        available = sorted(available)
        if not available:
            raise LayerSpecError(f"layers {self.text!r}: {where} holds no layers")
        chosen: list[int] = []
        for part in self.parts:
            if part[0] == "all":
                chosen += available
            elif part[0] == "slice":
                chosen += available[slice(*part[1:])]
            else:
                ends = [_layer(k, available, where, model) for k in part[1:]]
                if ends[0] > ends[-1]:
                    raise LayerSpecError(
                        f"layers {self.text!r}: range {part[1]}-{part[2]} is empty; write the lower end first"
                    )
                chosen += range(ends[0], ends[-1] + 1)
        missing = sorted(set(chosen) - set(available))
        if missing:
            raise LayerSpecError(_missing(missing, available, where, model))
        if not chosen:
            raise LayerSpecError(f"layers {self.text!r} selects no layer of {where}")
        return sorted(set(chosen))


def _range_hint(available: list[int]) -> str:
    return f"(use 0..{len(available) - 1} or negative indices)"


def _missing(missing: list[int], available: list[int], where: str, model: bool) -> str:
    if model:
        which = f"layer {missing[0]} is" if len(missing) == 1 else f"layers {missing} are"
        return f"{which} out of range for {where} {_range_hint(available)}"
    return f"layer(s) {missing} not in {where}; it holds layers {available}"


def _layer(k: int, available: list[int], where: str, model: bool) -> int:
    """A layer number; a negative one counts back from the last available layer."""
    if k >= 0:
        return k
    if -k > len(available):
        hint = _range_hint(available) if model else f"(it holds {len(available)} layers)"
        raise LayerSpecError(f"layer {k} is out of range for {where} {hint}")
    return available[k]


def parse_layer_spec(spec: str | int | Sequence[int] | LayerSpec) -> LayerSpec:
    """The spec's syntax checked, without knowing which layers exist (e.g. before a model loads)."""
    if isinstance(spec, LayerSpec):
        return spec
    if isinstance(spec, bool):
        raise LayerSpecError(f"layers {spec!r}: use {GRAMMAR}")
    if isinstance(spec, Integral):
        return LayerSpec(str(spec), (("layer", int(spec)),))
    if isinstance(spec, (list, tuple)):
        if not spec or not all(isinstance(k, Integral) and not isinstance(k, bool) for k in spec):
            raise LayerSpecError(f"layers {list(spec)!r}: a list of layers holds integers only")
        return LayerSpec(",".join(map(str, spec)), tuple(("layer", int(k)) for k in spec))
    text = str(spec)
    parts: list[tuple[str | int | None, ...]] = []
    for raw in text.lower().split(","):
        part = raw.replace(" ", "")
        if not part:
            continue
        if part == "all":
            parts.append(("all",))
        elif _INT.match(part):
            parts.append(("layer", int(part)))
        elif match := _RANGE.match(part):
            parts.append(("range", int(match[1]), int(match[2])))
        elif _SLICE.match(part):
            parts.append(("slice", *(int(p) if p else None for p in part.split(":"))))
        else:
            raise LayerSpecError(f"layers {text!r}: {raw.strip()!r} is not a layer spec; use {GRAMMAR}")
    if not parts:
        raise LayerSpecError(f"layers {text!r}: empty; use {GRAMMAR}")
    if any(p[0] == "slice" and p[3:] == (0,) for p in parts):
        raise LayerSpecError(f"layers {text!r}: a slice step cannot be zero")
    return LayerSpec(text, tuple(parts))


def parse_layers(spec: str | int | Sequence[int] | LayerSpec, n_layers: int) -> list[int]:
    """Block indices of a model with `n_layers` blocks (0..n_layers-1) that `spec` names."""
    return parse_layer_spec(spec).resolve(range(n_layers), f"a model with {n_layers} layers", model=True)


def select_layers(
    spec: str | int | Sequence[int] | LayerSpec, available: Sequence[int], where: str = "the store"
) -> list[int]:
    """The layers `spec` names among those a file holds (`available`)."""
    return parse_layer_spec(spec).resolve(available, where)
