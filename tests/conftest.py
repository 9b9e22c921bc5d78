"""Shared fixtures: small synthetic datasets written once per test session, the real-data folder, one torch thread."""

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


@pytest.fixture
def one_thread():
    """Tiny networks train as fast on one CPU thread, and far faster on a busy 2-core machine than two threads
    fighting over its cores; the previous count is restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def moving_disc():
    """A factory of tiny videos for video segmentation: a red disc moving right over a textured grey background.

    ``moving_disc(t, h, w, radius=..., step=..., grey=(lo, hi))`` returns ``(frames uint8 [t, h, w, 3], labels
    uint8 [t, h, w])``; the disc starts at row ``h // 2``, column ``w // 4`` and moves ``step`` pixels per frame.
    """
    import numpy as np

    def make(t: int, h: int, w: int, *, radius: int, step: int, grey: tuple[int, int]):
        yy, xx = np.mgrid[:h, :w]
        rng = np.random.default_rng(0)
        frames = np.repeat(rng.integers(*grey, (1, h, w, 1), dtype=np.uint8), 3, axis=-1).repeat(t, 0)
        labels = np.zeros((t, h, w), np.uint8)
        for k in range(t):
            disc = (yy - h // 2) ** 2 + (xx - w // 4 - step * k) ** 2 < radius ** 2
            frames[k][disc] = (220, 40, 40)
            labels[k][disc] = 1
        return frames, labels

    return make
