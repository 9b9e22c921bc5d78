"""Real COCO 2017 instances and Penn-Fudan files under $COURSE_REAL_DATA (Chapter 5).

Discovers each dataset's folder below $COURSE_REAL_DATA through the registry and skips when it is absent. Nothing
assumes how many images there are (the shared copies are subsets).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from course_lib.data.coco import CocoInstances, annotation_mask, read_instances
from course_lib.data.instance_entries import COCO_CATEGORY_IDS, COCO_CLASSES
from course_lib.data.pennfudan import PennFudan
from course_lib.data.registry import find_root, is_sample_folder
from course_lib.metrics.instance_ap import coco_evaluate, encode_mask

pytestmark = [pytest.mark.realdata, pytest.mark.filterwarnings("ignore::DeprecationWarning:pycocotools")]


def _real(name: str, root: Path) -> Path:
    try:
        found = find_root(name, root)
    except FileNotFoundError:
        pytest.skip(f"no {name} folder under {root}")
    if is_sample_folder(found):
        pytest.skip(f"{found} is a synthetic sample, not the real files")
    return found


@pytest.fixture(scope="module")
def coco_folder(real_root) -> Path:
    return _real("coco", real_root)


@pytest.fixture(scope="module")
def annotation_file(coco_folder) -> Path:
    files = sorted((coco_folder / "annotations").glob("instances_*.json"))
    if not files:
        pytest.skip(f"no instances_*.json in {coco_folder / 'annotations'}")
    return files[0]


def test_real_json_passes_the_checks_and_has_the_official_categories(annotation_file):
    data = read_instances(annotation_file)
    assert [(c["id"], c["name"]) for c in data["categories"]] == list(zip(COCO_CATEGORY_IDS[1:], COCO_CLASSES[1:],
                                                                          strict=True))
    assert data["annotations"], "the shared file has annotations"


def test_real_masks_equal_pycocotools_annToMask(annotation_file):
    data = read_instances(annotation_file)
    coco = COCO(str(annotation_file))
    images = {im["id"]: im for im in data["images"]}
    crowds = [a for a in data["annotations"] if a["iscrowd"]]
    some = [a for a in data["annotations"] if not a["iscrowd"]][:20] + crowds[:3]
    for ann in some:
        im = images[ann["image_id"]]
        mask = annotation_mask(ann["segmentation"], im["height"], im["width"])
        np.testing.assert_array_equal(mask, coco.annToMask(ann))
        assert mask.any()  # (the official "area" of a crowd need not equal its pixel count: COCOeval uses the field)


def test_real_dataset_targets_follow_the_file(coco_folder, annotation_file):
    split = annotation_file.stem.split("_")[1][:-4]
    ds = CocoInstances(coco_folder, split, include_crowd=True, max_items=4)
    coco = ds.coco
    for i in range(len(ds)):
        image, target = ds[i]
        anns = coco.imgToAnns[ds.ids[i]]
        assert image.shape[-2:] == (coco.imgs[ds.ids[i]]["height"], coco.imgs[ds.ids[i]]["width"])
        assert len(target["labels"]) <= len(anns) and target["masks"].shape[0] == len(target["boxes"])
        expected = sorted(COCO_CLASSES.index(coco.cats[a["category_id"]]["name"]) for a in anns)
        assert sorted(target["labels"].tolist()) == expected  # crowds included: every annotation is an instance
    person = CocoInstances(coco_folder, split, categories=("person",), skip_empty=True)
    assert all(set(person[i][1]["labels"].tolist()) == {1} for i in range(min(3, len(person))))


def test_ground_truth_as_predictions_scores_one(coco_folder, annotation_file):
    data = read_instances(annotation_file)
    images = {im["id"]: im for im in data["images"]}
    results = [{"image_id": a["image_id"], "category_id": a["category_id"], "score": 1.0,
                "segmentation": encode_mask(annotation_mask(a["segmentation"], images[a["image_id"]]["height"],
                                                            images[a["image_id"]]["width"]))}
               for a in data["annotations"] if not a["iscrowd"]]
    json.dumps(results)
    stats = coco_evaluate(data, results)
    assert stats["AP"] == pytest.approx(1.0) and stats["AP50"] == pytest.approx(1.0)
    shifted = [dict(r, segmentation=encode_mask(np.roll(mask_utils.decode(r["segmentation"]), 6, axis=1)))
               for r in results]
    assert coco_evaluate(data, shifted)["AP"] < 0.9


def test_real_pennfudan_boxes_equal_the_mask_boxes(real_root):
    folder = _real("pennfudan", real_root)
    ds = PennFudan(folder, "all")
    checked = 0
    for i in range(len(ds)):
        ann = ds.annotation(i)
        if ann is None:
            continue
        text = (folder / "Annotation" / f"{ds.ids[i]}.txt").read_bytes()
        assert b"\r\n" in text, "the official annotation files have CRLF line endings"
        image, target = ds[i]
        assert (ann.size[1], ann.size[0]) == tuple(image.shape[-2:])
        k = len(ann.boxes)
        np.testing.assert_array_equal(ann.boxes_xyxy(), target["boxes"][:k].numpy())
        checked += 1
    if not checked:
        pytest.skip(f"no annotation text under {folder / 'Annotation'}")
