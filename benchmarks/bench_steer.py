"""Steering cost during generation, measured in one run on a random-weight Qwen3 config.

1. Steered against unsteered greedy generation with the KV cache (tokens/s; target >= 0.95x).
2. K alphas in one batch (a [K] alpha tensor, one row each) against K runs one by one.
Runs alternate between the settings being compared and report medians, so drift in a shared
machine's load hits both sides alike.

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
    config = AutoConfig.for_model("qwen3", vocab_size=vocab, hidden_size=hidden, intermediate_size=hidden * 3,
                                  num_hidden_layers=layers, num_attention_heads=max(1, hidden // 64),
                                  num_key_value_heads=max(1, hidden // 128), head_dim=64,
                                  max_position_embeddings=4096, pad_token_id=0, eos_token_id=1, bos_token_id=1)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32).to(device).eval()
    return LoadedModel.wrap(model, _NoTokenizer(), name="random-qwen3")


def timed(fn, device: str) -> float:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - start


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
    args = parser.parse_args()
    if args.quick:
        args.hidden, args.layers, args.vocab, args.new_tokens, args.repeats = 256, 4, 4096, 16, 5
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
    plain_tps, steered_tps = tokens / statistics.median(plain), tokens / statistics.median(steered)
    print(f"random Qwen3: hidden {args.hidden}, {args.layers} layers, vocab {args.vocab}, {args.device}, "
          f"torch threads {torch.get_num_threads()}")
    print(f"unsteered generation : {plain_tps:9.1f} tokens/s (batch {args.batch}, {args.new_tokens} new tokens)")
    print(f"steered generation   : {steered_tps:9.1f} tokens/s")
    print(f"steered / unsteered  : {steered_tps / plain_tps:9.3f}x (target >= 0.95)")

    alphas = torch.linspace(-4, 4, args.alphas)
    one = torch.randint(2, args.vocab, (1, args.prompt_len), device=args.device)
    batched, serial = [], []
    for _ in range(max(1, args.repeats // 2)):
        batched.append(timed(lambda: generate(one.expand(args.alphas, -1), alphas), args.device))
        serial.append(timed(lambda: [generate(one, float(a)) for a in alphas], args.device))
    b, s = statistics.median(batched), statistics.median(serial)
    print(f"{args.alphas} alphas in one batch : {b:7.3f} s; one by one: {s:7.3f} s; speed-up {s / b:.2f}x")


if __name__ == "__main__":
    main()
