"""Data-parallel extraction: two ranks under torchrun write shards joined into one virtual file."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

from activations import ActivationStore, CacheConfig, cache_activations, read_examples
from interp.models import load_model
from tests.repo import ROOT


@pytest.mark.multiproc
def test_torchrun_two_ranks_reads_like_one_process(tiny_model_dir, tmp_path):
    model = tiny_model_dir("qwen3")
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(
        "".join(
            json.dumps({"text": "t" * (1 + i % 5), "response": "r" * (1 + i % 3), "label": i % 2}) + "\n"
            for i in range(11)
        )
    )
    out = tmp_path / "joined.h5"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "interp.cli",
        "cache",
        "--model",
        str(model),
        "--prompts",
        str(prompts),
        "--out",
        str(out),
        "--layers",
        "0,2",
        "--positions",
        "response",
        "--store-dtype",
        "float32",
        "--no-progress",
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "joined.rank0.h5").exists() and (tmp_path / "joined.rank1.h5").exists()

    single = cache_activations(
        load_model(model),
        read_examples(prompts),
        tmp_path / "single.h5",
        CacheConfig(layers="0,2", positions="response", dtype="float32"),
        progress=False,
    )
    with h5py.File(out, "r") as joined:
        assert joined["acts/layer_2"].is_virtual and joined.attrs["complete"]
    got, want = ActivationStore(out), ActivationStore(single.path)
    assert got.n_rows == want.n_rows and got.layers == want.layers
    np.testing.assert_array_equal(got.example_index, want.example_index)  # global indices, same order
    np.testing.assert_array_equal(got.positions, want.positions)
    np.testing.assert_array_equal(got.labels, want.labels)
    for layer in want.layers:
        np.testing.assert_allclose(got.acts(layer), want.acts(layer), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(
            got.h5[f"directions/layer_{layer}"][...], want.h5[f"directions/layer_{layer}"][...], rtol=1e-4, atol=1e-6
        )
