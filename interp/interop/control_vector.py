"""Control-vector GGUF files (llama.cpp, repeng, EasySteer): the one reader and writer of the format.

The format: a GGUF file with `general.architecture = "controlvector"`, a string
`controlvector.model_hint`, an integer `controlvector.layer_count` (the number of tensors) and one
1-D F32 tensor `direction.{k}` per layer. What `k` means depends on who wrote the file
(`GGUF_CONVENTIONS`; read from each tool's source):

- llama.cpp adds `direction.k` to the output of block k, counting blocks from 0, at every
  position (its model graphs call the control vector on each block's output, `l_out`). It refuses
  a file holding `direction.0`, so the output of block 0 cannot be steered from llama.cpp.
  That is the toolkit's own layer index: `direction.k` is the toolkit's layer k.
- repeng (0.2 and later) and EasySteer write `direction.k` for the vector they add to the output
  of `model.layers[k]`, measured at `hidden_states[k + 1]`: the toolkit's layer k too, and they
  may write `direction.0`.
- llama.cpp's cvector-generator measures the output of block i and names it `direction.{i+1}`,
  so llama.cpp applies it one block later than it was measured. Read with the
  `cvector-generator` convention, `direction.k` is the toolkit's layer k - 1, where it was measured.

The toolkit writes its own metadata (model, weights, method, the alpha baked in) as one JSON
string, `interp.direction`, which other readers ignore and this reader restores.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from interp.models.direction import Direction, DirectionError

__all__ = ["GGUF_CONVENTIONS", "GgufConvention", "load_control_vector", "save_control_vector"]

ARCH = "controlvector"
META_KEY = "interp.direction"
_NAME = re.compile(r"^direction\.(\d+)$")
_DERIVED = ("layers", "layer", "norms")  # recomputed from the tensors


@dataclass(frozen=True)
class GgufConvention:
    """How one tool numbers the `direction.{k}` tensors of a control-vector file."""

    shift: int
    """the toolkit's layer is k + shift"""
    block_zero: bool
    """whether a file for this tool may hold the toolkit's layer 0 (llama.cpp refuses direction.0)"""
    writable: bool
    """whether the toolkit writes files in this convention (cvector-generator's is read only)"""
    about: str
    """where the convention comes from, for --help and errors"""


GGUF_CONVENTIONS: dict[str, GgufConvention] = {
    "llama-cpp": GgufConvention(
        0, False, True, "llama.cpp adds direction.k to the output of block k (from 0); it refuses direction.0"
    ),
    "repeng": GgufConvention(
        0,
        True,
        True,
        "repeng's export_gguf: direction.k is added to the output of "
        "model.layers[k] (measured at hidden_states[k + 1])",
    ),
    "easysteer": GgufConvention(
        0, True, True, "EasySteer's export_gguf: direction.k is added to the output of decoder layer k"
    ),
    "cvector-generator": GgufConvention(
        -1, False, False, "llama.cpp's cvector-generator names the vector measured after block i direction.{i+1}"
    ),
}
"""Convention name -> how its files number their layers."""


def _convention(name: str) -> GgufConvention:
    if name not in GGUF_CONVENTIONS:
        raise DirectionError(f"convention {name!r}: use one of {', '.join(GGUF_CONVENTIONS)}")
    return GGUF_CONVENTIONS[name]


def _rows_to_write(direction: Direction, layers: Iterable[int] | None) -> list[tuple[int, torch.Tensor]]:
    """(toolkit layer, row) for each layer to write, sorted by layer."""
    if layers is None:
        if not direction.layers:
            raise DirectionError(
                "the direction is tied to no layer; name the blocks to write it for "
                "(layers=..., --layers on the command line)"
            )
        layers = direction.layers
    chosen = sorted({int(layer) for layer in layers})
    if not chosen:
        raise DirectionError("no layers to write")
    if chosen[0] < 0:
        raise DirectionError(f"layer {chosen[0]}: name blocks from 0 when writing a control vector")
    return [(layer, direction.at(layer)) for layer in chosen]


