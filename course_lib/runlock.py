"""One run at a time per run folder: a lock file that names its holder.

Introduced in Chapter 3 with the shared training loop. Two trainings writing into one ``--out`` folder would mix
their ``last.pt``, ``best.pt`` and ``history.json``. :func:`run_lock` creates ``<run folder>/.run.lock`` with
``O_EXCL`` (atomic: of two processes only one succeeds), writes the holder into it (pid, host, start time, command)
and removes it on exit. A lock left behind by a crashed run (its pid is gone on this host) is recovered with a
message; a lock held by a live process is a :class:`RunLockedError` naming the holder.

Example:
    >>> import tempfile
    >>> with run_lock(tempfile.mkdtemp()) as lock:
    ...     lock.name
    '.run.lock'
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["LOCK_NAME", "RunLockedError", "run_lock", "read_holder"]

LOCK_NAME = ".run.lock"


class RunLockedError(RuntimeError):
    """Another live process holds the run folder; the message names it (pid, host, start, command)."""


def read_holder(lock: Path) -> dict | None:
    """The holder recorded in ``lock``, or ``None`` when the file is unreadable or not a lock written here."""
    try:
        holder = json.loads(lock.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    except OSError:
        return False
    return True


def _describe(holder: dict) -> str:
    return (f"pid {holder.get('pid')} on {holder.get('host')}, started {holder.get('started')}, "
            f"command {holder.get('command')!r}")


def _stale(lock: Path, holder: dict | None) -> bool:
    """Whether the lock's holder is certainly gone: a dead pid on this host, or an unreadable lock older than 60 s."""
    if holder is None:
        try:
            return time.time() - lock.stat().st_mtime > 60  # a holder that crashed between create and write
        except FileNotFoundError:
            return True
    if holder.get("host") != socket.gethostname():
        return False  # cannot check a process on another machine (shared file system)
    pid = holder.get("pid")
    return not isinstance(pid, int) or not _alive(pid)


@contextlib.contextmanager
def run_lock(folder: str | os.PathLike) -> Iterator[Path]:
    """Hold ``folder`` (created if missing) for this process; release it on exit, even on an error.

    A folder created here that is still empty on exit is removed again.

    Raises:
        NotADirectoryError: ``folder`` exists and is a file.
        RunLockedError: another live process holds it; the message names the holder and the lock file.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{folder}: the run folder is a file, not a folder; choose another --out")
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / LOCK_NAME
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
          "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "python"}
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = read_holder(lock)
            if holder is not None and holder.get("pid") == me["pid"] and holder.get("host") == me["host"]:
                raise RunLockedError(f"{folder}: this process already holds the run folder ({lock})") from None
            if _stale(lock, holder):
                print(f"{folder}: recovering the lock of a run that ended without releasing it "
                      f"({_describe(holder) if holder else 'unreadable lock'})")
                lock.unlink(missing_ok=True)
                continue
            who = _describe(holder) if holder else "holder unknown"
            raise RunLockedError(f"{folder}: the run folder is in use by another run ({who}); wait for it to finish "
                                 f"or choose another --out. If that run is gone, delete {lock}") from None
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(me, fh)
        break
    else:  # pragma: no cover - three races lost in a row
        raise RunLockedError(f"{folder}: could not take the run lock {lock}")
    try:
        yield lock
    finally:
        if read_holder(lock) == me:
            lock.unlink(missing_ok=True)
        if created:  # a run that failed before writing anything leaves no empty folder behind
            with contextlib.suppress(OSError):
                folder.rmdir()
