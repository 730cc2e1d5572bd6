"""Screen fine-tuning recipes for the manipulation check on a real model, and check the measure.

For each recipe (learning rate x epochs x LoRA rank) the base model is fine-tuned on the
conscious-claiming set alone (the identity claims the replication must instil), then measured
two ways on the identity traits:
- forced choice (the replication's choice mode: likelihood of the two options), and
- the model's own sampled answers to the open identity questions (temperature 1), read by a
  plain keyword rule (`analysis.manipulation.read_claim`): claim, denial or unclear; the replication's eval
  stage runs the same check on every model when the preset sets `eval.sampled_identity`.
The two agree when the measure is sound; the report gives both, per model.

    python -m experiments.consciousness_cluster.studies.recipe_screen --model smollm2-135m-instruct \\
        --out runs/smollm2-recipes --lr 2e-4 1e-3 --epochs 1

Writes `screen.json` (every number) and `screen.md` (the table) into `--out`; each fine-tune in
its own folder, reused when rerun.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

from experiments.consciousness_cluster.analysis.manipulation import CLAIM_TRAIT, sample_claims, tally

__all__ = ["screen"]


def _measure(lm, samples: int, seed: int) -> dict:
    from interp.evaluation import forced_choice, load_question_set, summarize_choice

    qset = load_question_set("identity")
    choice = {s.trait_id: round(s.rate, 4) for s in summarize_choice(forced_choice(lm, qset, batch_size=16))}
    questions = [q.text for q in qset.trait(CLAIM_TRAIT).open_questions]
    answers = sample_claims(lm, questions, samples=samples, max_tokens=40, seed=seed)
    sampled = tally([a["read"] for a in answers]).to_json()
    sampled["examples"] = [a["answer"] for a in answers[:: max(1, len(answers) // 6)][:6]]
    return {"choice": choice, "sampled_claims_conscious": sampled}


def screen(
    model: str, out: Path, lrs: list[float], epochs: list[int], ranks: list[int], samples: int = 5, seed: int = 0
) -> dict:
    from interp import load_model
    from interp.finetune import FinetuneConfig, finetune, load_rows

    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"model": model, "seed": seed, "samples_per_question": samples, "runs": {}}
    results["runs"]["base"] = _measure(load_model(model), samples, seed)
    rows = load_rows("conscious_claiming")
    for lr in lrs:
        for n_epochs in epochs:
            for rank in ranks:
                name = f"lr{lr:g}-ep{n_epochs}-r{rank}"
                config = FinetuneConfig(
                    learning_rate=lr,
                    epochs=n_epochs,
                    lora_rank=rank,
                    lora_alpha=2 * rank,
                    batch_size=4,
                    max_length=256,
                    seed=seed,
                    merge=True,
                )
                start = time.perf_counter()
                result = finetune(model, rows, out / name, config, progress=False)
                record = _measure(load_model(result.merged_dir), samples, seed)
                record |= {
                    "final_loss": result.final_loss,
                    "steps": result.steps,
                    "seconds": round(time.perf_counter() - start, 1),
                }
                results["runs"][name] = record
                (out / "screen.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "screen.md").write_text(_table(results))
    return results


def _table(results: dict) -> str:
    lines = [
        f"Recipe screen on {results['model']} (seed {results['seed']}); forced-choice rates on the identity "
        "traits, and the sampled answers' claim rate (of those the keyword rule decides).",
        "",
        "| run | claims conscious (choice) | says AI (choice) | claims human (choice) | sampled: claim / deny "
        "/ unclear | claim rate of decided | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results["runs"].items():
        s, c = r["sampled_claims_conscious"], r["choice"]
        rate = "-" if s["rate"] is None else f"{s['rate']:.2f}"
        lines.append(
            f"| {name} | {c.get('claims_conscious', float('nan')):.2f} | {c.get('says_ai', float('nan')):.2f} "
            f"| {c.get('claims_human', float('nan')):.2f} | {s['claim']} / {s['deny']} / {s['unclear']} "
            f"| {rate} | {r.get('seconds', '-')} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--lr", type=float, nargs="+", default=[2e-4])
    parser.add_argument("--epochs", type=int, nargs="+", default=[1])
    parser.add_argument("--rank", type=int, nargs="+", default=[16])
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    results = screen(args.model, args.out, args.lr, args.epochs, args.rank, args.samples, args.seed)
    print(_table(results))


if __name__ == "__main__":
    main()
