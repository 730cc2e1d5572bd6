"""Control-vector GGUF files: what the toolkit writes, read back with the `gguf` package, and the
layer each convention names, checked by steering a tiny model both ways.

llama.cpp adds `direction.k` to the output of block k; here that is a plain forward hook on
`model.model.layers[k]` adding the file's tensor (tests/steer_reference.py), compared with the
toolkit's `steer` at the layer the reader maps `direction.k` to.
"""

import json

import gguf
import numpy as np
import pytest
import torch

from activations import capture_residual
from interp.interop import GGUF_CONVENTIONS, load_control_vector, save_control_vector
from interp.models import Direction, DirectionError
from tests.control_vector_files import write_gguf, write_like_cvector_generator, write_like_easysteer
from tests.steer_reference import assert_same_steering, ids_for


def tiny_direction(lm, layers, seed=1) -> Direction:
    torch.manual_seed(seed)
    return Direction(
        torch.randn(len(layers), lm.d_model),
        tuple(layers),
        model=lm.name,
        weights_id=lm.weights_id,
        method="mean-diff",
        dataset="acts.h5",
    )


def read_back(path):
    reader = gguf.GGUFReader(str(path))
    fields = {name: field for name, field in reader.fields.items()}
    tensors = {tensor.name: tensor for tensor in reader.tensors}
    return reader, fields, tensors


def field_value(field):
    part = field.parts[field.data[0]]
    return bytes(part).decode() if field.types[0] == gguf.GGUFValueType.STRING else part[0].item()


def test_export_writes_the_llama_cpp_layout(tiny_lm, tmp_path):
    lm = tiny_lm("llama")
    direction = tiny_direction(lm, (1, 2))
    path = save_control_vector(direction, tmp_path / "v.gguf", model_hint="llama")
    _, fields, tensors = read_back(path)
    assert field_value(fields["general.architecture"]) == "controlvector"
    assert field_value(fields["controlvector.model_hint"]) == "llama"
    assert field_value(fields["controlvector.layer_count"]) == 2
    assert sorted(tensors) == ["direction.1", "direction.2"]
    for layer in (1, 2):
        tensor = tensors[f"direction.{layer}"]
        assert tensor.tensor_type == gguf.GGMLQuantizationType.F32 and list(tensor.shape) == [lm.d_model]
        assert np.array_equal(tensor.data, direction.at(layer).numpy())
    meta = json.loads(field_value(fields["interp.direction"]))
    assert meta["model"] == lm.name and meta["weights_id"] == lm.weights_id and meta["alpha_baked"] == 1.0


@pytest.mark.parametrize("baked", [False, True])
@pytest.mark.parametrize("layer", [1, 2])
def test_direction_k_steers_where_the_toolkit_steers_layer_k(tiny_lm, tmp_path, layer, baked):
    lm = tiny_lm("llama")
    direction = tiny_direction(lm, (1, 2))
    alpha = 3.0
    path = save_control_vector(direction, tmp_path / "v.gguf", alpha=alpha if baked else 1.0)
    _, _, tensors = read_back(path)
    in_file = torch.from_numpy(np.array(tensors[f"direction.{layer}"].data))
    # llama.cpp's --control-vector-scaled multiplies the file by the scale in float32
    added = in_file if baked else torch.tensor(alpha, dtype=torch.float32) * in_file
    assert_same_steering(lm, ids_for(lm), layer, layer, added, direction, alpha)


def test_layer_zero_cannot_go_to_llama_cpp_but_can_go_to_repeng(tiny_lm, tmp_path):
    lm = tiny_lm("llama")
    direction = tiny_direction(lm, (0, 1))
    with pytest.raises(DirectionError, match="layer 0 .*llama.cpp refuses direction.0"):
        save_control_vector(direction, tmp_path / "v.gguf")
    assert not (tmp_path / "v.gguf").exists() and not list(tmp_path.iterdir())
    save_control_vector(direction, tmp_path / "v.gguf", layers=[1])
    assert sorted(read_back(tmp_path / "v.gguf")[2]) == ["direction.1"]
    for tool in ("repeng", "easysteer"):
        path = save_control_vector(direction, tmp_path / f"{tool}.gguf", convention=tool)
        assert sorted(read_back(path)[2]) == ["direction.0", "direction.1"]
        assert load_control_vector(path, tool).layers == (0, 1)
    with pytest.raises(DirectionError, match="for reading that tool's files"):
        save_control_vector(direction, tmp_path / "c.gguf", layers=[1], convention="cvector-generator")


def test_round_trip_keeps_metadata_and_alpha(tiny_lm, tmp_path):
    lm = tiny_lm("qwen3")
    direction = tiny_direction(lm, (0, 1, 2))
    path = save_control_vector(direction, tmp_path / "v.gguf", layers=[2, 1], alpha=-2.5)
    back = load_control_vector(path)
    assert back.layers == (1, 2)
    assert torch.equal(back.vectors, torch.tensor(-2.5) * direction.vectors[1:])
    assert (back.model, back.weights_id, back.method, back.dataset) == (lm.name, lm.weights_id, "mean-diff", "acts.h5")
    assert back.created_by == direction.created_by and back.extra["alpha_baked"] == -2.5
    again = load_control_vector(save_control_vector(back, tmp_path / "w.gguf", alpha=2.0))
    assert again.extra["alpha_baked"] == -5.0 and torch.equal(again.vectors, 2 * back.vectors)
    assert back.other_model(lm) is None


