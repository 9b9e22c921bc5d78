"""Shared fixtures: small synthetic datasets written once per test session, the real-data folder."""

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def camvid_sample(tmp_path_factory) -> Path:
    """A small synthetic CamVid (SegNet layout) for fast end-to-end tests; returns the folder above ``CamVid``."""
    from course_lib.synthetic import camvid

    root = tmp_path_factory.mktemp("camvid_sample")
    camvid.write_sample(root, n_train=6, n_val=3, n_test=3, size=(96, 72))
    return root


@pytest.fixture(scope="session")
def voc_sample(tmp_path_factory) -> Path:
    from course_lib.synthetic import voc

    root = tmp_path_factory.mktemp("voc_sample")
    voc.write_sample(root, n_train=4, n_val=3, size=(80, 64))
    return root


@pytest.fixture(scope="session")
def real_root() -> Path:
    """``$COURSE_REAL_DATA`` (real dataset files); tests using it skip when it is unset or missing."""
    value = os.environ.get("COURSE_REAL_DATA")
    if not value:
        pytest.skip("COURSE_REAL_DATA is not set")
    path = Path(value)
    if not path.is_dir():
        pytest.skip(f"COURSE_REAL_DATA={value} is not a folder")
    return path


@pytest.fixture(scope="session")
def real_data(real_root) -> Path:
    """Another name for :func:`real_root`."""
    return real_root


# hyper-parameters that make any FCN recipe train in about a second
TINY_FCN = ["--set", "width=0.0625", "--set", "fc_channels=16", "--set", "crop_size=[48,64]",
            "--set", "batch_size=2", "--set", "eval_scale=0.5"]


@pytest.fixture(scope="session")
def built_book(tmp_path_factory) -> Path:
    """The book built once per session (``jupyter-book build -W``, quick profile); returns its ``_build/html``.

    Used by tests/test_book.py (the HTML) and tests/test_site_offline.py (the pages in a browser, offline).
    """
    import shutil
    import subprocess
    import sys

    exe = Path(sys.executable).parent / "jupyter-book"
    exe = str(exe) if exe.is_file() else shutil.which("jupyter-book")
    if exe is None:
        pytest.skip("jupyter-book is not installed")
    out = tmp_path_factory.mktemp("book")
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run([exe, "build", str(root), "-W", "--path-output", str(out)],
                          env={**os.environ, "COURSE_PROFILE": "quick"}, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        pytest.fail(f"jupyter-book build -W failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}")
    return out / "_build" / "html"
