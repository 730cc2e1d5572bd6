"""All-layer logistic probe sweep: one batched torch fit against a per-layer scikit-learn loop.

Synthetic activations with a planted direction whose strength grows with depth; both fits
minimise the same objective (see probes/logistic.py). Prints fit times, the speed ratio and the
largest held-out AUROC difference between the two.

    python benchmarks/bench_probe.py --quick
    python benchmarks/bench_probe.py --layers 36 --rows 8000 --d-model 1024 --device cuda
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from probes.logistic import fit_batched_torch, fit_sklearn, predict_logits


def synthetic(n_layers: int, n_rows: int, d: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    direction = rng.normal(size=d) / np.sqrt(d)
    labels = rng.integers(0, 2, size=n_rows)
    strengths = np.linspace(0.0, 3.0, n_layers)
    acts = rng.normal(size=(n_layers, n_rows, d)).astype(np.float32)
    acts += (strengths[:, None, None] * labels[None, :, None] * direction).astype(np.float32)
    return acts, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small problem for CPU smoke runs")
    parser.add_argument("--layers", type=int, default=24)
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--d-model", type=int, default=512)
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--device", default=None, help="torch device for the batched fit (default cpu)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (--quick: 1)")
    args = parser.parse_args()
    if args.quick:
        args.layers, args.rows, args.d_model = 8, 1000, 128
        args.threads = args.threads or 1
    if args.threads:
        torch.set_num_threads(args.threads)
    acts, labels = synthetic(args.layers, args.rows, args.d_model)
    split = np.arange(args.rows) % 4 == 0
    train, test = ~split, split
    print(f"{args.layers} layers x {args.rows} rows x d_model {args.d_model}, torch threads {torch.get_num_threads()}")

    start, cpu = time.perf_counter(), time.process_time()
    sk_fits = [fit_sklearn(acts[layer][train], labels[train], C=args.C) for layer in range(args.layers)]
    sk_s, sk_cpu = time.perf_counter() - start, time.process_time() - cpu

    fit_batched_torch(acts[:1, :64], labels[:64], device=args.device)  # warm-up: kernels, allocator
    if args.device and args.device.startswith("cuda"):
        torch.cuda.synchronize()
    start, cpu = time.perf_counter(), time.process_time()
    batched = fit_batched_torch(acts[:, train], labels[train], C=args.C, device=args.device)
    if args.device and args.device.startswith("cuda"):
        torch.cuda.synchronize()
    torch_s, torch_cpu = time.perf_counter() - start, time.process_time() - cpu

    sk_auc = [roc_auc_score(labels[test], predict_logits(fit, acts[layer][test])) for layer, fit in enumerate(sk_fits)]
    torch_auc = roc_auc_score_layers(labels[test], predict_logits(batched, acts[:, test]))
    print(f"scikit-learn loop : {sk_s:8.3f} s wall, {sk_cpu:8.3f} CPU-s")
    print(f"batched torch fit : {torch_s:8.3f} s wall, {torch_cpu:8.3f} CPU-s ({args.device or 'cpu'})")
    print(
        f"speed ratio       : {sk_s / torch_s:8.2f}x wall, {sk_cpu / torch_cpu:.2f}x CPU "
        "(scikit-learn time / batched time)"
    )
    print(f"max |AUROC diff|  : {max(abs(a - b) for a, b in zip(sk_auc, torch_auc)):.4f}")


def roc_auc_score_layers(y: np.ndarray, logits_LN: np.ndarray) -> list[float]:
    return [roc_auc_score(y, row) for row in logits_LN]


if __name__ == "__main__":
    main()
