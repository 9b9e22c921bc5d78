"""Unpacking zip and tar archives without ever writing outside the target folder.

Introduced in Chapter 3 with the first download. Every member of an archive is checked before anything is
written; tar archives are extracted with the standard library's ``filter="data"`` (Python 3.11.4+: no absolute
paths, no ``..`` escaping the target, no links pointing outside it, no device files); zip members get the same
name checks; an archive that would unpack to more than :data:`MAX_UNPACKED_BYTES` or :data:`MAX_RATIO` times its
size is refused, and so is one that would overwrite a file the user already has. The archive is unpacked into a
temporary folder next to the target and moved into place, and a marker file ``.extracted-<archive name>`` is
written last, so an interrupted run is redone and a finished one skipped.
"""

from __future__ import annotations

import filecmp
import os
import posixpath
import re
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path

from .atomic import atomic_write_text

__all__ = ["ARCHIVE_SUFFIXES", "MAX_RATIO", "MAX_UNPACKED_BYTES", "ArchiveError", "UnsafeArchiveError",
           "is_archive_name", "safe_extract"]

_ZIP_SUFFIXES = (".zip",)
_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tbz", ".tar.xz", ".txz")
ARCHIVE_SUFFIXES = _ZIP_SUFFIXES + _TAR_SUFFIXES

#: the most bytes an archive may unpack to (1 TiB: more than any dataset of the book).
MAX_UNPACKED_BYTES = 1 << 40
#: the most an archive may expand (unpacked / packed size); image and volume datasets compress far less.
MAX_RATIO = 200.0
_RATIO_FLOOR = 64 << 20  # small archives (under 64 MiB unpacked) are never refused for their ratio


class ArchiveError(RuntimeError):
    """An archive cannot be read or put in place: damaged, truncated, of an unknown format; the message names it."""


class UnsafeArchiveError(ArchiveError):
    """An archive member would land outside the extraction folder (or is a device file); nothing was written."""


def is_archive_name(name: str) -> bool:
    """Whether ``name`` ends like a zip or tar archive."""
    return name.lower().endswith(ARCHIVE_SUFFIXES)




def _archive_kind(archive: Path) -> str:
    name = archive.name.lower()
    if name.endswith(_ZIP_SUFFIXES):
        return "zip"
    if name.endswith(_TAR_SUFFIXES):
        return "tar"
    if zipfile.is_zipfile(archive):
        return "zip"
    try:
        if tarfile.is_tarfile(archive):
            return "tar"
    except (OSError, EOFError):
        pass
    raise ArchiveError(f"{archive}: not a zip or tar archive (expected one of {', '.join(ARCHIVE_SUFFIXES)})")


def _escapes(name: str) -> bool:
    """Whether a relative posix path leaves its folder (``..`` above the top)."""
    norm = posixpath.normpath(name)
    return norm == ".." or norm.startswith("../")


def _is_absolute(name: str) -> bool:
    return name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) is not None


def _check_name(archive: Path, name: str) -> str:
    """Refuse an absolute or escaping member name; return it normalised (posix, no leading ``./``)."""
    for variant in {name, name.replace("\\", "/")}:
        if _is_absolute(variant):
            raise UnsafeArchiveError(f"{archive}: member {name!r} has an absolute path; refusing to extract")
        if _escapes(variant):
            raise UnsafeArchiveError(f"{archive}: member {name!r} would be written outside the target folder "
                                     "('..' path); refusing to extract")
    return posixpath.normpath(name)


def _check_sizes(archive: Path, unpacked: int, max_bytes: int, max_ratio: float) -> None:
    """Refuse an archive whose members add up to more than ``max_bytes`` or ``max_ratio`` times its own size."""
    packed = max(1, archive.stat().st_size)
    if unpacked > max_bytes:
        raise UnsafeArchiveError(f"{archive}: unpacks to {unpacked:,} bytes, over the limit of {max_bytes:,}; "
                                 "refusing to extract (raise max_bytes if this is expected)")
    if unpacked > max_ratio * packed and unpacked > _RATIO_FLOOR:
        raise UnsafeArchiveError(f"{archive}: unpacks to {unpacked:,} bytes, {unpacked / packed:.0f} times its own "
                                 f"size (limit {max_ratio:g}x): a decompression bomb? refusing to extract")


def _unpack(archive: Path, kind: str, into: Path, max_bytes: int = MAX_UNPACKED_BYTES,
            max_ratio: float = MAX_RATIO) -> list[str]:
    """Check every member, then extract into ``into``; return the relative paths of the non-folder members."""
    if kind == "zip":
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            names = [_check_name(archive, info.filename) for info in infos]
            _check_sizes(archive, sum(info.file_size for info in infos), max_bytes, max_ratio)
            zf.extractall(into)
        return [n for n, info in zip(names, infos, strict=True) if not info.is_dir() and n != "."]
    with tarfile.open(archive, "r:*") as tf:
        members = tf.getmembers()  # reads the whole archive: a truncated one fails here, before writing
        _check_sizes(archive, sum(m.size for m in members if m.isfile()), max_bytes, max_ratio)
        for m in members:  # names first, then the standard library's "data" filter, before anything is written
            _check_name(archive, m.name)
            try:
                tarfile.data_filter(m, str(into))
            except tarfile.FilterError as err:
                raise UnsafeArchiveError(f"{archive}: {err}; refusing to extract") from None
        try:  # the filter runs again while extracting, when earlier links exist (link chains)
            tf.extractall(into, members=members, filter="data")
        except tarfile.FilterError as err:
            raise UnsafeArchiveError(f"{archive}: {err}; refusing to extract") from None
        return [posixpath.normpath(m.name) for m in members if not m.isdir() and posixpath.normpath(m.name) != "."]


