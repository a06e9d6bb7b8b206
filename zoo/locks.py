"""One writer at a time per output target (a run directory, a saved repo): an OS file lock beside
the target, with a note of who holds it so that a second writer is told.

    with exclusive(out_dir, "run directory"):
        ...  # write into out_dir

The lock file is `<parent>/.<name>.zoo-lock` (beside the target, so replacing the target folder
whole keeps the lock) and the holder's note `<parent>/.<name>.zoo-lock.json` (pid, host, command,
start time). Lock files are left in place on release: deleting a lock file that another process
has just opened would let two writers hold "the same" lock. Within one thread the lock is
re-entrant (`zoo.train` holds its run directory while it saves the model into it); another thread
or process is refused at once, never kept waiting.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import BusyError, ZooError

__all__ = ["exclusive", "lock_path"]

_HELD: dict[tuple[str, int], int] = {}  # (target, thread id) -> depth of re-entry
_GUARD = threading.Lock()


def lock_path(target: str | os.PathLike) -> Path:
    """Where the lock of `target` lives: beside it, in the same parent folder."""
    target = Path(target)
    return target.parent / f".{target.name}.zoo-lock"


def _holder_note(path: Path) -> str:
    try:
        note = json.loads(path.with_name(path.name + ".json").read_text(encoding="utf-8"))
        return (f"process {int(note['pid'])} on {str(note['host'])[:64]!r} since {str(note['since'])[:32]}, "
                f"running {str(note['command'])[:200]!r}")
    except (OSError, ValueError, KeyError, TypeError):
        return "another process (its note is unreadable)"


@contextmanager
def exclusive(target: str | os.PathLike, what: str) -> Iterator[None]:
    """Hold the write lock of `target` (`what` names it in errors: "run directory", "repo")."""
    from filelock import FileLock, Timeout

    target = Path(os.path.abspath(target))
    key = (str(target), threading.get_ident())
    with _GUARD:
        if key in _HELD:
            _HELD[key] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _GUARD:
                _HELD[key] -= 1
        return
    path = lock_path(target)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(path), timeout=0)
        lock.acquire()
    except Timeout:
        raise BusyError(f"{what} {target} is being written by {_holder_note(path)}; wait for it to finish, "
                        f"or write elsewhere (lock file {path})") from None
    except OSError as exc:  # e.g. a parent folder that is not writable: not a second writer
        raise ZooError(f"cannot lock {what} {target}: {exc.strerror or exc} (lock file {path})") from None
    try:
        note = {"pid": os.getpid(), "host": socket.gethostname(), "command": " ".join(sys.argv)[:500],
                "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        try:
            path.with_name(path.name + ".json").write_text(json.dumps(note), encoding="utf-8")
        except OSError:
            pass  # the note only improves the message a second writer gets
        with _GUARD:
            _HELD[key] = 1
        try:
            yield
        finally:
            with _GUARD:
                del _HELD[key]
    finally:
        lock.release()
