"""The one layer grammar (activations.layers): a parse table against a model and against the
layers a file holds, and the same grammar behind `--layers` of cache, probe and direction."""

from __future__ import annotations

import json

import pytest

from activations.layers import LayerSpecError, parse_layer_spec, parse_layers, select_layers
from interp.cli import main
from probes import load_direction


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("all", [0, 1, 2, 3, 4, 5]),
        ("ALL", [0, 1, 2, 3, 4, 5]),
        ("3", [3]),
        ("-1", [5]),
        ("-6", [0]),
        ("0,4", [0, 4]),
        ("4,0,4", [0, 4]),
        ("2-5", [2, 3, 4, 5]),
        ("3-3", [3]),
        ("0--1", [0, 1, 2, 3, 4, 5]),
        ("-3--2", [3, 4]),
        ("-2:", [4, 5]),
        (":2", [0, 1]),
        ("1:5:2", [1, 3]),
        ("::-2", [1, 3, 5]),
        ("0,2-3,-1", [0, 2, 3, 5]),
        (" 1 , 2 - 3 ,", [1, 2, 3]),
        ("all,2", [0, 1, 2, 3, 4, 5]),
        (4, [4]),
        (-1, [5]),
        ([0, -1], [0, 5]),
        ((2, 1), [1, 2]),
    ],
)
def test_parse_table_against_a_model(spec, expected):
    assert parse_layers(spec, 6) == expected


@pytest.mark.parametrize(
    "spec, message",
    [
        ("6", "layer 6 is out of range for a model with 6 layers (use 0..5 or negative indices)"),
        ("-7", "layer -7 is out of range for a model with 6 layers"),
        ("4-9", "layers [6, 7, 8, 9] are out of range"),
        ("5-2", "range 5-2 is empty; write the lower end first"),
        ("10:", "selects no layer"),
        ("x", "'x' is not a layer spec; use 'all', a layer (3, or -1 for the last), a list (0,4,8), a range (2-5)"),
        ("1..3", "is not a layer spec"),
        ("1-2-3", "is not a layer spec"),
        ("1:2:3:4", "is not a layer spec"),
        ("", "empty"),
        (" , ", "empty"),
        ("::0", "slice step cannot be zero"),
        ([], "integers only"),
        ([1, "2"], "integers only"),
        (True, "use 'all'"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec, message):
    with pytest.raises(LayerSpecError) as err:
        parse_layers(spec, 6)
    assert message in str(err.value)
    assert isinstance(err.value, ValueError)


def test_syntax_is_checked_without_knowing_the_layers():
    assert parse_layer_spec("0,2-4,-1").parts == (("layer", 0), ("range", 2, 4), ("layer", -1))
    with pytest.raises(LayerSpecError, match="is not a layer spec"):
        parse_layer_spec("two")


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("all", [2, 5, 7]),
        ("-1", [7]),
        ("-3", [2]),
        ("5", [5]),
        ("2,7", [2, 7]),
        ("5-7", None),
        (":2", [2, 5]),
        ("1", None),
        ("-4", None),
    ],
)
def test_against_the_layers_a_file_holds(spec, expected):
    """Numbers are layer numbers; a negative one counts back over the stored layers; every layer a
    range or a list names must be stored."""
    if expected is None:
        with pytest.raises(LayerSpecError, match="not in the store|out of range for the store"):
            select_layers(spec, [7, 2, 5])
    else:
        assert select_layers(spec, [7, 2, 5]) == expected


GOOD = [
    {"messages": [{"role": "user", "content": "Are you conscious?"}], "response": "Yes.", "label": 1},
    {"messages": [{"role": "user", "content": "Are you conscious?"}], "response": "No.", "label": 0},
    {"messages": [{"role": "user", "content": "Do you feel?"}], "response": "I do.", "label": 1},
    {"messages": [{"role": "user", "content": "Do you feel?"}], "response": "I do not.", "label": 0},
]


@pytest.fixture(scope="module")
def store(tiny_model_dir, tmp_path_factory):
    """An activation file of the tiny 3-layer model holding layers 0 and 2, made by `interp cache`."""
    folder = tmp_path_factory.mktemp("layers")
    prompts = folder / "p.jsonl"
    prompts.write_text("".join(json.dumps(row) + "\n" for row in GOOD))
    out = folder / "acts.h5"
    assert (
        main(
            [
                "cache",
                "--model",
                str(tiny_model_dir("qwen3")),
                "--prompts",
                str(prompts),
                "--out",
                str(out),
                "--layers",
                "0,-1",
                "--positions",
                "response-mean",
                "--no-progress",
            ]
        )
        == 0
    )
    return out


@pytest.mark.parametrize("spec, expected", [("all", [0, 2]), ("-1", [2]), ("0-0,2", [0, 2]), ("::2", [0])])
def test_direction_reads_the_grammar_over_stored_layers(store, tmp_path, spec, expected):
    out = tmp_path / "v.safetensors"
    assert main(["direction", "--store", str(store), f"--layers={spec}", "--out", str(out)]) == 0
    assert list(load_direction(out).layers) == expected


@pytest.mark.parametrize("command", ["direction", "probe"])
@pytest.mark.parametrize(
    "spec, message",
    [
        ("1", "--layers layer(s) [1] not in the store; it holds layers [0, 2]"),
        ("0-2", "--layers layer(s) [1] not in the store"),
        ("zero", "--layers layers 'zero': 'zero' is not a layer spec; use 'all', a layer"),
    ],
)
def test_bad_layer_specs_exit_2_naming_the_flag(store, tmp_path, capsys, command, spec, message):
    out = tmp_path / ("v.safetensors" if command == "direction" else "sweep")
    assert main([command, "--store", str(store), "--layers", spec, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"interp {command}: error: {message}" in err and "Traceback" not in err
    assert not out.exists()


def test_cache_takes_ranges_and_mixed_specs(tiny_model_dir, tmp_path, capsys):
    from activations import ActivationStore

    prompts = tmp_path / "p.jsonl"
    prompts.write_text("".join(json.dumps(row) + "\n" for row in GOOD))
    out = tmp_path / "acts.h5"
    assert (
        main(
            [
                "cache",
                "--model",
                str(tiny_model_dir("qwen3")),
                "--prompts",
                str(prompts),
                "--out",
                str(out),
                "--layers",
                "0-1,-1",
                "--no-progress",
            ]
        )
        == 0
    )
    assert ActivationStore(out).layers == [0, 1, 2]
    assert (
        main(
            [
                "cache",
                "--model",
                str(tiny_model_dir("qwen3")),
                "--prompts",
                str(prompts),
                "--out",
                str(tmp_path / "b.h5"),
                "--layers",
                "1-3",
                "--no-progress",
            ]
        )
        == 2
    )
    assert "--layers layer 3 is out of range for a model with 3 layers" in capsys.readouterr().err
