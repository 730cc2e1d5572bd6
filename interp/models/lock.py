"""One writer at a time: an exclusive lock on an output (an activation file, a run folder).

The lock is `fcntl.flock` on a sidecar file (`FILE.lock` beside a file, `DIR/.interp.lock` inside
a folder). The operating system drops it when its process ends, however it ends, so a lock that
a killed run left behind never blocks the rerun; the holder's pid is written into the file for
the message the second writer gets. A process may take the same lock again while it holds it
(the CLI takes it before loading a model, the library again around the write).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = ["OutputLockedError", "lock_path", "write_lock"]

_HELD: dict[str, tuple[int, int]] = {}
"""lock file -> (open descriptor, times taken) for the locks this process holds"""
_HELD_GUARD = threading.Lock()


class OutputLockedError(RuntimeError):
    """Another process is writing the same output; the message names its pid and what to do."""


def lock_path(target: str | Path, folder: bool = False) -> Path:
    """The sidecar file whose lock guards `target`."""
    target = Path(target)
    return target / ".interp.lock" if folder else target.with_name(target.name + ".lock")


def _holder(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii").strip() or "?"
    except (OSError, UnicodeDecodeError):
        return "?"


def _acquire(path: Path, target: Path) -> int:
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputLockedError(
                f"another interp process (pid {_holder(path)}) is writing {target}; wait for it or choose another --out"
            ) from None
        # The holder before us may have removed the file between our open and our lock: then we
        # hold a lock on a name nobody else sees, so start again on the file that is there now.
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return fd
        os.close(fd)


@contextlib.contextmanager
def write_lock(target: str | Path, folder: bool = False) -> Iterator[Path]:
    """Hold the exclusive write lock on `target` (a file, or a folder when `folder`), or raise
    OutputLockedError at once when another process holds it. Creates the folder it needs, and
    removes it again if the locked work left nothing in it (a refused run leaves no empty folder)."""
    target = Path(target)
    path = lock_path(target, folder)
    created = not path.parent.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = str(path.resolve())
    with _HELD_GUARD:
        if key in _HELD:
            fd, count = _HELD[key]
            _HELD[key] = (fd, count + 1)
        else:
            _HELD[key] = (_acquire(path, target), 1)
    try:
        yield path
    finally:
        with _HELD_GUARD:
            fd, count = _HELD.pop(key)
            if count > 1:
                _HELD[key] = (fd, count - 1)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(path)  # unlinked while still locked, so no one can lock the old file after us
                os.close(fd)
                if created:
                    with contextlib.suppress(OSError):  # not empty: the work wrote something, keep it
                        path.parent.rmdir()
