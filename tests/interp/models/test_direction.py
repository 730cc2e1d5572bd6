"""`interp.models.Direction`: rows found by the file's layers, one loader, one way to apply it."""

import json
import pickle

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from activations import load_directions
from interp import ablate, steer
from interp.models import Direction, DirectionError, OtherModelError, OtherModelWarning, load_direction
from interp.steering import relative_alpha
from tests.repo import DATA


def _rows(n=2, d=32, seed=1):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def _inputs(lm):
    lm.tokenizer.padding_side = "left"
    return lm.tokenizer(["Hello there, how are you?", "Tell me a story."], return_tensors="pt", padding=True)


@torch.no_grad()
def test_a_file_holding_layers_3_and_7_steers_layer_7_with_its_row(tiny_lm, tmp_path):
    lm = tiny_lm("qwen3", num_hidden_layers=9)  # block 7 is not the last: hidden_states[8] is its raw output
    rows = _rows()
    path = Direction(rows, (3, 7), model=lm.name, weights_id=lm.weights_id).save(tmp_path / "v.safetensors")
    direction = Direction.load(path)
    batch = _inputs(lm)
    base = lm.model(**batch, output_hidden_states=True).hidden_states
    with steer(lm, direction, layer=7, alpha=2.5):
        steered = lm.model(**batch, output_hidden_states=True).hidden_states
    assert torch.equal(steered[8], base[8] + 2.5 * rows[1])
    assert not torch.equal(steered[8], base[8] + 2.5 * rows[0])
    for i in range(8):  # nothing upstream of block 7 moves, layer 3 included
        assert torch.equal(steered[i], base[i])
    with steer(lm, direction, layer=3, alpha=1.0):
        assert torch.equal(lm.model(**batch, output_hidden_states=True).hidden_states[4], base[4] + rows[0])


def test_a_layer_the_file_does_not_hold_is_a_clear_error(tiny_lm, tmp_path):
    lm = tiny_lm("qwen3", num_hidden_layers=9)
    direction = Direction(_rows(), (3, 7))
    with pytest.raises(DirectionError, match=r"^no direction for layer 5; the file holds layers \[3, 7\]$"):
        direction.at(5)
    with pytest.raises(DirectionError, match=r"layer 5; the file holds layers \[3, 7\]"):
        steer(lm, direction, layer=5)
    with pytest.raises(DirectionError, match=r"layer 0; the file holds layers \[3, 7\]"):
        ablate(lm, direction, layers=[0, 3])
    assert not any(block._forward_hooks for block in lm.layers)  # a refused call leaves no hook behind
    with pytest.raises(DirectionError, match="2 rows tied to no layer"):
        Direction(_rows()).at(0)


def test_save_load_round_trip_keeps_vectors_and_metadata(tmp_path):
    rows = _rows(3, 16)
    made = Direction(
        rows,
        (0, 4, 9),
        model="org/m",
        weights_id="sha256:abc",
        method="pca",
        dataset="acts.h5",
        created_by="interp 9.9",
        extra={"positions": "response-mean", "n_rows": 12},
    )
    loaded = Direction.load(made.save(tmp_path / "sub" / "v.safetensors"))
    assert torch.equal(loaded.vectors, rows) and loaded.vectors.dtype == torch.float32
    assert loaded.layers == (0, 4, 9)
    for name in ("model", "weights_id", "method", "dataset", "created_by", "extra"):
        assert getattr(loaded, name) == getattr(made, name), name
    assert loaded.norms == pytest.approx([float(n) for n in rows.norm(dim=1)], rel=1e-7)
    with safe_open(str(tmp_path / "sub" / "v.safetensors"), framework="pt") as handle:
        assert list(handle.keys()) == ["direction"]
        raw = handle.metadata()
    assert {k: json.loads(v) for k, v in raw.items()} == {
        "model": "org/m",
        "weights_id": "sha256:abc",
        "layers": [0, 4, 9],
        "method": "pca",
        "dataset": "acts.h5",
        "norms": loaded.norms,
        "created_by": "interp 9.9",
        "positions": "response-mean",
        "n_rows": 12,
    }
    assert Direction(rows[0]).created_by.startswith("interp ")  # made here: this toolkit's version


def test_files_written_by_the_earlier_writer_still_load():
    # written by probes.save_direction at commit f3b2b12, before Direction moved to interp.models
    rows = torch.randn(2, 8, generator=torch.Generator().manual_seed(0))
    layered = load_direction(DATA / "direction_old_layers_3_7.safetensors")
    assert layered.layers == (3, 7) and torch.equal(layered.vectors, rows)
    assert torch.equal(layered.at(7), rows[1]) and torch.equal(layered.at(3), rows[0])
    assert (layered.model, layered.weights_id, layered.method, layered.dataset, layered.created_by) == (
        "tiny-old",
        "",
        "mean-diff",
        "acts.h5",
        "interp 0.1.0",
    )
    assert layered.extra == {"note": "kept"}
    one = load_direction(DATA / "direction_old_one_row.safetensors")
    assert one.layers == () and one.method == "random"
    for layer in (0, 5, 31):  # one row tied to no layer serves any layer
        assert torch.equal(one.at(layer), rows[0])


