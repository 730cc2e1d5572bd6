"""The test tree mirrors the code: the tests of a folder of the repository live in the same path under tests/."""

from __future__ import annotations

from tests.repo import ROOT, TESTS


def _test_folders() -> set[str]:
    return {str(path.parent.relative_to(TESTS)) for path in TESTS.rglob("test_*.py") if path.parent != TESTS}


def test_every_test_folder_is_a_folder_of_the_repository():
    folders = _test_folders()
    assert {"interp/models", "activations", "probes", "experiments/consciousness_cluster/run", "docs"} <= folders
    assert sorted(f for f in folders if not (ROOT / f).is_dir()) == []


def test_only_this_file_tests_from_the_top():
    assert sorted(path.name for path in TESTS.glob("test_*.py")) == ["test_layout.py"]


def test_every_test_folder_is_a_package():
    # test modules are imported by their path (tests.interp.models.test_models), so two folders may hold files of
    # the same name and tests/interp never stands in for the interp package
    missing = [f for f in sorted(_test_folders()) if not (TESTS / f / "__init__.py").is_file()]
    parents = {str(p) for f in _test_folders() for p in (TESTS / f).relative_to(TESTS).parents if str(p) != "."}
    missing += [p for p in sorted(parents) if not (TESTS / p / "__init__.py").is_file()]
    assert missing == []
