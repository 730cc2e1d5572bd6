"""The GPU suite's dry run (tiny shapes, CPU, Triton interpreted) and the parts that decide what it reports.

The dry run goes through every measurement's code so that the suite cannot rot between the
times a GPU is at hand; the other tests check that its exactness comparisons bite, that a
missing package stops it with one line, and that its budget and registry behave as documented.
"""

import json
import os
import subprocess
import sys
from argparse import Namespace
from datetime import datetime, timezone

import pytest
import torch

from activations import fused
from activations.fused import fused_capture_reference
from benchmarks import gpu_suite, gpu_wheels
from benchmarks.gpu_context import DRY, Context
from benchmarks.gpu_kernel import capture_inputs, compare_fused, fused_kernel
from benchmarks.gpu_record import Result, at_least, compare
from benchmarks.gpu_run import Spec, result_name, run_suite
from tests.repo import ROOT

LINE_KEYS = {
    "name",
    "suite",
    "dry_run",
    "device",
    "status",
    "ratios",
    "goals",
    "met",
    "numbers",
    "seconds",
    "budget_s",
    "within_budget",
    "peak_gpu_bytes",
    "gpu_bytes_at_start",
    "models_built_s",
}
GOAL_KEYS = {"what", "target", "value", "met", "kind"}
# each measurement's goals: (kind, target) pairs
GOALS = {
    "card.peak": [],
    "kernel.fused": [("exact", None), ("speed", ">= 1")],
    "cache.exact": [("exact", None)],
    "steer.exact": [("exact", None)],
    "steer.dense": [("speed", ">= 0.98")],
    "steer.alphas": [("speed", ">= 6.4")],
    "lora.dense": [],
    "probe.sweep": [("speed", ">= 20"), ("exact", "|difference| <= 0.01")],
    **{
        f"cache.{model}.{rule}": [("speed", ">= 0.95"), ("speed", ">= 3")]
        for model in ("dense", "moe")
        for rule in ("all", "response-mean")
    },
}


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu_suite")
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_suite.py"), "--dry-run", "--out-dir", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    return done, out


def test_dry_run_writes_one_line_per_measurement_then_a_summary(dry_run):
    done, out = dry_run
    assert done.returncode == 0, done.stderr[-3000:]
    files = list(out.iterdir())
    lines = [json.loads(text) for text in files[0].read_text().splitlines()]
    assert [f.name for f in files] == [result_name("", datetime.fromisoformat(lines[-1]["date"]), dry_run=True)]
    assert [json.loads(text) for text in done.stdout.splitlines()] == lines
    assert [line["name"] for line in lines] == [spec.name for spec in gpu_suite.measurements()] + ["summary"]
    assert set(GOALS) == {line["name"] for line in lines[:-1]}
    for line in lines[:-1]:
        assert LINE_KEYS <= set(line), line["name"]
        assert line["status"] == "ok" and line["dry_run"] is True and line["peak_gpu_bytes"] is None
        expected = GOALS[line["name"]]
        assert [goal["kind"] for goal in line["goals"]] == [kind for kind, _ in expected], line["name"]
        assert all(target in (None, goal["target"]) for goal, (_, target) in zip(line["goals"], expected))
        assert all(set(goal) == GOAL_KEYS for goal in line["goals"])
        assert all(isinstance(v, float) and v > 0 for v in line["ratios"].values()), line["name"]
        assert line["met"] == (all(g["met"] for g in line["goals"]) if line["goals"] else None)


def test_dry_run_goals_are_read_off_the_values(dry_run):
    lines = [json.loads(text) for text in dry_run[0].stdout.splitlines()]
    for line in lines[:-1]:
        for goal in line["goals"]:
            if goal["kind"] == "speed":
                assert goal["met"] == (goal["value"] >= float(goal["target"][3:]))
                assert goal["value"] in line["ratios"].values()
            else:  # exactness: the CPU kernel and paths must match their references here too
                assert goal["met"] and goal["value"] <= 1.0, (line["name"], goal)
    summary = lines[-1]
    assert summary["status"] == "ok" and summary["exact_ok"] and not summary["failed"] and not summary["skipped"]
    assert summary["goals"] == sum(len(line["goals"]) for line in lines[:-1])
    assert summary["goals_met"] == summary["goals"] - len(summary["missed"])
    assert {"torch", "triton", "transformers", "peft"} <= set(summary["versions"])


