"""Where the repository and the tests' data are, and how a test starts a child process in it.

Test files sit in folders that mirror the packages (tests/interp/models/, tests/probes/, ...); they find
the repository root, the shared data and the helper scripts here instead of counting parent folders.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
DATA = TESTS / "data"
SMALL_QUESTIONS = DATA / "questions_small.yaml"


def child_env() -> dict[str, str]:
    """The environment of a child `python` that imports the checkout's packages, on one thread, offline."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
    }


def wait_for(condition, seconds: float = 60.0) -> None:
    """Poll `condition()` every 50 ms until it holds; fail the test after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
