"""`interp convert-direction`: files in each format, the layers each lands on, and one-line errors."""

import gguf
import numpy as np
import pytest
import torch

from interp.cli import main
from interp.interop import load_control_vector
from interp.models import Direction


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith("interp convert-direction: error: "), err
    return line


def _direction(tmp_path, layers=(0, 1, 2), width=32) -> str:
    rows = torch.arange(len(layers) * width, dtype=torch.float32).reshape(len(layers), width) / 100
    return str(Direction(rows, layers, model="tiny", method="mean-diff").save(tmp_path / "v.safetensors"))


def test_toolkit_to_llama_cpp_and_back(tmp_path, capsys):
    source = _direction(tmp_path)
    out = tmp_path / "v.gguf"
    assert main(["convert-direction", "--vector", source, "--layers", "1-2", "--alpha", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "the toolkit's layers [1, 2]" in printed and "direction.1, direction.2" in printed
    assert "--control-vector-layer-range" in printed
    tensors = {t.name: np.array(t.data) for t in gguf.GGUFReader(str(out)).tensors}
    original = Direction.load(source)
    assert sorted(tensors) == ["direction.1", "direction.2"]
    assert np.array_equal(tensors["direction.2"], 2 * original.at(2).numpy())
    back = tmp_path / "back.safetensors"
    assert main(["convert-direction", "--vector", str(out), "--out", str(back)]) == 0
    again = Direction.load(back)
    assert again.layers == (1, 2) and again.model == "tiny" and again.extra["alpha_baked"] == 2.0
    assert torch.equal(again.vectors, 2 * original.vectors[1:])


def test_cvector_generator_and_repeng_readings(tmp_path, capsys):
    out = tmp_path / "v.gguf"
    assert main(["convert-direction", "--vector", _direction(tmp_path), "--to", "repeng", "--out", str(out)]) == 0
    assert load_control_vector(out, "repeng").layers == (0, 1, 2)
    shifted = tmp_path / "measured.safetensors"
    with_zero = ["convert-direction", "--vector", str(out), "--from", "cvector-generator", "--out", str(shifted)]
    assert main(with_zero) == 2
    assert "direction.0 has no block before it under the cvector-generator convention" in _error_line(capsys)
    one_two = tmp_path / "v12.gguf"
    assert main(["convert-direction", "--vector", _direction(tmp_path), "--layers", "1,2", "--out", str(one_two)]) == 0
    assert (
        main(["convert-direction", "--vector", str(one_two), "--from", "cvector-generator", "--out", str(shifted)]) == 0
    )
    assert Direction.load(shifted).layers == (0, 1)


def test_persona_vectors_file_steers_through_interp_steer(tiny_model_dir, tmp_path, capsys):
    tensor = torch.randn(4, 32, generator=torch.Generator().manual_seed(0)) * 10  # 3 blocks + embeddings
    torch.save(tensor, tmp_path / "evil_response_avg_diff.pt")
    out = tmp_path / "evil.safetensors"
    assert main(["convert-direction", "--vector", str(tmp_path / "evil_response_avg_diff.pt"), "--out", str(out)]) == 0
    assert "the toolkit's layers [0, 1, 2], alpha 1" in capsys.readouterr().out
    direction = Direction.load(out)
    assert torch.equal(direction.at(1), tensor[2])
    assert (
        main(
            [
                "steer",
                "--model",
                str(tiny_model_dir("qwen3")),
                "--steer",
                str(out),
                "--layer",
                "1",
                "--alpha",
                "1",
                "--prompt",
                "Hi",
                "--max-new-tokens",
                "2",
            ]
        )
        == 0
    )


def test_layer_zero_to_llama_cpp_is_refused_in_one_line(tmp_path, capsys):
    out = tmp_path / "v.gguf"
    assert main(["convert-direction", "--vector", _direction(tmp_path), "--out", str(out)]) == 2
    line = _error_line(capsys)
    assert f"--out {out}: layer 0 (the output of block 0) cannot be written for llama-cpp" in line
    assert "--layers 1-" in line and not out.exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--vector", "{tmp}/missing.safetensors", "--out", "{tmp}/v.gguf"], "no such direction file"),
        (["--vector", "{tmp}/v.npy", "--out", "{tmp}/v.gguf"], "cannot tell the format from the name"),
        (["--vector", "{src}", "--out", "{tmp}/v.bin"], "--out {tmp}/v.bin: cannot tell the format"),
        (["--vector", "{src}", "--layers", "7", "--out", "{tmp}/v.gguf"], "--layers layer(s) [7] not in the direction"),
        (["--vector", "{src}", "--alpha", "nan", "--layers", "1", "--out", "{tmp}/v.gguf"], "--alpha nan"),
        (
            ["--vector", "{src}", "--layers", "1", "--model-hint", "x", "--out", "{tmp}/w.safetensors"],
            "a model hint is written only into control-vector GGUF files",
        ),
        (["--vector", "{src}", "--out", "{tmp}/a-file/v.gguf"], "cannot write to"),
    ],
)
def test_user_errors_exit_2_in_one_line(tmp_path, capsys, argv, message):
    (tmp_path / "a-file").write_text("not a folder")
    fill = {"tmp": str(tmp_path), "src": _direction(tmp_path)}
    assert main(["convert-direction", *(a.format(**fill) for a in argv)]) == 2
    assert message.format(**fill) in _error_line(capsys)


def test_only_writable_formats_are_offered_as_targets(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(
            [
                "convert-direction",
                "--vector",
                _direction(tmp_path),
                "--to",
                "persona-vectors",
                "--out",
                str(tmp_path / "v.pt"),
            ]
        )
    assert exit_.value.code == 2 and "invalid choice: 'persona-vectors'" in capsys.readouterr().err


def test_a_vector_tied_to_no_layer_needs_numbered_blocks(tmp_path, capsys):
    source = str(Direction(torch.ones(32)).save(tmp_path / "any.safetensors"))
    out = tmp_path / "v.gguf"
    assert main(["convert-direction", "--vector", source, "--layers", "-1", "--out", str(out)]) == 2
    assert "tied to no layer, so name blocks by number" in _error_line(capsys)
    assert main(["convert-direction", "--vector", source, "--out", str(out)]) == 2
    assert "tied to no layer; name the blocks" in _error_line(capsys)
    assert main(["convert-direction", "--vector", source, "--layers", "2,4-5", "--out", str(out)]) == 0
    assert load_control_vector(out).layers == (2, 4, 5)
