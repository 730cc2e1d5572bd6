"""Steering and ablation chosen per request, from the directions the server was started with.

A request names directions by the names given at start (`--direction NAME=FILE`):

    "steering": [{"direction": NAME, "layer": L, "alpha": A}, ...]      # or "alpha_rel": R instead of "alpha"
    "ablate":   [{"direction": NAME, "layers": [L, ...]}, ...]         # "layers" left out: every layer

Steering entries add: each puts `alpha * v` (v: the file's row for layer L) on the output of block L,
at every position, prompt and answer, as `interp steer` does. `alpha_rel: R` is the raw alpha
`R * mean |resid_L| / |v|`, the mean taken over the request's own prompt tokens (the rendered chat, or
the completion prompt) under the plain model: what `interp steer --alpha-rel` measures over its prompt.
Ablation projects each named direction out of the output of each listed block (`interp.steering.ablate`).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Any

import torch

from interp.models import Direction, DirectionError, load_direction
from interp.serve.errors import RequestError
from interp.steering import relative_alpha

__all__ = [
    "Ablation",
    "DirectionTable",
    "Intervention",
    "ServeSetupError",
    "SteerEntry",
    "parse_intervention",
    "raw_alpha",
]


class ServeSetupError(ValueError):
    """The server cannot start as asked; `flag` names the option at fault."""

    def __init__(self, flag: str, message: str) -> None:
        super().__init__(f"{flag} {message}")
        self.flag = flag


@dataclass(frozen=True)
class SteerEntry:
    """One steering entry of a request, its row read from the direction file."""

    direction: str
    layer: int
    """the block whose output is steered (negative layers resolved)"""
    vector: torch.Tensor = field(repr=False, compare=False)
    """[d_model] float32: the file's row for `layer`"""
    alpha: float | None = None
    """the raw multiple of `vector`, or None when `alpha_rel` gives it"""
    alpha_rel: float | None = None
    """the multiple relative to the layer's mean residual norm over the request's prompt"""


Ablation = tuple[tuple[str, tuple[int, ...]], ...]
"""(direction, layers) pairs, in request order: requests with the same ablation share batches."""


@dataclass(frozen=True)
class Intervention:
    """What one request does to the model: steering entries (per row) and ablations (per batch)."""

    steering: tuple[SteerEntry, ...] = ()
    ablation: Ablation = ()


class DirectionTable:
    """The named directions, loaded and checked against the model once, at start."""

    def __init__(self, lm: Any, files: dict[str, str], allow_other_model: bool = False) -> None:
        self.lm, self.directions, self.files = lm, {}, dict(files)
        for name, path in files.items():
            flag = f"--direction {name}={path}:"
            try:
                direction = load_direction(path)
            except DirectionError as err:
                raise ServeSetupError(flag, str(err)) from None
            if direction.d_model != lm.d_model:
                raise ServeSetupError(
                    flag, f"the direction has width {direction.d_model}; the model's d_model is {lm.d_model}"
                )
            other = direction.other_model(lm)
            if other and not allow_other_model:
                raise ServeSetupError(flag, f"{other}; pass --allow-other-model to serve it anyway")
            if other:
                print(f"warning: {flag} {other}", file=sys.stderr)
            self.directions[name] = direction

    def describe(self) -> list[dict[str, Any]]:
        """What `/v1/models` says about each direction."""
        return [
            {"name": name, "layers": list(d.layers) or "any", "model": d.model, "method": d.method}
            for name, d in self.directions.items()
        ]

    def get(self, name: Any, param: str) -> Direction:
        if not isinstance(name, str) or name not in self.directions:
            known = ", ".join(self.directions) or "none (start the server with --direction NAME=FILE)"
            raise RequestError(f"unknown direction {name!r}; this server has {known}", param)
        return self.directions[name]

    def row(self, name: str, layer: int, param: str) -> torch.Tensor:
        """The direction's `[d_model]` row for `layer`."""
        try:
            return self.get(name, param).at(layer)
        except DirectionError as err:
            raise RequestError(str(err), param) from None

    def ablation_rows(self, name: str, layers: tuple[int, ...]) -> torch.Tensor:
        """`[len(layers), d_model]`: the rows `ablate` projects out, one per layer."""
        return torch.stack([self.directions[name].at(layer) for layer in layers])


