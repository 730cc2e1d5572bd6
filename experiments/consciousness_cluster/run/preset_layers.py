"""A preset's layer fields against the model's depth, which is known without loading any weights:
the organism's config is in the preset; a local model folder or a hub model in the local cache has
its config.json; a GGUF file (or a packaged model) has it in its metadata. `interp replicate
--dry-run` checks them, and a run checks them again once its base model is loaded (a hub model not
yet downloaded is known only then).
"""

from __future__ import annotations

import json
from pathlib import Path

from experiments.consciousness_cluster.run.preset import ReplicationConfig

__all__ = ["check_layers", "model_depth"]

_DEPTH_KEYS = ("num_hidden_layers", "n_layer", "num_layers")


def _depth_of(hf_config: dict) -> int | None:
    for holder in (hf_config, hf_config.get("text_config") or {}):
        for key in _DEPTH_KEYS:
            if isinstance(holder.get(key), int):
                return holder[key]
    return None


def _config_json(source: str) -> Path | None:
    """config.json of a local folder, or of a hub id already in the local cache (no download)."""
    local = Path(source).expanduser()
    if local.is_dir():
        return local / "config.json" if (local / "config.json").is_file() else None
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(source, "config.json")
    except (ImportError, ValueError):  # ValueError: not a valid repo id
        return None
    return Path(cached) if isinstance(cached, str) else None


def _gguf(source: str) -> Path | None:
    from interp.models.gguf import gguf_path

    try:
        return gguf_path(source)
    except (ImportError, OSError):  # a packaged model not installed, a missing file: the base stage says so
        return None


def _gguf_depth(path: Path) -> tuple[int | None, str]:
    """The layer count in a GGUF file's metadata (no tensors read)."""
    try:
        from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

        depth = _depth_of(load_gguf_checkpoint(str(path), return_tensors=False)["config"])
    except Exception:  # noqa: BLE001 - a truncated or foreign file fails somewhere inside the reader
        return None, f"{path} could not be read as a GGUF model"
    return depth, str(path) if depth is not None else f"{path} names no layer count"


def model_depth(config: ReplicationConfig) -> tuple[int | None, str]:
    """The base model's number of blocks, and where that was read (None when it cannot be known yet)."""
    if config.is_organism:
        from experiments.organism.pretrain import organism_config

        return organism_config(config.organism).num_layers, "the organism's config"
    gguf = _gguf(config.model.source)
    if gguf is not None:
        return _gguf_depth(gguf)
    path = _config_json(config.model.source)
    if path is None:
        return None, f"{config.model.source} is neither a local folder nor in the local hub cache"
    try:
        depth = _depth_of(json.loads(path.read_text()))
    except (OSError, ValueError, AttributeError):
        return None, f"{path} could not be read as a model config"
    return depth, str(path) if depth is not None else f"{path} names no layer count"


def check_layers(config: ReplicationConfig, n_layers: int) -> list[str]:
    """Problems (`field: what`) of the fields naming layers, for a model with `n_layers` blocks."""
    from activations.layers import LayerSpecError, parse_layers

    problems, cached = [], None
    try:
        cached = parse_layers(config.direction.cache.layers, n_layers)
    except LayerSpecError as err:
        problems.append(f"direction.cache.layers: {err}")
    if config.steering.layer_curve_layers is not None:
        try:
            curve = parse_layers(config.steering.layer_curve_layers, n_layers)
        except LayerSpecError as err:
            problems.append(f"steering.layer_curve_layers: {err}")
        else:
            outside = [layer for layer in curve if cached is not None and layer not in cached]
            if outside:
                problems.append(
                    f"steering.layer_curve_layers: layers {outside} are not among direction.cache.layers "
                    f"{cached}, the only layers the direction is found at"
                )
    layer = config.steering.layer
    if layer is not None:
        try:
            [steered] = parse_layers(layer, n_layers)
        except LayerSpecError as err:
            problems.append(f"steering.layer: {err}")
        else:
            if cached is not None and steered not in cached:
                problems.append(
                    f"steering.layer: layer {layer} is not among direction.cache.layers {cached}, the only "
                    f"layers the direction is found at; add it there, or leave steering.layer out"
                )
    return problems
