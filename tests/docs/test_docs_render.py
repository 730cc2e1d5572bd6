"""The rendered pages (results pages, the benchmarks page, the README's headline tables, each published
run's RUN.md) equal what `interp docs render` makes from the committed result files, and the check
fails on a single edited digit. Rendering a published organism run: every number on the page is the
result file's, by a plain reading of the JSON."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from experiments.consciousness_cluster.publish.pages import check, render_all, write
from interp.cli import main
from tests.repo import ROOT


def test_committed_pages_match_their_render(capsys):
    assert check(ROOT) == []
    assert main(["docs", "render", "--check", "--root", str(ROOT)]) == 0
    assert "matches" in capsys.readouterr().out


def _copy_repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "docs", root / "docs")
    shutil.copytree(ROOT / "benchmarks" / "results", root / "benchmarks" / "results")
    if (ROOT / "results").is_dir():
        shutil.copytree(ROOT / "results", root / "results")
    shutil.copy(ROOT / "README.md", root / "README.md")
    return root


def _edit_one_digit(path: Path, pattern: str) -> int:
    """Change the last digit of the first match of `pattern` in `path` (a number on the page); its line."""
    text = path.read_text()
    i = re.search(pattern, text).end() - 1
    path.write_text(text[:i] + str((int(text[i]) + 1) % 10) + text[i + 1 :])
    return text[:i].count("\n") + 1


def test_one_edited_digit_fails_the_check(tmp_path, capsys):
    root = _copy_repo(tmp_path)
    assert check(root) == []
    line = _edit_one_digit(root / "docs" / "guides" / "benchmarks.md", r"\| \d,\d{3}(?= \|)")  # a tokens/s cell
    problems = check(root)
    assert len(problems) == 1 and problems[0].startswith(f"{root / 'docs' / 'guides' / 'benchmarks.md'}:{line}:")
    assert main(["docs", "render", "--check", "--root", str(root)]) == 1
    assert "1 rendered file(s) differ" in capsys.readouterr().out
    assert [p.name for p in write(root)] == ["benchmarks.md"] and check(root) == []


def test_without_published_runs_the_pages_say_so(tmp_path):
    root = _copy_repo(tmp_path)
    shutil.rmtree(root / "results", ignore_errors=True)
    pages = render_all(root)
    for page in ("organism", "smollm2-135m"):
        assert "No published run yet." in pages[root / "docs" / "results" / f"{page}.md"]
    readme = pages[root / "README.md"]
    assert readme.count("No published run yet.") == 2
