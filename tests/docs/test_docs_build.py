"""The documentation site builds with `mkdocs build --strict` (what `make docs` runs), and the strict
build does fail on a broken link, so a clean build means the links, pages and API references resolve."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.repo import ROOT


def _mkdocs(config: Path, site: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
        cwd=config.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_site_builds_strict(tmp_path):
    done = _mkdocs(ROOT / "mkdocs.yml", tmp_path / "site")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "WARNING" not in done.stderr, done.stderr[-3000:]
    site = tmp_path / "site"
    assert (site / "guides" / "caching" / "index.html").is_file()
    assert 'class="doc doc-object doc-function"' in (site / "reference" / "probes" / "index.html").read_text()


def test_a_broken_link_fails_the_strict_build(tmp_path):
    """The project's own settings (strict, link validation, the theme and markdown extensions) on a
    one-page site whose page links to a page that does not exist."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# Home\n\nSee [the guide](guides/missing.md).\n")
    # INHERIT keeps every setting of the project's file; the API reference and the published runs' hook
    # are not what is checked here
    (tmp_path / "mkdocs.yml").write_text(
        f"INHERIT: {ROOT / 'mkdocs.yml'}\ndocs_dir: docs\nnav: [index.md]\nplugins: [search]\nhooks: []\n"
    )
    done = _mkdocs(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert done.returncode != 0
    assert "contains a link 'guides/missing.md'" in done.stderr and "strict mode" in done.stdout + done.stderr