def test_dry_run_compares_every_field_it_names(dry_run):
    lines = {line["name"]: line for line in map(json.loads, dry_run[0].stdout.splitlines())}
    kernel = lines["kernel.fused"]["numbers"]["exactness"]
    assert len(kernel) == 6 * 5  # six dtype/width cases, five output fields each
    cache = lines["cache.exact"]["numbers"]["exactness"]
    assert len(cache) == 2 * 3 and all(check["passed"] for check in cache.values())
    lora = lines["lora.dense"]
    assert 0 < lora["ratios"]["mfu"] and lora["numbers"]["tokens_per_s"] > 0


def test_compare_passes_equal_and_fails_perturbed():
    gen = torch.Generator().manual_seed(0)
    want = torch.randn(40, 64, generator=gen)
    assert compare("same", want.clone(), want).passed
    nudged = want.clone()
    nudged[3, 7] = torch.nextafter(nudged[3, 7], torch.tensor(float("inf")))
    assert not compare("one ulp, bit-exact", nudged, want).passed
    assert compare("one ulp, tolerance", nudged, want, rtol=1e-5, atol=1e-4).passed
    far = want.clone()
    far[0, 0] += 1e-3
    check = compare("past tolerance", far, want, rtol=1e-5, atol=1e-4)
    assert not check.passed and 1 < check.worst and check.max_abs == pytest.approx(1e-3, rel=1e-3)
    nan = want.clone()
    nan[1, 1] = float("nan")
    assert not compare("nan", nan, want, rtol=1, atol=1).passed
    assert not compare("shape", want[:-1], want, rtol=1, atol=1).passed
    assert not compare("dtype", want.double(), want, rtol=1, atol=1).passed
    assert not compare("missing", None, want).passed and compare("both missing", None, None).passed
    rows = want.to(torch.bfloat16)
    off = rows.clone()
    off[5, 5] = torch.nextafter(off[5, 5].float(), torch.tensor(float("inf"))).to(torch.bfloat16) + 2**-6
    assert not compare("bf16 rows", off, rows).passed


def test_fused_comparison_names_the_perturbed_field():
    hidden, select, labels, directions = capture_inputs((3, 9, 200, 4), torch.bfloat16, "cpu", seed=0)
    want = fused_capture_reference(hidden, select, torch.float16, labels, 3, directions)
    got = want._replace(proj=want.proj + 1e-3)
    failed = [check.name for check in compare_fused("t", got, want) if not check.passed]
    assert failed == ["t proj"]
    assert all(check.passed for check in compare_fused("t", want, want))


def test_fused_measurement_fails_a_wrong_kernel(monkeypatch, tmp_path):
    # A kernel that is off by 1e-3 in one class sum must miss the exactness goal.
    def wrong(*args):
        out = fused_capture_reference(*args)
        if out.class_sum is not None:
            out.class_sum[0, 0] += 1e-3
        return out

    monkeypatch.setitem(fused._BACKENDS, "triton", wrong)
    result = fused_kernel(Context("cpu", DRY, tmp_path, dry_run=True))
    exact_goal = next(goal for goal in result.goals if goal.kind == "exact")
    assert not exact_goal.met and exact_goal.value > 1
    assert not result.record()["met"]


@pytest.fixture
def suite_env(monkeypatch):
    """main() sets these for its own run; give them back to the rest of the test session."""
    for name in ("TRITON_INTERPRET", "HF_HUB_OFFLINE", "TOKENIZERS_PARALLELISM"):
        monkeypatch.setenv(name, os.environ.get(name, ""))


