"""Downloading and unpacking datasets safely: checksums, resume, atomic rename, extraction that stays in its folder.

Introduced in Chapter 3 (the first chapter that trains on a real dataset, PASCAL VOC) and used by every dataset
module in :mod:`course_lib.data` and by ``python data_scripts/download.py``.

What a download guarantees:

* the file is streamed to ``<dest>.part`` and renamed to ``dest`` (``os.replace``) only after its size and
  checksum verified, so a file at ``dest`` is always complete; an existing file is never replaced by a bad one;
* an interrupted download is continued with an HTTP ``Range`` request (a server that ignores it is handled by
  starting again);
* an HTML error or login page is recognised from its first bytes, not after 2 GB and a checksum failure;
* a file whose publisher gives no checksum is trusted on first use: its SHA-256 is printed and written beside it
  as ``<filename>.sha256``, and later runs compare against that.

What an extraction guarantees (:func:`safe_extract`): every member of the archive is checked before anything is
written (no absolute paths, no ``..`` escaping the target, no links pointing outside, no device files); the archive
is unpacked into a temporary folder and moved into place, and a marker file ``.extracted-<archive name>`` is
written last, so an interrupted run is redone and a finished one is skipped.

Dataset registry: :data:`DATASET_MODULES` maps a dataset name to its module in :mod:`course_lib.data`. Such a
module may expose ``RESOURCES: list[Resource]``, ``DOWNLOAD_NOTE: str``, ``write_sample(root: Path) -> Path`` and
``download(root: Path) -> Path`` (used instead of fetching ``RESOURCES`` one by one when present).
An empty ``RESOURCES`` means the dataset needs manual steps (a registration, as for BraTS) that ``DOWNLOAD_NOTE``
explains. The command line tool puts dataset ``<name>`` under ``<root>/<name>/`` (archives in
``<root>/<name>/downloads/``) and its generated sample under ``<root>/samples/<name>/``.
"""

from __future__ import annotations

import hashlib
import http.client
import importlib
import os
import posixpath
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from tqdm.auto import tqdm

__all__ = [
    "DATASET_MODULES",
    "ArchiveError",
    "ChecksumError",
    "DatasetEntry",
    "DownloadError",
    "Resource",
    "UnsafeArchiveError",
    "dataset_dir",
    "dataset_registry",
    "download_file",
    "fetch",
    "fetch_dataset",
    "file_digest",
    "load_dataset",
    "safe_extract",
    "sample_dir",
    "verify_file",
]

#: Dataset name -> module that describes it. Later chapters add "kvasir", "brats", "modelnet", "kitti".
DATASET_MODULES: dict[str, str] = {
    "voc": "course_lib.data.voc",
    "camvid": "course_lib.data.camvid",
    "brats": "course_lib.data.brats",
    "kvasir": "course_lib.data.kvasir",
    "modelnet": "course_lib.data.modelnet",
    "kitti": "course_lib.data.kitti_flow",
}

_CHUNK = 1 << 20
_MAX_ATTEMPTS = 3
_USER_AGENT = "course-book-downloader/1.0 (python urllib)"
_HTML_SUFFIXES = (".html", ".htm")
_ZIP_SUFFIXES = (".zip",)
_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tbz", ".tar.xz", ".txz")
_ARCHIVE_SUFFIXES = _ZIP_SUFFIXES + _TAR_SUFFIXES


class DownloadError(RuntimeError):
    """A download, verification or extraction failed; the message names the file and what went wrong."""


class ChecksumError(DownloadError):
    """A file's size or digest differs from the expected one.

    Attributes:
        path: the file that was checked.
        algo: ``"sha256"``, ``"md5"`` or ``"size"``.
        expected: the expected digest (or size).
        actual: the digest (or size) the file has.
        hint: what happened to the files and what to do.
    """

    def __init__(self, path: Path, algo: str, expected: str, actual: str, hint: str = ""):
        self.path, self.algo, self.expected, self.actual = Path(path), algo, str(expected), str(actual)
        self.hint = hint
        what = "size in bytes" if algo == "size" else algo
        message = f"{self.path}: {what} mismatch: expected {expected}, got {actual}"
        super().__init__(f"{message}. {hint}" if hint else message)


