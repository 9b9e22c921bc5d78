"""Write a file completely or not at all: the one atomic-write helper of ``course_lib``.

A file is written to a hidden temporary file in the same folder, flushed to disk and renamed over the target with
``os.replace`` (atomic on POSIX and Windows), so a crash, a full disk or ``kill -9`` never leaves a half-written
file in place of a good one. Checkpoints, downloads, caches and sample writers all go through it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from glob import escape as glob_escape
from pathlib import Path
from typing import IO

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text", "remove_stale_temps", "TEMP_SUFFIX"]

#: suffix of the temporary files; a crash may leave ``.<name>.<random>.tmp`` files, which are safe to delete.
TEMP_SUFFIX = ".tmp"

#: when this process started using this module: temporary files older than this are left over from a crash.
_PROCESS_START = time.time()


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on a clean exit it replaces ``path``, on an error it is removed.

    Args:
        path: the file to (re)write; its folder is created.
        mode: ``"wb"`` or ``"w"``.
        encoding: for text mode (default UTF-8).

    Example:
        >>> d = Path(tempfile.mkdtemp())
        >>> with atomic_write(d / "a.txt", "w") as f:
        ...     _ = f.write("done")
        >>> (d / "a.txt").read_text()
        'done'
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write supports modes 'wb' and 'w', not {mode!r}")
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder, cannot write a file there")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=(encoding or "utf-8") if mode == "w" else None) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Atomically write ``data`` to ``path``; returns ``path``."""
    with atomic_write(path, "wb") as fh:
        fh.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Atomically write ``text`` (UTF-8) to ``path``; returns ``path``."""
    with atomic_write(path, "w") as fh:
        fh.write(text)
    return Path(path)


def remove_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Delete the temporary files of ``path`` (``.<name>.*.tmp`` beside it) left by a crashed earlier process.

    Only files last modified before this process imported the module are removed, so a write in progress in this
    process is never touched. Returns the removed files.

    Example:
        >>> d = Path(tempfile.mkdtemp()); old = d / ".last.pt.abc.tmp"; _ = old.write_bytes(b"half")
        >>> os.utime(old, (0, 0)); [p.name for p in remove_stale_temps(d / "last.pt")]
        ['.last.pt.abc.tmp']
    """
    path = Path(path)
    removed = []
    for tmp in path.parent.glob(f".{glob_escape(path.name)}.*{TEMP_SUFFIX}"):
        try:
            if tmp.is_file() and tmp.stat().st_mtime < _PROCESS_START:
                tmp.unlink()
                removed.append(tmp)
        except FileNotFoundError:
            continue
    return removed
