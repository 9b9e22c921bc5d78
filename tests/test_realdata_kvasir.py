"""Real Kvasir-SEG files under $COURSE_REAL_DATA, read with course_lib.data.kvasir.

Discovers the Kvasir-SEG folder below $COURSE_REAL_DATA (the folder itself, or up to two levels down) and skips when
the variable is unset or no Kvasir-SEG is there. Nothing here assumes how many files there are: the shared copy is
a subset of the 1000 pairs while the split lists and the box file name all of them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from course_lib.data import IMAGENET_MEAN, IMAGENET_STD
from course_lib.data import kvasir as K
from course_lib.data.registry import find_root, is_sample_folder
from course_lib.data.transforms import KvasirTransforms
from course_lib.io.boxes import read_bboxes
from course_lib.io.images import read_binary_mask

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def folder(real_root) -> Path:
    try:
        found = find_root("kvasir", real_root)
    except FileNotFoundError:
        pytest.skip(f"no Kvasir-SEG folder (images/ + masks/) under {real_root}")
    if is_sample_folder(found):
        pytest.skip(f"{found} is a synthetic sample, not the real files")
    return found


@pytest.fixture(scope="module")
def pairs(folder) -> dict:
    return K.list_pairs(folder)


def spread(items: list, n: int) -> list:
    """``n`` items spread evenly over ``items`` (first and last included)."""
    if len(items) <= n:
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, n).round().astype(int)]


def test_every_image_has_its_mask(folder, pairs):
    images = {p.stem for p in (folder / "images").iterdir() if p.suffix.lower() in K.IMAGE_SUFFIXES}
    masks = {p.stem for p in (folder / "masks").iterdir() if p.suffix.lower() in K.IMAGE_SUFFIXES}
    assert images and images == masks == set(pairs)


def test_image_and_mask_sizes_agree(pairs):
    sizes = set()
    for image_path, mask_path in pairs.values():
        with Image.open(image_path) as image, Image.open(mask_path) as mask:  # headers only: fast
            assert image.size == mask.size, f"{mask_path}: {mask.size} vs image {image.size}"
            sizes.add(image.size)
    if len(pairs) >= 50:  # Kvasir-SEG images come in many sizes (a folder of a few files may hold one size)
        assert len(sizes) > 1


@pytest.fixture(scope="module")
def checked_ids(pairs) -> list[str]:
    """A spread of ids plus the smallest and the largest image."""
    by_area = sorted(pairs, key=lambda i: np.prod(Image.open(pairs[i][0]).size))
    return sorted(set(spread(sorted(pairs), 24)) | {by_area[0], by_area[-1]})


def test_masks_are_binarised(pairs, checked_ids):
    grey_levels = set()
    for i in checked_ids:
        raw = np.asarray(Image.open(pairs[i][1]).convert("L"))
        grey_levels |= set(np.unique(raw).tolist())
        mask = read_binary_mask(pairs[i][1])
        assert mask.dtype == np.uint8 and set(np.unique(mask).tolist()) <= {0, 1}
        assert 0 < mask.mean() < 1, f"{pairs[i][1]}: a polyp mask should be neither empty nor full"
        assert mask.sum() == (raw >= 128).sum()
    # the JPEG masks are not binary as stored: the loader must threshold them
    assert any(0 < v < 255 for v in grey_levels)


def test_bounding_boxes_agree_with_images_and_masks(folder, pairs, checked_ids):
    path = folder / K.BBOX_FILE
    if not path.is_file():
        pytest.skip(f"{path} is absent (it is optional)")
    boxes = read_bboxes(path)
    on_disk = [i for i in checked_ids if i in boxes]
    assert on_disk, "kavsir_bboxes.json names none of the images on disk"
    for i in on_disk:
        image_size = Image.open(pairs[i][0]).size
        assert (boxes[i]["width"], boxes[i]["height"]) == image_size
        mask = read_binary_mask(pairs[i][1])
        inside = np.zeros_like(mask, bool)
        for b in boxes[i]["bbox"]:
            inside[b["ymin"]:b["ymax"] + 1, b["xmin"]:b["xmax"] + 1] = True
        assert mask[inside].sum() >= 0.95 * mask.sum(), f"{i}: mask pixels outside its boxes"


def test_split_lists_and_missing_ids(folder, pairs):
    split_dir = K.find_split_dir(folder)
    sets = {s: K.KvasirSEG(folder, s) for s in ("train", "val")}
    for split, ds in sets.items():
        assert set(ds.ids) <= set(pairs) and not set(ds.missing) & set(pairs)
        if split_dir is not None:
            listed = [line.strip() for line in (split_dir / f"{split}.txt").read_text().splitlines() if line.strip()]
            assert len(ds) + len(ds.missing) == len(listed) == ds.split_info.listed
            assert ds.protocol.startswith("official")
    assert not set(sets["train"].ids) & set(sets["val"].ids)


def test_loader_output_shapes_and_ranges(folder):
    size = (352, 352)
    val = K.KvasirSEG(folder, "val", transforms=KvasirTransforms(train=False, size=size, resize_mask=False))
    lo = min((0 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD, strict=True)) - 1e-4
    hi = max((1 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD, strict=True)) + 1e-4
    for index in spread(list(range(len(val))), 6):
        image, mask = val[index]
        raw_image, raw_mask = val.load_raw(index)
        assert image.shape == (3, *size) and image.dtype == torch.float32 and torch.isfinite(image).all()
        assert lo <= image.min() and image.max() <= hi
        assert mask.shape == (raw_image.height, raw_image.width) and mask.dtype == torch.int64  # native size
        assert torch.equal(mask, torch.as_tensor(raw_mask).long())
    train = K.KvasirSEG(folder, "train", transforms=KvasirTransforms(train=True, size=(128, 128)), decode_size=256)
    image, mask = train[0]
    assert image.shape == (3, 128, 128) and mask.shape == (128, 128) and set(mask.unique().tolist()) <= {0, 1}
