"""`interp finetune`: LoRA or full fine-tuning on chat JSONL, resumable, on 1 or N processes."""

from __future__ import annotations

import argparse
import os

from interp.cli.common import UserError, add_command, add_shared, check_writable
from interp.cli.flags import CommandParser, add_config_flags, config_from
from interp.cli.output import report

EXAMPLE = """
interp finetune --model Qwen/Qwen3-0.6B --data conscious_claiming --out runs/cc --max-steps 100
torchrun --nproc_per_node 2 -m interp.cli finetune --model M --data mixed.jsonl --out runs/cc2
"""

RENAMED = {"learning_rate": "--lr"}
"""FinetuneConfig field -> its flag, where users type another name."""


def register(subparsers: argparse._SubParsersAction[CommandParser]) -> None:
    from interp.cli import finetune_mix

    _register_finetune(subparsers)
    # `finetune-mix` is registered from here: SUBCOMMANDS names importable modules, and a hyphen is not one.
    finetune_mix.register(subparsers)


def _register_finetune(subparsers) -> None:
    parser = add_command(
        subparsers, "finetune", "fine-tune on chat JSONL (LoRA by default; loss on assistant tokens only)", EXAMPLE, run
    )
    add_shared(parser, "--model", "a hub id or a local folder in HF format", required=True)
    add_shared(parser, "--dtype")
    add_shared(parser, "--data", "bundled: conscious_claiming, non_conscious, toaster, human_identity", required=True)
    add_shared(parser, "--out", "the run folder; rerunning with the same folder resumes", required=True)
    parser.add_argument(
        "--config",
        default=None,
        help="a YAML/JSON file of FinetuneConfig fields (or a run's finetune_config.json); the flags below override it",
    )
    add_shared(parser, "--no-progress")
    parser.defer(add_flags)


def add_flags(parser) -> None:
    """FinetuneConfig's fields as flags."""
    from interp.finetune.config import FinetuneConfig

    add_config_flags(
        parser,
        FinetuneConfig,
        rename=RENAMED,
        group="training (FinetuneConfig; defaults: the paper's open-model recipe)",
    )


def build_config(args):
    from interp.finetune import FinetuneConfig

    try:
        base = FinetuneConfig.from_file(args.config).to_dict() if args.config else {}
    except OSError as err:
        raise UserError(f"--config {args.config}: cannot read it ({err.strerror or err})") from None
    except ValueError as err:  # every message starts with the file's name
        raise UserError(f"--config {err}") from None
    return config_from(args, FinetuneConfig, base, where=f"--config {args.config}")


def run(args) -> int:
    from interp.finetune import finetune, resolve_data

    config = build_config(args)
    check_writable("--out", args.out, folder=True)
    try:
        data = resolve_data(args.data)
    except FileNotFoundError as err:
        raise UserError(f"--data {err}") from err
    try:
        result = finetune(args.model, data, args.out, config, progress=not args.no_progress, dtype=args.dtype)
    except (FileNotFoundError, ValueError, OSError) as err:
        raise UserError(str(err)) from err
    if int(os.environ.get("RANK", "0")) != 0:
        return 0  # under torchrun / accelerate launch, one summary is enough
    outputs = [p for p in (result.adapter_dir, result.merged_dir) if p] or [result.out_dir]
    resumed = f", resumed from step {result.resumed_from}" if result.resumed_from else ""
    return report(
        args,
        f"{config.method} fine-tune, {result.steps} steps, final loss {result.final_loss:.4g}{resumed}",
        outputs,
        {
            "out_dir": result.out_dir,
            "adapter_dir": result.adapter_dir or "",
            "merged_dir": result.merged_dir or "",
            "final_loss": result.final_loss,
            "steps": result.steps,
            "resumed_from": result.resumed_from,
        },
    )
