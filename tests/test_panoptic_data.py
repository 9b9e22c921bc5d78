"""Chapter 11 data: the panoptic PNG encoding, COCO panoptic JSON + PNG folders (round trip), Cityscapes panoptic
and its conversion from instance ids, the registry entries and the sample writers; real COCO panoptic files."""

import json

import numpy as np
import pytest

from course_lib.data.cityscapes_panoptic import (
    CITYSCAPES_PANOPTIC_CATEGORIES,
    cityscapes_instances_to_panoptic,
    cityscapes_panoptic,
    convert_cityscapes_split,
    panoptic_from_semantic_and_instances,
    read_instance_ids,
)
from course_lib.data.coco_panoptic import (
    check_png_segments,
    coco_panoptic,
    read_panoptic_json,
    segments_info,
    semantic_from_panoptic,
    write_panoptic,
)
from course_lib.data.registry import find_root, get
from course_lib.io.panoptic import id2rgb, read_panoptic_png, rgb2id, write_panoptic_png
from course_lib.synthetic.panoptic import COCO_SAMPLE_CATEGORIES, write_cityscapes_sample, write_coco_sample


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    root = tmp_path_factory.mktemp("panoptic")
    return write_coco_sample(root, n_train=2, n_val=3), write_cityscapes_sample(root, n_images=2)


def test_rgb_encoding_is_r_plus_256g_plus_65536b(tmp_path):
    rgb = np.array([[[1, 2, 3], [255, 255, 255]]], np.uint8)
    assert rgb2id(rgb).tolist() == [[1 + 2 * 256 + 3 * 65536, 256**3 - 1]]
    ids = np.random.default_rng(0).integers(0, 256**3, (5, 7))
    path = write_panoptic_png(tmp_path / "p.png", ids)
    np.testing.assert_array_equal(read_panoptic_png(path), ids)
    np.testing.assert_array_equal(rgb2id(id2rgb(ids)), ids)
    with pytest.raises(ValueError, match="q.png"):
        write_panoptic_png(tmp_path / "q.png", np.array([[256**3]]))


def test_segments_info_area_and_box_by_hand():
    ids = np.zeros((4, 5), np.int64)
    ids[1:3, 2:5] = 70000  # 2 rows x 3 columns
    ids[3, 0] = 9
    segs = segments_info(ids, {70000: 3, 9: 1}, {9: 1})
    assert segs == [{"id": 9, "category_id": 1, "iscrowd": 1, "area": 1, "bbox": [0, 3, 1, 1]},
                    {"id": 70000, "category_id": 3, "iscrowd": 0, "area": 6, "bbox": [2, 1, 3, 2]}]


def test_write_then_read_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    records = []
    for k in range(2):
        ids = rng.choice([0, 5, 300, 70001], size=(6, 8))
        records.append(({"id": k, "file_name": f"{k:03d}.jpg", "width": 8, "height": 6}, ids,
                        {5: 149, 300: 1, 70001: 1}, {70001: 1}))
    write_panoptic(tmp_path / "p.json", tmp_path / "p", records, COCO_SAMPLE_CATEGORIES)
    ann = read_panoptic_json(tmp_path / "p.json")
    assert [c.name for c in ann.categories.values()] == [c.name for c in COCO_SAMPLE_CATEGORIES]
    assert ann.categories[1].isthing and not ann.categories[149].isthing
    for image, ids, _, _ in records:
        a = ann.annotations[image["id"]]
        back = read_panoptic_png(tmp_path / "p" / a["file_name"])
        np.testing.assert_array_equal(back, ids)
        check_png_segments(back, a["segments_info"], "x.png", image["id"])
        assert {s["id"]: s["iscrowd"] for s in a["segments_info"]}.get(70001) == 1
        assert sum(s["area"] for s in a["segments_info"]) == int((ids > 0).sum())


def test_png_and_segments_info_must_agree():
    ids = np.array([[0, 4], [4, 8]])
    with pytest.raises(ValueError, match=r"a.png: image 7: segment 8 is in the PNG but not in segments_info"):
        check_png_segments(ids, [{"id": 4}], "a.png", 7)
    with pytest.raises(ValueError, match=r"a.png: image 7: segment 9 of segments_info is not in the PNG"):
        check_png_segments(ids, [{"id": 4}, {"id": 8}, {"id": 9}], "a.png", 7)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d["annotations"][0]["segments_info"].append({"id": 5, "category_id": 1}), "segment 5 appears twice"),
    (lambda d: d["annotations"][0]["segments_info"][0].update(category_id=999), "segment 5 has unknown category_id"),
    (lambda d: d["annotations"][0].update(file_name="../x.png"), "leaves the PNG folder"),
    (lambda d: d["annotations"].append(dict(d["annotations"][0])), "image 1 has two annotations"),
    (lambda d: d["categories"][0].update(isthing=2), "'isthing' must be 0 or 1"),
    (lambda d: d["annotations"][0]["segments_info"][0].update(id=256**3), "id must lie in"),
])
def test_bad_json_is_named(tmp_path, edit, message):
    doc = {"images": [{"id": 1, "file_name": "a.jpg"}], "categories": [{"id": 1, "name": "person", "isthing": 1}],
           "annotations": [{"image_id": 1, "file_name": "a.png", "segments_info": [{"id": 5, "category_id": 1}]}]}
    edit(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="bad.json") as err:
        read_panoptic_json(path)
    assert message in str(err.value)


