"""The README's Python blocks run as written, in a folder laid out like the repository after `make demo`
(`runs/organism` is a small organism run), and print what the README says they print."""

import re

import numpy as np

from tests.doc_blocks import ROOT, prepare_workdir, python_blocks, run_blocks

README = ROOT / "README.md"


def test_readme_has_the_three_jobs_from_one_import_and_nothing_skipped():
    blocks = python_blocks(README)
    assert len(blocks) == 3 and all(block.skip is None for block in blocks)
    imports = [line for block in blocks for line in block.code.splitlines() if re.match(r"\s*(import|from) ", line)]
    assert imports == ["import interp"]


def test_readme_blocks_run(small_replication, tmp_path, monkeypatch, capsys):
    _, run = small_replication
    monkeypatch.chdir(prepare_workdir(tmp_path, run))
    namespace = run_blocks(python_blocks(README))
    out = capsys.readouterr().out
    lm, direction = namespace["lm"], namespace["direction"]
    assert f"(4, {lm.d_model})" in out  # extract: one row per answer
    assert direction.layers == tuple(range(lm.n_layers))
    # the direction made in memory is the file's difference of means (float16 rows there), row for row
    a, b = namespace["interp"].direction_from_store(tmp_path / "acts.h5").vectors.numpy(), direction.vectors.numpy()
    assert (np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)).min() > 0.999
    assert re.search(r"^0\.0 ", out, flags=re.M) and re.search(r"^8\.0 ", out, flags=re.M)  # steer
    link = namespace["link"]
    assert len(namespace["p"]) == namespace["rows"].n_rows == len(namespace["questions"].choice_items)
    assert f"pearson {link.pearson:.2f} [{link.ci_low:.2f}, {link.ci_high:.2f}]" in out  # link


def test_readme_links_point_at_files_of_the_repository():
    links = re.findall(r"\]\(([^)\s]+)\)", README.read_text())
    assert len(links) > 10
    for link in links:
        assert "://" not in link, link
        assert (ROOT / link.split("#")[0]).exists(), f"README.md links to {link}, which the repository does not have"
