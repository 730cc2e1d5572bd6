"""A smoke run of the caching benchmark on a tiny model: every path runs and the record is complete."""

import json

import h5py
import numpy as np
import pytest
import torch

from benchmarks.bench_cache import main, report_json, run_benchmark
from benchmarks.cache_paths import BASELINES, build_setup, pick_layers, time_hf_hidden_states, time_toolkit


def test_pick_layers_spreads_short_of_the_last():
    assert pick_layers(10) == [2, 4, 6, 8]
    assert pick_layers(36) == [8, 17, 26, 34]
    assert all(len(pick_layers(n)) == 4 and max(pick_layers(n)) < n - 1 for n in range(6, 40))


def test_baseline_writes_the_block_outputs(tmp_path):
    (tmp_path / "model").mkdir()
    setup = build_setup("tiny", n_examples=3, batch_size=2, seq=16, folder=tmp_path / "model")
    time_hf_hidden_states(setup, tmp_path / "hf.h5")
    ids = torch.cat(setup.batches)
    with torch.no_grad():
        states = setup.lm.model(input_ids=ids, output_hidden_states=True).hidden_states
    with h5py.File(tmp_path / "hf.h5", "r") as stored:
        for layer in setup.layers:
            want = states[layer + 1].reshape(-1, setup.lm.d_model).half().numpy()
            np.testing.assert_array_equal(stored[f"acts/layer_{layer}"][:], want)


@pytest.mark.parametrize("name", ["transformer_lens", "nnsight"])
def test_every_baseline_writes_what_hf_writes(name, tmp_path):
    # The paths are only comparable if they cache the same rows.
    (tmp_path / "model").mkdir()
    setup = build_setup("tiny", n_examples=3, batch_size=2, seq=16, folder=tmp_path / "model")
    time_hf_hidden_states(setup, tmp_path / "hf.h5")
    BASELINES[name](setup, tmp_path / f"{name}.h5")
    with h5py.File(tmp_path / "hf.h5", "r") as want, h5py.File(tmp_path / f"{name}.h5", "r") as got:
        for layer in setup.layers:
            np.testing.assert_allclose(
                got[f"acts/layer_{layer}"][:].astype(np.float32),
                want[f"acts/layer_{layer}"][:].astype(np.float32),
                rtol=1e-2,
                atol=1e-2,
            )


def test_smoke_run_reports_every_key(tmp_path):
    (tmp_path / "model").mkdir()
    setup = build_setup("tiny", n_examples=4, batch_size=2, seq=32, folder=tmp_path / "model")
    result = run_benchmark(setup, tmp_path, repeats=2)
    record = report_json(result, setup, {})
    assert set(record["baselines"]) == set(BASELINES)
    assert record["binding_limit"]["name"] in {"compute", "host copy", "disk"}
    values = [
        record["toolkit_tokens_per_s"],
        record["bare_forward_tokens_per_s"],
        record["binding_limit"]["tokens_per_s"],
        *record["baselines"].values(),
    ]
    assert all(value > 0 for value in values)
    assert record["tokens"] == 4 * 32


def test_every_toolkit_round_starts_from_no_file(tmp_path, monkeypatch):
    # The toolkit resumes a complete file instantly, which would time nothing.
    import activations

    (tmp_path / "model").mkdir()
    setup = build_setup("tiny", n_examples=2, batch_size=2, seq=8, folder=tmp_path / "model")
    real, existed = activations.cache_activations, []

    def recording(lm, examples, out_path, config, progress):
        existed.append(out_path.exists())
        return real(lm, examples, out_path, config, progress=progress)

    monkeypatch.setattr(activations, "cache_activations", recording)
    for _ in range(2):
        time_toolkit(setup, tmp_path / "toolkit.h5")
    assert existed == [False, False]


def test_main_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    main(
        [
            "--config",
            "tiny",
            "--examples",
            "2",
            "--batch-size",
            "2",
            "--seq",
            "16",
            "--baselines",
            "hf_output_hidden_states",
            "--repeats",
            "1",
            "--json",
            str(out),
        ]
    )
    record = json.loads(out.read_text())
    assert {"toolkit_tokens_per_s", "bare_forward_tokens_per_s", "baselines", "binding_limit"} <= set(record)
    assert list(record["baselines"]) == ["hf_output_hidden_states"]
