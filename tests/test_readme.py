"""The README's Python blocks run as written, in a folder laid out like the repository after `make demo`
(`runs/organism` is a small organism run), and print what the README says they print."""

import re

from doc_blocks import ROOT, prepare_workdir, python_blocks, run_blocks

README = ROOT / "README.md"


def test_readme_has_the_three_jobs_and_nothing_skipped():
    blocks = python_blocks(README)
    assert len(blocks) == 3 and all(block.skip is None for block in blocks)


def test_readme_blocks_run(small_replication, tmp_path, monkeypatch, capsys):
    from interp import load_model

    _, run = small_replication
    monkeypatch.chdir(prepare_workdir(tmp_path, run))
    namespace = run_blocks(python_blocks(README))
    out = capsys.readouterr().out
    lm = load_model(run / "models" / "base")
    layers = list(range(lm.n_layers))
    assert f"{layers} 4 (4, {lm.d_model})" in out                    # extract: every layer, one row per answer
    assert re.search(r"^0\.0 ", out, flags=re.M) and re.search(r"^8\.0 ", out, flags=re.M)   # steer
    link = namespace["link"]
    assert f"pearson {link.pearson:.2f} [{link.ci_low:.2f}, {link.ci_high:.2f}]" in out      # link
    assert len(namespace["items"]) == len(namespace["projection"]) > 1
    assert (tmp_path / "quickstart.h5").is_file() and (tmp_path / "quickstart.safetensors").is_file()
