"""`cache_activations`: residual-stream rows of chosen layers and positions, from a model to HDF5.

One pass per batch runs only up to the deepest requested block; per layer, `fused_capture`
gathers the selected rows, casts them to the storage dtype and adds the per-label sums (and
projections onto given directions); the writer thread commits them while the next batch runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import os
import time
import warnings
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import torch

from activations.batching import Batch, collate, plan_batches, plan_windows
from activations.capture import run_to_layers
from activations.examples import (
    EncodedExample,
    Example,
    ExampleError,
    as_examples,
    encode_example,
    example_label,
    fit_to_context,
    render_prompt,
)
from activations.fused import fused_capture
from activations.h5file import create_file, finish_file, open_existing
from activations.layers import parse_layer_spec, parse_layers
from activations.positions import POSITION_RULES, PositionRule, apply_rule
from activations.schema import COMPLETE, EXAMPLES_COMMITTED, STORAGE_DTYPES
from activations.shards import ShardPlan, join_shards, plan_shard
from activations.stream import LayerStats, load_directions
from activations.transfer import HostCopier
from activations.writer import BatchOutput, StoreSink, WindowWriter
from interp.models.fields import checked
from interp.models.lock import write_lock

__all__ = ["CacheConfig", "CacheResult", "cache", "cache_activations", "forward_batch"]


def _layer_syntax(value: Any, path: str) -> None:
    """The layer spec's syntax (a preset names the field); which layers exist is known once the model is."""
    parse_layer_spec(value)


