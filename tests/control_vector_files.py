"""Control-vector GGUF files laid out as other tools write them, through the `gguf` package.

The tools themselves cannot run here (cvector-generator is C++; repeng and EasySteer pin older
numpy / transformers or need vLLM), so each writer below follows the tool's export code: the
same metadata keys and value types, and the same tensor names for the same layers.
"""

import gguf
import numpy as np


def write_gguf(path, tensors, arch="controlvector", **fields):
    """A GGUF file with `tensors` ({name: array}) and `fields` ({key with __ for '.': (kind, value)},
    kind a GGUFWriter `add_<kind>` method: string, int32, uint32, float32)."""
    writer = gguf.GGUFWriter(str(path), arch)
    for key, (kind, value) in fields.items():
        getattr(writer, f"add_{kind}")(key.replace("__", "."), value)
    for name, data in tensors.items():
        writer.add_tensor(name, data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def write_like_cvector_generator(path, vectors: dict, model_hint: str):
    """llama.cpp's tools/cvector-generator: the vector measured at block i as direction.{i+1}, the
    model's architecture as model_hint, layer_count as int32."""
    tensors = {f"direction.{i + 1}": np.asarray(v, np.float32) for i, v in sorted(vectors.items())}
    return write_gguf(
        path,
        tensors,
        controlvector__model_hint=("string", model_hint),
        controlvector__layer_count=("int32", len(vectors)),
    )


def write_like_repeng(path, model_type: str, directions: dict):
    """repeng's ControlVector.export_gguf: directions[k] as direction.{k}, layer_count as uint32."""
    return write_gguf(
        path,
        {f"direction.{k}": v for k, v in directions.items()},
        controlvector__model_hint=("string", model_type),
        controlvector__layer_count=("uint32", len(directions)),
    )


def write_like_easysteer(path, method: str, directions: dict, metadata: dict):
    """EasySteer's StatisticalControlVector.export_gguf: repeng's layout plus the method and
    numeric metadata as float32 `controlvector.<key>` fields."""
    fields = {
        "controlvector__model_hint": ("string", "unknown"),
        "controlvector__method": ("string", method),
        "controlvector__layer_count": ("uint32", len(directions)),
        **{f"controlvector__{key}": ("float32", float(value)) for key, value in metadata.items()},
    }
    return write_gguf(path, {f"direction.{k}": v for k, v in directions.items()}, **fields)
