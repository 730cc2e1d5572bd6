"""A second process for the lock tests: takes the write lock on argv[1] (a folder when argv[2] is
"dir"), prints "locked", then sleeps until killed.

It loads `interp/models/lock.py` by path, so it starts in a blink (importing `interp` pulls in torch).
"""

import importlib.util
import sys
import time
from pathlib import Path

spec = importlib.util.spec_from_file_location(
    "interp_lock", Path(__file__).resolve().parents[1] / "interp" / "models" / "lock.py"
)
lock = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lock)

with lock.write_lock(sys.argv[1], folder=len(sys.argv) > 2 and sys.argv[2] == "dir"):
    print("locked", flush=True)
    time.sleep(600)
