"""Every docs page's Python blocks run as written (tests/doc_blocks.py: in order, one namespace per page,
in a folder laid out like the repository after `make demo`); the blocks marked to skip are counted."""

from __future__ import annotations

import contextlib

import pytest

from tests.doc_blocks import ROOT, prepare_workdir, python_blocks, run_blocks

DOCS = ROOT / "docs"
PAGES = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))

# Pages whose blocks another test runs, with that test.
TESTED_ELSEWHERE = {"quickstart.md": "tests/docs/test_quickstart.py"}

# Blocks marked `<!-- docs-test: skip (reason) -->`, per page: a new skip changes this on purpose.
SKIPPED = {"guides/models.md": 2, "guides/finetuning.md": 1, "guides/organism.md": 1, "serving.md": 2}


def _runnable(page: str) -> bool:
    return page not in TESTED_ELSEWHERE and any(b.skip is None for b in python_blocks(DOCS / page))


def test_skipped_blocks_are_the_counted_ones():
    found = {page: n for page in PAGES if (n := sum(b.skip is not None for b in python_blocks(DOCS / page)))}
    assert found == SKIPPED
    assert all(b.skip.strip() for page in PAGES for b in python_blocks(DOCS / page) if b.skip is not None)


def test_pages_tested_elsewhere_have_their_test():
    for page, test in TESTED_ELSEWHERE.items():
        if (DOCS / page).is_file():
            assert (ROOT / test).is_file(), f"{page} says {test} runs its blocks, but there is no {test}"


def test_a_stray_marker_is_refused(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("<!-- docs-test: skip (x) -->\n\n```python\nprint(1)\n```\n")
    with pytest.raises(ValueError, match=r"page.md:1: a docs-test marker must be"):
        python_blocks(page)
    page.write_text("text\n<!-- docs-test: skip (needs a GPU) -->\n```python\nprint(1)\n```\n```python\nx = 2\n```\n")
    first, second = python_blocks(page)
    assert (first.skip, first.line, second.skip, second.line, second.code) == ("needs a GPU", 4, None, 7, "x = 2\n")


@pytest.mark.parametrize("page", [p for p in PAGES if _runnable(p)])
def test_page_blocks_run(page, small_replication, tmp_path, monkeypatch):
    _, run = small_replication
    monkeypatch.chdir(prepare_workdir(tmp_path, run))
    with _registries_restored():  # a page that shows how to register a method must not leave it to later tests
        run_blocks(python_blocks(DOCS / page))


@contextlib.contextmanager
def _registries_restored():
    from interp.models.registry import _REGISTRY
    from probes.directions import DIRECTION_METHODS

    saved = [(registry, dict(registry)) for registry in (_REGISTRY, DIRECTION_METHODS)]
    try:
        yield
    finally:
        for registry, before in saved:
            registry.clear()
            registry.update(before)
