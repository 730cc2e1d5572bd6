"""The `interp` command: help, version, and user errors without tracebacks."""

import json
import subprocess
import sys

import pytest

import interp
from interp.cli import SUBCOMMANDS, main


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert name in out


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_subcommand_help_has_example(name, capsys):
    with pytest.raises(SystemExit):
        main([name, "--help"])
    assert "example:" in capsys.readouterr().out


def test_version_console_script():
    result = subprocess.run([sys.executable, "-m", "interp.cli", "--version"], capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stdout.strip() == f"interp {interp.__version__}"


def test_info_on_local_model(tiny_model_dir, capsys):
    assert main(["info", "--model", str(tiny_model_dir("llama")), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["n_layers"] == 3 and info["d_model"] == 32 and info["model_type"] == "llama"


def test_bad_model_path_is_user_error(tmp_path, capsys):
    assert main(["info", "--model", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no config.json" in err and "Traceback" not in err


def test_a_missing_relative_model_folder_says_no_such_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["info", "--model", "./runs/base"]) == 2
    want = f"interp info: error: --model ./runs/base: no such folder: {tmp_path}/runs/base"
    assert capsys.readouterr().err.strip() == want
    assert main(["info", "--model", "runs/base"]) == 2  # could be a hub id too: both are said
    err = capsys.readouterr().err
    assert f"no such folder ({tmp_path}/runs/base), and 'runs/base' is not a model on the Hugging Face hub" in err