def test_a_direction_tied_to_no_layer_needs_layers(tiny_lm, tmp_path):
    vector = Direction(torch.ones(8))
    with pytest.raises(DirectionError, match="tied to no layer"):
        save_control_vector(vector, tmp_path / "v.gguf")
    back = load_control_vector(save_control_vector(vector, tmp_path / "v.gguf", layers=[3, 5]))
    assert back.layers == (3, 5) and torch.equal(back.vectors, torch.ones(2, 8))


def measured_mean_diff(lm, positive: str, negative: str) -> dict[int, torch.Tensor]:
    """What cvector-generator's mean method computes for each block i but the last: the output of
    block i ("l_out-i"), positive minus negative per token, averaged and normalized."""
    pos, neg = ids_for(lm, positive), ids_for(lm, negative)
    assert pos.shape == neg.shape
    blocks = range(lm.n_layers - 1)
    with capture_residual(lm, blocks) as plus, torch.no_grad():
        lm.model(input_ids=pos)
    with capture_residual(lm, blocks) as minus, torch.no_grad():
        lm.model(input_ids=neg)
    out = {}
    for i in blocks:
        mean = (plus[i] - minus[i])[0].mean(0)
        out[i] = mean / mean.norm()
    return out


def test_cvector_generator_files_read_one_block_earlier(tiny_lm, tmp_path):
    lm = tiny_lm("llama", num_hidden_layers=4)
    measured = measured_mean_diff(lm, "I feel very happy today!", "I feel very sad today!!!")
    path = tmp_path / "control_vector.gguf"
    write_like_cvector_generator(path, {i: v.numpy() for i, v in measured.items()}, "llama")
    where_measured = load_control_vector(path, "cvector-generator")
    assert where_measured.layers == (0, 1, 2) and where_measured.extra["control_vector"]["model_hint"] == "llama"
    for i, vector in measured.items():
        torch.testing.assert_close(where_measured.at(i), vector, rtol=0, atol=0)
    # read as llama.cpp reads it, the same vectors sit one block later: where llama.cpp adds them
    where_added = load_control_vector(path)
    assert where_added.layers == (1, 2, 3) and torch.equal(where_added.vectors, where_measured.vectors)
    ids = ids_for(lm)
    _, _, tensors = read_back(path)
    added = torch.from_numpy(np.array(tensors["direction.2"].data))
    assert_same_steering(lm, ids, 2, 2, added, where_added, 1.0)  # what llama.cpp does with the file
    assert_same_steering(lm, ids, 1, 1, added, where_measured, 1.0)  # the vector where it was measured


def test_cvector_generator_reading_refuses_direction_zero(tmp_path):
    write_like_cvector_generator(tmp_path / "z.gguf", {-1: np.ones(4)}, "llama")  # direction.0
    with pytest.raises(DirectionError, match="direction.0 has no block before it"):
        load_control_vector(tmp_path / "z.gguf", "cvector-generator")
    assert load_control_vector(tmp_path / "z.gguf").layers == (0,)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p, "no such control vector file"),
        (lambda p: (p.write_bytes(b"not gguf at all"), p)[1], "not a GGUF file"),
        (
            lambda p: write_gguf(p, {"direction.1": np.ones(4, np.float32)}, arch="llama"),
            "general.architecture is 'llama', not 'controlvector'",
        ),
        (
            lambda p: write_gguf(p, {"direction.1": np.ones(4, np.float32), "bias": np.ones(4, np.float32)}),
            "tensor 'bias' is not named direction.<layer>",
        ),
        (lambda p: write_gguf(p, {"direction.1": np.ones((2, 4), np.float32)}), "1-D F32"),
        (
            lambda p: write_gguf(p, {"direction.1": np.ones(4, np.float32), "direction.2": np.ones(5, np.float32)}),
            "different widths",
        ),
        (lambda p: write_gguf(p, {}), "no direction.<k> tensors"),
    ],
)
def test_malformed_files_are_named(tmp_path, make, message):
    path = make(tmp_path / "bad.gguf")
    with pytest.raises(DirectionError, match=message) as err:
        load_control_vector(path)
    assert str(err.value).startswith(str(path))


def test_easysteer_export_keeps_its_method_and_metadata(tmp_path):
    write_like_easysteer(
        tmp_path / "e.gguf",
        "diffmean",
        {0: np.full(4, 0.5, np.float32), 7: np.arange(4, dtype=np.float32)},
        {"n_positive": 12},
    )
    direction = load_control_vector(tmp_path / "e.gguf", "easysteer")
    assert direction.layers == (0, 7) and direction.method == "diffmean"
    assert direction.extra["control_vector"]["n_positive"] == 12.0
    assert torch.equal(direction.at(7), torch.arange(4, dtype=torch.float32))


def test_conventions_cover_the_tools():
    assert {name: rule.shift for name, rule in GGUF_CONVENTIONS.items()} == {
        "llama-cpp": 0,
        "repeng": 0,
        "easysteer": 0,
        "cvector-generator": -1,
    }
