"""Real image-matting files under $COURSE_REAL_DATA, read with course_lib.data.matting.

Discovers, up to four folder levels below $COURSE_REAL_DATA, every ``Composition-1k-testset`` (a folder holding
``merged/``, ``alpha_copy/`` and ``trimaps/``), every Adobe release (``Combined_Dataset``) and every portrait set with
``image/`` + ``matte/`` folders (PPM-100), and checks them; each test skips when there is none (the shared data of
this project holds no matting set; the reviewers' machines have real ones). Nothing here assumes file names or
counts. Synthetic samples are skipped; the last test runs the same checks on a copy of the sample written without
its marker, so that the code path is exercised everywhere.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from course_lib.data import matting as M
from course_lib.data.registry import SAMPLE_MARKER, is_sample_folder
from course_lib.io.images import read_rgb
from course_lib.io.matting import read_alpha, read_trimap
from course_lib.synthetic import matting as synthetic


def discover(root: Path, max_depth: int = 4, allow_samples: bool = False) -> dict[str, list[Path]]:
    """The matting folders below ``root``: ``testsets``, ``releases`` (``Combined_Dataset``), ``portraits``."""
    found: dict[str, list[Path]] = {"testsets": [], "releases": [], "portraits": []}
    for here, dirs, _ in os.walk(root):
        folder = Path(here)
        depth = len(folder.relative_to(root).parts)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if depth < max_depth else []
        if is_sample_folder(folder) and not allow_samples:
            continue
        subs = set(dirs)
        if {"merged", "alpha_copy", "trimaps"} <= subs:
            found["testsets"].append(folder)
        if folder.name == M.COMBINED and subs & {"Training_set", "Test_set"}:
            found["releases"].append(folder)
        if {"image", "matte"} <= subs:
            found["portraits"].append(folder)
    return found


def spread(items: list, n: int) -> list:
    """``n`` items spread evenly over ``items`` (first and last included)."""
    if len(items) <= n:
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, n).round().astype(int)]


def check_alpha_and_trimap(alpha: np.ndarray, trimap: np.ndarray, where: str) -> None:
    """A benchmark trimap: all three values present, soft alpha inside the unknown band, known parts agree."""
    assert set(np.unique(trimap).tolist()) == {0, 128, 255}, where
    soft = (alpha > 0) & (alpha < 1)
    assert soft.any(), f"{where}: an alpha matte without a single soft pixel"
    assert (trimap[soft] == 128).mean() >= 0.95, f"{where}: soft alpha outside the trimap's unknown band"
    assert alpha[trimap == 255].mean() > 0.95 and alpha[trimap == 0].mean() < 0.05, where


def check_testset(folder: Path, n: int = 12) -> int:
    items = M.list_testset(folder)  # every merged file has its alpha and trimap (else a named error)
    assert items and all(re.fullmatch(r".+_\d+", i.name) for i in items), folder  # <fg>_<k>
    for item in spread(items, n):
        image, alpha, trimap = np.asarray(read_rgb(item.image)), read_alpha(item.alpha), read_trimap(item.trimap)
        assert image.shape[:2] == alpha.shape == trimap.shape, item.name
        check_alpha_and_trimap(alpha, trimap, str(item.alpha))
        if item.fg is not None and item.bg is not None:  # I = aF + (1 - a)B, up to the files' 8-bit rounding
            fg, bg = (np.asarray(read_rgb(p), np.float32) / 255 for p in (item.fg, item.bg))
            error = np.abs(M.composite(fg, bg, alpha) - image / 255.0).mean()
            assert error < 3 / 255, f"{item.image}: differs from a*fg + (1-a)*bg by {error * 255:.1f} grey levels"
    ds = M.Composition1k(folder, "test", max_items=2)
    for index in range(len(ds)):
        item, layers = ds[index], ds.load_layers(index)
        assert item["image"].shape[1:] == item["trimap"].shape[1:] == layers["alpha"].shape
        assert set(item["trimap"].unique().tolist()) == {0.0, 0.5, 1.0}
    return len(items)


def check_release(combined: Path, n: int = 6) -> None:
    for split in ("train", "test"):
        if not (combined / ("Training_set" if split == "train" else "Test_set")).is_dir():
            continue
        part = M.read_adobe_split(combined, split)  # every listed foreground has its alpha (and test trimap)
        assert len(part.plan()) == len(part.foregrounds) * part.per_fg  # the DIM rule fits the lists
        for name in spread(part.foregrounds, n):
            fg, alpha = np.asarray(read_rgb(part.fg[name])), read_alpha(part.alpha[name])
            assert fg.shape[:2] == alpha.shape, name
            assert ((alpha > 0) & (alpha < 1)).any(), f"{part.alpha[name]}: no soft pixel"
            if split == "test":
                check_alpha_and_trimap(alpha, read_trimap(part.trimaps[name]), str(part.trimaps[name]))


def check_portraits(folder: Path, n: int = 8) -> int:
    ds = M.PortraitMatting(folder)  # names matched across extensions, else a named error
    assert len(ds)
    for index in spread(list(range(len(ds))), n):
        layers = ds.load_layers(index)  # image and matte of one size, else a named error
        alpha = layers["alpha"]
        assert alpha.min() >= 0 and alpha.max() <= 1 and ((alpha > 0) & (alpha < 1)).any(), ds.names[index]
        item = ds[index]
        assert item["image"].shape == (3, *alpha.shape) and item["trimap"].shape == (1, *alpha.shape)
    return len(ds)


@pytest.fixture(scope="module")
def found(real_root) -> dict[str, list[Path]]:
    return discover(real_root)


WHAT = {
    "testsets": ("Composition-1k-testset (merged/ + alpha_copy/ + trimaps/)", check_testset),
    "releases": ("Combined_Dataset (the Adobe Deep Image Matting release)", check_release),
    "portraits": ("portrait set (image/ + matte/, e.g. PPM-100)", check_portraits),
}


@pytest.mark.realdata
@pytest.mark.parametrize("kind", sorted(WHAT))
def test_real_matting_folders(found, kind):
    """Every real Composition-1k-testset, Adobe release and portrait set under $COURSE_REAL_DATA."""
    what, check = WHAT[kind]
    if not found[kind]:
        pytest.skip(f"no {what} under $COURSE_REAL_DATA")
    for folder in found[kind]:
        check(folder)


def test_the_checks_on_a_copy_of_the_sample_without_its_marker(tmp_path):
    """The code path of the real-data tests, on the samples made to look real (their markers removed)."""
    written = tmp_path / "written"
    sample = synthetic.write_sample(written, n_train=3, n_test=2,
                                    n_backgrounds=(3, 3), photos=False)
    portraits = synthetic.write_portrait_sample(written, n=3, photos=False)
    assert discover(written) == {"testsets": [], "releases": [], "portraits": []}  # samples are not real data
    data = tmp_path / "data"
    shutil.copytree(sample, data / "adobe" / "Composition-1k", ignore=shutil.ignore_patterns(SAMPLE_MARKER))
    shutil.copytree(portraits, data / "portraits" / "PPM-100", ignore=shutil.ignore_patterns(SAMPLE_MARKER))
    found = discover(data)
    assert found == {"testsets": [data / "adobe" / "Composition-1k" / M.TESTSET],
                     "releases": [data / "adobe" / "Composition-1k" / M.COMBINED],
                     "portraits": [data / "portraits" / "PPM-100"]}
    assert check_testset(found["testsets"][0]) == 2 * 20
    check_release(found["releases"][0])
    assert check_portraits(found["portraits"][0]) == 3