def _move_into(src: Path, dst: Path) -> None:
    """Move ``src`` to ``dst``, merging folders that exist on both sides."""
    if not dst.exists() and not dst.is_symlink():
        os.replace(src, dst)
    elif src.is_dir() and not src.is_symlink() and dst.is_dir():
        for child in list(src.iterdir()):
            _move_into(child, dst / child.name)
        src.rmdir()
    elif not src.is_dir() and not dst.is_dir():
        os.replace(src, dst)
    else:
        raise ArchiveError(f"cannot put {src.name!r} in place: {dst} exists and is a "
                            f"{'folder' if dst.is_dir() else 'file'} while the archive holds a "
                            f"{'folder' if src.is_dir() else 'file'}; move {dst} away and run again")


def _conflicts(src: Path, dst: Path) -> list[Path]:
    """Files under ``dst`` that ``src`` would overwrite with different content (the user's files)."""
    if src.is_symlink() or not src.is_dir():
        if dst.is_file() and not dst.is_symlink() and not (src.is_file() and filecmp.cmp(src, dst, shallow=False)):
            return [dst]
        return []
    if not dst.is_dir():
        return []
    return [c for child in src.iterdir() for c in _conflicts(child, dst / child.name)]


def safe_extract(archive: str | os.PathLike, target: str | os.PathLike, *, max_bytes: int = MAX_UNPACKED_BYTES,
                 max_ratio: float = MAX_RATIO) -> list[Path]:
    """Extract a zip or tar archive into ``target`` without ever writing outside it.

    All members are checked before anything is written; absolute paths, ``..`` that escapes ``target``, links
    pointing outside it, links that later members are written through, and device files are refused. The archive
    is unpacked into a temporary folder next to ``target`` and moved into place (merging with existing folders);
    the marker ``target/.extracted-<archive name>`` is written last, and a later call that finds it does nothing.

    Args:
        archive: a ``.zip``, ``.tar``, ``.tar.gz``/``.tgz``, ``.tar.bz2`` or ``.tar.xz`` file.
        target: the folder to extract into (created if missing).

    Returns:
        The extracted files (and links), as paths inside ``target``, in archive order.

        max_bytes: refuse an archive whose files add up to more than this many bytes.
        max_ratio: refuse an archive that unpacks to more than this many times its own size (a zip bomb).

    A file already in ``target`` with other content than the archive's member of that name is the user's: the
    extraction is refused, naming it, and nothing is moved into ``target``.

    Raises:
        UnsafeArchiveError: a member is unsafe, or the archive is too large unpacked; nothing was written.
        ArchiveError: the archive is damaged, truncated or not an archive; nothing was written to ``target``.

    Example:
        >>> files = safe_extract("data/voc/downloads/VOCtrainval_11-May-2012.tar", "data/voc")  # doctest: +SKIP
    """
    archive, target = Path(archive), Path(target)
    if not archive.is_file():
        raise ArchiveError(f"{archive}: archive not found")
    marker = target / f".extracted-{archive.name}"
    if marker.is_file():
        print(f"{archive.name}: already extracted into {target} (delete {marker.name} there to extract again)")
        return [target / line for line in marker.read_text(encoding="utf-8").splitlines() if line.strip()]
    if target.exists() and not target.is_dir():
        raise ArchiveError(f"{target}: the extraction target is a file, not a folder; move it away or choose "
                           f"another folder for {archive.name}")
    kind = _archive_kind(archive)
    target.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".extracting-{target.name}-{archive.name}-"
    for stale in target.parent.glob(prefix + "*"):  # left behind by an interrupted run
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
    try:
        try:
            names = _unpack(archive, kind, tmp, max_bytes, max_ratio)
        except ArchiveError:
            raise
        except Exception as err:  # tarfile/zipfile errors, EOFError, OSError, zlib.error, lzma.LZMAError, ...
            raise ArchiveError(f"{archive}: cannot extract, the archive looks damaged or truncated "
                               f"({type(err).__name__}: {err}); delete it and download it again") from None
        clashes = [c for child in tmp.iterdir() for c in _conflicts(child, target / child.name)]
        if clashes:
            shown = ", ".join(str(c) for c in clashes[:5]) + (f" and {len(clashes) - 5} more" * (len(clashes) > 5))
            raise ArchiveError(f"{archive}: would overwrite {len(clashes)} file(s) already in {target} with other "
                               f"content: {shown}; nothing was changed. Move them away (or extract elsewhere) and "
                               "run again")
        target.mkdir(parents=True, exist_ok=True)
        for child in list(tmp.iterdir()):
            _move_into(child, target / child.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    atomic_write_text(marker, "".join(f"{name}\n" for name in names))
    return [target / name for name in names]
