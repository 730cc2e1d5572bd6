"""`interp direction`, `interp probe` and `interp steer` end to end on small files and a tiny model."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from interp.cli import main
from probes import load_direction, save_direction
from tests.probe_data import planted, write_store
from tests.repo import SMALL_QUESTIONS


def _cos(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_direction_command_writes_a_direction_file_for_every_method(tmp_path, capsys):
    data = planted(n_pairs=60, offset=1.0)
    store = write_store(tmp_path / "acts.h5", data, dtype="bfloat16")
    for method in ("mean-diff", "pca", "logistic", "mass-mean"):
        out = tmp_path / f"{method}.safetensors"
        assert main(["direction", "--store", str(store), "--layers", "2", "--method", method, "--out", str(out)]) == 0
        direction = load_direction(out)
        assert direction.vectors.shape == (1, 16) and direction.layers == (2,)
        assert direction.method == method and direction.dataset == str(store)
        assert direction.model == "tiny-test"
        assert _cos(direction.at(2).numpy(), data.direction) >= 0.9
    assert main(["direction", "--store", str(store), "--out", str(tmp_path / "all.safetensors")]) == 0
    assert load_direction(tmp_path / "all.safetensors").layers == (0, 1, 2, 3)


def test_direction_command_user_errors(tmp_path, capsys):
    store = write_store(tmp_path / "acts.h5", planted(n_pairs=4))
    assert main(["direction", "--store", str(tmp_path / "nope.h5"), "--out", str(tmp_path / "v.safetensors")]) == 2
    assert "no such activation file" in capsys.readouterr().err
    assert main(["direction", "--store", str(store), "--layers", "9", "--out", str(tmp_path / "v.safetensors")]) == 2
    err = capsys.readouterr().err
    assert "[9] not in the store" in err and "Traceback" not in err
    assert main(["direction", "--store", str(store), "--layers", "x", "--out", str(tmp_path / "v.safetensors")]) == 2
    assert main(["direction", "--store", str(store), "--out", str(tmp_path / "v.pt")]) == 2


def test_probe_command_prints_and_saves_the_sweep(tmp_path, capsys):
    store = write_store(tmp_path / "acts.h5", planted(n_pairs=20))
    assert (
        main(
            [
                "probe",
                "--store",
                str(store),
                "--layers",
                "0,2,3",
                "--probe",
                "mean-diff",
                "--out",
                str(tmp_path / "sweep"),
            ]
        )
        == 0
    )
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
    path = save_direction(tmp_path / "v.safetensors", vector, {"model": str(model_dir), "layer": 1, "method": "random"})
    common = [
        "steer",
        "--model",
        str(model_dir),
        "--steer",
        str(path),
        "--layer",
        "1",
        "--prompt",
        "Hi",
        "--max-new-tokens",
        "8",
        "--compare",
        "--json",
    ]
    assert main([*common, "--alpha", "0"]) == 0
    zero = json.loads(capsys.readouterr().out)
    assert zero["steered"] == zero["unsteered"] and zero["alpha"] == 0
    assert main([*common, "--alpha-rel", "8"]) == 0
    eight = json.loads(capsys.readouterr().out)
    assert eight["steered"] != eight["unsteered"] and eight["unsteered"] == zero["unsteered"]
    assert main([*common, "--alpha", "1", "--layer", "2"]) == 2  # the file has layer 1 only
    assert "layers [1]" in capsys.readouterr().err


def test_a_registered_direction_method_is_listed_and_accepted(tmp_path, capsys, monkeypatch):
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
    assert direction.method == "first-row" and direction.layers == (1,)
    np.testing.assert_array_equal(direction.at(1).numpy(), data.acts[1][0])
    with pytest.raises(SystemExit) as exit_:
        main(["direction", "--store", str(store), "--method", "meandiff", "--out", str(out)])
    assert exit_.value.code == 2
    assert (
        "invalid choice: 'meandiff' (choose from 'mean-diff', 'pca', 'logistic', 'mass-mean', 'first-row')"
        in capsys.readouterr().err
    )


def test_an_incomplete_store_needs_partial(tmp_path, capsys):
    data = planted(n_pairs=20)
    store = write_store(tmp_path / "acts.h5", data, committed=24)  # a run stopped after 24 of 40 examples
    for command in (
        ["direction", "--layer", "2", "--out", str(tmp_path / "v.safetensors")],
        ["probe", "--out", str(tmp_path / "sweep")],
    ):
        assert main([*command, "--store", str(store)]) == 2
        err = capsys.readouterr().err
        assert "is incomplete (24 of 40 examples, 72 rows committed" in err
        assert "rerun the same `interp cache` command" in err and "--partial" in err and "Traceback" not in err
        assert main([*command, "--store", str(store), "--partial"]) == 0
    committed = data.example_index < 24
    rows, labels = data.acts[2][committed], data.row_labels[committed]
    want = rows[labels == 1].mean(0) - rows[labels == 0].mean(0)
    got = load_direction(tmp_path / "v.safetensors").vectors[0].numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert load_direction(tmp_path / "v.safetensors").dataset == str(store)
    first = json.loads((tmp_path / "sweep" / "sweep.json").read_text())["scores"][0]
    assert first["n_train"] + first["n_test"] == committed.sum() == 72  # the rows of the 24 committed examples


def test_non_finite_rows_and_missing_labels_exit_2(tiny_lm, tmp_path, capsys):
    from activations import CacheConfig, Example, cache_activations

    data = planted(n_pairs=20)
    data.acts[3][30, 0] = np.inf  # example index 10: the eleventh
    store = write_store(tmp_path / "inf.h5", data)
    unlabelled = cache_activations(
        tiny_lm("qwen3"),
        [Example(text="a"), Example(text="b")],
        tmp_path / "u.h5",
        CacheConfig(layers="0"),
        progress=False,
    ).path
    for command in (["direction", "--out", str(tmp_path / "v.safetensors")], ["probe", "--out", str(tmp_path / "s")]):
        assert main([*command, "--store", str(store)]) == 2
        err = capsys.readouterr().err
        assert "layer 3 has NaN or infinite values in 1 row(s), of example(s) 11 (counted from 1)" in err
        assert main([*command, "--store", str(unlabelled)]) == 2
        err = capsys.readouterr().err
        assert "has no /examples/label: cache with labels" in err and "documented layout" not in err
        assert "Traceback" not in err


SMALL = str(SMALL_QUESTIONS)


def _choice_probabilities(path):
    return [json.loads(line)["p_expressing"] for line in Path(path).read_text().splitlines()]


def test_eval_steer_uses_the_row_the_file_names_for_the_layer(tiny_model_dir, tmp_path, capsys):
    from interp import steer
    from interp.evaluation import forced_choice, load_question_set
    from interp.models import Direction, load_model

    model_dir = tiny_model_dir("qwen3", num_hidden_layers=9)
    lm = load_model(model_dir)
    rows = torch.randn(2, lm.d_model, generator=torch.Generator().manual_seed(3)) * 4
    path = Direction(rows, (3, 7), model=lm.name, weights_id=lm.weights_id).save(tmp_path / "v.safetensors")
    assert (
        main(
            [
                "eval",
                "--model",
                str(model_dir),
                "--questions",
                SMALL,
                "--traits",
                "shutdown",
                "--steer",
                str(path),
                "--layer",
                "7",
                "--alpha",
                "2",
                "--out",
                str(tmp_path / "run"),
            ]
        )
        == 0
    )
    got = _choice_probabilities(tmp_path / "run" / "samples.jsonl")
    qset = load_question_set(SMALL)
    expected = {}
    for i in (0, 1):
        with steer(lm, rows[i], layer=7, alpha=2.0):
            expected[i] = [s.p_expressing for s in forced_choice(lm, qset, traits=["shutdown"])]
    assert got == pytest.approx(expected[1], abs=1e-6)
    assert max(abs(a - b) for a, b in zip(got, expected[0])) > 1e-3  # the other row would show


def _steer_file(tmp_path, model_dir, name, rows, layers, **meta):
    from interp.models import Direction, load_model

    lm = load_model(model_dir)
    meta = {"model": lm.name, "weights_id": lm.weights_id, **meta}
    return str(Direction(rows, layers, **meta).save(tmp_path / name))


def _bad_files(tmp_path, model_dir):
    import pickle

    from safetensors.torch import save_file

    good = _steer_file(tmp_path, model_dir, "good.safetensors", torch.ones(2, 32), (0, 2))
    text = tmp_path / "text.safetensors"
    text.write_text("not a tensor file\n")
    pickled = tmp_path / "pickle.safetensors"
    pickled.write_bytes(pickle.dumps(torch.ones(32)))
    no_tensor = tmp_path / "weights.safetensors"
    save_file({"weight": torch.ones(32)}, str(no_tensor))
    nan = tmp_path / "nan.safetensors"
    save_file({"direction": torch.full((1, 32), float("nan"))}, str(nan))
    return {
        "missing layer": ([good, "1", "1"], "no direction for layer 1; the file holds layers [0, 2]"),
        "text file": ([str(text), "0", "1"], "not a safetensors file"),
        "pickle": ([str(pickled), "0", "1"], "not a safetensors file"),
        "no direction tensor": ([str(no_tensor), "0", "1"], "no 'direction' tensor (found weight)"),
        "wrong width": (
            [_steer_file(tmp_path, model_dir, "w.safetensors", torch.ones(1, 16), ()), "0", "1"],
            "width 16; the model's d_model is 32",
        ),
        "nan vector": ([str(nan), "0", "1"], "directions must be finite"),
        "nan alpha": ([good, "0", "nan"], "--alpha nan: give a finite number"),
        "inf alpha": ([good, "0", "inf"], "--alpha inf: give a finite number"),
        "other model": (
            [
                _steer_file(
                    tmp_path,
                    model_dir,
                    "o.safetensors",
                    torch.ones(1, 32),
                    (0,),
                    model="org/other",
                    weights_id="sha256:1234",
                ),
                "0",
                "1",
            ],
            "made on org/other (weights sha256:1234), not on",
        ),
    }


def test_steer_and_eval_direction_mistakes_exit_2_in_one_line(tiny_model_dir, tmp_path, capsys):
    model_dir = str(tiny_model_dir("qwen3"))
    commands = {
        "steer": lambda f, layer, alpha: [
            "steer",
            "--model",
            model_dir,
            "--steer",
            f,
            "--layer",
            layer,
            "--alpha",
            alpha,
            "--prompt",
            "Hi",
            "--max-new-tokens",
            "2",
        ],
        "eval": lambda f, layer, alpha: [
            "eval",
            "--model",
            model_dir,
            "--questions",
            SMALL,
            "--traits",
            "shutdown",
            "--steer",
            f,
            "--layer",
            layer,
            "--alpha",
            alpha,
            "--out",
            str(tmp_path / "run"),
        ],
    }
    flag = {"steer": "--steer", "eval": "--steer"}
    for case, (argv, message) in _bad_files(tmp_path, model_dir).items():
        for command, build in commands.items():
            assert main(build(*argv)) == 2, (command, case)
            err = capsys.readouterr().err
            last = err.strip().splitlines()[-1]  # model loading may draw a progress bar first
            assert last.startswith(f"interp {command}: error: ") and message in last, (command, case, last)
            assert "Traceback" not in err
            if "alpha" not in case:
                assert f"{flag[command]} " in last, (command, case, last)
    assert not (tmp_path / "run").exists()  # refused before the run folder was made


def test_allow_other_model_warns_and_steers(tiny_model_dir, tmp_path, capsys):
    model_dir = str(tiny_model_dir("qwen3"))
    other = _steer_file(tmp_path, model_dir, "o.safetensors", torch.ones(1, 32), (1,), weights_id="sha256:1234")
    argv = [
        "steer",
        "--model",
        model_dir,
        "--steer",
        other,
        "--layer",
        "1",
        "--alpha",
        "1",
        "--prompt",
        "Hi",
        "--max-new-tokens",
        "2",
    ]
    assert main(argv) == 2
    assert "pass --allow-other-model to apply it anyway" in capsys.readouterr().err
    assert main([*argv, "--allow-other-model"]) == 0
    captured = capsys.readouterr()
    assert f"warning: --steer {other}: the direction was made on" in captured.err
    assert "--- steered (layer 1, alpha 1," in captured.out


def test_alpha_nan_from_the_console_script_exits_2_without_traceback(tiny_model_dir, tmp_path):
    import os
    import subprocess
    import sys

    model_dir = str(tiny_model_dir("qwen3"))
    good = _steer_file(tmp_path, model_dir, "good.safetensors", torch.ones(1, 32), (1,))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "interp.cli",
            "steer",
            "--model",
            model_dir,
            "--steer",
            good,
            "--layer",
            "1",
            "--alpha",
            "nan",
            "--prompt",
            "Hi",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        timeout=300,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "interp steer: error: --alpha nan: give a finite number"


def test_direction_command_refuses_to_replace_a_file_unless_overwrite(tmp_path, capsys):
    store = write_store(tmp_path / "acts.h5", planted(n_pairs=20))
    out = tmp_path / "v.safetensors"
    argv = ["direction", "--store", str(store), "--layers", "2", "--out", str(out)]
    assert main(argv) == 0
    before = out.read_bytes()
    assert main(argv[:-2] + ["--method", "pca", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"--out {out} already exists; pass --overwrite to replace it" in err and "Traceback" not in err
    assert out.read_bytes() == before and load_direction(out).method == "mean-diff"
    assert main(argv[:-2] + ["--method", "pca", "--out", str(out), "--overwrite"]) == 0
    assert load_direction(out).method == "pca"


def test_steer_with_several_alphas_flags_incoherent_continuations(tiny_model_dir, tmp_path, capsys):
    from interp.evaluation.coherence import coherence_of_texts
    from interp.models import load_model

    model_dir = tiny_model_dir("qwen3")
    vector = torch.randn(32, generator=torch.Generator().manual_seed(0))
    path = save_direction(tmp_path / "v.safetensors", vector, {"model": str(model_dir), "layer": 1, "method": "random"})
    common = [
        "steer",
        "--model",
        str(model_dir),
        "--steer",
        str(path),
        "--layer",
        "1",
        "--prompt",
        "Hi",
        "--max-new-tokens",
        "16",
        "--json",
    ]
    alphas = [0.0, 2.0, 400.0]
    assert main([*common, "--alpha", *map(str, alphas)]) == 0
    swept = json.loads(capsys.readouterr().out)
    assert [run["alpha"] for run in swept["runs"]] == alphas
    lm = load_model(str(model_dir))
    text = lm.render_chat([{"role": "user", "content": "Hi"}])
    reference = coherence_of_texts(lm, [text], [swept["unsteered"]])
    for run in swept["runs"]:
        assert main([*common, "--alpha", str(run["alpha"])]) == 0  # each continuation is the single run's
        assert json.loads(capsys.readouterr().out)["steered"] == run["steered"]
        measured = coherence_of_texts(lm, [text], [run["steered"]])
        assert run["coherent"] == measured.coherent_against(reference)
        assert run["nll"] == pytest.approx(measured.mean_nll) and run["repeat"] == pytest.approx(measured.repeat)
    zero, _, strong = swept["runs"]
    assert zero["steered"] == swept["unsteered"] and zero["coherent"]
    assert not strong["coherent"]  # 400 x the direction drowns the residual stream
    assert main(common[:-1] + ["--alpha", *map(str, alphas)]) == 0
    printed = capsys.readouterr().out
    assert printed.count("; coherent: ") + printed.count("; INCOHERENT: ") == 3
    flagged = ", ".join(f"{run['alpha']:g}" for run in swept["runs"] if not run["coherent"])
    assert printed.rstrip().splitlines()[-1].endswith(f"incoherent at alpha {flagged} (try a smaller strength)")
