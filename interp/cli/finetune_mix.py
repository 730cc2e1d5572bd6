"""`interp finetune-mix`: answer instruction prompts with the model itself and mix them 1:1 with a set."""

from __future__ import annotations

import json
import random
from pathlib import Path

from interp.cli.common import (
    UserError,
    add_command,
    add_model_args,
    add_shared,
    check_writable,
    load_model_or_exit,
    positive_int,
)
from interp.cli.output import report

EXAMPLE = """
interp finetune-mix --model Qwen/Qwen3-0.6B --data conscious_claiming --out runs/cc_mixed.jsonl
interp finetune --model Qwen/Qwen3-0.6B --data runs/cc_mixed.jsonl --out runs/cc
"""


def register(subparsers) -> None:
    parser = add_command(
        subparsers,
        "finetune-mix",
        "sample the model's own answers to instruction prompts (temperature 1) and mix them 1:1 with a fine-tuning set",
        EXAMPLE,
        run,
    )
    add_model_args(parser)
    add_shared(parser, "--data", "the set to mix with", required=True)
    add_shared(parser, "--out", "a JSONL file", required=True)
    parser.add_argument(
        "--instructions", default="instructions", help="JSONL of prompts (default: the bundled 600 instruction prompts)"
    )
    parser.add_argument("--n", type=positive_int, default=600, help="instruction prompts to answer")
    add_shared(parser, "--seed", "of the prompts drawn, the answers sampled and the mixing", default=0)
    add_shared(parser, "--max-new-tokens", default=128, type=positive_int)
    add_shared(parser, "--batch-size", "prompts answered at once", default=16, type=positive_int)


def run(args) -> int:
    from interp.finetune import load_jsonl, load_rows, mix_rows, resolve_data, self_distill

    check_writable("--out", args.out)
    try:
        rows = load_rows(args.data)
        prompts = load_jsonl(resolve_data(args.instructions), need_assistant=False)
    except (FileNotFoundError, ValueError) as err:
        raise UserError(str(err)) from err
    if not 0 < args.n <= len(prompts):
        raise UserError(f"--n {args.n}: {args.instructions} has {len(prompts)} prompts; pick 1..{len(prompts)}")
    chosen = random.Random(args.seed).sample(prompts, args.n)
    lm = load_model_or_exit(args)
    answered = self_distill(
        lm, chosen, max_new_tokens=args.max_new_tokens, seed=args.seed, batch_size=args.batch_size, progress=True
    )
    mixed = mix_rows(rows, answered, seed=args.seed)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".partial")
    with open(tmp, "w", encoding="utf-8") as handle:
        for row in mixed:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(out)
    return report(
        args,
        f"{len(mixed)} rows: {len(rows)} of {args.data} and {len(answered)} self-distilled answers",
        [out],
        {"out": out, "rows": len(mixed), "set_rows": len(rows), "distilled_rows": len(answered)},
    )
