"""Chapter 4 readers on real LIP and CIHP files ($COURSE_REAL_DATA/parsing_lip, parsing_cihp); skipped without them."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from course_lib.data.parsing import CIHP, LIP, read_parsing_ids
from course_lib.score.semantic import score_semantic

pytestmark = pytest.mark.realdata


def _folder(real_root, name):
    folder = real_root / name
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    return folder


def _splits(reader, root):
    found = {}
    for split in ("train", "val"):
        try:
            found[split] = reader(root, split)
        except FileNotFoundError:
            continue
    if not found:
        pytest.skip(f"{root}: no split found")
    return found


@pytest.mark.parametrize("reader, name", [(LIP, "parsing_lip"), (CIHP, "parsing_cihp")])
def test_every_listed_picture_reads(real_root, reader, name):
    for split, ds in _splits(reader, _folder(real_root, name)).items():
        assert not ds.is_sample and len(ds) >= 1
        for i in range(len(ds)):
            picture, labels = ds.load_raw(i)
            assert picture.mode == "RGB" and labels.shape == (picture.height, picture.width)
            assert set(np.unique(labels).tolist()) <= set(range(20)) | {255}, ds.items[i][1]
        image, mask = ds[0]
        assert image.shape[1:] == mask.shape, split


def test_cihp_list_files_with_or_without_final_newline(real_root):
    root = _folder(real_root, "parsing_cihp")
    lists = sorted(root.rglob("*_id.txt"))
    if not lists:
        pytest.skip("no CIHP list file")
    for listing in lists:
        ids = read_parsing_ids(listing)
        images = listing.parent / "Images"
        assert ids == [line.strip() for line in listing.read_text().splitlines() if line.strip()]
        assert all((images / f"{i}.jpg").is_file() for i in ids), listing


def test_a_grayscale_lip_picture_reads_as_rgb(real_root, tmp_path):
    """Some real LIP pictures are grayscale JPEGs: a copy of a real pair, with its picture stored as grayscale."""
    root = _folder(real_root, "parsing_lip")
    split, ds = next(iter(_splits(LIP, root).items()))
    image_path, label_path = ds.items[0]
    copy = tmp_path / "LIP"
    (copy / "TrainVal_images" / f"{split}_images").mkdir(parents=True)
    (copy / "TrainVal_parsing_annotations" / f"{split}_segmentations").mkdir(parents=True)
    Image.open(image_path).convert("L").save(copy / "TrainVal_images" / f"{split}_images" / image_path.name)
    shutil.copy(label_path, copy / "TrainVal_parsing_annotations" / f"{split}_segmentations" / label_path.name)
    grey = LIP(copy, split)
    picture, labels = grey.load_raw(0)
    assert Image.open(grey.items[0][0]).mode == "L" and picture.mode == "RGB"
    rgb = np.asarray(picture)
    assert np.array_equal(rgb[..., 0], rgb[..., 1]) and tuple(grey[0][0].shape) == (3, *labels.shape)


@pytest.mark.parametrize("reader, name, dataset", [(LIP, "parsing_lip", "lip"), (CIHP, "parsing_cihp", "cihp")])
def test_scoring_the_real_labels_against_themselves_and_a_flip(real_root, tmp_path, reader, name, dataset):
    """The LIP protocol on real labels: the labels themselves score 1; their unswapped mirror image scores lower
    than the mirror image with left and right swapped back, on the left/right classes."""
    from course_lib.data.parsing import swap_left_right

    ds = next(iter(_splits(reader, _folder(real_root, name)).values()))
    for sub in ("gt", "plain", "swapped"):
        (tmp_path / sub).mkdir()
    for _, label_path in ds.items:
        labels = np.asarray(Image.open(label_path))
        shutil.copy(label_path, tmp_path / "gt" / label_path.name)
        # a perfect prediction of the mirrored picture, flipped back with and without the swap
        mirrored = swap_left_right(labels[:, ::-1], ds.flip_pairs)
        Image.fromarray(np.ascontiguousarray(mirrored[:, ::-1]), "L").save(tmp_path / "plain" / label_path.name)
        back = swap_left_right(mirrored[:, ::-1], ds.flip_pairs)
        Image.fromarray(np.ascontiguousarray(back), "L").save(tmp_path / "swapped" / label_path.name)
    same = score_semantic(dataset, tmp_path / "gt", tmp_path / "gt").overall
    assert same["miou"] == 1.0 and same["pixel_accuracy"] == 1.0
    assert score_semantic(dataset, tmp_path / "gt", tmp_path / "swapped").overall["miou"] == 1.0
    plain = score_semantic(dataset, tmp_path / "gt", tmp_path / "plain").overall
    assert plain["miou"] < 1.0 and plain["iou"]["Left-arm"] < 1.0
