"""Checksum sidecar files: ``<file>.sha256`` holding ``<hex digest>  <file name>``, as ``sha256sum`` writes them.

Introduced in Chapter 3 with the first download: a file whose publisher gives no checksum is trusted on first use,
and its SHA-256 is kept in such a sidecar (:func:`course_lib.download.fetch`). Errors name the sidecar.

Example:
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "a.zip.sha256"
    >>> _ = p.write_text("AB" * 32 + "  a.zip\\n")
    >>> read_sidecar(p) == "ab" * 32
    True
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["read_sidecar"]


def read_sidecar(sidecar: str | os.PathLike) -> str:
    """The SHA-256 recorded in a ``<file>.sha256`` sidecar, lower case.

    Raises:
        ValueError: the sidecar is unreadable, not UTF-8, empty, or does not start with a 64-digit hex SHA-256;
            the message names it.
    """
    sidecar = Path(sidecar)
    try:
        fields = sidecar.read_text(encoding="utf-8").split()
    except (UnicodeDecodeError, OSError) as err:
        raise ValueError(f"{sidecar}: checksum file cannot be read ({err}); delete it to record a new one") from None
    if not fields:
        raise ValueError(f"{sidecar}: checksum file is empty; delete it and run again to download the file afresh "
                         "and record its sha256")
    if not re.fullmatch(r"[0-9a-fA-F]{64}", fields[0]):
        raise ValueError(f"{sidecar}: checksum file does not start with a sha256 (64 hex digits), found "
                         f"{fields[0][:70]!r}; delete it and run again")
    return fields[0].lower()
