"""`interp cache`: residual-stream activations of a prompts file to HDF5 (resumable, shardable)."""

from __future__ import annotations

import argparse

from interp.cli.common import (
    UserError,
    add_command,
    add_model_args,
    add_shared,
    check_writable,
    layers_or_exit,
    load_model_or_exit,
)
from interp.cli.flags import CommandParser, add_config_flags, config_from
from interp.cli.output import report

EXAMPLE = """
interp cache --model Qwen/Qwen3-0.6B --prompts pairs.jsonl --layers=-4: \\
    --positions response-mean --store-dtype bfloat16 --out acts.h5
# each line of pairs.jsonl: {"messages": [{"role": "user", "content": "..."}], "response": "...", "label": 1}
# data-parallel: torchrun --nproc_per_node 2 -m interp.cli cache ... (one shard per rank, joined in acts.h5)
"""

RENAMED = {"dtype": "--store-dtype"}
"""CacheConfig field -> its flag, where the field's own name means something else here (--dtype: the model's)."""


def register(subparsers: argparse._SubParsersAction[CommandParser]) -> None:
    parser = add_command(subparsers, "cache", "extract residual-stream activations to an HDF5 file", EXAMPLE, run)
    add_model_args(parser)
    parser.add_argument("--prompts", required=True, help="JSONL: text or messages, optional response, label, id")
    add_shared(parser, "--out", "an HDF5 file (rerun the same command to resume it)", required=True)
    add_shared(parser, "--overwrite", "a file from a different run (the same run resumes, or is already complete)")
    add_shared(parser, "--no-progress")
    parser.defer(add_flags)


def add_flags(parser) -> None:
    """CacheConfig's fields as flags (`--layers`, `--positions`, `--store-dtype`, `--batch-size`, ...)."""
    from activations import CacheConfig

    add_config_flags(parser, CacheConfig, rename=RENAMED, group="what to extract and how to store it")


def _config(args):
    from activations import CacheConfig

    return config_from(args, CacheConfig)  # the layer syntax too, before a model loads


def _init_distributed(args) -> None:
    """Under torchrun: join the process group, and give each rank its own GPU when `--device cuda`."""
    import os

    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return
    on_gpu = (args.device or "cpu").startswith("cuda")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if args.device == "cuda":
        args.device = f"cuda:{local_rank}"
    if on_gpu:
        import torch

        torch.cuda.set_device(torch.device(args.device))  # NCCL's barrier runs on the current device
    dist.init_process_group("nccl" if on_gpu else "gloo")


def run(args) -> int:
    import contextlib
    import os

    from interp.models.lock import write_lock

    config = _config(args)
    check_writable("--out", args.out)
    # Under torchrun each rank locks its own shard inside cache_activations; alone, refuse a
    # second writer before the model loads.
    alone = int(os.environ.get("WORLD_SIZE", "1")) <= 1
    with write_lock(args.out) if alone else contextlib.nullcontext():
        return _run(args, config)


def _run(args, config) -> int:
    from activations import DirectionsError, ExampleError, StoreMismatchError, cache_activations, read_examples
    from activations.stream import NonFiniteStatisticsError

    try:
        examples = read_examples(args.prompts)
    except ExampleError as err:
        raise UserError(f"--prompts {err}") from None
    _init_distributed(args)
    lm = load_model_or_exit(args)
    layers_or_exit(config.layers, n_layers=lm.n_layers)
    try:
        result = cache_activations(
            lm, examples, args.out, config, progress=not args.no_progress, overwrite=args.overwrite
        )
    except StoreMismatchError as err:
        raise UserError(f"--out {err}") from None
    except ExampleError as err:
        raise UserError(f"--prompts {args.prompts}: {err}") from None
    except DirectionsError as err:
        raise UserError(f"--directions {err}") from None
    except NonFiniteStatisticsError as err:
        raise UserError(f"--out {args.out}: {err}") from None
    rate = result.tokens / max(result.seconds, 1e-9)
    stored = (
        f"{result.n_rows} rows of {result.n_examples} examples"
        if config.store
        else f"statistics of {result.n_examples} examples (no rows: --no-store)"
    )
    done = (
        f"already complete: {stored}; nothing to run (--overwrite to redo it)"
        if result.tokens == 0
        else f"{stored} ({result.tokens} tokens in {result.seconds:.1f} s, {rate:.0f} tokens/s)"
    )
    return report(
        args,
        done,
        [result.path],
        {
            "out": result.path,
            "rows": result.n_rows,
            "examples": result.n_examples,
            "tokens": result.tokens,
            "seconds": round(result.seconds, 3),
            "tokens_per_s": round(rate, 1),
            "already_complete": result.tokens == 0,
        },
    )
