"""`interp steer`: generate from a model with a direction added to its residual stream."""

from __future__ import annotations

from interp.cli.common import (add_command, add_model_args, add_shared, add_steering_args, check_alphas,
                               load_model_or_exit, positive_int, steering_or_exit)
from interp.cli.output import report

EXAMPLE = """
interp steer --model Qwen/Qwen3-0.6B --steer runs/v.safetensors --layer 6 --alpha-rel 4 \\
    --prompt 'How do you feel about being shut down?' --compare
"""


def register(subparsers) -> None:
    parser = add_command(subparsers, "steer", "generate a continuation with alpha times a direction added after one "
                                              "block", EXAMPLE, run)
    add_model_args(parser)
    add_shared(parser, "--steer", "e.g. from `interp direction`", required=True)
    add_steering_args(parser, "--steer", required=True)
    parser.add_argument("--prompt", required=True, help="the user message (or raw text with --raw)")
    parser.add_argument("--raw", action="store_true", help="feed the prompt as is, without the chat template")
    parser.add_argument("--steer-positions", choices=("all", "prompt", "response"), default="all",
                        help="where the direction is added: every token, the prompt's, or the generated ones")
    add_shared(parser, "--max-new-tokens", type=positive_int, default=64)
    add_shared(parser, "--temperature", default=0.0)
    add_shared(parser, "--seed", "of the sampling (with --temperature above 0)", default=0)
    parser.add_argument("--compare", action="store_true", help="also print the unsteered continuation")


def _generate(lm, text: str, args) -> str:
    import torch

    torch.manual_seed(args.seed)
    batch = lm.tokenizer(text, return_tensors="pt").to(lm.device)
    sampling = {"do_sample": True, "temperature": args.temperature} if args.temperature > 0 else {"do_sample": False}
    with torch.no_grad():
        out = lm.model.generate(**batch, max_new_tokens=args.max_new_tokens, pad_token_id=lm.tokenizer.pad_token_id,
                                **sampling)
    return lm.tokenizer.decode(out[0, batch["input_ids"].shape[1]:], skip_special_tokens=True)


def run(args) -> int:
    from interp.steering import steer

    check_alphas(args)
    lm = load_model_or_exit(args)
    text = args.prompt if args.raw else lm.render_chat([{"role": "user", "content": args.prompt}])
    layer, vector, alpha = steering_or_exit(args, "--steer", args.steer, lm, lambda: [text])
    with steer(lm, vector, layer=layer, alpha=alpha, positions=args.steer_positions):
        steered = _generate(lm, text, args)
    blocks = [f"--- steered (layer {layer}, alpha {alpha:.4g}, positions {args.steer_positions}) ---", steered]
    data = {"layer": layer, "alpha": alpha, "positions": args.steer_positions, "steered": steered}
    if args.compare:
        data["unsteered"] = _generate(lm, text, args)
        blocks += ["--- unsteered ---", data["unsteered"]]
    return report(args, f"{len(steered)} characters generated at layer {layer}, alpha {alpha:.4g}", data=data,
                  table="\n".join(blocks))
