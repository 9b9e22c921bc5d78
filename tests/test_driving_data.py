"""Chapter 10's driving datasets: Cityscapes, KITTI semantic, KITTI 2015 obj_map, CamVid 32, Mapillary Vistas.

Each loader reads its synthetic sample (written in the official layout) and is checked against an independent
computation: the label-id -> train-id table against the values of cityscapesScripts' labels.py, polygons against
OpenCV's fillPoly, instance files against their label files, colour decoding against a round trip.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from PIL import Image

from course_lib.data.camvid32 import CamVid32, decode_colours, encode_colours, parse_label_colors, read_colour_label
from course_lib.data.cityscapes import (
    Cityscapes,
    KittiSemantic,
    polygons_to_label_ids,
    read_kitti_instances,
    read_polygons,
    to_train_ids,
)
from course_lib.data.driving_entries import CAMVID32_CLASSES, CAMVID32_LABELS, VISTAS_V12_CLASSES
from course_lib.data.kitti_flow import KittiFlow
from course_lib.data.label_stats import label_statistics
from course_lib.data.labels import CITYSCAPES_ID_TO_TRAINID, CITYSCAPES_TRAINID_TO_ID
from course_lib.data.registry import get
from course_lib.data.vistas import Vistas, read_config
from course_lib.synthetic import driving, kitti_flow


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    root = tmp_path_factory.mktemp("driving")
    return {
        "cityscapes": driving.write_cityscapes_sample(root, n_train=1, n_val=2, size=(192, 96)),
        "kitti": driving.write_kitti_semantic_sample(root, n_train=2, scale=0.16),
        "camvid32": driving.write_camvid32_sample(root, n=3, size=(96, 72)),
        "vistas": driving.write_vistas_sample(root, n_train=1, n_val=2),
        "flow": kitti_flow.write_sample(root, n_train=2, n_test=0, scale=0.15),
    }


def test_cityscapes_table_is_the_official_one():
    # the values of cityscapesScripts/helpers/labels.py (mcordts/cityscapesScripts): ignored ids and the 19 classes
    ignored = [0, 1, 2, 3, 4, 5, 6, 9, 10, 14, 15, 16, 18, 29, 30]
    assert np.flatnonzero(CITYSCAPES_ID_TO_TRAINID == 255).tolist() == ignored
    assert CITYSCAPES_TRAINID_TO_ID.tolist() == [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31,
                                                 32, 33]
    assert CITYSCAPES_ID_TO_TRAINID[CITYSCAPES_TRAINID_TO_ID].tolist() == list(range(19))
    assert get("kitti_semantic").label_lut()[:34].tolist() == CITYSCAPES_ID_TO_TRAINID.tolist()
    with pytest.raises(ValueError, match="frankfurt.png.*no Cityscapes label ids"):
        to_train_ids(np.array([7, 34]), "frankfurt.png")


def test_cityscapes_sample_train_ids_instances_and_polygons(samples):
    ds = Cityscapes(samples["cityscapes"], "val")
    assert len(ds) == 2 and ds.is_sample and ds.frame(0).startswith("frankfurt_000000_")
    image, stored = ds.load_stored(0)
    _, mask = ds[0]
    assert mask.shape == stored.shape and set(mask.unique().tolist()) <= set(range(19)) | {255}
    np.testing.assert_array_equal(mask.numpy(), CITYSCAPES_ID_TO_TRAINID[stored])
    assert (stored == 1).any() and (mask.numpy()[stored == 1] == 255).all()  # ego vehicle is ignored
    inst = ds.load_instances(0)
    things = inst >= 1000
    assert things.any() and set(np.unique(inst[things] // 1000)) <= {24, 26, 33}
    np.testing.assert_array_equal(np.where(things, inst // 1000, inst), stored)
    drawn = polygons_to_label_ids(ds.load_polygons(0))
    assert (drawn == stored).mean() > 0.97  # contours drawn back in order give the label file


def test_polygons_against_opencv(tmp_path):
    poly = [[2, 1], [13, 3], [11, 9], [3, 8]]
    data = {"imgHeight": 12, "imgWidth": 16, "objects": [{"label": "road", "polygon": [[0, 0], [15, 0], [15, 11],
                                                                                       [0, 11]]},
                                                         {"label": "cargroup", "polygon": poly},
                                                         {"label": "license plate", "polygon": [[5, 5], [6, 5],
                                                                                                [6, 6]]}]}
    path = tmp_path / "a_000000_000000_gtFine_polygons.json"
    path.write_text(json.dumps(data))
    ours = polygons_to_label_ids(read_polygons(path))
    oracle = np.full((12, 16), 7, np.uint8)
    cv2.fillPoly(oracle, [np.array(poly, np.int32)], 26)
    cv2.polylines(oracle, [np.array(poly, np.int32)], True, 26)
    edge = np.zeros_like(oracle)
    cv2.polylines(edge, [np.array(poly, np.int32)], True, 1, thickness=3)
    assert not ((ours != oracle) & (edge == 0)).any()  # PIL and OpenCV differ on outline pixels only
    assert (ours == oracle).mean() > 0.95
    data["objects"][1]["label"] = "polegroup"  # a label of its own (18), not "pole" + group
    path.write_text(json.dumps(data))
    assert polygons_to_label_ids(read_polygons(path))[5, 6] == 18
    data["objects"][1]["label"] = "spaceship"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="gtFine_polygons.json.*spaceship"):
        read_polygons(path)


def test_kitti_semantic_instances_match_the_semantic_file(samples):
    ds = KittiSemantic(samples["kitti"])
    _, stored = ds.load_stored(1)
    ids, numbers = ds.load_instances(1)
    np.testing.assert_array_equal(ids, stored)
    assert numbers.max() >= 1 and (numbers[~np.isin(ids, [24, 26, 33])] == 0).all()
    with pytest.raises(ValueError, match="split 'train'"):
        KittiSemantic(samples["kitti"], "test")


def test_kitti_instance_reader_refuses_8_bit(tmp_path):
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "000000_10.png")
    with pytest.raises(ValueError, match="000000_10.png.*16-bit"):
        read_kitti_instances(tmp_path / "000000_10.png")


def test_kitti_flow_obj_map(samples):
    ds = KittiFlow(samples["flow"])
    objects = ds.obj_map(0)
    images, target = ds[0]
    assert objects.shape == tuple(images.shape[-2:]) and objects.max() >= 1 and (objects == 0).any()


def test_camvid32_colours_round_trip_and_unknown_colours(samples, tmp_path):
    classes = np.array([[0, 17, 30], [255, 21, 5]], np.uint8)
    np.testing.assert_array_equal(decode_colours(encode_colours(classes)), classes)
    assert CAMVID32_CLASSES[17] == "Road" and dict(CAMVID32_LABELS)["Road"] == (128, 64, 128)
    ds = CamVid32(samples["camvid32"])
    assert len(ds) == 3 and ds.num_classes == 31
    _, mask = ds.load_raw(0)
    label = np.asarray(Image.open(ds.items[0][1]))
    np.testing.assert_array_equal(encode_colours(mask), label)
    Image.fromarray(label).save(tmp_path / "0001TP_000001_L.jpg", quality=70)  # JPEG blends the colours
    with pytest.raises(ValueError, match="0001TP_000001_L.jpg.*no CamVid labels"):
        read_colour_label(tmp_path / "0001TP_000001_L.jpg")
    assert len(CamVid32(samples["camvid32"], names=[ds.items[1][0].stem])) == 1
    (tmp_path / "label_colors.txt").write_text("64 128 64\tAnimal\n64 128 64\tArchway\n")
    with pytest.raises(ValueError, match="label_colors.txt:2.*twice"):
        parse_label_colors(tmp_path / "label_colors.txt")


def test_vistas_sample_and_configs(samples, tmp_path):
    ds = Vistas(samples["vistas"], "val")
    assert ds.classes == VISTAS_V12_CLASSES and len(ds.classes) == 65 and len(ds) == 2
    _, stored = ds.load_stored(0)
    _, mask = ds.load_raw(0)
    np.testing.assert_array_equal(mask[stored < 65], stored[stored < 65])  # v1.2: 0..64 are the classes
    assert (mask[stored == 65] == 255).all()
    labels = [{"name": "a", "readable": "A", "color": [1, 2, 3], "instances": False, "evaluate": True},
              {"name": "v", "readable": "V", "color": [0, 0, 0], "instances": False, "evaluate": False},
              {"name": "b", "readable": "B", "color": [4, 5, 6], "instances": True, "evaluate": True}]
    (tmp_path / "config_v2.0.json").write_text(json.dumps({"labels": labels}))
    cfg = read_config(tmp_path / "config_v2.0.json")
    assert cfg.classes == ("A", "B") and cfg.lut[:3].tolist() == [0, 255, 1]
    labels[2]["color"] = [4, 5, 300]
    (tmp_path / "config_v2.0.json").write_text(json.dumps({"labels": labels}))
    with pytest.raises(ValueError, match="config_v2.0.json: label 2"):
        read_config(tmp_path / "config_v2.0.json")
    with pytest.raises(FileNotFoundError, match="config_v2.0.json"):
        Vistas(samples["vistas"], "val", version="v2.0")


def test_label_statistics_against_bincount(samples):
    ds = Cityscapes(samples["cityscapes"], "val")
    stats = label_statistics(ds)
    masks = [ds.load_raw(i)[1] for i in range(len(ds))]
    flat = np.concatenate([m.ravel() for m in masks])
    counts = np.bincount(flat[flat != 255], minlength=19)
    assert [r["pixels"] for r in stats.rows] == counts.tolist()
    assert stats.summary["void_share"] == pytest.approx((flat == 255).mean())
    assert stats.summary["sizes"] == {"192x96": 2}
    assert stats.rows[0]["picture_share"] == np.mean([(m == 0).any() for m in masks])


@pytest.mark.realdata
def test_real_segnet_label_colours_are_a_subset_of_the_32(real_root):
    files = sorted(real_root.glob("**/CamVid/label_colors.txt"))
    if not files:
        pytest.skip(f"no CamVid/label_colors.txt under {real_root}")
    table = dict(CAMVID32_LABELS)
    for path in files:
        rows = parse_label_colors(path)
        assert rows and all(table.get(name) == colour for name, colour in rows), path


@pytest.mark.realdata
def test_real_camvid_statistics(real_root):
    from course_lib.data.camvid import CamVid
    from course_lib.data.registry import find_root

    try:
        folder = find_root("camvid", real_root)
    except FileNotFoundError:
        pytest.skip(f"no CamVid under {real_root}")
    stats = label_statistics(CamVid(folder, "val"))
    assert stats.summary["sizes"] == {"480x360": stats.summary["pictures"]}
    assert 0.005 < stats.summary["void_share"] < 0.15  # about 5 % of CamVid (SegNet) is void
    shares = {r["class"]: r["pixel_share"] for r in stats.rows}
    assert shares["Road"] > shares["Pole"] and sum(shares.values()) == pytest.approx(1.0)


@pytest.mark.realdata
def test_real_kitti_flow_has_no_obj_map_in_2012(real_root):
    try:
        ds = KittiFlow(real_root)
    except FileNotFoundError:
        pytest.skip(f"no KITTI flow under {real_root}")
    for i in range(len(ds)):
        expected = ds.obj_map_path(i).is_file()
        assert (ds.obj_map(i) is not None) == expected
        if ds.version == 2012:
            assert not expected  # obj_map is a KITTI 2015 file


def test_registry_entries_name_their_writers_and_find_the_samples(samples):
    expected = {"cityscapes": driving.write_cityscapes_sample, "kitti_semantic": driving.write_kitti_semantic_sample,
                "camvid32": driving.write_camvid32_sample, "vistas": driving.write_vistas_sample}
    for name, writer in expected.items():
        info = get(name)
        assert info.sample_writer_fn() is writer and info.chapter == "10" and info.note
    for name, key in (("cityscapes", "cityscapes"), ("kitti_semantic", "kitti"), ("camvid32", "camvid32"),
                      ("vistas", "vistas")):
        assert get(name).is_root(samples[key]), name
    assert get("nuscenes").sample_writer == "" and "v1.0-mini" in get("nuscenes").note
