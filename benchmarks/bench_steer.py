"""Steering cost during generation, measured in one run on a random-weight Qwen3 config.

1. Steered against unsteered greedy generation with the KV cache (tokens/s; target >= 0.95x).
2. K alphas in one batch (a [K] alpha tensor, one row each) against K runs one by one.
Runs alternate between the settings being compared; each side reports its fastest run (wall
clock) and its median CPU time of this process, the two estimates that load from other
processes on a shared machine disturbs least. `--quick` uses one torch thread
(`--threads`) for the same reason.

    python benchmarks/bench_steer.py --quick
    python benchmarks/bench_steer.py --hidden 2048 --layers 24 --device cuda
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from transformers import AutoConfig, AutoModelForCausalLM

from interp.models import LoadedModel
from interp.steering import steer


class _NoTokenizer:
    pad_token = eos_token = "<pad>"


def build(hidden: int, layers: int, vocab: int, device: str) -> LoadedModel:
    config = AutoConfig.for_model(
        "qwen3",
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=hidden * 3,
        num_hidden_layers=layers,
        num_attention_heads=max(1, hidden // 64),
        num_key_value_heads=max(1, hidden // 128),
        head_dim=64,
        max_position_embeddings=4096,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=1,
    )
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32).to(device).eval()
    return LoadedModel.wrap(model, _NoTokenizer(), name="random-qwen3")


def timed(fn, device: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one call."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - wall, time.process_time() - cpu


def summary(runs: list[tuple[float, float]]) -> tuple[float, float]:
    """(fastest wall time, median CPU time)."""
    return min(w for w, _ in runs), statistics.median(c for _, c in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for 2 CPU cores (< 2 min)")
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--vocab", type=int, default=8192)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--prompt-len", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--alphas", type=int, default=8, help="K: alphas in one batch")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (--quick: 1)")
    args = parser.parse_args()
    if args.quick:
        args.hidden, args.layers, args.vocab, args.new_tokens, args.repeats = 256, 4, 4096, 16, 9
        args.threads = args.threads or 1
    if args.threads:
        torch.set_num_threads(args.threads)
    lm = build(args.hidden, args.layers, args.vocab, args.device)
    layer = args.layers // 2
    vector = torch.randn(args.hidden) * 0.5
    gen = dict(max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens, do_sample=False, pad_token_id=0)

    def generate(ids, alpha=None):
        with torch.no_grad():
            if alpha is None:
                return lm.model.generate(input_ids=ids, **gen)
            with steer(lm, vector, layer=layer, alpha=alpha):
                return lm.model.generate(input_ids=ids, **gen)

    ids = torch.randint(2, args.vocab, (args.batch, args.prompt_len), device=args.device)
    generate(ids), generate(ids, 1.0)  # warm-up
    plain, steered = [], []
    for _ in range(args.repeats):
        plain.append(timed(lambda: generate(ids), args.device))
        steered.append(timed(lambda: generate(ids, 1.0), args.device))
    tokens = args.batch * args.new_tokens
    (plain_w, plain_c), (steer_w, steer_c) = summary(plain), summary(steered)
    print(
        f"random Qwen3: hidden {args.hidden}, {args.layers} layers, vocab {args.vocab}, {args.device}, "
        f"torch threads {torch.get_num_threads()}"
    )
    print(
        f"unsteered generation : {tokens / plain_w:9.1f} tokens/s wall, {tokens / plain_c:9.1f} per CPU-s "
        f"(batch {args.batch}, {args.new_tokens} new tokens)"
    )
    print(f"steered generation   : {tokens / steer_w:9.1f} tokens/s wall, {tokens / steer_c:9.1f} per CPU-s")
    print(f"steered / unsteered  : {plain_w / steer_w:9.3f}x wall, {plain_c / steer_c:.3f}x CPU (target >= 0.95)")

    alphas = torch.linspace(-4, 4, args.alphas)
    one = torch.randint(2, args.vocab, (1, args.prompt_len), device=args.device)
    batched, serial = [], []
    for _ in range(max(1, args.repeats // 2)):
        batched.append(timed(lambda: generate(one.expand(args.alphas, -1), alphas), args.device))
        serial.append(timed(lambda: [generate(one, float(a)) for a in alphas], args.device))
    (b_w, b_c), (s_w, s_c) = summary(batched), summary(serial)
    print(
        f"{args.alphas} alphas in one batch : {b_w:7.3f} s wall ({b_c:.3f} CPU-s); one by one: {s_w:7.3f} s wall "
        f"({s_c:.3f} CPU-s); speed-up {s_w / b_w:.2f}x wall, {s_c / b_c:.2f}x CPU"
    )


if __name__ == "__main__":
    main()
