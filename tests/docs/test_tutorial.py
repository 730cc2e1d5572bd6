"""The tutorial notebook (docs/tutorial/tutorial.ipynb) runs top to bottom through a Jupyter kernel
(nbclient) and shows its plots: on a tiny random model in the default run (the code works against the
toolkit as it is), on SmolLM2 as written in the slow tier (the notebook the site shows)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from tests.repo import ROOT

TUTORIAL = ROOT / "docs" / "tutorial" / "tutorial.ipynb"
MODEL_LINE = 'MODEL = "smollm2-135m-instruct"'
PLOTS = 5


def _execute(nb, folder: Path):
    from nbclient import NotebookClient

    NotebookClient(nb, timeout=1200, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    images = [o for cell in code_cells for o in cell.outputs if "image/png" in o.get("data", {})]
    errors = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs if o.output_type == "error"]
    return images, errors


def test_the_committed_notebook_shows_its_outputs():
    """The site renders the notebook as committed (not executed at build time): every code cell has run."""
    nb = nbformat.read(TUTORIAL, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code), "run the notebook and commit it with its outputs"
    assert sum("image/png" in o.get("data", {}) for cell in code for o in cell.outputs) == PLOTS
    assert MODEL_LINE in code[0].source


def test_tutorial_runs_on_a_tiny_model(tiny_model_dir, tmp_path):
    nb = nbformat.read(TUTORIAL, as_version=4)
    first = next(cell for cell in nb.cells if cell.cell_type == "code")
    assert MODEL_LINE in first.source
    first.source = first.source.replace(MODEL_LINE, f'MODEL = r"{tiny_model_dir("qwen3", num_hidden_layers=8)}"')
    images, errors = _execute(nb, tmp_path)
    assert not errors and len(images) == PLOTS


@pytest.mark.slow
@pytest.mark.real
def test_tutorial_runs_as_written(tmp_path):
    nb = nbformat.read(TUTORIAL, as_version=4)
    images, errors = _execute(nb, tmp_path)
    assert not errors and len(images) == PLOTS
