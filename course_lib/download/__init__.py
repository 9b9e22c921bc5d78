"""Downloading datasets safely: checksums, resume, atomic rename, safe extraction; ``python -m course_lib.download``.

Introduced in Chapter 3 (the first chapter that trains on a real dataset). What a download guarantees:

* the file is streamed to ``<dest>.part`` and renamed to ``dest`` (``os.replace``) only after its size and
  checksum verified, so a file at ``dest`` is always complete; an existing file is never replaced by a bad one;
* an interrupted download is continued with an HTTP ``Range`` request (a server that ignores it is handled by
  starting again);
* an HTML error or login page is recognised from its first bytes, not after 2 GB and a checksum failure;
* a file whose publisher gives no checksum is trusted on first use: its SHA-256 is printed and written beside it
  as ``<filename>.sha256``, and later runs compare against that. That first download always starts from byte 0
  (never resumed), so a recorded hash is never computed over a spliced or damaged partial file; an empty or
  malformed sidecar is an error naming it.

Archives are unpacked by :func:`course_lib.io.archive.safe_extract`. What to download comes from the dataset
registry (:data:`course_lib.data.registry.REGISTRY`): a dataset's ``resources`` (empty: manual steps, such as a
registration, that its ``note`` explains). This module imports no dataset module. The command line::

    python -m course_lib.download --list                 # datasets, downloadable or not, their notes
    python -m course_lib.download NAME [--root DIR]      # -> DIR/NAME/ (archives in DIR/NAME/downloads/)
    python -m course_lib.download samples [--root DIR]   # every dataset's synthetic sample -> DIR/samples/NAME/

Exit status: 0 done; 1 a download, checksum or extraction failed (re-running resumes); 2 nothing was downloaded
(an unknown dataset, or one that needs manual steps, which the printed note explains).

``$COURSE_DOWNLOAD_MIRROR`` fetches every file from ``<mirror>/<file name>`` (:func:`course_lib.runtime.mirror_url`).
Before a dataset is downloaded, :func:`check_free_space` compares the free disk space with its ``download_size``.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import urllib.error
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from .. import runtime
from ..data.registry import DatasetInfo, Resource, get
from ..io.archive import ArchiveError, UnsafeArchiveError, is_archive_name, safe_extract
from ..io.atomic import atomic_write_bytes, atomic_write_text
from ..io.checksums import read_sidecar

__all__ = [
    "ArchiveError",
    "ChecksumError",
    "DownloadError",
    "read_sidecar",
    "Resource",
    "UnsafeArchiveError",
    "check_free_space",
    "dataset_dir",
    "download_file",
    "fetch",
    "fetch_dataset",
    "file_digest",
    "safe_extract",
    "sample_dir",
    "verify_file",
]

_CHUNK = 1 << 20
_MAX_ATTEMPTS = 3
_USER_AGENT = "course-book-downloader/1.0 (python urllib)"
_HTML_SUFFIXES = (".html", ".htm")


class DownloadError(RuntimeError):
    """A download or its verification failed; the message names the file and what went wrong."""


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


def _error_page_reason(first: bytes, content_type: str, dest: Path) -> str | None:
    """Why the response looks like an error/login page instead of the expected file, or ``None``."""
    if dest.name.lower().endswith(_HTML_SUFFIXES):
        return None
    if content_type.split(";")[0].strip().lower() == "text/html":
        return f"the server sent Content-Type {content_type!r}"
    head = first.lstrip(b"\xef\xbb\xbf \t\r\n")[:64].lower()
    if head.startswith((b"<!doctype", b"<html", b"<head", b"<body")):
        return "the first bytes are HTML"
    if is_archive_name(dest.name) and head.startswith(b"<?xml"):
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
# Resources and datasets


def gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**28 else f"{n / 2**20:.0f} MiB"


def check_free_space(folder: str | os.PathLike, needed: int | None, what: str = "the download") -> int | None:
    """The free bytes at ``folder`` (``None`` when ``needed`` is unknown); a ``DownloadError`` saying how much is
    needed when less than ``needed`` bytes are free."""
    if needed is None:
        return None
    free = runtime.free_bytes(folder)
    if free < needed:
        raise DownloadError(f"{what} needs about {gib(needed)} of free disk space at {folder}, but only "
                            f"{gib(free)} are free there. Free some space, or choose another data root "
                            f"($COURSE_DATA_ROOT or --root).")
    return free


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
    try:
        sha256 = read_sidecar(sidecar) if tofu and sidecar.is_file() else sha256
    except ValueError as err:  # an empty or damaged sidecar is said, never taken as "no checksum yet"
        raise DownloadError(str(err)) from None
    first_use = tofu and sha256 is None
    unverified = dest.with_name(dest.name + ".unverified")
    if first_use and dest.is_file():  # no recorded hash covers it: it may be a resumed or damaged download
        print(f"{dest.name}: no checksum was recorded for the file already there; downloading it again from zero "
              f"(the old one is kept as {unverified.name} until the new one is complete)")
        os.replace(dest, unverified)
    try:  # a hash that is about to be trusted is only ever computed over one complete download from byte 0
        download_file(runtime.mirror_url(resource.url, resource.filename), dest, sha256=sha256, md5=resource.md5,
                      size=resource.size, progress=progress, resume=not first_use)
    except ChecksumError as err:
        if tofu and sha256 is not None:
            raise ChecksumError(err.path, err.algo, err.expected, err.actual, hint=(
                f"{err.hint} The expected sha256 was recorded on the first download in {sidecar}; if the "
                f"publisher changed the file, delete {sidecar} and run again")) from None
        raise
    unverified.unlink(missing_ok=True)
    if first_use:
        digest = file_digest(dest, "sha256")
        atomic_write_text(sidecar, f"{digest}  {dest.name}\n")
        print(f"{dest.name}: no published checksum; trusting this download (sha256 {digest}, saved to {sidecar})")
    if not resource.extract:
        return dest
    safe_extract(dest, target)
    return target


def dataset_dir(root: str | os.PathLike, name: str) -> Path:
    """The folder dataset ``name`` is downloaded into: ``root/name``."""
    return Path(root) / name


def sample_dir(root: str | os.PathLike, name: str) -> Path:
    """The folder the command line writes dataset ``name``'s synthetic sample into: ``root/samples/name``."""
    return Path(root) / "samples" / name


