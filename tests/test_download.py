"""Tests of course_lib.download and data_scripts/download.py, offline: a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import re
import subprocess
import sys
import tarfile
import threading
import zipfile
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from course_lib import download as dl
from course_lib.data import registry
from course_lib.download import (
    ArchiveError,
    ChecksumError,
    DownloadError,
    Resource,
    UnsafeArchiveError,
    download_file,
    fetch,
    file_digest,
    safe_extract,
    verify_file,
)

REPO = Path(__file__).resolve().parents[1]
CLI = REPO / "data_scripts" / "download.py"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ----------------------------------------------------------------------------------------------------------------
# A tiny HTTP server with Range support, switchable misbehaviour, and a log of what it was asked and sent.


@dataclass
class Served:
    body: bytes
    content_type: str = "application/octet-stream"
    ignore_range: bool = False
    cut_after: int | None = None  # announce the full length but send only this many bytes


class LocalServer:
    def __init__(self) -> None:
        self.files: dict[str, Served] = {}
        self.requests: list[dict] = []  # {"path", "range", "sent"}
        files, requests = self.files, self.requests

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):
                spec = files.get(self.path)
                record = {"path": self.path, "range": self.headers.get("Range"), "sent": 0}
                requests.append(record)
                if spec is None:
                    self.send_error(404, "Not Found")
                    return
                body, start = spec.body, 0
                match = re.fullmatch(r"bytes=(\d+)-", record["range"] or "")
                if match and not spec.ignore_range:
                    start = int(match.group(1))
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                payload = body[start:]
                self.send_header("Content-Type", spec.content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if spec.cut_after is not None:
                    payload = payload[:spec.cut_after]
                try:
                    self.wfile.write(payload)
                    record["sent"] = len(payload)
                except OSError:  # the client hung up early (HTML detection does that)
                    pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def add(self, name: str, body: bytes, **kwargs) -> str:
        self.files["/" + name] = Served(body, **kwargs)
        return f"{self.base}/{name}"


@pytest.fixture
def server():
    srv = LocalServer()
    srv.thread.start()
    try:
        yield srv
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()
        srv.thread.join(timeout=5)


@pytest.fixture
def payload() -> bytes:
    return os.urandom(2_500_000)  # more than two 1 MiB chunks


# ----------------------------------------------------------------------------------------------------------------
# download_file


def test_download_verifies_then_renames_atomically_and_skips_next_time(server, payload, tmp_path, monkeypatch):
    url = server.add("data.bin", payload)
    dest = tmp_path / "downloads" / "data.bin"
    renames = []
    real_replace = os.replace

    def spy(src, dst):
        renames.append((Path(src), Path(dst), Path(dst).exists(), Path(src).read_bytes() == payload))
        real_replace(src, dst)

    monkeypatch.setattr(dl.os, "replace", spy)
    out = download_file(url, dest, sha256=sha(payload), md5=hashlib.md5(payload).hexdigest(), size=len(payload),
                        progress=True)
    assert out == dest and dest.read_bytes() == payload
    assert renames == [(dest.with_name("data.bin.part"), dest, False, True)]  # complete .part, then one rename
    assert not dest.with_name("data.bin.part").exists()

    assert download_file(url, dest, sha256=sha(payload), progress=False) == dest
    assert len(server.requests) == 1  # the second call verified the file and did not download


def test_resume_continues_a_partial_file_with_a_range_request(server, payload, tmp_path):
    url = server.add("data.bin", payload)
    dest = tmp_path / "data.bin"
    dest.with_name("data.bin.part").write_bytes(payload[:1_000_000])
    download_file(url, dest, sha256=sha(payload), size=len(payload), progress=False)
    assert dest.read_bytes() == payload
    assert [r["range"] for r in server.requests] == ["bytes=1000000-"]
    assert server.requests[0]["sent"] == len(payload) - 1_000_000


def test_resume_restarts_when_the_server_ignores_range(server, payload, tmp_path):
    url = server.add("data.bin", payload, ignore_range=True)
    dest = tmp_path / "data.bin"
    dest.with_name("data.bin.part").write_bytes(payload[:1000])
    download_file(url, dest, sha256=sha(payload), progress=False)
    assert dest.read_bytes() == payload
    assert server.requests[0]["range"] == "bytes=1000-" and server.requests[0]["sent"] == len(payload)


def test_resume_of_a_corrupt_part_starts_again_from_zero(server, payload, tmp_path):
    url = server.add("data.bin", payload)
    dest = tmp_path / "data.bin"
    dest.with_name("data.bin.part").write_bytes(b"\0" * 1000)  # wrong bytes: the resumed file cannot verify
    download_file(url, dest, sha256=sha(payload), progress=False)
    assert dest.read_bytes() == payload
    assert [r["range"] for r in server.requests] == ["bytes=1000-", None]


def test_a_complete_part_is_verified_without_downloading_again(server, payload, tmp_path):
    url = server.add("data.bin", payload)
    dest = tmp_path / "data.bin"
    dest.with_name("data.bin.part").write_bytes(payload)
    download_file(url, dest, sha256=sha(payload), progress=False)  # no size given: the server answers 416
    assert dest.read_bytes() == payload
    assert [r["sent"] for r in server.requests] == [0]


def test_broken_connection_keeps_the_part_and_the_next_run_resumes(server, payload, tmp_path):
    url = server.add("data.bin", payload, cut_after=600_000)
    dest = tmp_path / "data.bin"
    with pytest.raises(DownloadError, match="broke off after 600000"):
        download_file(url, dest, sha256=sha(payload), progress=False)
    assert not dest.exists() and dest.with_name("data.bin.part").stat().st_size == 600_000
    server.files["/data.bin"].cut_after = None
    download_file(url, dest, sha256=sha(payload), progress=False)
    assert dest.read_bytes() == payload and server.requests[-1]["range"] == "bytes=600000-"


def test_checksum_mismatch_raises_and_leaves_nothing_at_dest(server, payload, tmp_path):
    url = server.add("data.zip", payload)
    dest = tmp_path / "data.zip"
    wrong = "0" * 64
    with pytest.raises(ChecksumError) as info:
        download_file(url, dest, sha256=wrong, progress=False)
    message = str(info.value)
    assert "data.zip" in message and wrong in message and sha(payload) in message
    assert (info.value.expected, info.value.actual) == (wrong, sha(payload))
    assert not dest.exists() and not dest.with_name("data.zip.part").exists()
    assert dest.with_name("data.zip.bad").read_bytes() == payload  # kept aside for inspection


def test_a_bad_download_never_replaces_an_existing_file(server, tmp_path):
    good = b"the good file" * 1000
    url = server.add("data.zip", b"something else entirely")
    dest = tmp_path / "data.zip"
    dest.write_bytes(good)
    with pytest.raises(ChecksumError, match="was left as it was"):
        download_file(url, dest, sha256="1" * 64, progress=False)  # dest does not match, so it downloads
    with pytest.raises(ChecksumError):
        download_file(url, dest, size=len(good) + 1, progress=False)
    assert dest.read_bytes() == good
    assert len(server.requests) == 2


@pytest.mark.parametrize("content_type, body", [
    ("text/html; charset=utf-8", b"<html><head><title>Sign in</title></head><body>login</body></html>"),
    ("application/octet-stream", b"\n  <!DOCTYPE html><html><title>Page moved</title></html>"),
])
def test_html_error_page_is_detected_early(server, tmp_path, content_type, body):
    url = server.add("data.zip", body + b" " * 2_000_000, content_type=content_type)
    dest = tmp_path / "data.zip"
    with pytest.raises(DownloadError, match=r"did not send data\.zip.*(HTML|html)"):
        download_file(url, dest, progress=False)
    assert not dest.exists() and not dest.with_name("data.zip.part").exists()


def test_xml_error_instead_of_an_archive_is_detected(server, tmp_path):
    url = server.add("data.tar.gz", b'<?xml version="1.0"?><Error><Code>AccessDenied</Code></Error>',
                     content_type="application/xml")
    with pytest.raises(DownloadError, match="XML"):
        download_file(url, tmp_path / "data.tar.gz", progress=False)


def test_http_error_names_the_file_and_status(server, tmp_path):
    with pytest.raises(DownloadError, match=r"missing\.zip.*HTTP 404"):
        download_file(f"{server.base}/missing.zip", tmp_path / "missing.zip", progress=False)


def test_unreachable_server_gives_a_clear_error(tmp_path):
    with pytest.raises(DownloadError, match="could not reach"):
        download_file("http://127.0.0.1:9/x.zip", tmp_path / "x.zip", progress=False, timeout=2)


def test_file_url_download(payload, tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(payload)
    dest = tmp_path / "out" / "copy.bin"
    download_file(src.as_uri(), dest, sha256=sha(payload), size=len(payload), progress=False)
    assert dest.read_bytes() == payload


def test_verify_file_and_file_digest(tmp_path):
    path = tmp_path / "x.txt"
    path.write_bytes(b"abc")
    assert file_digest(path, "sha256") == hashlib.sha256(b"abc").hexdigest()
    assert file_digest(path, "md5") == "900150983cd24fb0d6963f7d28e17f72"
    assert verify_file(path, sha256=sha(b"abc").upper(), md5="900150983cd24fb0d6963f7d28e17f72", size=3) == path
    with pytest.raises(ChecksumError, match="size in bytes mismatch: expected 4, got 3"):
        verify_file(path, size=4)
    with pytest.raises(ChecksumError, match="md5 mismatch"):
        verify_file(path, md5="0" * 32)
    with pytest.raises(DownloadError, match="not found"):
        verify_file(tmp_path / "nope.txt")


# ----------------------------------------------------------------------------------------------------------------
# safe_extract

FILES = {"top/a.txt": b"alpha", "top/sub/b.bin": bytes(range(256)) * 10}


def make_archive(path: Path, entries: dict[str, bytes] = FILES) -> Path:
    name = path.name
    if name.endswith(".zip"):
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for member, data in entries.items():
                zf.writestr(member, data)
        return path
    mode = {".tar": "w", ".gz": "w:gz", ".tgz": "w:gz", ".bz2": "w:bz2", ".xz": "w:xz"}[path.suffix]
    with tarfile.open(path, mode) as tf:
        for member, data in entries.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def make_tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def tar_info(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info


@pytest.mark.parametrize("name", ["d.zip", "d.tar", "d.tar.gz", "d.tgz", "d.tar.bz2", "d.tar.xz"])
def test_safe_extract_extracts_and_skips_a_second_time(tmp_path, name):
    archive = make_archive(tmp_path / name)
    target = tmp_path / "work" / "out"
    files = safe_extract(archive, target)
    assert sorted(files) == sorted(target / m for m in FILES)
    for member, data in FILES.items():
        assert (target / member).read_bytes() == data
    assert (target / f".extracted-{name}").is_file()
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["out"]  # no temporary folder left
    (target / "top" / "a.txt").write_bytes(b"edited")
    assert sorted(safe_extract(archive, target)) == sorted(files)
    assert (target / "top" / "a.txt").read_bytes() == b"edited"  # the marker made it skip


def test_safe_extract_merges_with_existing_content(tmp_path):
    target = tmp_path / "out"
    (target / "top").mkdir(parents=True)
    (target / "top" / "keep.txt").write_text("mine")
    (target / "downloads").mkdir()
    safe_extract(make_archive(tmp_path / "one.zip"), target)
    safe_extract(make_archive(tmp_path / "two.tar.gz", {"top/c.txt": b"c"}), target)
    assert (target / "top" / "keep.txt").read_text() == "mine" and (target / "downloads").is_dir()
    assert (target / "top" / "a.txt").read_bytes() == b"alpha" and (target / "top" / "c.txt").read_bytes() == b"c"


def _unsafe_archives(tmp: Path) -> dict[str, tuple[Path, str]]:
    """Each unsafe archive starts with a harmless member, so 'checks all before writing' is tested too."""
    outside = tmp / "work" / "outside" / "evil.txt"
    good = (tar_info("good.txt"), b"fine")
    return {
        "zip traversal": (make_archive(tmp / "trav.zip", {"good.txt": b"fine", "../evil.txt": b"x"}), "../evil.txt"),
        "tar traversal": (make_tar(tmp / "trav.tar.gz", [good, (tar_info("a/../../evil.txt"), b"x")]),
                          "a/../../evil.txt"),
        "zip absolute": (make_archive(tmp / "abs.zip", {"good.txt": b"fine", str(outside): b"x"}), str(outside)),
        "tar absolute": (make_tar(tmp / "abs.tar.gz", [good, (tar_info(str(outside)), b"x")]), str(outside)),
        "symlink outside": (make_tar(tmp / "sym.tar.gz", [good, (tar_info("ln", tarfile.SYMTYPE, "../outside"), None),
                                                          (tar_info("ln/evil.txt"), b"x")]), "ln"),
        "absolute symlink": (make_tar(tmp / "asym.tar.gz",
                                      [good, (tar_info("ln", tarfile.SYMTYPE, str(outside.parent)), None)]), "ln"),
        "hardlink outside": (make_tar(tmp / "hard.tar.gz",
                                      [good, (tar_info("hl", tarfile.LNKTYPE, "../outside/evil.txt"), None)]), "hl"),
        "symlink chain": (make_tar(tmp / "chain.tar.gz", [good, (tar_info("a", tarfile.SYMTYPE, "x/.."), None),
                                                          (tar_info("b", tarfile.SYMTYPE, "a/.."), None),
                                                          (tar_info("b/evil.txt"), b"x")]), "b"),
        "device file": (make_tar(tmp / "dev.tar.gz", [good, (tar_info("null", tarfile.CHRTYPE), None)]), "null"),
    }


@pytest.mark.parametrize("case", ["zip traversal", "tar traversal", "zip absolute", "tar absolute",
                                  "symlink outside", "absolute symlink", "hardlink outside", "symlink chain",
                                  "device file"])
def test_safe_extract_refuses_unsafe_members_and_writes_nothing(tmp_path, case):
    archive, member = _unsafe_archives(tmp_path)[case]
    work = tmp_path / "work"
    target = work / "out"
    with pytest.raises(UnsafeArchiveError) as info:
        safe_extract(archive, target)
    assert archive.name in str(info.value) and repr(member) in str(info.value)
    assert not (work / "outside" / "evil.txt").exists() and not (tmp_path / "evil.txt").exists()
    assert not work.exists() or not any(work.rglob("*"))  # not even good.txt, nor a temporary folder


@pytest.mark.parametrize("name", ["d.zip", "d.tar", "d.tar.gz", "d.tar.xz"])
def test_truncated_archive_gives_a_clear_error_naming_the_file(tmp_path, name):
    archive = make_archive(tmp_path / name, {"big.bin": os.urandom(200_000), "z.txt": b"z"})
    archive.write_bytes(archive.read_bytes()[:120_000])
    work = tmp_path / "work"
    with pytest.raises(ArchiveError, match=rf"{re.escape(name)}: cannot extract.*damaged or truncated"):
        safe_extract(archive, work / "out")
    assert not any(work.rglob("*"))


def test_not_an_archive_gives_a_clear_error(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"no archive here" * 10)
    with pytest.raises(ArchiveError, match=r"junk\.bin: not a zip or tar archive"):
        safe_extract(junk, tmp_path / "out")
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(os.urandom(5000))
    with pytest.raises(ArchiveError, match=r"garbage\.tar\.gz"):
        safe_extract(garbage, tmp_path / "out")


# ----------------------------------------------------------------------------------------------------------------
# fetch and the dataset registry


def test_fetch_trusts_on_first_use_and_later_detects_a_changed_file(server, tmp_path):
    archive = make_archive(tmp_path / "d.zip")
    url = server.add("d.zip", archive.read_bytes())
    resource = Resource(url, "d.zip", note="no checksum published")
    root = tmp_path / "ds"
    assert fetch(resource, root, progress=False) == root
    assert (root / "top" / "a.txt").read_bytes() == b"alpha"
    sidecar = root / "downloads" / "d.zip.sha256"
    assert sidecar.read_text().split()[0] == sha(archive.read_bytes())
    fetch(resource, root, progress=False)
    assert len(server.requests) == 1  # extracted already: no download

    (root / "downloads" / "d.zip").unlink()
    (root / ".extracted-d.zip").unlink()
    server.files["/d.zip"].body = make_archive(tmp_path / "e.zip", {"other.txt": b"changed"}).read_bytes()
    with pytest.raises(ChecksumError, match=r"d\.zip\.sha256"):
        fetch(resource, root, progress=False)


def test_fetch_without_extraction_returns_the_file(server, tmp_path):
    url = server.add("labels.txt", b"cat\ndog\n", content_type="text/plain")
    resource = Resource(url, "labels.txt", sha256=sha(b"cat\ndog\n"), extract=False)
    path = fetch(resource, tmp_path / "ds", extract_to=tmp_path / "never", progress=False)
    assert path == tmp_path / "ds" / "downloads" / "labels.txt" and path.read_text() == "cat\ndog\n"
    assert not (tmp_path / "never").exists() and not path.with_name("labels.txt.sha256").exists()


def test_registry_knows_the_datasets_and_download_imports_no_dataset_module():
    assert {"voc", "camvid", "kvasir", "brats", "modelnet", "kitti", "chairs"} <= set(registry.REGISTRY)
    with pytest.raises(KeyError, match="unknown dataset 'ghost'"):
        registry.get("ghost")
    import grimp

    graph = grimp.build_graph("course_lib")
    data_modules = {m for m in graph.find_modules_directly_imported_by("course_lib.download")
                    if m.startswith("course_lib.data")}
    assert data_modules == {"course_lib.data.registry"}
    # and nothing it imports, directly or not, reaches a dataset module
    for module in graph.find_downstream_modules("course_lib.download"):
        assert module in ("course_lib.data.registry", "course_lib.data") or not module.startswith("course_lib.data.")


def _load_cli():
    spec = importlib.util.spec_from_file_location("course_download_cli", CLI)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _info(name: str, resources=(), note: str = "", writer: str = "") -> registry.DatasetInfo:
    return registry.DatasetInfo(name=name, title=name, chapter="0", folders=(name,), markers=(("a.txt",),),
                                note=note, resources=tuple(resources), sample_writer=writer)


def test_cli_main_downloads_lists_explains_manual_steps_and_writes_samples(server, tmp_path, monkeypatch, capsys):
    url = server.add("fake.tar.gz", make_archive(tmp_path / "fake.tar.gz").read_bytes())
    split_url = server.add("train.txt", b"a\nb\n", content_type="text/plain")
    modules = tmp_path / "mods"
    modules.mkdir()
    (modules / "fake_writer_for_cli.py").write_text(
        "from pathlib import Path\n"
        "def write_sample(root):\n    root = Path(root); root.mkdir(parents=True, exist_ok=True)\n"
        "    (root / 'sample.txt').write_text('s'); return root\n")
    monkeypatch.syspath_prepend(str(modules))
    reg = {
        "fake": _info("fake", [Resource(url, "fake.tar.gz", sha256=sha((tmp_path / "fake.tar.gz").read_bytes())),
                               Resource(split_url, "split-train.txt", sha256=sha(b"a\nb\n"), extract=False,
                                        target="Data-split/train.txt")],
                      note="A fake dataset.", writer="fake_writer_for_cli:write_sample"),
        "manual": _info("manual", note="Register at the challenge site, then unpack into <root>/manual.",
                        writer="fake_writer_for_cli:write_sample"),
        "broken": _info("broken", [Resource(server.base + "/gone.zip", "gone.zip")],
                        writer="fake_writer_for_cli:write_sample"),
    }
    cli = _load_cli()
    root = tmp_path / "data"

    assert cli.main(["fake", "--root", str(root)], reg) == 0
    assert (root / "fake" / "top" / "a.txt").read_bytes() == b"alpha"
    assert (root / "fake" / "Data-split" / "train.txt").read_bytes() == b"a\nb\n"  # placed by its target

    assert cli.main(["broken", "--root", str(root)], reg) == 1
    assert "HTTP 404" in capsys.readouterr().err

    assert cli.main(["manual", "--root", str(root)], reg) == 2
    assert "Register at the challenge site" in capsys.readouterr().err

    assert cli.main(["samples", "--root", str(root)], reg) == 0
    assert (root / "samples" / "fake" / "sample.txt").read_text() == "s"

    assert cli.main(["--list"], reg) == 0
    out = capsys.readouterr().out
    assert "A fake dataset." in out and "manual download" in out


def test_python_m_course_lib_download_lists_the_registry(tmp_path):
    env = {**os.environ, "COURSE_DATA_ROOT": str(tmp_path)}
    listed = subprocess.run([sys.executable, "-m", "course_lib.download", "--list"], capture_output=True, text=True,
                            env=env, timeout=120, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "kvasir" in listed.stdout and "brats" in listed.stdout and "registration" in listed.stdout
    assert not any(tmp_path.iterdir())


def test_cli_list_runs_in_a_subprocess(tmp_path):
    env = {**os.environ, "COURSE_DATA_ROOT": str(tmp_path)}
    listed = subprocess.run([sys.executable, str(CLI), "--list"], capture_output=True, text=True, env=env,
                            timeout=120, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "voc" in listed.stdout and "camvid" in listed.stdout
    assert not any(tmp_path.iterdir())


def test_cli_unknown_dataset_is_a_clear_error(tmp_path, capsys):
    cli = _load_cli()  # the real registry
    assert cli.main(["no-such-set", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown dataset 'no-such-set'" in err and "voc" in err and "--list" in err
    with pytest.raises(SystemExit) as info:
        cli.main([])  # no dataset named: argparse's usage error
    assert info.value.code == 2
    assert not any(tmp_path.iterdir())
