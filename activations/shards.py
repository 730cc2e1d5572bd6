"""Data-parallel extraction under torchrun: one shard file per rank, joined by a virtual dataset.

Rank `r` of `w` takes a contiguous block of examples and writes `OUT.rank{r}.h5`; rank 0 then
writes `OUT` whose datasets are HDF5 virtual datasets over the shards in rank order, so it reads
like a single-process file (same rows, same order, global example indices). The shards must stay
beside it (they are referenced by file name, relative to the joined file).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import h5py

from activations import schema

__all__ = ["ShardPlan", "join_shards", "plan_shard", "shard_path"]


class ShardPlan(NamedTuple):
    rank: int
    world: int
    start: int
    """first global example index of this rank"""
    stop: int
    path: Path
    """the file this rank writes"""


def shard_path(out_path: Path, rank: int) -> Path:
    return out_path.with_name(f"{out_path.stem}.rank{rank}{out_path.suffix}")


def plan_shard(out_path: Path, n_examples: int) -> ShardPlan:
    """This process's share of the examples: all of them unless torch.distributed is running."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return ShardPlan(0, 1, 0, n_examples, out_path)
    rank, world = dist.get_rank(), dist.get_world_size()
    bounds = [n_examples * r // world for r in range(world + 1)]
    return ShardPlan(rank, world, bounds[rank], bounds[rank + 1], shard_path(out_path, rank))


def _virtual(out: h5py.File, name: str, sources: list[h5py.File], files: list[str]) -> None:
    parts = [src[name] for src in sources]
    n_rows = sum(part.shape[0] for part in parts)
    layout = h5py.VirtualLayout(shape=(n_rows, *parts[0].shape[1:]), dtype=parts[0].dtype)
    offset = 0
    for part, file in zip(parts, files):
        layout[offset : offset + part.shape[0]] = h5py.VirtualSource(file, name, shape=part.shape)
        offset += part.shape[0]
    dataset = out.create_virtual_dataset(name, layout)
    dataset.attrs.update(dict(parts[0].attrs))


def _join(out_path: Path, world: int) -> int:
    paths = [shard_path(out_path, r) for r in range(world)]
    sources = [h5py.File(p, "r") for p in paths]
    try:
        incomplete = [str(p) for p, s in zip(paths, sources) if not s.attrs[schema.COMPLETE]]
        if incomplete:
            raise RuntimeError(f"cannot join incomplete shards: {', '.join(incomplete)}")
        first = sources[0]
        n_rows = sum(int(s.attrs[schema.ROWS_COMMITTED]) for s in sources)
        n_examples = int(first.attrs["n_examples_total"])
        tmp = out_path.with_name(out_path.name + ".joining")
        with h5py.File(tmp, "w") as out:
            out.attrs.update(dict(first.attrs))
            out.attrs.update(
                {
                    "example_start": 0,
                    "n_examples": n_examples,
                    "shards": [p.name for p in paths],
                    schema.ROWS_COMMITTED: n_rows,
                    schema.EXAMPLES_COMMITTED: n_examples,
                    schema.COMPLETE: True,
                }
            )
            first.copy(schema.EXAMPLES, out)
            names = [schema.INDEX_EXAMPLE, schema.INDEX_POSITION]
            names += [f"{g}/{n}" for g in (schema.ACTS, schema.PROJ) if g in first for n in first[g]]
            for name in names:  # each with its attributes (the storage dtype of /acts)
                _virtual(out, name, sources, [p.name for p in paths])
            if schema.STATS in first:
                _sum_stats(out, sources)
        tmp.replace(out_path)
    finally:
        for source in sources:
            source.close()
    return n_rows


def _sum_stats(out: h5py.File, sources: list[h5py.File]) -> None:
    from activations.stream import mean_difference

    for key in sources[0][schema.STATS]:
        layer = schema.layer_of(key)
        if layer is None:  # statistics are kept per layer; nothing else belongs in their group
            continue
        group = out.create_group(schema.stats_path(layer))
        for field in schema.STATS_FIELDS:
            group[field] = sum(s[schema.stats_path(layer)][field][...] for s in sources)
        out.create_dataset(schema.direction_path(layer), data=mean_difference(group["sum"][...], group["count"][...]))


def join_shards(out_path: Path, shard: ShardPlan) -> tuple[int, Path]:
    """Wait for every rank, join on rank 0, wait again; returns (rows in the joined file, its path)."""
    import torch.distributed as dist

    dist.barrier()
    if shard.rank == 0:
        _join(out_path, shard.world)
    dist.barrier()
    with h5py.File(out_path, "r") as joined:
        return int(joined.attrs[schema.ROWS_COMMITTED]), out_path