def fetch_dataset(info: DatasetInfo | str, root: str | os.PathLike, progress: bool = True) -> list[Path]:
    """Download and extract every resource of a dataset into ``dataset_dir(root, name)``.

    A resource's ``target`` places it (or its contents) inside the dataset folder, e.g. Kvasir-SEG's official split
    lists go to ``Data-split/train.txt``.

    Args:
        info: a :class:`~course_lib.data.registry.DatasetInfo` or a dataset name.
        root: the data root.
        progress: show progress bars.

    Returns:
        One path per resource (extraction folder or file).

    Raises:
        KeyError: an unknown dataset name.
        DownloadError: the dataset needs manual steps (the message holds its note), or a download failed.
        ArchiveError: an archive is damaged or unsafe.

    Example:
        >>> fetch_dataset("kvasir", "data")  # doctest: +SKIP
    """
    if isinstance(info, str):
        info = get(info)
    if not info.resources:
        raise DownloadError(f"dataset {info.name!r} cannot be downloaded automatically.\n{info.note}")
    folder = dataset_dir(root, info.name)
    needed = info.download_size
    if needed is not None and not all((folder / r.target / f".extracted-{r.filename}").is_file()
                                      for r in info.resources if r.extract):
        free = check_free_space(folder, needed, f"{info.title} (archives and unpacked files)")
        print(f"{info.name}: needs about {gib(needed)} of disk space, {gib(free)} free at {folder}")
    paths = []
    for resource in info.resources:
        if resource.extract:
            paths.append(fetch(resource, folder, extract_to=folder / resource.target, progress=progress))
            continue
        path = fetch(resource, folder, progress=progress)
        if resource.target:
            placed = folder / resource.target
            placed.parent.mkdir(parents=True, exist_ok=True)
            if not placed.is_file() or file_digest(placed) != file_digest(path):
                atomic_write_bytes(placed, path.read_bytes())
            path = placed
        paths.append(path)
    return paths

