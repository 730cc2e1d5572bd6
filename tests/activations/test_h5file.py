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
import pytest

from activations import ActivationStore, CacheConfig, cache_activations, read_examples
from activations.writer import StoreSink
from interp.models import load_model
from tests.repo import ROOT

CONFIG = dict(layers="0,2", positions="all", dtype="bfloat16", batch_size=2, commit_every=4)

# Runs the extraction with a slowed forward, and says (by a marker file) when it is well under way.
CHILD = """
import sys, time, json
from pathlib import Path
from activations import CacheConfig, cache_activations, read_examples
from activations.writer import StoreSink
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
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(model), str(prompts), str(out), str(marker), json.dumps(CONFIG)],
        env=env,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 90
    while not marker.exists():
        assert child.poll() is None, child.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the child never got going"
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    partial = ActivationStore(out, allow_partial=True)
    assert not partial.complete and 0 < partial.attrs["examples_committed"] < 40
    partial.close()

    lm = load_model(model)
    examples = read_examples(prompts)
    resumed = cache_activations(lm, examples, out, CacheConfig(**CONFIG), progress=False)
    reference = cache_activations(lm, examples, tmp_path / "whole.h5", CacheConfig(**CONFIG), progress=False)
    assert resumed.tokens < reference.tokens  # the committed part was not run again
    with h5py.File(out, "r") as got, h5py.File(reference.path, "r") as want:
        assert got.attrs["complete"] and got.attrs["rows_committed"] == want.attrs["rows_committed"]
        for name in (
            "index/example",
            "index/position",
            "acts/layer_0",
            "acts/layer_2",
            "stats/layer_2/sum",
            "stats/layer_2/count",
        ):
            assert got[name].shape == want[name].shape, name
            np.testing.assert_array_equal(got[name][...], want[name][...], err_msg=name)


def test_torn_commit_is_discarded_on_resume(tiny_lm, tmp_path, monkeypatch):
    lm = tiny_lm("qwen3")
    examples = read_examples(_prompts(tmp_path))[:10]
    config = CacheConfig(layers="1", commit_every=4)
    whole = cache_activations(lm, examples, tmp_path / "w.h5", config, progress=False)
    commit, calls = StoreSink.commit, []

    def torn(self, *args):
        """The second commit dies after writing its rows and totals, at the counters."""
        calls.append(1)
        if len(calls) == 2:
            monkeypatch.setattr(h5py.AttributeManager, "__setitem__", dying)
        return commit(self, *args)

    def dying(self, key, value):
        raise OSError("killed mid-commit")

    monkeypatch.setattr(StoreSink, "commit", torn)
    path = tmp_path / "t.h5"
    with pytest.raises(RuntimeError, match="killed mid-commit"):
        cache_activations(lm, examples, path, config, progress=False)
    monkeypatch.undo()
    assert ActivationStore(path, allow_partial=True).attrs["examples_committed"] == 4
    cache_activations(lm, examples, path, config, progress=False)
    with h5py.File(path, "r") as got, h5py.File(whole.path, "r") as want:
        for name in ("index/example", "index/position", "acts/layer_1", "stats/layer_1/sum", "stats/layer_1/count"):
            np.testing.assert_array_equal(got[name][...], want[name][...], err_msg=name)