class UnsafeArchiveError(DownloadError):
    """An archive member would land outside the extraction folder (or is a device file); nothing was written."""


class ArchiveError(DownloadError):
    """An archive cannot be read: damaged, truncated or of an unknown format."""


@dataclass(frozen=True)
class Resource:
    """One downloadable file of a dataset.

    Args:
        url: where to get it (``https://``, ``http://`` or ``file://``).
        filename: the name to store it under (in ``<root>/downloads/``).
        sha256: the publisher's SHA-256, or ``None`` when none is published.
        md5: the publisher's MD5, or ``None``.
        size: the size in bytes, or ``None``.
        extract: unpack the file after download (zip and tar archives).
        note: a human note, e.g. where the checksum comes from or why there is none.

    Example:
        >>> r = Resource("https://example.org/a.zip", "a.zip", note="no checksum published; trusted on first use")
        >>> r.extract
        True
    """

    url: str
    filename: str
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None
    extract: bool = True
    note: str = ""


# ----------------------------------------------------------------------------------------------------------------
# Verification


def file_digest(path: str | os.PathLike, algo: str = "sha256") -> str:
    """The hex digest of a file, read in 1 MiB chunks.

    Args:
        path: the file.
        algo: any :mod:`hashlib` algorithm name (``"sha256"``, ``"md5"``, ...).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"; _ = p.write_bytes(b"abc")
        >>> file_digest(p, "md5")
        '900150983cd24fb0d6963f7d28e17f72'
    """
    digest = hashlib.new(algo)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify_file(path: str | os.PathLike, sha256: str | None = None, md5: str | None = None,
                size: int | None = None) -> Path:
    """Check a file's size and digests; those given as ``None`` are not checked.

    Args:
        path: the file.
        sha256: the expected SHA-256 (hex, any case).
        md5: the expected MD5 (hex, any case).
        size: the expected size in bytes.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        DownloadError: the file does not exist.
        ChecksumError: a size or digest differs.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"; _ = p.write_bytes(b"abc")
        >>> verify_file(p, size=3).name
        'x.txt'
    """
    path = Path(path)
    if not path.is_file():
        raise DownloadError(f"{path}: file not found, cannot verify it")
    if size is not None and path.stat().st_size != int(size):
        raise ChecksumError(path, "size", int(size), path.stat().st_size)
    for algo, expected in (("sha256", sha256), ("md5", md5)):
        if expected is not None:
            actual = file_digest(path, algo)
            if actual != expected.strip().lower():
                raise ChecksumError(path, algo, expected.strip().lower(), actual)
    return path


# ----------------------------------------------------------------------------------------------------------------
# Download


def _part_path(dest: Path) -> Path:
    return dest.with_suffix(dest.suffix + ".part")


def _is_archive_name(name: str) -> bool:
    return name.lower().endswith(_ARCHIVE_SUFFIXES)


def _error_page_reason(first: bytes, content_type: str, dest: Path) -> str | None:
    """Why the response looks like an error/login page instead of the expected file, or ``None``."""
    if dest.name.lower().endswith(_HTML_SUFFIXES):
        return None
    if content_type.split(";")[0].strip().lower() == "text/html":
        return f"the server sent Content-Type {content_type!r}"
    head = first.lstrip(b"\xef\xbb\xbf \t\r\n")[:64].lower()
    if head.startswith((b"<!doctype", b"<html", b"<head", b"<body")):
        return "the first bytes are HTML"
    if _is_archive_name(dest.name) and head.startswith(b"<?xml"):
        return "the first bytes are XML (often a cloud-storage error message), not an archive"
    return None


def _html_title(first: bytes) -> str:
    match = re.search(rb"<title[^>]*>(.*?)</title>", first[:65536], re.IGNORECASE | re.DOTALL)
    return " ".join(match.group(1).decode("utf-8", "replace").split())[:120] if match else ""