@dataclass
class CacheConfig:
    """What to extract and how to store it."""

    layers: str | int | list[int] = checked(_layer_syntax, "all")
    """in the layer grammar (`activations.layers`): `all`, `3`, `0,4,8` (or [0, 4, 8]), `2-5`, `-4:`, mixed"""
    positions: Literal["all", "last", "response", "response-mean"] = "all"
    """which tokens become rows: every real token, the last prompt token, response tokens, their mean"""
    dtype: Literal["float16", "bfloat16", "float32"] = "float16"
    """storage dtype (bfloat16 is stored as uint16 bit patterns)"""
    compression: Literal["gzip", "lzf"] | None = None
    """HDF5 filter on the activation datasets"""
    batch_size: int = 8
    """examples per forward pass at most"""
    max_tokens_per_batch: int | None = None
    """cap on padded tokens per batch (batch width x longest example)"""
    store: bool = True
    """keep the activation rows; without them (stream mode) only the statistics and projections are kept"""
    directions: str | None = None
    """safetensors file of directions to project every row onto"""
    commit_every: int = 64
    """examples per commit at most (the unit of resume, and the span within which batches are length-sorted)"""
    commit_bytes: int = 1 << 30
    """a commit also closes once its rows reach this many bytes (host memory held for in-order writing)"""
    queue_depth: int = 2
    """finished batches waiting for the writer thread at most"""
    truncate: bool = False
    """cut examples longer than the model's context (max_position_embeddings) to it, with a warning (otherwise
    they are refused)"""

    def __post_init__(self) -> None:
        parse_layer_spec(self.layers)  # the syntax now; the layers themselves once the model is known
        if self.positions not in POSITION_RULES:
            raise ValueError(f"positions {self.positions!r}: use one of {', '.join(POSITION_RULES)}")
        if self.dtype not in STORAGE_DTYPES:
            raise ValueError(f"dtype {self.dtype!r}: use one of {', '.join(STORAGE_DTYPES)}")
        if self.compression not in (None, "gzip", "lzf"):
            raise ValueError(f"compression {self.compression!r}: use gzip, lzf or none")
        for name in ("batch_size", "commit_every", "commit_bytes", "queue_depth"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.max_tokens_per_batch is not None and self.max_tokens_per_batch < 1:
            raise ValueError("max_tokens_per_batch must be at least 1")


class CacheResult(NamedTuple):
    """What a `cache_activations` call wrote, and how long it took."""

    path: Path
    """the file to open (the joined file under torchrun)"""
    n_rows: int
    n_examples: int
    tokens: int
    """real tokens run through the model in this call"""
    seconds: float
    stats: dict[int, LayerStats]
    """per-layer label statistics and mean-difference direction (empty without labels)"""


def _examples_table(lm, examples: list[Example], encoded) -> dict[str, list]:
    table: dict[str, list] = {
        "prompt": [render_prompt(lm, e) for e in examples],
        "n_prompt_tokens": [enc.n_prompt for enc in encoded],
        "n_tokens": [len(enc.ids) for enc in encoded],
    }
    if any(e.response is not None for e in examples):
        table["response"] = [e.response or "" for e in examples]
    if any(e.label is not None for e in examples):
        table["label"] = [-1 if e.label is None else e.label for e in examples]
    if any(e.id is not None for e in examples):
        table["id"] = [e.id or "" for e in examples]
    if any(e.group is not None for e in examples):
        table["group"] = [-1 if e.group is None else e.group for e in examples]
    if any(e.messages is not None for e in examples):
        table["messages"] = [json.dumps(e.messages) if e.messages else "" for e in examples]
    if any(e.extra for e in examples):
        table["extra"] = [json.dumps(e.extra, sort_keys=True) for e in examples]
    return table


def _examples_digest(examples: list[Example]) -> str:
    digest = hashlib.sha256()
    for e in examples:
        digest.update(json.dumps([e.text, e.messages, e.response, e.label, e.id, e.group], sort_keys=True).encode())
    return digest.hexdigest()


def _check_inputs(examples: list[Example], config: CacheConfig) -> None:
    if not examples:
        raise ExampleError("no examples to cache")
    if POSITION_RULES[config.positions].needs_response:
        for i, e in enumerate(examples):
            if e.response is None:
                raise ExampleError(
                    f"{example_label(e, i)} has no 'response', which positions {config.positions!r} needs"
                )


def _check_responses(examples: list[Example], encoded, config: CacheConfig) -> None:
    """A response of zero tokens has no row to give (its response-mean would be NaN): refuse it here."""
    if not POSITION_RULES[config.positions].needs_response:
        return
    for i, (example, enc) in enumerate(zip(examples, encoded)):
        if len(enc.ids) == enc.n_prompt:
            where = f"example {i + 1} (counted from 1" + (f", id {example.id})" if example.id else ")")
            raise ExampleError(
                f"{where}: its response {example.response!r} tokenizes to zero tokens, so positions "
                f"{config.positions!r} has no token to read; give it a response the tokenizer "
                "keeps, or leave the example out"
            )


def _attrs(lm, config, layers, examples, shard: ShardPlan, directions_digest) -> dict:
    from interp.models.version import __version__

    return {
        "model": lm.name,
        "weights_id": lm.weights_id,
        "layers": np.asarray(layers, dtype=np.int64),
        "positions": config.positions,
        "dtype": config.dtype,
        "store": config.store,
        "compression": config.compression or "none",
        "examples_sha256": _examples_digest(examples),
        "example_start": shard.start,
        "n_examples": shard.stop - shard.start,
        "n_examples_total": len(examples),
        "directions_sha256": directions_digest,
        "d_model": lm.d_model,
        "interp_version": __version__,
        "config": json.dumps(asdict(config)),
    }


def forward_batch(
    lm, batch: Batch, layers: list[int], rule: PositionRule
) -> tuple[dict[int, torch.Tensor], torch.Tensor]:
    """One batch run as far as the deepest of `layers`: ({layer: hidden [batch, seq, d_model]}, the
    rule's selection [batch, seq] of the tokens that become rows, on the CPU)."""
    device = lm.device
    select_BS = rule.select(batch.attention_BS, batch.position_ids_BS, batch.n_prompt_B)
    hidden = run_to_layers(
        lm,
        layers,
        input_ids=batch.input_ids_BS.to(device),
        attention_mask=batch.attention_BS.to(device),
        position_ids=batch.position_ids_BS.to(device),
    )
    return hidden, select_BS


def _process_batch(lm, batch: Batch, layers, config, n_classes, directions, labels, copier) -> BatchOutput:
    rule = POSITION_RULES[config.positions]
    device = lm.device
    hidden, select_BS = forward_batch(lm, batch, layers, rule)
    if rule.mean:
        counts_B, position_N = torch.ones(len(batch.example_B), dtype=torch.long), -np.ones(len(batch.example_B))
    else:
        counts_B, position_N = select_BS.sum(-1), batch.position_ids_BS[select_BS].numpy()
    labels_B = labels[batch.example_B].to(device) if n_classes else None
    rows, proj, stats = {}, {}, {}
    for layer in layers:
        hidden_BSD, mask_BS = apply_rule(rule, hidden[layer], select_BS.to(device))
        out = fused_capture(
            hidden_BSD,
            mask_BS,
            STORAGE_DTYPES[config.dtype].torch,
            labels_B,
            n_classes,
            directions.get(layer),
            config.store,
        )
        if out.rows is not None:
            rows[layer] = out.rows
        if out.proj is not None:
            proj[layer] = out.proj
        if out.class_sum is not None:
            stats[layer] = (out.class_sum, out.class_sumsq, out.class_count)
    host, event = copier.to_host({"rows": rows, "proj": proj, "stats": stats})
    return BatchOutput(
        batch.example_B.numpy(),
        counts_B.numpy(),
        position_N.astype(np.int32),
        host["rows"],
        host["proj"],
        host["stats"],
        event,
    )


def cache_activations(
    lm,
    examples: list[Example],
    out_path: str | Path,
    config: CacheConfig | None = None,
    progress: bool = True,
    *,
    overwrite: bool = False,
) -> CacheResult:
    """Run `examples` through `lm` and write the selected residual-stream rows to `out_path`.

    A file already at `out_path` from the same run (model, layers, positions, dtype, examples) is
    resumed where it stopped (a complete one is returned as it is, `tokens` 0); one from a
    different run is refused (`StoreMismatchError`), or replaced with `overwrite=True`. Under
    torchrun each rank writes `OUT.rank{r}.h5` and rank 0 joins them into `out_path`.
    """
    config = config or CacheConfig()
    _check_inputs(examples, config)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    layers = parse_layers(config.layers, lm.n_layers)
    directions: dict[int, torch.Tensor] = {}
    directions_digest: str | None = None
    if config.directions:
        directions, directions_digest = load_directions(config.directions, layers, lm.d_model)
    shard = plan_shard(out_path, len(examples))
    encoded = _encode(lm, examples, config)
    attrs = _attrs(lm, config, layers, examples, shard, directions_digest)
    with contextlib.ExitStack() as locks:
        locks.enter_context(write_lock(shard.path))
        if shard.path != out_path and shard.rank == 0:
            locks.enter_context(write_lock(out_path))  # rank 0 writes the joined file
        if overwrite:  # under the locks: no other writer is using the files
            for path in {shard.path, out_path} if shard.rank == 0 else {shard.path}:
                path.unlink(missing_ok=True)
        return _write(lm, examples, encoded, shard, out_path, attrs, layers, config, directions, progress)


def cache(
    lm, examples, path: str | Path, *, overwrite: bool = False, progress: bool = True, **config: Any
) -> CacheResult:
    """`cache_activations` with `CacheConfig`'s fields as keywords (`layers`, `positions`, `dtype`, ...)
    and examples in any form `as_examples` takes (a JSONL path, prompts, chats, contrast pairs, ...).

    A file already at `path` is resumed or returned when it holds the same run, refused when it
    holds another, and replaced with `overwrite=True`.

    >>> interp.cache(lm, "prompts.jsonl", "acts.h5", layers="all", positions="last")  # doctest: +SKIP
    """
    unknown = sorted(set(config) - {f.name for f in fields(CacheConfig)})
    if unknown:
        raise TypeError(
            f"cache() got {', '.join(unknown)}; the settings are CacheConfig's fields: "
            + ", ".join(f.name for f in fields(CacheConfig))
        )
    return cache_activations(lm, as_examples(examples), path, CacheConfig(**config), progress, overwrite=overwrite)


def _signature_with_config(fn, config_type) -> inspect.Signature:
    """`fn`'s signature with the config's fields (and defaults) in place of `**config`, for help() and editors."""
    signature = inspect.signature(fn)
    params = [p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    params += [
        inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=f.type)
        for f in fields(config_type)
    ]
    return signature.replace(parameters=params)


cache.__signature__ = _signature_with_config(cache, CacheConfig)  # type: ignore[attr-defined]


def _encode(lm, examples: list[Example], config: CacheConfig) -> list[EncodedExample]:
    """Token ids of every example, fitted to the model's context (refused or cut, per `config.truncate`)."""
    encoded = []
    for i, example in enumerate(examples):
        try:
            encoded.append(encode_example(lm, example))
        except ExampleError as err:
            raise ExampleError(f"{example_label(example, i)}: {err}") from None
    _check_responses(examples, encoded, config)
    # every rule but "all" reads the last prompt token or the response, which a cut must keep
    encoded, cut = fit_to_context(examples, encoded, lm.context_length, config.positions != "all", config.truncate)
    if cut:
        named = ", ".join(example_label(examples[i], i) for i in cut[:5]) + (", ..." if len(cut) > 5 else "")
        warnings.warn(
            f"cut {len(cut)} example(s) to the model's context of {lm.context_length} tokens: {named}", stacklevel=3
        )
    return encoded


def _write(
    lm, examples, encoded, shard: ShardPlan, out_path: Path, attrs, layers, config, directions, progress
) -> CacheResult:
    """Create or resume this process's file, run the missing examples, finalise (and join the shards)."""
    labels = torch.tensor([-1 if e.label is None else e.label for e in examples], dtype=torch.long)
    n_classes = max(2, int(labels.max()) + 1) if bool((labels >= 0).any()) else 0
    if shard.path.exists():
        handle = open_existing(shard.path, attrs)
    else:
        # Built under another name and renamed once whole, so a kill (or Ctrl-C) while the datasets
        # are being laid out never leaves a half-made file where a rerun would resume.
        creating = shard.path.with_name(shard.path.name + ".creating")
        handle = create_file(
            creating,
            attrs,
            _examples_table(lm, examples, encoded),
            layers,
            lm.d_model,
            config.dtype,
            config.compression,
            config.store,
            n_classes,
            len(next(iter(directions.values()))) if directions else 0,
        )
        os.replace(creating, shard.path)
    started = time.perf_counter()
    tokens = 0
    try:
        if not handle.attrs[COMPLETE]:
            tokens = _run(lm, handle, shard, encoded, layers, config, n_classes, directions, labels, progress)
    finally:
        handle.close()
    stats, n_rows = finish_file(shard.path, layers)
    if shard.world > 1:
        n_rows, path = join_shards(out_path, shard)
    else:
        path = shard.path
    return CacheResult(
        path,
        n_rows,
        len(examples) if shard.world > 1 else shard.stop - shard.start,
        tokens,
        time.perf_counter() - started,
        stats,
    )


def _row_bytes(encoded, config, n_layers, d_model, directions) -> list[int]:
    """Bytes each example's rows hold on the host until their window is written."""
    per_row = n_layers * (
        d_model * STORAGE_DTYPES[config.dtype].disk.itemsize * config.store
        + 4 * len(next(iter(directions.values()), []))
    )
    rule = POSITION_RULES[config.positions]
    return [per_row * rule.n_rows(len(e.ids), e.n_prompt) for e in encoded]


def _run(lm, handle, shard, encoded, layers, config, n_classes, directions, labels, progress) -> int:
    from tqdm.auto import tqdm

    done = shard.start + int(handle.attrs[EXAMPLES_COMMITTED])
    writer = WindowWriter(StoreSink(handle, layers), depth=config.queue_depth)
    copier = HostCopier(lm.device)
    lengths = [len(e.ids) for e in encoded]
    row_bytes = _row_bytes(encoded, config, len(layers), lm.d_model, directions)
    pad_id, side = lm.tokenizer.pad_token_id, lm.tokenizer.padding_side
    bar = tqdm(
        total=shard.stop - shard.start,
        initial=done - shard.start,
        unit="ex",
        disable=not progress or shard.rank != 0,
        desc="cache",
    )
    tokens, started = 0, time.perf_counter()
    try:
        for window in plan_windows(done, shard.stop, config.commit_every, row_bytes, config.commit_bytes):
            for indices in plan_batches(window, lengths, config.batch_size, config.max_tokens_per_batch):
                batch = collate(indices, encoded, pad_id, side)
                writer.submit(_process_batch(lm, batch, layers, config, n_classes, directions, labels, copier))
                tokens += batch.n_tokens
                bar.update(len(indices))
                bar.set_postfix(tok_s=f"{tokens / max(time.perf_counter() - started, 1e-9):.0f}")
            writer.end_window(window)
    finally:
        bar.close()
        writer.close()
    return tokens
