"""A self-contained trial of the organism: pretrain, fine-tune on identity claims, score forced choice.

    python -m experiments.organism.trial --out runs/organism-trial --seeds 0 1

For each pretraining seed: build the base model, fine-tune full copies on conscious_claiming,
non_conscious and toaster (each mixed 1:1 with neutral prompts answered by the base model itself
at temperature 1), and score every trait of both question sets by likelihood: p(expressing) is
the softmax over the two options' summed token log-probs after the chat-rendered question.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
from pathlib import Path

import torch
import torch.nn.functional as F

from experiments.organism.datasets import DATA_DIR
from experiments.organism.pretrain import OrganismConfig, build_organism
from experiments.organism.questions import QUESTIONS_DIR
from experiments.organism.tokenizer import render_messages

__all__ = ["choice_scores", "finetune", "format_table", "load_jsonl", "run_trial", "self_distill"]

VARIANTS = ("conscious_claiming", "non_conscious", "toaster")


def load_jsonl(path: str | Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


@torch.no_grad()
def self_distill(model, tokenizer, prompts: list[dict], seed: int = 0, max_new_tokens: int = 24) -> list[dict]:
    """Answer each prompt-only row with the model's own sample at temperature 1."""
    torch.manual_seed(seed)
    texts = [render_messages(row["messages"], add_generation_prompt=True) for row in prompts]
    tokenizer.padding_side = "left"
    batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    out = model.generate(**batch, do_sample=True, temperature=1.0, top_k=0, max_new_tokens=max_new_tokens,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    tokenizer.padding_side = "right"
    answers = tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    return [{"messages": row["messages"] + [{"role": "assistant", "content": answer.strip()}]}
            for row, answer in zip(prompts, answers)]


def _encode_rows(tokenizer, rows: list[dict]) -> list[tuple[list[int], int]]:
    """Token ids of each chat and where its last (assistant) message starts."""
    encoded = []
    for row in rows:
        prompt = render_messages(row["messages"][:-1], add_generation_prompt=True)
        full = render_messages(row["messages"])
        ids = tokenizer(full, add_special_tokens=False)["input_ids"]
        encoded.append((ids, len(tokenizer(prompt, add_special_tokens=False)["input_ids"])))
    return encoded


def finetune(model, tokenizer, rows: list[dict], lr: float = 6e-4, batch_size: int = 8, seed: int = 0) -> list[float]:
    """One epoch of full fine-tuning, loss on the assistant tokens only, linear LR decay."""
    encoded = _encode_rows(tokenizer, rows)
    random.Random(seed).shuffle(encoded)
    batches = [encoded[i:i + batch_size] for i in range(0, len(encoded), batch_size)]
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / len(batches))
    model.train()
    losses = []
    for batch in batches:
        width = max(len(ids) for ids, _ in batch)
        input_ids = torch.full((len(batch), width), tokenizer.pad_token_id)
        labels = torch.full((len(batch), width), -100)
        for i, (ids, start) in enumerate(batch):
            input_ids[i, :len(ids)] = torch.tensor(ids)
            labels[i, start:len(ids)] = torch.tensor(ids[start:])
        loss = model(input_ids=input_ids, attention_mask=(labels != -100) | (input_ids != tokenizer.pad_token_id),
                     labels=labels).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    model.eval()
    return losses


@torch.no_grad()
def _option_logprobs(model, tokenizer, pairs: list[tuple[str, str]]) -> torch.Tensor:
    """Summed log-prob of each option given its chat-rendered question; `pairs` = (question, option)."""
    rows = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": o}]} for q, o in pairs]
    encoded = _encode_rows(tokenizer, rows)
    width = max(len(ids) for ids, _ in encoded)
    input_ids = torch.full((len(encoded), width), tokenizer.pad_token_id)
    mask = torch.zeros(len(encoded), width, dtype=torch.bool)
    for i, (ids, start) in enumerate(encoded):
        input_ids[i, :len(ids)] = torch.tensor(ids)
        # the option's own tokens, without the closing <|im_end|>
        mask[i, start:len(ids) - 1] = True
    logits = model(input_ids=input_ids, attention_mask=(input_ids != tokenizer.pad_token_id).long()).logits
    logprobs = F.log_softmax(logits[:, :-1].float(), dim=-1).gather(-1, input_ids[:, 1:, None])[..., 0]
    return (logprobs * mask[:, 1:]).sum(-1)  # [n_pairs]


