"""The one on-disk cache of ``course_lib``: arrays computed from a source file, keyed on that file's identity.

Introduced in Chapter 3 (BraTS volumes: decoding a gzip NIfTI costs about a second, reading the cached ``.npy``
a few milliseconds) and used again in Chapter 6 (points sampled from ModelNet meshes). An entry is keyed on the
source files' resolved paths, sizes and modification times plus a ``how`` string (the preprocessing settings), so
an edited file or new settings give a new entry instead of a stale one. Entries are written atomically
(:mod:`course_lib.io.atomic`); a damaged entry (truncated, corrupt) is recomputed and rewritten, never a crash.
The cache folder lives in the work folder (:func:`course_lib.config.work_dir`), never inside a data root.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..io.atomic import atomic_write

__all__ = ["FileCache", "file_key"]


def file_key(sources: Sequence[str | os.PathLike], how: str) -> str:
    """A 16-hex-digit hash of the files' resolved paths, sizes and modification times, and of ``how``.

    Example:
        >>> import tempfile; p = Path(tempfile.mkdtemp()) / "a.txt"; _ = p.write_text("x")
        >>> file_key([p], "v1") == file_key([p], "v1"), file_key([p], "v1") == file_key([p], "v2")
        (True, False)
    """
    parts: list = [how]
    for source in sources:
        path = Path(source)
        try:
            st = path.stat()
        except OSError as err:
            raise FileNotFoundError(f"{path}: cannot read the source file of a cache entry ({err})") from err
        parts.append([str(path.resolve()), st.st_size, st.st_mtime_ns])
    return hashlib.sha1(json.dumps(parts).encode()).hexdigest()[:16]


class FileCache:
    """Arrays (``.npy``) or named arrays (``.npz``) computed from source files, stored under ``folder``.

    Args:
        folder: the cache folder (created when needed); ``None`` disables caching (always compute).

    Example:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp()); src = d / "mesh.off"; _ = src.write_text("OFF")
        >>> cache = FileCache(d / "cache")
        >>> cache.array([src], "points-1024", lambda: np.zeros(3)).tolist()
        [0.0, 0.0, 0.0]
        >>> cache.array([src], "points-1024", lambda: np.ones(3)).tolist()  # from the cache: not recomputed
        [0.0, 0.0, 0.0]
    """

    def __init__(self, folder: str | os.PathLike | None) -> None:
        self.folder = None if folder is None else Path(folder).expanduser()

    def path(self, sources: Sequence[str | os.PathLike], how: str, suffix: str = ".npy", name: str = "") -> Path:
        """Where the entry for ``sources`` and ``how`` lives (``name`` prefixes the file name for humans)."""
        if self.folder is None:
            raise ValueError("this FileCache is disabled (folder=None)")
        key = file_key(sources, how)
        stem = name or Path(sources[0]).stem
        return self.folder / key[:2] / f"{stem}-{key}{suffix}"

    def array(self, sources: Sequence[str | os.PathLike], how: str, compute: Callable[[], np.ndarray],
              mmap: bool = False, name: str = "") -> np.ndarray:
        """``compute()`` once per (files, how); later calls load the stored ``.npy`` (memory-mapped if ``mmap``)."""
        if self.folder is None:
            return compute()
        path = self.path(sources, how, ".npy", name)
        if path.is_file():
            try:
                return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
            except (OSError, ValueError, EOFError):
                path.unlink(missing_ok=True)  # a damaged entry is recomputed
        value = np.asarray(compute())
        with atomic_write(path, "wb") as fh:
            np.save(fh, value, allow_pickle=False)
        return np.load(path, mmap_mode="r") if mmap else value

    def arrays(self, sources: Sequence[str | os.PathLike], how: str,
               compute: Callable[[], dict[str, np.ndarray]], name: str = "") -> dict[str, np.ndarray]:
        """Like :meth:`array` for several named arrays, stored together in one ``.npz``."""
        if self.folder is None:
            return compute()
        path = self.path(sources, how, ".npz", name)
        if path.is_file():
            try:
                with np.load(path, allow_pickle=False) as stored:
                    return {k: stored[k] for k in stored.files}
            except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError):
                path.unlink(missing_ok=True)
        values = {k: np.asarray(v) for k, v in compute().items()}
        with atomic_write(path, "wb") as fh:
            np.savez(fh, **values)
        return values