def _open(url: str, offset: int, timeout: float):
    headers = {"User-Agent": _USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def _stream(url: str, dest: Path, part: Path, offset: int, progress: bool, timeout: float, size: int | None) -> int:
    """Append the rest of ``url`` to ``part`` from byte ``offset``; returns the offset really resumed from."""
    try:
        response = _open(url, offset, timeout)
    except urllib.error.HTTPError as err:
        err.close()
        if err.code == 416 and offset:  # nothing left to send: the part is complete (verification decides)
            return offset
        raise DownloadError(f"downloading {dest.name} from {url} failed: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise DownloadError(f"could not reach {url} for {dest.name}: {reason}") from None

    with response:
        status = getattr(response, "status", None) or 200  # file:// answers without a status
        if offset and status == 206:
            match = re.match(r"bytes\s+(\d+)-", response.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != offset:
                print(f"{dest.name}: the server resumed at the wrong byte; starting again from zero")
                response.close()
                part.unlink(missing_ok=True)
                return _stream(url, dest, part, 0, progress, timeout, size)
        elif offset:
            print(f"{dest.name}: the server ignores resume requests (HTTP {status}); starting again from zero")
            offset = 0
        length = response.headers.get("Content-Length")
        length = int(length) if length and length.isdigit() else None
        try:
            first = response.read(_CHUNK)
        except (http.client.IncompleteRead, OSError) as err:
            raise DownloadError(f"downloading {dest.name} from {url} failed at the start ({err})") from None
        reason = _error_page_reason(first, response.headers.get("Content-Type", ""), dest)
        if reason:
            title = _html_title(first)
            raise DownloadError(
                f"{url} did not send {dest.name}: {reason}{f' (page title: {title!r})' if title else ''}. "
                "The link may have moved or need a login; open it in a browser. Nothing was written.")
        total = offset + length if length is not None else size
        received = 0
        with open(part, "ab" if offset else "wb") as f, tqdm(
                total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024, desc=dest.name,
                disable=not progress, leave=False) as bar:
            chunk = first
            while chunk:
                f.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
                try:
                    chunk = response.read(_CHUNK)
                except (http.client.IncompleteRead, OSError) as err:
                    raise DownloadError(
                        f"downloading {dest.name} from {url} broke off after {offset + received} bytes ({err}); "
                        f"the partial file {part} is kept, run again to resume") from None
    if length is not None and received < length:
        raise DownloadError(f"downloading {dest.name} from {url} broke off after {offset + received} of "
                            f"{offset + length} bytes; the partial file {part} is kept, run again to resume")
    return offset


def download_file(url: str, dest: str | os.PathLike, *, sha256: str | None = None, md5: str | None = None,
                  size: int | None = None, resume: bool = True, progress: bool = True, timeout: float = 60) -> Path:
    """Download ``url`` to ``dest``: stream to ``dest.part``, resume, verify, then rename atomically.

    If ``dest`` exists and verifies, nothing is downloaded. A file at ``dest`` that does not verify is left
    untouched until a new download has verified.

    Args:
        url: ``https://``, ``http://`` or ``file://`` address.
        dest: where the file goes.
        sha256: expected SHA-256, or ``None``.
        md5: expected MD5, or ``None``.
        size: expected size in bytes, or ``None``.
        resume: continue an existing ``dest.part`` with an HTTP Range request (``False``: start from zero).
        progress: show a tqdm progress bar.
        timeout: seconds to wait for the server on connect and on each read.

    Returns:
        ``dest`` as a :class:`~pathlib.Path`.

    Raises:
        ChecksumError: the downloaded file has the wrong size or digest; it is kept aside as ``dest.bad``.
        DownloadError: the server failed, sent an HTML page, or the connection broke (the ``.part`` is kept).

    Example:
        >>> path = download_file("https://example.org/data.zip", Path("data/downloads/data.zip"),
        ...                      sha256="...", size=123456)  # doctest: +SKIP
    """
    dest = Path(dest)
    if dest.is_file():
        try:
            verify_file(dest, sha256=sha256, md5=md5, size=size)
        except ChecksumError as err:
            print(f"{dest} exists but does not verify ({err}); downloading it again (it stays until the new one "
                  "verifies)")
        else:
            checked = [name for name, value in (("size", size), ("sha256", sha256), ("md5", md5)) if value]
            print(f"{dest.name}: already downloaded" + (f" ({', '.join(checked)} verified)" if checked else ""))
            return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = _part_path(dest)
    if not resume:
        part.unlink(missing_ok=True)
    for attempt in range(_MAX_ATTEMPTS):
        offset = part.stat().st_size if part.is_file() else 0
        if size is not None and offset > size:
            part.unlink()
            offset = 0
        if size is None or offset < size:
            offset = _stream(url, dest, part, offset, progress, timeout, size)
        try:
            verify_file(part, sha256=sha256, md5=md5, size=size)
        except ChecksumError as err:
            if offset and attempt + 1 < _MAX_ATTEMPTS:
                print(f"{dest.name}: the resumed download does not verify; starting again from zero")
                part.unlink()
                continue
            bad = dest.with_name(dest.name + ".bad")
            os.replace(part, bad)
            kept = f"{dest} was left as it was" if dest.exists() else f"nothing was written to {dest}"
            raise ChecksumError(dest, err.algo, err.expected, err.actual,
                                hint=f"Downloaded from {url}; the bad download is kept aside as {bad}; {kept}.") \
                from None
        os.replace(part, dest)
        return dest
    raise DownloadError(f"downloading {dest.name} from {url} failed {_MAX_ATTEMPTS} times")  # pragma: no cover


# ----------------------------------------------------------------------------------------------------------------
# Extraction


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
    raise ArchiveError(f"{archive}: not a zip or tar archive (expected one of {', '.join(_ARCHIVE_SUFFIXES)})")


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


def _check_tar_members(archive: Path, members: list[tarfile.TarInfo]) -> None:
    symlinks = {posixpath.normpath(m.name) for m in members if m.issym()}
    for m in members:
        name = _check_name(archive, m.name)
        if not (m.isfile() or m.isdir() or m.issym() or m.islnk()):
            raise UnsafeArchiveError(f"{archive}: member {m.name!r} is a device or special file; refusing to extract")
        if m.issym() or m.islnk():
            kind = "symlink" if m.issym() else "hardlink"
            if _is_absolute(m.linkname):
                raise UnsafeArchiveError(f"{archive}: {kind} {m.name!r} points to the absolute path "
                                         f"{m.linkname!r}; refusing to extract")
            base = posixpath.dirname(name) if m.issym() else ""
            if _escapes(posixpath.join(base, m.linkname)):
                raise UnsafeArchiveError(f"{archive}: {kind} {m.name!r} -> {m.linkname!r} points outside the "
                                         "target folder; refusing to extract")
        parts = name.split("/")
        for i in range(1, len(parts)):
            through = "/".join(parts[:i])
            if through in symlinks:
                raise UnsafeArchiveError(f"{archive}: member {m.name!r} would be written through the symlink "
                                         f"{through!r}; refusing to extract")


def _unpack(archive: Path, kind: str, into: Path) -> list[str]:
    """Check every member, then extract into ``into``; return the relative paths of the non-folder members."""
    if kind == "zip":
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            names = [_check_name(archive, info.filename) for info in infos]
            zf.extractall(into)
        return [n for n, info in zip(names, infos, strict=True) if not info.is_dir() and n != "."]
    with tarfile.open(archive, "r:*") as tf:
        members = tf.getmembers()  # reads the whole archive: a truncated one fails here, before writing
        _check_tar_members(archive, members)
        if hasattr(tarfile, "data_filter"):
            try:
                tf.extractall(into, members=members, filter="data")  # second line of defence (realpath checks)
            except tarfile.FilterError as err:
                raise UnsafeArchiveError(f"{archive}: {err}; refusing to extract") from None
        else:  # pragma: no cover - Python < 3.11.4
            tf.extractall(into, members=members)
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
        raise DownloadError(f"cannot put {src.name!r} in place: {dst} exists and is a "
                            f"{'folder' if dst.is_dir() else 'file'} while the archive holds a "
                            f"{'folder' if src.is_dir() else 'file'}; move {dst} away and run again")


def safe_extract(archive: str | os.PathLike, target: str | os.PathLike) -> list[Path]:
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

    Raises:
        UnsafeArchiveError: a member is unsafe; nothing was written.
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
    kind = _archive_kind(archive)
    target.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".extracting-{target.name}-{archive.name}-"
    for stale in target.parent.glob(prefix + "*"):  # left behind by an interrupted run
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
    try:
        try:
            names = _unpack(archive, kind, tmp)
        except DownloadError:
            raise
        except Exception as err:  # tarfile/zipfile errors, EOFError, OSError, zlib.error, lzma.LZMAError, ...
            raise ArchiveError(f"{archive}: cannot extract, the archive looks damaged or truncated "
                               f"({type(err).__name__}: {err}); delete it and download it again") from None
        target.mkdir(parents=True, exist_ok=True)
        for child in list(tmp.iterdir()):
            _move_into(child, target / child.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    marker.write_text("".join(f"{name}\n" for name in names), encoding="utf-8")
    return [target / name for name in names]


# ----------------------------------------------------------------------------------------------------------------
# Resources and datasets


def fetch(resource: Resource, root: str | os.PathLike, *, extract_to: str | os.PathLike | None = None,
          progress: bool = True) -> Path:
    """Download one :class:`Resource` into ``root/downloads/`` and, if ``resource.extract``, unpack it.

    A resource without a published checksum is trusted on first use: its SHA-256 is printed and saved as
    ``root/downloads/<filename>.sha256``; later calls check the file against it. When the archive was already
    extracted (marker present) the download is skipped, so the archive may be deleted to save space.

    Args:
        resource: what to download.
        root: the dataset folder.
        extract_to: where to unpack; default ``root``.
        progress: show a progress bar.

    Returns:
        The extraction folder, or the downloaded file when ``resource.extract`` is false.

    Example:
        >>> from course_lib.download import Resource, fetch
        >>> fetch(Resource("https://example.org/a.zip", "a.zip", sha256="..."), Path("data/a"))  # doctest: +SKIP
    """
    root = Path(root)
    dest = root / "downloads" / resource.filename
    target = Path(extract_to) if extract_to is not None else root
    if resource.extract and (target / f".extracted-{dest.name}").is_file():
        print(f"{dest.name}: already extracted into {target}")
        return target
    sha256, tofu = resource.sha256, resource.sha256 is None and resource.md5 is None
    sidecar = dest.with_name(dest.name + ".sha256")
    if tofu and resource.note:
        print(f"{dest.name}: {resource.note}")
    if tofu and sidecar.is_file():
        sha256 = sidecar.read_text(encoding="utf-8").split()[0]
    try:
        download_file(resource.url, dest, sha256=sha256, md5=resource.md5, size=resource.size, progress=progress)
    except ChecksumError as err:
        if tofu and sha256 is not None:
            raise ChecksumError(err.path, err.algo, err.expected, err.actual, hint=(
                f"{err.hint} The expected sha256 was recorded on the first download in {sidecar}; if the "
                f"publisher changed the file, delete {sidecar} and run again")) from None
        raise
    if tofu and not sidecar.is_file():
        digest = file_digest(dest, "sha256")
        sidecar.write_text(f"{digest}  {dest.name}\n", encoding="utf-8")
        print(f"{dest.name}: no published checksum; trusting this download (sha256 {digest}, saved to {sidecar})")
    if not resource.extract:
        return dest
    safe_extract(dest, target)
    return target


@dataclass(frozen=True)
class DatasetEntry:
    """What the registry knows about one dataset.

    Attributes:
        name: the dataset name (a key of :data:`DATASET_MODULES`).
        module_name: the module that describes it.
        resources: its ``RESOURCES`` (empty: manual download, see ``note``).
        note: its ``DOWNLOAD_NOTE``.
        module: the imported module, or ``None`` when it could not be imported.
        problem: why the module could not be imported ("" when it was).
    """

    name: str
    module_name: str
    resources: tuple[Resource, ...] = ()
    note: str = ""
    module: ModuleType | None = field(default=None, repr=False)
    problem: str = ""

    @property
    def available(self) -> bool:
        return self.module is not None


def load_dataset(name: str, module_name: str | None = None) -> DatasetEntry:
    """Import a dataset module and read its ``RESOURCES`` and ``DOWNLOAD_NOTE``.

    Args:
        name: the dataset name.
        module_name: the module; default ``DATASET_MODULES[name]``.

    Returns:
        A :class:`DatasetEntry`; ``module`` is ``None`` and ``problem`` says why when the import failed.

    Example:
        >>> load_dataset("voc").module_name
        'course_lib.data.voc'
    """
    if module_name is None:
        if name not in DATASET_MODULES:
            raise KeyError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASET_MODULES))}")
        module_name = DATASET_MODULES[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name and (module_name == err.name or module_name.startswith(err.name + ".")):
            return DatasetEntry(name, module_name, problem=f"module {module_name} is not written yet")
        return DatasetEntry(name, module_name, problem=f"importing {module_name} failed: {err}")
    except Exception as err:  # a bug in the dataset module must not break --list for the others
        return DatasetEntry(name, module_name, problem=f"importing {module_name} failed: {type(err).__name__}: {err}")
    resources = tuple(getattr(module, "RESOURCES", ()))
    for r in resources:
        if not isinstance(r, Resource):
            return DatasetEntry(name, module_name, module=None,
                                problem=f"{module_name}.RESOURCES holds {r!r}, not a course_lib.download.Resource")
    return DatasetEntry(name, module_name, resources, str(getattr(module, "DOWNLOAD_NOTE", "")).strip(), module)


def dataset_registry(modules: dict[str, str] | None = None) -> dict[str, DatasetEntry]:
    """Load every dataset module of ``modules`` (default :data:`DATASET_MODULES`); missing ones are kept as such.

    Args:
        modules: dataset name -> module name.

    Example:
        >>> "voc" in dataset_registry()
        True
    """
    modules = DATASET_MODULES if modules is None else modules
    return {name: load_dataset(name, module_name) for name, module_name in modules.items()}


def dataset_dir(root: str | os.PathLike, name: str) -> Path:
    """The folder the command line tool downloads dataset ``name`` into: ``root/name``."""
    return Path(root) / name


def sample_dir(root: str | os.PathLike, name: str) -> Path:
    """The folder the command line tool writes dataset ``name``'s generated sample into: ``root/samples/name``."""
    return Path(root) / "samples" / name


def fetch_dataset(entry: DatasetEntry | str, root: str | os.PathLike, progress: bool = True) -> list[Path]:
    """Download and extract every resource of a dataset into ``dataset_dir(root, name)``.

    A dataset module that defines ``download(root) -> Path`` (to try mirrors, say) is called instead of fetching
    its ``RESOURCES`` one by one.

    Args:
        entry: a :class:`DatasetEntry` or a dataset name.
        root: the data root.
        progress: show progress bars.

    Returns:
        One path per resource (extraction folder or file).

    Raises:
        DownloadError: the module is missing, the dataset needs manual steps (the message holds the note),
            or a download failed (a module's own ``download`` may raise other ``RuntimeError``/``OSError``).

    Example:
        >>> fetch_dataset("voc", "data")  # doctest: +SKIP
    """
    if isinstance(entry, str):
        entry = load_dataset(entry)
    if not entry.available:
        raise DownloadError(f"dataset {entry.name!r}: {entry.problem}")
    if not entry.resources:
        raise DownloadError(f"dataset {entry.name!r} cannot be downloaded automatically.\n{entry.note}")
    folder = dataset_dir(root, entry.name)
    custom = getattr(entry.module, "download", None)
    if callable(custom):  # the module knows better (mirrors, finding its layout): let it do the work
        return [Path(custom(folder))]
    return [fetch(resource, folder, progress=progress) for resource in entry.resources]
