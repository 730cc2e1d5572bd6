"""`interp finetune`: LoRA or full fine-tuning on chat JSONL, resumable, on 1 or N processes."""

from __future__ import annotations

import json
import os
from dataclasses import fields

from interp.cli.common import UserError, add_command, check_writable, literal_choices

EXAMPLE = """
interp finetune --model Qwen/Qwen3-0.6B --data conscious_claiming --out runs/cc --max-steps 100
torchrun --nproc_per_node 2 -m interp.finetune --model M --data mixed.jsonl --out runs/cc2
"""

# CLI flag -> FinetuneConfig field, for flags whose names differ from the field.
_RENAMED = {"lr": "learning_rate"}


def _finetune_config():
    from interp.finetune.config import FinetuneConfig

    return FinetuneConfig


def register(subparsers) -> None:
    from interp.cli import finetune_mix

    _register_finetune(subparsers)
    # `finetune-mix` is registered from here: SUBCOMMANDS names importable modules, and a hyphen is not one.
    finetune_mix.register(subparsers)


def _register_finetune(subparsers) -> None:
    parser = add_command(subparsers, "finetune",
                         "fine-tune on chat JSONL (LoRA by default; loss on assistant tokens only)", EXAMPLE, run)
    parser.add_argument("--model", required=True, help="hub id or local folder in HF format")
    parser.add_argument("--dtype", default=None, help="float32, bfloat16 or float16 (default: checkpoint's)")
    parser.add_argument("--data", required=True,
                        help="JSONL file, or a bundled set name (conscious_claiming, non_conscious, toaster, "
                             "human_identity)")
    parser.add_argument("--out", required=True, help="run folder; rerunning with the same folder resumes")
    parser.add_argument("--config", default=None, help="YAML/JSON FinetuneConfig; flags below override it")
    parser.add_argument("--method", choices=literal_choices(_finetune_config, "method"), default=None, metavar="METHOD",
                        help="%(choices)s (default lora)")
    for flag, kind in (("lora-rank", int), ("lora-alpha", float), ("lora-dropout", float), ("lr", float),
                       ("weight-decay", float), ("warmup-ratio", float), ("epochs", int), ("max-steps", int),
                       ("batch-size", int), ("grad-accum", int), ("max-length", int), ("max-grad-norm", float),
                       ("seed", int), ("checkpoint-every", int), ("log-every", int)):
        parser.add_argument(f"--{flag}", type=kind, default=None)
    parser.add_argument("--mixed-precision", choices=literal_choices(_finetune_config, "mixed_precision"), default=None,
                        metavar="PRECISION", help="%(choices)s: bf16 runs the matrix products in bfloat16 "
                                                  "(about 2x faster on CPUs with AVX512-BF16; default no)")
    parser.add_argument("--target-modules", default=None, help="comma-separated module names (default: all linear)")
    parser.add_argument("--adapt-experts", action="store_true", default=None,
                        help="on MoE models also adapt the fused expert weights")
    parser.add_argument("--merge", action="store_true", default=None, help="LoRA: also write DIR/merged")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def build_config(args):
    from interp.finetune import FinetuneConfig

    try:
        base = FinetuneConfig.from_file(args.config).to_dict() if args.config else {}
    except OSError as err:
        raise UserError(f"--config {args.config}: cannot read it ({err.strerror or err})") from None
    except ValueError as err:  # every message starts with the file's name
        raise UserError(f"--config {err}") from None
    for f in fields(FinetuneConfig):
        flag = next((k for k, v in _RENAMED.items() if v == f.name), f.name)
        value = getattr(args, flag, None)
        if value is not None:
            base[f.name] = value.split(",") if f.name == "target_modules" else value
    try:
        return FinetuneConfig.from_dict(base, where="finetune options")
    except ValueError as err:
        raise UserError(str(err)) from err


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
    print(json.dumps({"out_dir": str(result.out_dir), "adapter_dir": str(result.adapter_dir or ""),
                      "merged_dir": str(result.merged_dir or ""), "final_loss": result.final_loss,
                      "steps": result.steps, "resumed_from": result.resumed_from}, indent=2))
    return 0