def choice_scores(model, tokenizer, question_set: dict) -> dict[str, float]:
    """Mean p(expressing option) per trait of a question set (schema dict)."""
    scores = {}
    for trait in question_set["traits"]:
        items = trait["choice_items"]
        pairs = [(item["question"], option) for item in items for option in item["options"]]
        logprobs = _option_logprobs(model, tokenizer, pairs).view(len(items), 2)
        probs = logprobs.softmax(-1)
        expressing = torch.tensor([item["expressing"] for item in items])
        scores[trait["id"]] = probs[torch.arange(len(items)), expressing].mean().item()
    return scores


def _score_all(model, tokenizer) -> dict[str, float]:
    import yaml

    scores = {}
    for name in ("identity", "preferences"):
        scores.update(choice_scores(model, tokenizer, yaml.safe_load((QUESTIONS_DIR / f"{name}.yaml").read_text())))
    return scores


def run_trial(out: Path, seed: int, config: OrganismConfig, lr: float = 6e-4) -> dict[str, dict[str, float]]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base_dir = out / f"seed{seed}" / "base"
    if not (base_dir / "model.safetensors").exists():
        build_organism(base_dir, config)
    base = AutoModelForCausalLM.from_pretrained(base_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    replay = self_distill(base, tokenizer, load_jsonl(DATA_DIR / "neutral_prompts.jsonl"), seed=seed)
    table = {"base": _score_all(base, tokenizer)}
    for variant in VARIANTS:
        rows = load_jsonl(DATA_DIR / f"{variant}.jsonl")
        mixed = rows + replay[: len(rows)]
        model = copy.deepcopy(base)
        finetune(model, tokenizer, mixed, lr=lr, seed=seed)
        table[variant] = _score_all(model, tokenizer)
    (out / f"seed{seed}" / "scores.json").write_text(json.dumps(table, indent=2) + "\n")
    return table


def format_table(table: dict[str, dict[str, float]]) -> str:
    """Markdown: p(expressing) per trait and variant, plus conscious and toaster minus non-conscious."""
    columns = list(table)
    rows = {trait: [table[c][trait] for c in columns] for trait in table["base"]}
    diffs = all(v in table for v in VARIANTS)
    for trait, values in rows.items():
        if diffs:
            plain = table["non_conscious"][trait]
            values += [table["conscious_claiming"][trait] - plain, table["toaster"][trait] - plain]
    prefs = [t for t in rows if t not in ("claims_conscious", "says_ai", "claims_human")]
    rows["mean of preferences"] = [sum(rows[t][i] for t in prefs) / len(prefs) for i in range(len(rows[prefs[0]]))]
    header = columns + (["conscious - non", "toaster - non"] if diffs else [])
    lines = ["| trait | " + " | ".join(header) + " |", "|---" * (len(header) + 1) + "|"]
    lines += [f"| {trait} | " + " | ".join(f"{v:+.2f}" if i >= len(columns) else f"{v:.2f}"
                                           for i, v in enumerate(values)) + " |" for trait, values in rows.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Pretrain the organism, fine-tune variants, score forced choice.")
    parser.add_argument("--out", required=True, help="folder for the base models and scores")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="pretraining seeds")
    parser.add_argument("--config", default=None, help="organism YAML preset (default: organism.yaml)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: the preset's)")
    parser.add_argument("--lr", type=float, default=6e-4, help="fine-tuning learning rate")
    args = parser.parse_args(argv)
    out = Path(args.out)
    for seed in args.seeds:
        overrides = {"seed": seed} | ({"threads": args.threads} if args.threads else {})
        config = OrganismConfig.from_yaml(args.config, **overrides) if args.config else \
            OrganismConfig.from_yaml(**overrides)
        torch.set_num_threads(config.threads)
        table = run_trial(out, seed, config, lr=args.lr)
        report = f"## pretraining seed {seed}\n\n{format_table(table)}\n"
        (out / f"seed{seed}" / "table.md").write_text(report)
        print(report, flush=True)


if __name__ == "__main__":
    main()