def save_control_vector(
    direction: Direction,
    path: str | Path,
    *,
    layers: Iterable[int] | None = None,
    alpha: float = 1.0,
    model_hint: str | None = None,
    convention: str = "llama-cpp",
) -> Path:
    """Write `direction` (its rows for `layers`, default every layer it holds) as a control-vector GGUF.

    `alpha` is multiplied into the file (baked in); leave it at 1 to scale in llama.cpp instead
    (`--control-vector-scaled FILE:ALPHA`; older builds take `FILE ALPHA`). `model_hint` (default:
    the direction's model name) is the free-text `controlvector.model_hint`. llama.cpp adds every
    tensor of the file at once: write one layer to match `interp steer --layer L`, or pass llama.cpp
    `--control-vector-layer-range L L`. The file is replaced only once it is complete."""
    import gguf

    rule = _convention(convention)
    if not rule.writable:
        raise DirectionError(
            f"the {convention} convention is for reading that tool's files; "
            "write llama-cpp (the layer is where the vector is added)"
        )
    alpha = float(alpha)
    if not math.isfinite(alpha):
        raise DirectionError(f"alpha {alpha} is not a finite number")
    rows = _rows_to_write(direction, layers)
    if rows[0][0] - rule.shift == 0 and not rule.block_zero:
        raise DirectionError(
            f"layer 0 (the output of block 0) cannot be written for {convention}: "
            "llama.cpp refuses direction.0; leave layer 0 out (--layers 1-...)"
        )
    meta = {key: value for key, value in direction.metadata().items() if key not in _DERIVED}
    # the multiple of the original direction the file holds, across repeated exports
    meta.update(alpha_baked=alpha * float(meta.get("alpha_baked", 1.0)), written_for=convention)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        writer = gguf.GGUFWriter(str(tmp), ARCH)
        writer.add_string(f"{ARCH}.model_hint", model_hint or direction.model or "unknown")
        writer.add_int32(f"{ARCH}.layer_count", len(rows))  # the number of tensors, as llama.cpp's generator writes
        writer.add_string(META_KEY, json.dumps(meta))
        for layer, row in rows:
            # the product in float32, as the toolkit's steering hook forms alpha * v
            scaled = (torch.tensor(alpha, dtype=torch.float32) * row).numpy()
            writer.add_tensor(f"direction.{layer - rule.shift}", np.ascontiguousarray(scaled, dtype=np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _scalar(field) -> Any:
    """A scalar metadata value of a GGUFReader field (None for arrays)."""
    import gguf

    if len(field.types) != 1 or not field.data:
        return None
    part = field.parts[field.data[0]]
    if field.types[0] == gguf.GGUFValueType.STRING:
        return bytes(part).decode("utf-8", errors="replace")
    return part[0].item()


def _open(path: Path):
    import gguf

    if not path.is_file():
        raise DirectionError(f"{path}: no such control vector file")
    try:
        return gguf.GGUFReader(str(path))
    except Exception as err:  # the reader fails in many ways (struct, value, index errors) on a foreign file
        raise DirectionError(f"{path}: not a GGUF file ({type(err).__name__}: {err})") from None


def _tensor_rows(path: Path, reader, rule: GgufConvention, convention: str) -> tuple[list[int], np.ndarray]:
    layers, rows = [], []
    for tensor in reader.tensors:
        match = _NAME.match(tensor.name)
        if not match:
            raise DirectionError(
                f"{path}: tensor {tensor.name!r} is not named direction.<layer>; "
                "a control vector holds only direction.<k> tensors"
            )
        data = np.asarray(tensor.data)
        if data.dtype.kind != "f" or len(tensor.shape) != 1:
            raise DirectionError(
                f"{path}: tensor {tensor.name} is {tensor.tensor_type.name} of shape "
                f"{list(tensor.shape)}; control vectors hold 1-D F32 tensors"
            )
        layer = int(match.group(1)) + rule.shift
        if layer < 0:
            raise DirectionError(
                f"{path}: {tensor.name} has no block before it under the {convention} "
                "convention (that tool never writes it); read the file as llama-cpp"
            )
        layers.append(layer)
        rows.append(data.reshape(-1).astype(np.float32))
    if not rows:
        raise DirectionError(f"{path}: no direction.<k> tensors")
    widths = sorted({row.shape[0] for row in rows})
    if len(widths) > 1:
        raise DirectionError(f"{path}: direction tensors of different widths {widths}; one file holds one model's")
    order = np.argsort(layers, kind="stable")
    return [layers[i] for i in order], np.stack([rows[i] for i in order])


def load_control_vector(path: str | Path, convention: str = "llama-cpp") -> Direction:
    """Read a control-vector GGUF into a `Direction` whose layers follow `convention` (see the module)."""
    rule = _convention(convention)
    path = Path(path)
    reader = _open(path)
    fields = {name: _scalar(field) for name, field in reader.fields.items()}
    arch = fields.get("general.architecture")
    if arch != ARCH:
        raise DirectionError(
            f"{path}: general.architecture is {arch!r}, not {ARCH!r}: not a control vector "
            "(a model file is given with --model)"
        )
    layers, rows = _tensor_rows(path, reader, rule, convention)
    meta: dict[str, Any] = {}
    if fields.get(META_KEY):
        try:
            meta = json.loads(fields[META_KEY])
        except json.JSONDecodeError as err:
            raise DirectionError(f"{path}: {META_KEY} is not JSON ({err})") from None
        meta = {key: value for key, value in meta.items() if key not in _DERIVED}
    other = {
        name[len(ARCH) + 1 :]: value
        for name, value in fields.items()
        if name.startswith(f"{ARCH}.") and value is not None and name != f"{ARCH}.layer_count"
    }
    meta.setdefault("method", other.pop("method", ""))  # EasySteer writes its extraction method
    meta["control_vector"] = {"convention": convention, "file": str(path), **other}
    meta["layers"] = layers
    try:
        return Direction.from_metadata(torch.from_numpy(rows), meta)
    except DirectionError as err:
        raise DirectionError(f"{path}: {err}") from None