def test_missing_package_stops_with_one_line(monkeypatch, capsys, suite_env):
    real = gpu_wheels._installed
    versions = {"transformers": "5.17.0", "peft": None}
    monkeypatch.setattr(gpu_wheels, "_installed", lambda name: versions[name] if name in versions else real(name))
    with pytest.raises(SystemExit) as stopped:
        gpu_suite.main(["--dry-run"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gpu_suite: missing or too old: ")
    assert "transformers>=5.24 (5.17.0 installed; needed by the toolkit" in err
    assert "peft>=0.17 (not installed" in err and "gpu_suite.sh prepare" in err


def test_no_cuda_device_stops_with_one_line(monkeypatch, capsys, suite_env):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit) as stopped:
        gpu_suite.main([])
    assert stopped.value.code == 2 and "no CUDA device here; on a CPU use --dry-run" in capsys.readouterr().err


def test_requirements_follow_markers_and_pins():
    found, unmet = gpu_wheels.closure(env=gpu_wheels.device_environment("3.12"))
    assert not unmet
    assert {"transformers", "huggingface-hub", "tokenizers", "safetensors", "peft", "h5py"} <= set(found)
    assert not {"torch", "triton", "numpy", "scipy", "scikit-learn"} & set(found)
    assert all(version == gpu_wheels._installed(name) for name, version in found.items())
    # huggingface-hub asks for tomli only before Python 3.11
    assert "tomli" not in found and "tomli" in gpu_wheels.closure(env=gpu_wheels.device_environment("3.10"))[0]


def test_only_selects_by_name_or_prefix(capsys):
    specs = gpu_suite.measurements()
    assert [s.name for s in gpu_suite.select(specs, ["steer.alphas"])] == ["steer.alphas"]
    assert [s.name for s in gpu_suite.select(specs, ["cache"])] == [
        "cache.exact",
        "cache.dense.all",
        "cache.dense.response-mean",
        "cache.moe.all",
        "cache.moe.response-mean",
    ]
    with pytest.raises(SystemExit) as stopped:
        gpu_suite.select(specs, ["steer.alpha"])
    assert stopped.value.code == 2 and "no such measurement" in capsys.readouterr().err


def test_budgets_leave_room_for_one_more():
    assert sum(spec.budget_s for spec in gpu_suite.measurements()) <= gpu_suite.BUDGET_S - 60


def test_runner_records_failures_skips_and_added_measurements(tmp_path, capsys):
    def added(ctx):
        return Result(ratios={"x": 2.0}, goals=[at_least("x", 2.0, 1.5)], numbers={"n": 1})

    def broken(ctx):
        raise RuntimeError("out of memory, say")

    specs = [Spec("added.one", added, 1), Spec("broken", broken, 1), Spec("too.long", added, 100)]
    args = Namespace(dry_run=True, budget_s=20.0, out=tmp_path / "r.jsonl", out_dir=None)
    assert run_suite(specs, args, datetime(2026, 1, 2, tzinfo=timezone.utc)) == 1
    lines = [json.loads(text) for text in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [(line["name"], line["status"]) for line in lines] == [
        ("added.one", "ok"),
        ("broken", "failed"),
        ("too.long", "skipped"),
        ("summary", "failed"),
    ]
    assert lines[0]["ratios"] == {"x": 2.0} and lines[0]["met"] is True
    assert lines[1]["error"] == "RuntimeError: out of memory, say"
    assert lines[3]["failed"] == ["broken"] and lines[3]["skipped"] == ["too.long"]
    assert "RuntimeError" in capsys.readouterr().err  # the traceback, for the one who reads the log


def test_results_file_names_the_card_and_date():
    when = datetime(2026, 12, 7, tzinfo=timezone.utc)
    assert result_name("NVIDIA H100 80GB HBM3", when) == "gpu-h100-2026-12-07.jsonl"
    assert result_name("NVIDIA H200", when) == "gpu-h200-2026-12-07.jsonl"
    assert result_name("x86_64", when, dry_run=True) == "gpu-cpu-dry-run-2026-12-07.jsonl"
