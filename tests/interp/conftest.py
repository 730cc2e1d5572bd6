"""Fixtures shared by the tests of interp's subpackages."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from interp.audit import DEFAULT_SEEDS


@pytest.fixture
def small_seeds(tmp_path) -> Path:
    """The shipped seed file cut to one dimension with two scenarios."""
    data = yaml.safe_load(DEFAULT_SEEDS.read_text())
    shutdown = next(d for d in data["dimensions"] if d["id"] == "shutdown")
    data["dimensions"] = [{**shutdown, "scenarios": shutdown["scenarios"][:2]}]
    path = tmp_path / "seeds.yaml"
    path.write_text(yaml.safe_dump(data))
    return path
