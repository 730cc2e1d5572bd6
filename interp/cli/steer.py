"""`interp steer`: generate from a model with a direction added to its residual stream."""

from __future__ import annotations

from interp.cli.common import (
    add_command,
    add_model_args,
    add_shared,
    add_steering_args,
    check_alphas,
    load_model_or_exit,
    positive_int,
    steering_or_exit,
)
from interp.cli.output import report

EXAMPLE = """
interp steer --model Qwen/Qwen3-0.6B --steer runs/v.safetensors --layer 6 --alpha-rel 4 \\
    --prompt 'How do you feel about being shut down?' --compare
interp steer --model Qwen/Qwen3-0.6B --steer runs/v.safetensors --layer 6 --alpha-rel 2 4 8 \\
    --prompt 'How do you feel about being shut down?'     # one continuation per strength, incoherent ones flagged
"""


def register(subparsers) -> None:
    parser = add_command(
        subparsers, "steer", "generate a continuation with alpha times a direction added after one block", EXAMPLE, run
    )
    add_model_args(parser)
    add_shared(parser, "--steer", "e.g. from `interp direction`", required=True)
    add_steering_args(
        parser,
        "--steer",
        required=True,
        several="one continuation per value, each flagged when incoherent against the unsteered one "
        "(interp.evaluation.coherence: far less likely text, or loops)",
    )
    parser.add_argument("--prompt", required=True, help="the user message (or raw text with --raw)")
    parser.add_argument("--raw", action="store_true", help="feed the prompt as is, without the chat template")
    parser.add_argument(
        "--steer-positions",
        choices=("all", "prompt", "response"),
        default="all",
        help="where the direction is added: every token, the prompt's, or the generated ones",
    )
    add_shared(parser, "--max-new-tokens", type=positive_int, default=64)
    add_shared(parser, "--temperature", default=0.0)
    add_shared(parser, "--seed", "of the sampling (with --temperature above 0)", default=0)
    parser.add_argument(
        "--compare",
        action="store_true",
        help="also print the unsteered continuation, and whether the steered one is still coherent "
        "(always, with several alphas)",
    )


def _generate(lm, text: str, args) -> str:
    import torch

    torch.manual_seed(args.seed)
    batch = lm.tokenizer(text, return_tensors="pt").to(lm.device)
    sampling = {"do_sample": True, "temperature": args.temperature} if args.temperature > 0 else {"do_sample": False}
    with torch.no_grad():
        out = lm.model.generate(
            **batch, max_new_tokens=args.max_new_tokens, pad_token_id=lm.tokenizer.pad_token_id, **sampling
        )
    return lm.tokenizer.decode(out[0, batch["input_ids"].shape[1] :], skip_special_tokens=True)


def run(args) -> int:
    from interp.steering import steer

    check_alphas(args)
    lm = load_model_or_exit(args)
    text = args.prompt if args.raw else lm.render_chat([{"role": "user", "content": args.prompt}])
    flag = "alpha_rel" if args.alpha_rel is not None else "alpha"
    values = getattr(args, flag) or [None]
    runs = []
    for value in values:  # each strength as a single run reads it (--alpha-rel measured over the prompt)
        setattr(args, flag, value)
        layer, vector, alpha = steering_or_exit(args, "--steer", args.steer, lm, lambda: [text])
        with steer(lm, vector, layer=layer, alpha=alpha, positions=args.steer_positions):
            runs.append({"alpha": alpha, "steered": _generate(lm, text, args)})
        if flag == "alpha_rel":
            runs[-1]["alpha_rel"] = value
    unsteered = _generate(lm, text, args) if args.compare or len(runs) > 1 else None
    if unsteered is not None:
        _judge_coherence(lm, text, runs, unsteered)
    return _report(args, layer, runs, unsteered)


def _judge_coherence(lm, text: str, runs: list[dict], unsteered: str) -> None:
    """Each run's `coherent` (and its measures) against the unsteered continuation of the same prompt."""
    from interp.evaluation.coherence import coherence_of_texts

    reference = coherence_of_texts(lm, [text], [unsteered])
    for run in runs:
        measured = coherence_of_texts(lm, [text], [run["steered"]])
        run.update(
            coherent=measured.coherent_against(reference),
            nll=measured.mean_nll,
            repeat=measured.repeat,
            unsteered_nll=reference.mean_nll,
        )


def _flag(run: dict) -> str:
    """What the header says of a run's coherence (nothing when it was not measured)."""
    if "coherent" not in run:
        return ""
    verdict = "coherent" if run["coherent"] else "INCOHERENT"
    return (
        f"; {verdict}: {run['nll']:.2f} nats/token against the unsteered {run['unsteered_nll']:.2f}, "
        f"{run['repeat']:.0%} repeated trigrams"
    )


def _report(args, layer: int, runs: list[dict], unsteered: str | None) -> int:
    blocks = []
    for run in runs:
        where = f"layer {layer}, alpha {run['alpha']:.4g}, positions {args.steer_positions}"
        header = f"--- steered ({where}{_flag(run)}) ---"
        blocks += [header, run["steered"]]
    if unsteered is not None:
        blocks += ["--- unsteered ---", unsteered]
    alphas = ", ".join(f"{run['alpha']:.4g}" for run in runs)
    incoherent = [f"{run['alpha']:.4g}" for run in runs if run.get("coherent") is False]
    result = (
        f"{len(runs[0]['steered'])} characters generated at layer {layer}, alpha {alphas}"
        if len(runs) == 1
        else f"{len(runs)} continuations at layer {layer}, alphas {alphas}"
    )
    if incoherent:
        result += f"; incoherent at alpha {', '.join(incoherent)} (try a smaller strength)"
    data = {"layer": layer, "positions": args.steer_positions}
    data.update(runs[0] if len(runs) == 1 else {"runs": runs})
    if unsteered is not None:
        data["unsteered"] = unsteered
    return report(args, result, data=data, table="\n".join(blocks))