def _layer(lm: Any, value: Any, param: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(f"expected an integer layer, got {value!r}", param)
    try:
        return lm.resolve_layer(value)
    except ValueError as err:
        raise RequestError(str(err), param) from None


def _finite(value: Any, param: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RequestError(f"expected a finite number, got {value!r}", param)
    return float(value)


def _entries(body: dict, key: str) -> list[dict]:
    entries = body.get(key)
    if entries is None:
        return []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise RequestError("expected a list of objects", key)
    return entries


def _steer_entry(table: DirectionTable, entry: dict, where: str) -> SteerEntry:
    unknown = set(entry) - {"direction", "layer", "alpha", "alpha_rel"}
    if unknown:
        raise RequestError(
            f"unknown field(s) {', '.join(sorted(unknown))}; use direction, layer and alpha or alpha_rel", where
        )
    table.get(entry.get("direction"), f"{where}.direction")
    if "layer" not in entry:
        raise RequestError("missing; give the block whose output to steer", f"{where}.layer")
    layer = _layer(table.lm, entry["layer"], f"{where}.layer")
    if ("alpha" in entry) == ("alpha_rel" in entry):
        raise RequestError("give exactly one of alpha (raw) and alpha_rel (relative to the layer's norm)", where)
    vector = table.row(entry["direction"], layer, f"{where}.layer")
    if "alpha" in entry:
        return SteerEntry(entry["direction"], layer, vector, alpha=_finite(entry["alpha"], f"{where}.alpha"))
    if float(vector.norm()) == 0:
        raise RequestError("the direction's row is zero, so a relative alpha is undefined", f"{where}.alpha_rel")
    return SteerEntry(entry["direction"], layer, vector, alpha_rel=_finite(entry["alpha_rel"], f"{where}.alpha_rel"))


def _ablation(table: DirectionTable, entry: dict, where: str) -> tuple[str, tuple[int, ...]]:
    unknown = set(entry) - {"direction", "layers"}
    if unknown:
        raise RequestError(f"unknown field(s) {', '.join(sorted(unknown))}; use direction and layers", where)
    table.get(entry.get("direction"), f"{where}.direction")
    name: str = entry["direction"]  # one of the table's directions (checked just above)
    layers = entry.get("layers")
    if layers is None:
        layers = list(range(table.lm.n_layers))
    if not isinstance(layers, list) or not layers:
        raise RequestError("expected a non-empty list of layers", f"{where}.layers")
    resolved = tuple(_layer(table.lm, layer, f"{where}.layers[{i}]") for i, layer in enumerate(layers))
    for i, layer in enumerate(resolved):
        if float(table.row(name, layer, f"{where}.layers[{i}]").norm()) == 0:
            raise RequestError("cannot ablate a zero vector", f"{where}.layers[{i}]")
    return name, resolved


def parse_intervention(body: dict, table: DirectionTable) -> Intervention:
    """The request's `steering` and `ablate` fields, checked: every problem a RequestError naming its field."""
    steering = tuple(_steer_entry(table, entry, f"steering[{i}]") for i, entry in enumerate(_entries(body, "steering")))
    ablation = tuple(_ablation(table, entry, f"ablate[{i}]") for i, entry in enumerate(_entries(body, "ablate")))
    return Intervention(steering, ablation)


def raw_alpha(lm: Any, entry: SteerEntry, prompt: str) -> float:
    """The entry's raw alpha; a relative one measured over `prompt` under the plain model (no hooks may be on)."""
    if entry.alpha is not None:
        return entry.alpha
    if entry.alpha_rel is None:
        raise ValueError(f"the steering entry along {entry.direction} has neither alpha nor alpha_rel")
    return relative_alpha(lm, entry.vector, entry.layer, [prompt], entry.alpha_rel)