def test_cityscapes_conversion_follows_create_panoptic_imgs():
    inst = np.array([[7, 7, 26001, 26002], [24, 24, 1, 23], [33000, 33001, 4, 23]])  # 33000: bicycle instance 0
    ids, segs = cityscapes_instances_to_panoptic(inst)
    info = {s["id"]: (s["category_id"], s["iscrowd"], s["area"]) for s in segs}
    assert info == {7: (7, 0, 2), 23: (23, 0, 2), 24: (24, 1, 2), 26001: (26, 0, 1), 26002: (26, 0, 1),
                    33000: (33, 0, 1), 33001: (33, 0, 1)}
    assert ids[1, 2] == 0 and ids[2, 2] == 0  # ego vehicle (1) and static (4) are ignored labels: void
    things = {c.id for c in CITYSCAPES_PANOPTIC_CATEGORIES if c.isthing}
    assert things == {24, 25, 26, 27, 28, 31, 32, 33} and len(CITYSCAPES_PANOPTIC_CATEGORIES) == 19


def test_semantic_and_instances_to_panoptic_and_back():
    semantic = np.array([[0, 0, 2, 2], [1, 1, 2, 255]])
    instances = np.array([[0, 0, 1, 2], [0, 0, 0, 0]])
    ids, segs = panoptic_from_semantic_and_instances(semantic, instances, thing_classes=(2,), void=255)
    by_cat = sorted((s["category_id"], s["iscrowd"], s["area"]) for s in segs)
    assert by_cat == [(0, 0, 2), (1, 0, 2), (2, 0, 1), (2, 0, 1), (2, 1, 1)]  # two instances and a crowd pixel
    assert ids[1, 3] == 0
    back = semantic_from_panoptic(ids, segs, {0: 0, 1: 1, 2: 2})
    np.testing.assert_array_equal(back, semantic)


def test_samples_read_with_the_official_loaders(samples, tmp_path):
    coco, city = samples
    ds = coco_panoptic(coco, "val")
    assert len(ds) == 3 and ds.is_sample and "SYNTHETIC" in repr(ds)
    image, ids, segs = ds[0]
    assert image.shape[1:] == ids.shape and image.shape[0] == 3
    cats = {s["category_id"] for s in segs}
    assert cats & {1, 3, 18} and cats & {149, 184, 187, 193}
    assert (ids == 0).any()  # void object borders
    cs = cityscapes_panoptic(city, "val")
    assert len(cs) == 2 and cs.is_sample
    _, cids, csegs = cs[0]
    assert {s["category_id"] for s in csegs} <= {c.id for c in CITYSCAPES_PANOPTIC_CATEGORIES}
    raw = read_instance_ids(next((city / "gtFine/val").rglob("*_instanceIds.png")))
    assert raw.max() > 1000
    converted = convert_cityscapes_split(city, "val", tmp_path / "out")
    assert json.loads(converted.read_text()) == json.loads((city / "gtFine/cityscapes_panoptic_val.json").read_text())
    with pytest.raises(ValueError, match="inside the data root"):
        convert_cityscapes_split(city, "val", city / "converted")


def test_registry_entries_find_the_samples(samples):
    coco, city = samples
    assert get("coco_panoptic").chapter == "11" and get("cityscapes_panoptic").sample_writer
    assert find_root("coco_panoptic", coco.parent) == coco
    assert find_root("cityscapes_panoptic", city.parent) == city


@pytest.mark.realdata
def test_real_coco_panoptic_reads_and_round_trips(real_root, tmp_path):
    folder = find_root("coco_panoptic", real_root)
    if folder is None:
        pytest.skip("no COCO panoptic files under COURSE_REAL_DATA")
    splits = [s for s in ("val", "train") if (folder / f"annotations/panoptic_{s}2017.json").is_file()]
    for split in splits:
        ds = coco_panoptic(folder, split)
        assert not ds.is_sample and len(ds.categories) == 133
        assert sum(c.isthing for c in ds.categories.values()) == 80
        records = []
        for k in range(len(ds)):
            image, ids, segs = ds.load_raw(k)
            assert {s["id"]: s["area"] for s in segs} == {s["id"]: s["area"] for s in segments_info(ids, {
                s["id"]: s["category_id"] for s in segs})}
            assert image.shape[:2] == ids.shape
            record = ds.ann.images[ds.ids[k]]
            records.append((record, ids, {s["id"]: s["category_id"] for s in segs},
                            {s["id"]: s["iscrowd"] for s in segs}))
        write_panoptic(tmp_path / f"{split}.json", tmp_path / split, records, ds.categories.values())
        again = read_panoptic_json(tmp_path / f"{split}.json")
        for image_id, a in again.annotations.items():
            original = ds.ann.annotations[image_id]
            key = lambda s: (s["id"], s["category_id"], s["iscrowd"], s["area"], list(s["bbox"]))  # noqa: E731
            assert sorted(map(key, a["segments_info"])) == sorted(map(key, original["segments_info"]))
            assert (tmp_path / split / a["file_name"]).read_bytes() != b""
            np.testing.assert_array_equal(read_panoptic_png(tmp_path / split / a["file_name"]),
                                          read_panoptic_png(folder / f"annotations/panoptic_{split}2017" /
                                                            original["file_name"]))
