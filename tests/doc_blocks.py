"""The Python blocks of a Markdown page, and a folder laid out like the repository to run them in.

A block runs unless the line before its fence is the documented marker (docs/development.md):

    <!-- docs-test: skip (why it cannot run here) -->
    ```python

Every block of a page runs in order in one namespace, in `workdir`: `runs/organism` there is an
organism run folder (its base model, its results.json) and `experiments` is the repository's.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from tests.repo import ROOT

MARKER = re.compile(r"<!-- docs-test: skip \((?P<reason>[^)]+)\) -->")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    """the line of the block's first code line in the page (from 1)"""
    code: str
    skip: str | None
    """the marker's reason, when the block is marked"""


def python_blocks(page: Path) -> list[Block]:
    """The page's ```python blocks in order. A marker must stand on the line right before a python
    fence; one anywhere else outside a fence (or misspelt) is a ValueError naming its line."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    pending: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), None)
            if end is None:
                raise ValueError(f"{page}:{i + 1}: a code fence that is never closed")
            if line[3:].strip() == "python":
                blocks.append(Block(page, i + 2, "\n".join(lines[i + 1 : end]) + "\n", pending))
            elif pending is not None:
                raise ValueError(f"{page}:{i}: a docs-test marker before a fence that is not python")
            pending, i = None, end + 1
            continue
        marker = MARKER.fullmatch(line.strip())
        if pending is not None or ("docs-test:" in line and marker is None):
            raise ValueError(
                f"{page}:{i if pending is not None else i + 1}: a docs-test marker must be "
                "`<!-- docs-test: skip (reason) -->` on the line right before a ```python fence"
            )
        pending = marker["reason"] if marker else None
        i += 1
    if pending is not None:
        raise ValueError(f"{page}:{len(lines)}: a docs-test marker at the end of the page")
    return blocks


def prepare_workdir(workdir: Path, organism_run: Path) -> Path:
    """`workdir` with `runs/organism` -> the organism run and `experiments` -> the repository's."""
    (workdir / "runs").mkdir(parents=True, exist_ok=True)
    os.symlink(organism_run, workdir / "runs" / "organism", target_is_directory=True)
    os.symlink(ROOT / "experiments", workdir / "experiments", target_is_directory=True)
    return workdir


def run_blocks(blocks: list[Block]) -> dict:
    """Execute the blocks not marked, in order, in one namespace (the current folder is the caller's);
    a traceback names the page and its line."""
    namespace: dict = {"__name__": "__docs__"}
    for block in blocks:
        if block.skip is None:
            code = "\n" * (block.line - 1) + block.code  # line numbers as in the page
            exec(compile(code, str(block.page), "exec"), namespace)
    return namespace
