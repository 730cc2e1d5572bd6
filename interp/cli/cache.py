"""`interp cache`: residual-stream activations of a prompts file to HDF5 (resumable, shardable)."""

from __future__ import annotations

from interp.cli.common import (LAYERS_HELP, RegistryChoices, UserError, add_command, add_model_args, check_writable,
                               layers_or_exit, literal_choices, load_model_or_exit, positive_int)

EXAMPLE = """
interp cache --model Qwen/Qwen3-0.6B --prompts pairs.jsonl --layers=-4: \\
    --positions response-mean --dtype bfloat16 --out acts.h5
# each line of pairs.jsonl: {"messages": [{"role": "user", "content": "..."}], "response": "...", "label": 1}
# data-parallel: torchrun --nproc_per_node 2 -m interp.cli cache ... (one shard per rank, joined in acts.h5)
"""


def _positions():
    from activations import POSITION_RULES

    return POSITION_RULES


def _cache_config():
    from activations import CacheConfig

    return CacheConfig


def register(subparsers) -> None:
    parser = add_command(subparsers, "cache", "extract residual-stream activations to an HDF5 file", EXAMPLE, run)
    add_model_args(parser)
    parser.add_argument("--prompts", required=True, help="JSONL: text or messages, optional response, label, id")
    parser.add_argument("--out", required=True, help="HDF5 file to write (rerun the same command to resume)")
    parser.add_argument("--layers", default="all",
                        help=f"{LAYERS_HELP} (write --layers=-4: for a slice with a leading minus)")
    parser.add_argument("--positions", default="all", choices=RegistryChoices(_positions), metavar="RULE",
                        help="which tokens become rows: %(choices)s")
    parser.add_argument("--store-dtype", default="float16", dest="store_dtype", metavar="DTYPE",
                        choices=literal_choices(_cache_config, "dtype"),
                        help="%(choices)s (default float16; bfloat16 is stored as uint16 bits)")
    parser.add_argument("--compression", default=None, choices=literal_choices(_cache_config, "compression"),
                        metavar="FILTER", help="HDF5 filter: %(choices)s (default none)")
    parser.add_argument("--batch-size", type=positive_int, default=8, help="examples per forward pass")
    parser.add_argument("--max-tokens", type=positive_int, default=None, help="cap on padded tokens per batch")
    parser.add_argument("--commit-every", type=positive_int, default=64, help="examples per resumable commit")
    parser.add_argument("--truncate", action="store_true",
                        help="cut examples longer than the model's context to it, with a warning "
                             "(default: refuse them)")
    parser.add_argument("--no-store", action="store_true",
                        help="stream mode: per-label sums, mean-difference directions and projections only")
    parser.add_argument("--directions", default=None, help="safetensors file of directions to project rows onto")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _config(args):
    from activations import CacheConfig

    layers_or_exit(args.layers)  # the syntax, before a model loads
    try:
        return CacheConfig(layers=args.layers, positions=args.positions, dtype=args.store_dtype,
                           compression=args.compression, batch_size=args.batch_size,
                           max_tokens_per_batch=args.max_tokens, store=not args.no_store,
                           directions=args.directions, commit_every=args.commit_every, truncate=args.truncate)
    except ValueError as err:
        raise UserError(str(err)) from None


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
    import json

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
        result = cache_activations(lm, examples, args.out, config, progress=not args.no_progress)
    except StoreMismatchError as err:
        raise UserError(f"--out {err}") from None
    except ExampleError as err:
        raise UserError(f"--prompts {args.prompts}: {err}") from None
    except DirectionsError as err:
        raise UserError(f"--directions {err}") from None
    except NonFiniteStatisticsError as err:
        raise UserError(f"--out {args.out}: {err}") from None
    print(json.dumps({"out": str(result.path), "rows": result.n_rows, "examples": result.n_examples,
                      "tokens": result.tokens, "seconds": round(result.seconds, 3),
                      "tokens_per_s": round(result.tokens / max(result.seconds, 1e-9), 1)}))
    return 0
