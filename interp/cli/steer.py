"""`interp steer`: generate from a model with a direction added to its residual stream."""

from __future__ import annotations

from interp.cli.common import (
    add_command,
    add_model_args,
    add_steering_args,
    check_alphas,
    load_model_or_exit,
    steering_or_exit,
)


def register(subparsers) -> None:
    parser = add_command(
        subparsers, "steer",
        "generate a continuation with alpha times a direction added after one block",
        "interp steer --model Qwen/Qwen3-0.6B --vector runs/v.safetensors --layer 6 --alpha-rel 4 \\\n"
        "    --prompt 'How do you feel about being shut down?' --compare",
        run,
    )
    add_model_args(parser)
    parser.add_argument("--vector", required=True, help="direction file (.safetensors) from `interp direction`")
    add_steering_args(parser, "--vector", required=True)
    parser.add_argument("--prompt", required=True, help="the user message (or raw text with --raw)")
    parser.add_argument("--raw", action="store_true", help="feed the prompt as is, without the chat template")
    parser.add_argument("--positions", choices=("all", "prompt", "response"), default="all")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    parser.add_argument("--seed", type=int, default=0)
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
    layer, vector, alpha = steering_or_exit(args, "--vector", args.vector, lm, lambda: [text])
    with steer(lm, vector, layer=layer, alpha=alpha, positions=args.positions):
        steered = _generate(lm, text, args)
    print(f"--- steered (layer {layer}, alpha {alpha:.4g}, positions {args.positions}) ---")
    print(steered)
    if args.compare:
        print("--- unsteered ---")
        print(_generate(lm, text, args))
    return 0
