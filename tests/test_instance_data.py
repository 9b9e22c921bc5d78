"""Chapter 5 data: COCO instances and Penn-Fudan readers, their sample writers, the joint transforms, the registry."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils
from torchvision import tv_tensors

from course_lib.data import registry
from course_lib.data.coco import CocoInstances, annotation_mask, check_rle, read_instances
from course_lib.data.instance_entries import COCO_CATEGORY_IDS, COCO_CLASSES
from course_lib.data.instances import InstanceTransforms, detection_collate, make_target
from course_lib.data.pennfudan import PennFudan, parse_annotation
from course_lib.synthetic import coco as coco_sample
from course_lib.synthetic import pennfudan as pennfudan_sample

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pycocotools")


@pytest.fixture(scope="module")
def coco_root(tmp_path_factory):
    return coco_sample.write_sample(tmp_path_factory.mktemp("coco"), n_train=6, n_val=3, size=(128, 96))


@pytest.fixture(scope="module")
def pennfudan_root(tmp_path_factory):
    return pennfudan_sample.write_sample(tmp_path_factory.mktemp("pf"), n_images=8, size=(96, 80))


def test_registry_entries_find_the_samples(coco_root, pennfudan_root):
    assert registry.find_root("coco", coco_root.parent) == coco_root
    assert registry.find_root("pennfudan", pennfudan_root.parent) == pennfudan_root
    assert registry.get("coco").num_classes == 81 and registry.get("pennfudan").classes[1] == "pedestrian"
    assert all(r.url.startswith("http") for r in registry.get("coco").resources)
    assert len(set(COCO_CATEGORY_IDS[1:])) == 80 and COCO_CATEGORY_IDS[-1] == 90 and 12 not in COCO_CATEGORY_IDS


def test_sample_holds_every_segmentation_form(coco_root):
    data = json.loads((coco_root / "annotations" / "instances_train2017.json").read_text())
    forms = {("rle-" + type(a["segmentation"]["counts"]).__name__) if isinstance(a["segmentation"], dict)
             else "polygon" for a in data["annotations"]}
    assert forms == {"polygon", "rle-list", "rle-str"}
    assert any(a["iscrowd"] for a in data["annotations"])
    annotated = {a["image_id"] for a in data["annotations"]}
    assert any(im["id"] not in annotated for im in data["images"])
    assert [c["name"] for c in data["categories"]] == list(COCO_CLASSES[1:])


def test_masks_decode_like_pycocotools(coco_root):
    data = read_instances(coco_root / "annotations" / "instances_train2017.json")
    images = {im["id"]: im for im in data["images"]}
    for ann in data["annotations"]:
        im = images[ann["image_id"]]
        mask = annotation_mask(ann["segmentation"], im["height"], im["width"])
        seg = ann["segmentation"]
        rle = (mask_utils.merge(mask_utils.frPyObjects(seg, im["height"], im["width"])) if isinstance(seg, list)
               else mask_utils.frPyObjects(seg, im["height"], im["width"]) if isinstance(seg["counts"], list)
               else seg)
        np.testing.assert_array_equal(mask, mask_utils.decode(rle))
        assert abs(mask.sum() - ann["area"]) <= 0.02 * ann["area"] + 2


def test_crowds_left_out_by_default_and_empty_images_kept(coco_root):
    plain = CocoInstances(coco_root, "train")
    crowd = CocoInstances(coco_root, "train", include_crowd=True)
    assert len(plain) == 6 and plain.is_sample
    n_plain = sum(len(plain[i][1]["labels"]) for i in range(len(plain)))
    flags = torch.cat([crowd[i][1]["iscrowd"] for i in range(len(crowd))])
    assert flags.sum() >= 1 and n_plain == len(flags) - int(flags.sum())
    image, target = plain[0]  # the first image of each split has no annotation
    assert target["boxes"].shape == (0, 4) and target["masks"].shape == (0, *image.shape[-2:])
    assert image.dtype == torch.float32 and 0 <= image.min() and image.max() <= 1
    assert len(CocoInstances(coco_root, "train", skip_empty=True)) == 5


def test_category_subset_relabels(coco_root):
    ds = CocoInstances(coco_root, "train", categories=("car", "person"))
    assert ds.classes == ("background", "car", "person") and ds.category_ids == (0, 3, 1)
    labels = torch.cat([ds[i][1]["labels"] for i in range(len(ds))])
    assert set(labels.tolist()) <= {1, 2} and len(labels) > 0
    gt = ds.ground_truth()
    assert {c["id"] for c in gt["categories"]} == {1, 3}
    assert all(a["category_id"] in (1, 3) for a in gt["annotations"])
    with pytest.raises(ValueError, match="no category 'unicorn'"):
        CocoInstances(coco_root, "train", categories=("unicorn",))


def test_missing_image_is_skipped_and_counted(coco_root, tmp_path):
    import shutil

    copy = tmp_path / "coco"
    shutil.copytree(coco_root, copy)
    victim = sorted((copy / "val2017").glob("*.jpg"))[1]
    victim.unlink()
    ds = CocoInstances(copy, "val")
    assert len(ds) == 2 and len(ds.missing) == 1


def test_training_crop_sanitizes_every_field():
    masks = np.zeros((3, 60, 80), np.uint8)
    masks[0, 5:20, 5:20] = 1
    masks[1, 40:58, 60:78] = 1
    masks[2, 10:50, 30:50] = 1
    target = make_target(masks, [1, 2, 3], image_id=4, iscrowd=[0, 1, 0])
    image = tv_tensors.Image(torch.randint(0, 255, (3, 60, 80), dtype=torch.uint8))
    t = InstanceTransforms(train=True, size=32, scale_range=(0.9, 1.1), hflip=0.0)
    for seed in range(10):
        torch.manual_seed(seed)
        img, out = t(image, target)
        n = len(out["boxes"])
        assert img.shape == (3, 32, 32) and out["masks"].shape == (n, 32, 32)
        assert len(out["labels"]) == len(out["iscrowd"]) == len(out["area"]) == n
        assert torch.equal(out["area"], out["masks"].flatten(1).sum(1).float())
        w = out["boxes"][:, 2] - out["boxes"][:, 0]
        assert (w >= 1).all() and out["image_id"] == 4


def test_flip_moves_boxes_and_masks_together():
    masks = np.zeros((1, 10, 20), np.uint8)
    masks[0, 2:5, 1:4] = 1
    target = make_target(masks, [1], image_id=0)
    img, out = InstanceTransforms(train=True, hflip=1.0)(tv_tensors.Image(torch.zeros(3, 10, 20, dtype=torch.uint8)),
                                                         target)
    assert out["boxes"].tolist() == [[16.0, 2.0, 19.0, 5.0]]
    assert out["masks"][0, 2:5, 16:19].all() and out["masks"].sum() == 9


def test_detection_collate_keeps_lists(coco_root):
    ds = CocoInstances(coco_root, "val")
    images, targets = detection_collate([ds[0], ds[1]])
    assert isinstance(images, list) and len(targets) == 2 and "masks" in targets[1]
    with pytest.raises(ValueError):
        detection_collate([])


def test_check_rle_finds_the_faults():
    good = mask_utils.encode(np.asfortranarray(np.eye(4, dtype=np.uint8)))
    assert check_rle({"size": [4, 4], "counts": good["counts"].decode()})["counts"] == good["counts"]
    for bad, message in [({"size": [4, 4], "counts": "!!"}, "alphabet"), ({"size": [4, 4], "counts": [3, -1, 14]},
                         "negative"), ({"size": [4, 4], "counts": [3]}, "add up"), ({"counts": [16]}, "size"),
                         ({"size": [4, "4"], "counts": [16]}, "size")]:
        with pytest.raises(ValueError, match=message):
            check_rle(bad)
    with pytest.raises(ValueError, match="differs"):
        check_rle({"size": [4, 4], "counts": [16]}, 4, 5)


def test_pennfudan_sample_reads_like_the_real_layout(pennfudan_root):
    text = (pennfudan_root / "Annotation").glob("*.txt").__next__().read_bytes()
    assert b"\r\n" in text and b"\n" not in text.replace(b"\r\n", b"")
    train, val = PennFudan(pennfudan_root, "train"), PennFudan(pennfudan_root, "val")
    assert not set(train.ids) & set(val.ids) and len(train) + len(val) == 8 and "seeded" in val.protocol
    for i in range(len(train)):
        _, target = train[i]
        ann = train.annotation(i)
        k = len(ann.boxes)  # the text may list fewer pedestrians than the mask (added objects)
        np.testing.assert_array_equal(ann.boxes_xyxy(), target["boxes"][:k].numpy())
        assert set(target["labels"].tolist()) == {1}


def test_pennfudan_one_based_inclusive_boxes(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(pennfudan_sample.annotation_text("FudanPed00001", 10, 8, [(1, 1, 10, 8), (3, 2, 3, 2)]))
    ann = parse_annotation(path)
    assert ann.size == (10, 8, 3) and ann.boxes_xyxy().tolist() == [[0, 0, 10, 8], [2, 1, 3, 2]]
    path.write_bytes(pennfudan_sample.annotation_text("FudanPed00001", 10, 8, [(0, 1, 4, 4)]))
    with pytest.raises(ValueError, match="a.txt.*not inside"):
        parse_annotation(path)


def test_unpaired_pennfudan_file_is_named(pennfudan_root, tmp_path):
    import shutil

    copy = tmp_path / "PennFudanPed"
    shutil.copytree(pennfudan_root, copy)
    victim = sorted((copy / "PedMasks").glob("*.png"))[0]
    victim.unlink()
    with pytest.raises(ValueError, match="has no mask"):
        PennFudan(copy, "all")
