"""Downloading datasets safely: checksums, resume, atomic rename, safe extraction; ``python -m course_lib.download``.

Introduced in Chapter 3 (the first chapter that trains on a real dataset). What a download guarantees:

* the file is streamed to ``<dest>.part`` and renamed to ``dest`` (``os.replace``) only after its size and
  checksum verified, so a file at ``dest`` is always complete; an existing file is never replaced by a bad one;
* an interrupted download is continued with an HTTP ``Range`` request (a server that ignores it is handled by
  starting again);
* an HTML error or login page is recognised from its first bytes, not after 2 GB and a checksum failure;
* a file whose publisher gives no checksum is trusted on first use: its SHA-256 is printed and written beside it
  as ``<filename>.sha256``, and later runs compare against that.

Archives are unpacked by :func:`course_lib.io.archive.safe_extract`. What to download comes from the dataset
registry (:data:`course_lib.data.registry.REGISTRY`): a dataset's ``resources`` (empty: manual steps, such as a
registration, that its ``note`` explains). This module imports no dataset module. The command line::

    python -m course_lib.download --list                 # datasets, downloadable or not, their notes
    python -m course_lib.download NAME [--root DIR]      # -> DIR/NAME/ (archives in DIR/NAME/downloads/)
    python -m course_lib.download samples [--root DIR]   # every dataset's synthetic sample -> DIR/samples/NAME/

Exit status: 0 done; 1 a download, checksum or extraction failed (re-running resumes); 2 nothing was downloaded
(an unknown dataset, or one that needs manual steps, which the printed note explains).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from .config import data_root
from .data.registry import REGISTRY, DatasetInfo, Resource, get
from .io.archive import ArchiveError, UnsafeArchiveError, is_archive_name, safe_extract
from .io.atomic import atomic_write_bytes, atomic_write_text

__all__ = [
    "ArchiveError",
    "ChecksumError",
    "DownloadError",
    "Resource",
    "UnsafeArchiveError",
    "dataset_dir",
    "download_file",
    "fetch",
    "fetch_dataset",
    "file_digest",
    "main",
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


# ----------------------------------------------------------------------------------------------- command line
EXIT_OK, EXIT_FAILED, EXIT_NOTHING_DONE = 0, 1, 2


def _describe(info: DatasetInfo) -> str:
    if not info.resources:
        state = "manual download (see note)"
    else:
        sizes = [r.size for r in info.resources]
        total = f", {sum(sizes) / 2**30:.2f} GiB" if all(s is not None for s in sizes) else ""
        state = f"{len(info.resources)} file(s){total}"
    note = "\n".join(f"{'':11s}{line}" for line in info.note.splitlines())
    return f"{info.name:10s} {state}" + (f"\n{note}" if note else "")


def _write_samples(registry: dict[str, DatasetInfo], root: Path) -> int:
    for info in registry.values():
        path = info.write_sample(sample_dir(root, info.name))
        print(f"{info.name}: sample written to {path}")
    return EXIT_OK if registry else EXIT_NOTHING_DONE


def _download(registry: dict[str, DatasetInfo], name: str, root: Path) -> int:
    info = registry.get(name)
    if info is None:
        print(f"error: unknown dataset {name!r}; known datasets: {', '.join(sorted(registry))} (see --list)",
              file=sys.stderr)
        return EXIT_NOTHING_DONE
    if not info.resources:
        print(f"{name}: this dataset cannot be downloaded automatically.\n{info.note}", file=sys.stderr)
        return EXIT_NOTHING_DONE
    print(f"{name}: {info.note}")
    try:
        paths = fetch_dataset(info, root)
    except (DownloadError, ArchiveError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_FAILED
    print(f"{name}: ready in {dataset_dir(root, name)}")
    for path in paths:
        print(f"  {path}")
    return EXIT_OK


def main(argv: list[str] | None = None, registry: dict[str, DatasetInfo] | None = None) -> int:
    """``python -m course_lib.download``: parse the command line and run it; returns the exit status."""
    registry = REGISTRY if registry is None else registry
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.download",
        description="Download a dataset of the course book, or write the synthetic samples.",
        epilog="Exit status: 0 done; 1 a download failed (run again to resume); 2 nothing downloaded (unknown "
               "dataset, or manual steps needed: read the printed note).")
    parser.add_argument("dataset", nargs="?", help=f"one of {', '.join(registry)}, or 'samples'")
    parser.add_argument("--root", type=Path, default=None,
                        help="data root (default: $COURSE_DATA_ROOT, else data/ in the checkout)")
    parser.add_argument("--list", action="store_true", help="list the datasets and their notes")
    args = parser.parse_args(argv)
    if args.list:
        for info in registry.values():
            print(_describe(info))
        return EXIT_OK
    if not args.dataset:
        parser.error("name a dataset, 'samples', or use --list")
    root = data_root(args.root)
    if args.dataset == "samples":
        return _write_samples(registry, root)
    return _download(registry, args.dataset, root)


if __name__ == "__main__":
    sys.exit(main())
