"""The on-disk file: a run killed with SIGKILL resumes to exactly the rows of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np

from activations import ActivationStore, CacheConfig, cache_activations, read_examples
from interp.models import load_model

ROOT = Path(__file__).resolve().parents[1]
CONFIG = dict(layers="0,2", positions="all", dtype="bfloat16", batch_size=2, commit_every=4)

# Runs the extraction with a slowed forward, and says (by a marker file) when it is well under way.
CHILD = """
import sys, time, json
from pathlib import Path
from activations import CacheConfig, cache_activations, read_examples
from interp.models import load_model
model, prompts, out, marker, config = sys.argv[1:6]
lm = load_model(model)
calls = []
def slow(module, args):
    calls.append(1)
    time.sleep(0.02)
    if len(calls) == 6:
        Path(marker).touch()
lm.layers[0].register_forward_pre_hook(slow)
cache_activations(lm, read_examples(prompts), out, CacheConfig(**json.loads(config)), progress=False)
"""


def _prompts(tmp_path: Path) -> Path:
    path = tmp_path / "p.jsonl"
    rows = [{"text": "x" * (1 + (i * 7) % 11), "label": i % 2, "id": f"n{i}"} for i in range(40)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_sigkill_then_resume_equals_uninterrupted(tiny_model_dir, tmp_path):
    model, prompts = tiny_model_dir("qwen3"), _prompts(tmp_path)
    out, marker = tmp_path / "killed.h5", tmp_path / "started"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(model), str(prompts), str(out), str(marker),
                              json.dumps(CONFIG)], env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    while not marker.exists():
        assert child.poll() is None, child.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the child never got going"
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    partial = ActivationStore(out)
    assert not partial.complete and 0 < partial.attrs["examples_committed"] < 40
    partial.close()

    lm = load_model(model)
    examples = read_examples(prompts)
    resumed = cache_activations(lm, examples, out, CacheConfig(**CONFIG), progress=False)
    reference = cache_activations(lm, examples, tmp_path / "whole.h5", CacheConfig(**CONFIG), progress=False)
    assert resumed.tokens < reference.tokens  # the committed part was not run again
    with h5py.File(out, "r") as got, h5py.File(reference.path, "r") as want:
        assert got.attrs["complete"] and got.attrs["rows_committed"] == want.attrs["rows_committed"]
        for name in ("index/example", "index/position", "acts/layer_0", "acts/layer_2",
                     "stats/layer_2/sum", "stats/layer_2/count"):
            assert got[name].shape == want[name].shape, name
            np.testing.assert_array_equal(got[name][...], want[name][...], err_msg=name)


def test_partial_tail_is_truncated_on_resume(tiny_lm, tmp_path):
    lm = tiny_lm("qwen3")
    examples = read_examples(_prompts(tmp_path))[:10]
    config = CacheConfig(layers="1", commit_every=4)
    whole = cache_activations(lm, examples, tmp_path / "w.h5", config, progress=False)
    path = tmp_path / "t.h5"
    cache_activations(lm, examples, path, config, progress=False)
    with h5py.File(path, "r+", libver="latest") as handle:  # fake a kill after 4 examples with a torn tail
        keep = int(np.searchsorted(handle["index/example"][...], 4))
        handle.attrs.update(rows_committed=keep, examples_committed=4, complete=False)
        for name in ("index/example", "index/position"):
            handle[name][keep:] = 0
        handle["acts/layer_1"][keep:] = 0
        assert handle["acts/layer_1"].shape[0] > keep
    cache_activations(lm, examples, path, config, progress=False)
    np.testing.assert_array_equal(ActivationStore(path).acts(1), ActivationStore(whole.path).acts(1))
    np.testing.assert_array_equal(ActivationStore(path).example_index, ActivationStore(whole.path).example_index)