def test_the_loader_refuses_what_is_not_a_direction_file(tmp_path):
    text = tmp_path / "text.safetensors"
    text.write_text("a direction, honest\n")
    pickled = tmp_path / "pickle.safetensors"
    pickled.write_bytes(pickle.dumps({"direction": [1.0, 2.0]}))
    other = tmp_path / "other.safetensors"
    save_file({"weight": torch.ones(2, 4)}, str(other))
    nan = tmp_path / "nan.safetensors"
    save_file({"direction": torch.tensor([[1.0, float("nan"), 0.0]])}, str(nan), metadata={"layers": "[4]"})
    for path, message in (
        (text, "not a safetensors file"),
        (pickled, "not a safetensors file"),
        (other, r"no 'direction' tensor \(found weight\)"),
        (nan, r"nan \(layer 4, component 1\)"),
        (tmp_path / "none.safetensors", "no such direction file"),
    ):
        with pytest.raises(DirectionError, match=message) as caught:
            Direction.load(path)
        assert str(caught.value).startswith(f"{path}: ") and "\n" not in str(caught.value)


def test_a_direction_holds_finite_rows_one_per_layer():
    with pytest.raises(DirectionError, match="inf"):
        Direction(torch.tensor([1.0, float("inf")]))
    with pytest.raises(DirectionError, match=r"2 layers \[1, 2\] for a direction with 3 rows"):
        Direction(_rows(3), (1, 2))
    with pytest.raises(DirectionError, match="twice"):
        Direction(_rows(2), (1, 1))
    with pytest.raises(DirectionError, match="not a layer number"):
        Direction(_rows(1), ("x",))


def test_width_and_alpha_are_checked_where_it_is_applied(tiny_lm):
    lm = tiny_lm("qwen3")
    with pytest.raises(DirectionError, match="width 16; the model's d_model is 32"):
        steer(lm, Direction(_rows(1, 16)), layer=0)
    for alpha in (float("nan"), float("inf"), torch.tensor([1.0, float("nan")])):
        with pytest.raises(ValueError, match="not a finite number"):
            steer(lm, Direction(_rows(1)), layer=0, alpha=alpha)
    assert not any(block._forward_hooks for block in lm.layers)


@torch.no_grad()
def test_a_direction_from_another_model_is_refused_unless_allowed(tiny_lm):
    lm = tiny_lm("qwen3")
    batch = _inputs(lm)
    rows = _rows(1)
    other = Direction(rows, (1,), model="tiny-qwen3", weights_id="sha256:0000")
    with pytest.raises(OtherModelError, match="weights sha256:0000.*allow_other_model=True"):
        steer(lm, other, layer=1)
    with pytest.raises(OtherModelError):
        ablate(lm, other, layers=[1])
    with pytest.raises(OtherModelError, match="made on org/other, not on tiny-qwen3"):
        steer(lm, Direction(rows, model="org/other"), layer=1)  # no weights recorded: the name decides
    base = lm.model(**batch, output_hidden_states=True).hidden_states
    with pytest.warns(OtherModelWarning, match="weights sha256:0000"), steer(lm, other, 1, 2.0, allow_other_model=True):
        steered = lm.model(**batch, output_hidden_states=True).hidden_states
    assert torch.equal(steered[2], base[2] + 2.0 * rows[0])
    same_weights = Direction(rows, (1,), model="a/path/elsewhere", weights_id=lm.weights_id)
    unknown = Direction(rows, (1,))
    for direction in (same_weights, unknown):
        with steer(lm, direction, layer=1):
            pass
    assert relative_alpha(lm, other, 1, ["Hello"]) > 0  # reads only the norm: no model check


def test_stream_mode_reads_the_same_files(tmp_path):
    rows = _rows(2, 8)
    layered = Direction(rows, (3, 7)).save(tmp_path / "layered.safetensors")
    per_layer, digest = load_directions(layered, [7, 3], 8)
    assert torch.equal(per_layer[7], rows[1:2]) and torch.equal(per_layer[3], rows[0:1]) and len(digest) == 64
    with pytest.raises(DirectionError, match=r"no direction for layer\(s\) \[5\]; the file holds layers \[3, 7\]"):
        load_directions(layered, [3, 5], 8)
    with pytest.raises(DirectionError, match="width 8, the model's d_model is 16"):
        load_directions(layered, [3], 16)
    free = Direction(rows).save(tmp_path / "free.safetensors")  # K directions tied to no layer
    per_layer, _ = load_directions(free, [0, 1], 8)
    assert torch.equal(per_layer[0], rows) and torch.equal(per_layer[1], rows)
