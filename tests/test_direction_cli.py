"""`interp direction`, `interp probe` and `interp steer` end to end on small files and a tiny model."""

import json

import numpy as np
import torch
from probe_data import planted, write_store

from interp.cli import main
from probes import load_direction, save_direction


def _cos(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_direction_command_writes_a_direction_file_for_every_method(tmp_path, capsys):
    data = planted(n_pairs=60, offset=1.0)
    store = write_store(tmp_path / "acts.h5", data, dtype="bfloat16")
    for method in ("mean-diff", "pca", "logistic", "mass-mean"):
        out = tmp_path / f"{method}.safetensors"
        assert main(["direction", "--store", str(store), "--layer", "2", "--method", method, "--out", str(out)]) == 0
        direction = load_direction(out)
        assert direction.vector.shape == (1, 16) and direction.layers == [2]
        assert direction.meta["method"] == method and direction.meta["dataset"] == str(store)
        assert direction.meta["model"] == "tiny-test"
        assert _cos(direction.vector[0].numpy(), data.direction) >= 0.9
    assert main(["direction", "--store", str(store), "--out", str(tmp_path / "all.safetensors")]) == 0
    assert load_direction(tmp_path / "all.safetensors").layers == [0, 1, 2, 3]


def test_direction_command_user_errors(tmp_path, capsys):
    store = write_store(tmp_path / "acts.h5", planted(n_pairs=4))
    assert main(["direction", "--store", str(tmp_path / "nope.h5"), "--out", str(tmp_path / "v.safetensors")]) == 2
    assert "no such activation file" in capsys.readouterr().err
    assert main(["direction", "--store", str(store), "--layer", "9", "--out", str(tmp_path / "v.safetensors")]) == 2
    err = capsys.readouterr().err
    assert "[9] not in the store" in err and "Traceback" not in err
    assert main(["direction", "--store", str(store), "--layer", "x", "--out", str(tmp_path / "v.safetensors")]) == 2
    assert main(["direction", "--store", str(store), "--out", str(tmp_path / "v.pt")]) == 2


def test_probe_command_prints_and_saves_the_sweep(tmp_path, capsys):
    store = write_store(tmp_path / "acts.h5", planted(n_pairs=20))
    assert main(["probe", "--store", str(store), "--layers", "0,2,3", "--probe", "mean-diff", "--out",
                 str(tmp_path / "sweep")]) == 0
    out = capsys.readouterr().out
    saved = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert [row["layer"] for row in saved["scores"]] == [0, 2, 3]
    assert f"chosen layer {saved['chosen_layer']}" in out
    assert (tmp_path / "sweep" / "sweep.csv").read_text().count("\n") == 4
    assert main(["probe", "--store", str(store), "--backend", "torch", "--out", str(tmp_path / "torch")]) == 0
    batched = json.loads((tmp_path / "torch" / "sweep.json").read_text())
    assert batched["config"]["backend"] == "torch" and len(batched["scores"]) == 4


def test_steer_command_changes_the_continuation(tiny_model_dir, tmp_path, capsys):
    model_dir = tiny_model_dir("qwen3")
    vector = torch.randn(32, generator=torch.Generator().manual_seed(0)) * 20
    path = save_direction(tmp_path / "v.safetensors", vector, {"model": "tiny", "layer": 1, "method": "random"})
    common = ["steer", "--model", str(model_dir), "--vector", str(path), "--layer", "1", "--prompt", "Hi",
              "--max-new-tokens", "8", "--compare"]
    assert main([*common, "--alpha", "0"]) == 0
    zero = capsys.readouterr().out.split("--- unsteered ---")
    assert zero[0].split("---\n", 1)[1] == zero[1].lstrip("-\n")
    assert main([*common, "--alpha-rel", "8"]) == 0
    out = capsys.readouterr().out
    steered, unsteered = out.split("--- unsteered ---")
    assert steered.split("---\n", 1)[1] != unsteered.lstrip("-\n")
    assert main([*common, "--alpha", "1", "--layer", "2"]) == 2  # the file has layer 1 only
    assert "layers [1]" in capsys.readouterr().err


def test_an_incomplete_store_needs_partial(tmp_path, capsys):
    data = planted(n_pairs=20)
    store = write_store(tmp_path / "acts.h5", data, committed=24)  # a run stopped after 24 of 40 examples
    for command in (["direction", "--layer", "2", "--out", str(tmp_path / "v.safetensors")],
                    ["probe", "--out", str(tmp_path / "sweep")]):
        assert main([*command, "--store", str(store)]) == 2
        err = capsys.readouterr().err
        assert "is incomplete (24 of 40 examples, 72 rows committed" in err
        assert "rerun the same `interp cache` command" in err and "--partial" in err and "Traceback" not in err
        assert main([*command, "--store", str(store), "--partial"]) == 0
    committed = data.example_index < 24
    rows, labels = data.acts[2][committed], data.row_labels[committed]
    want = rows[labels == 1].mean(0) - rows[labels == 0].mean(0)
    np.testing.assert_allclose(load_direction(tmp_path / "v.safetensors").vector[0].numpy(), want, rtol=1e-5, atol=1e-6)
    assert load_direction(tmp_path / "v.safetensors").meta["dataset"] == str(store)
    first = json.loads((tmp_path / "sweep" / "sweep.json").read_text())["scores"][0]
    assert first["n_train"] + first["n_test"] == committed.sum() == 72  # the rows of the 24 committed examples


def test_non_finite_rows_and_missing_labels_exit_2(tiny_lm, tmp_path, capsys):
    from activations import CacheConfig, Example, cache_activations

    data = planted(n_pairs=20)
    data.acts[3][30, 0] = np.inf  # example index 10: the eleventh
    store = write_store(tmp_path / "inf.h5", data)
    unlabelled = cache_activations(tiny_lm("qwen3"), [Example(text="a"), Example(text="b")], tmp_path / "u.h5",
                                   CacheConfig(layers="0"), progress=False).path
    for command in (["direction", "--out", str(tmp_path / "v.safetensors")], ["probe", "--out", str(tmp_path / "s")]):
        assert main([*command, "--store", str(store)]) == 2
        err = capsys.readouterr().err
        assert "layer 3 has NaN or infinite values in 1 row(s), of example(s) 11 (counted from 1)" in err
        assert main([*command, "--store", str(unlabelled)]) == 2
        err = capsys.readouterr().err
        assert "has no /examples/label: cache with labels" in err and "documented layout" not in err
        assert "Traceback" not in err
