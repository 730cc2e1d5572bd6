"""The GPU suite's fitting measurements: the all-layer probe sweep, and a LoRA step on the 8B-shaped model.

`probe_sweep`: one batched logistic fit of every layer on the device (`probes.fit_batched_torch`)
against scikit-learn's per-layer loop on the host, on the synthetic activations of
`benchmarks.bench_probe`. The loop is timed on a random sample of the layers that fits the budget
and scaled to all of them (the line says how many were timed); the held-out AUROC of the two fits
must agree on those layers.

`lora_step`: forward, backward and optimizer step of LoRA adapters (interp.finetune's defaults:
r 16 on every linear layer) with bfloat16 products, loss on the second half of each row.
Model FLOPs per step, counted as done (the frozen weights get no gradient):
    tokens * (4 N_linear + 6 N_lora + 3 * attention forward) + kept positions * 4 V d
where N_linear counts the blocks' linear weights, attention forward is 4 * layers * heads * head_dim
* (T + 1) / 2 per token of a causal row of T tokens, and the LM head (V x d) runs only at the kept
positions. MFU is that over the step's time and the card's measured bfloat16 matmul peak.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from benchmarks.bench_probe import synthetic
from benchmarks.gpu_context import Context, sync
from benchmarks.gpu_record import Goal, Result, at_least
from interp.finetune import IGNORE_INDEX, FinetuneConfig, TokenizedRow, make_trainable
from interp.finetune.train import _micro_loss
from probes.logistic import fit_batched_torch, fit_sklearn, predict_logits

__all__ = ["lora_step", "probe_sweep"]

GOAL_PROBE = 20.0
AUROC_TOL = 0.01  # tests/probes/test_probes_sweep.py: the batched fit's AUROC against scikit-learn's
SKLEARN_SHARE = 0.45  # of the measurement's budget left once the data is made


def _time_sklearn(ctx: Context, acts, labels, train, test) -> tuple[float, dict[int, float]]:
    """Seconds per layer of the scikit-learn loop, over a seeded random sample of layers (at least 3, or all
    when fewer), timed until its share of the budget is spent; and each timed layer's held-out AUROC."""
    order = np.random.default_rng(0).permutation(len(acts))
    stop = time.monotonic() + SKLEARN_SHARE * ctx.left()
    aurocs, seconds = {}, 0.0
    for layer in order.tolist():
        if len(aurocs) >= 3 and time.monotonic() > stop:
            break
        start = time.perf_counter()
        fit = fit_sklearn(acts[layer][train], labels[train])
        seconds += time.perf_counter() - start
        aurocs[layer] = roc_auc_score(labels[test], predict_logits(fit, acts[layer][test]))
    return seconds / len(aurocs), aurocs


def probe_sweep(ctx: Context) -> Result:
    n_layers, n_rows, d_model = ctx.sizes.probe
    acts, labels = synthetic(n_layers, n_rows, d_model)
    test = np.arange(n_rows) % 4 == 0
    train = ~test
    per_layer, sk_auroc = _time_sklearn(ctx, acts, labels, train, test)
    fit_batched_torch(acts[:1, :64], labels[:64], device=ctx.device)  # warm-up: kernels, allocator
    sync(ctx.device)
    start = time.perf_counter()
    # from host arrays, as a sweep reads them from a store
    batched = fit_batched_torch(acts[:, train], labels[train], device=ctx.device)
    sync(ctx.device)
    batched_s = time.perf_counter() - start
    logits_LN = predict_logits(batched, acts[:, test])
    diff = max(abs(roc_auc_score(labels[test], logits_LN[layer]) - auroc) for layer, auroc in sk_auroc.items())
    ratio = per_layer * n_layers / batched_s
    return Result(
        ratios={"batched_vs_sklearn_loop": ratio},
        goals=[
            at_least("batched all-layer fit / scikit-learn loop", ratio, GOAL_PROBE),
            Goal(
                "batched fit AUROC == scikit-learn's",
                f"|difference| <= {AUROC_TOL:g}",
                diff,
                bool(diff <= AUROC_TOL),
                kind="exact",
            ),
        ],
        numbers={
            "batched_s": batched_s,
            "sklearn_s_per_layer": per_layer,
            "sklearn_layers_timed": len(sk_auroc),
            "sklearn_s_all_layers_scaled": per_layer * n_layers,
            "max_auroc_difference": diff,
            "layers": n_layers,
            "rows": n_rows,
            "d_model": d_model,
            "train_rows": int(train.sum()),
        },
    )


def _rows(n_rows: int, length: int, seed: int) -> list[TokenizedRow]:
    """Random token rows, the loss on the second half of each (a chat row's answer after its prompt)."""
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(n_rows):
        ids = torch.randint(0, 256, (length,), generator=gen).tolist()
        rows.append(TokenizedRow(ids, [IGNORE_INDEX] * (length // 2) + ids[length // 2 :]))
    return rows


def _model_flops(lm, n_linear: int, n_lora: int, rows: list[TokenizedRow]) -> float:
    config = lm.model.config
    tokens = sum(len(row.input_ids) for row in rows)
    length = len(rows[0].input_ids)
    attention = 4 * config.num_hidden_layers * config.num_attention_heads * config.head_dim * (length + 1) / 2
    # _micro_loss keeps the positions where some row predicts a supervised token
    kept = sum(any(row.labels[t + 1] != IGNORE_INDEX for row in rows) for t in range(length - 1))
    return tokens * (4 * n_linear + 6 * n_lora + 3 * attention) + len(rows) * kept * 4 * config.vocab_size * lm.d_model


def lora_step(ctx: Context) -> Result:
    lm = ctx.take_model("dense")  # LoRA adapters go into the model itself
    n_linear = sum(m.weight.numel() for m in lm.layers.modules() if isinstance(m, torch.nn.Linear))
    model = make_trainable(lm.model, FinetuneConfig())
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4)
    n_rows, length = ctx.sizes.lora
    rows = _rows(n_rows, length, seed=0)
    pad_id = lm.tokenizer.pad_token_id

    def step():
        _micro_loss(model, rows, pad_id, ctx.device, bf16=True).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step()  # warm-up
    best = float("inf")
    for _ in ctx.rounds(2, 5):
        sync(ctx.device)
        start = time.perf_counter()
        step()
        sync(ctx.device)
        best = min(best, time.perf_counter() - start)
    flops = _model_flops(lm, n_linear, sum(p.numel() for p in trainable), rows)
    peak = ctx.card().bf16_flops
    tokens = n_rows * length
    return Result(
        ratios={"mfu": flops / best / peak},
        numbers={
            "tokens_per_s": tokens / best,
            "step_s": best,
            "model_flops_per_step": flops,
            "model_tflops": flops / best / 1e12,
            "bf16_matmul_peak_tflops": peak / 1e12,
            "rows": n_rows,
            "tokens_per_row": length,
            "lora_rank": FinetuneConfig().lora_rank,
            "trainable_params": sum(p.numel() for p in trainable),
            "linear_params": n_linear,
            "model": ctx.sizes.models["dense"],
        },
    )
