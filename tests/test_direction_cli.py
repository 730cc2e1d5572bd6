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
    store = write_store(tmp_path / "acts.h5", data, bf16=True)
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


def test_a_registered_direction_method_is_listed_and_accepted(tmp_path, capsys, monkeypatch):
    import pytest

    from probes import DIRECTION_METHODS, register_direction_method

    monkeypatch.setattr("probes.directions.DIRECTION_METHODS", dict(DIRECTION_METHODS))
    register_direction_method("first-row", lambda acts, labels, examples: acts[0])
    with pytest.raises(SystemExit) as exit_:
        main(["direction", "--help"])
    assert exit_.value.code == 0
    assert "mean-diff, pca, logistic, mass-mean, first-row" in " ".join(capsys.readouterr().out.split())
    data = planted(n_pairs=4)
    store = write_store(tmp_path / "acts.h5", data)
    out = tmp_path / "v.safetensors"
    assert main(["direction", "--store", str(store), "--layers", "1", "--method", "first-row", "--out", str(out)]) == 0
    direction = load_direction(out)
    assert direction.meta["method"] == "first-row"
    np.testing.assert_array_equal(direction.vector[0].numpy(), data.acts[1][0])
    with pytest.raises(SystemExit) as exit_:
        main(["direction", "--store", str(store), "--method", "meandiff", "--out", str(out)])
    assert exit_.value.code == 2
    assert "invalid choice: 'meandiff' (choose from 'mean-diff', 'pca', 'logistic', 'mass-mean', 'first-row')" \
        in capsys.readouterr().err
