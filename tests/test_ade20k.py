"""ADE20K in both layouts (course_lib.data.ade20k, .ade20k_full, .ade20k_annotations) on the synthetic samples and on
hand-made files: the label shift and its inverse, objectInfo150 / sceneCategories parsing, the _seg.png class
decoding (checked against the toolkit's formula), instance masks, the mapping to 150 classes, bad inputs."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from course_lib.data import ade20k, ade20k_full, registry
from course_lib.data.ade20k import (
    ADE20KSceneParsing,
    parse_object_info,
    parse_scene_categories,
    save_submission,
    to_submission,
    to_train_ids,
)
from course_lib.data.ade20k_annotations import read_annotation, read_index
from course_lib.data.ade20k_full import (
    FULL_TO_SCENEPARSING,
    ADE20KFull,
    decode_seg,
    instance_ids,
    load_annotation,
    read_instance_mask,
    read_seg,
    sceneparsing_size,
    to_sceneparsing,
)
from course_lib.data.labels import ADE20K_CLASSES, ADE20K_FULL_INDICES, ADE20K_NAMES
from course_lib.score import score_semantic
from course_lib.synthetic import ade20k as synthetic

SIZE = (96, 72)


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> Path:
    """Both samples, with the same scenes, under one root."""
    root = tmp_path_factory.mktemp("ade20k")
    synthetic.write_sample(root, n_train=3, n_val=2, size=SIZE)
    synthetic.write_full_sample(root, n_train=3, n_val=2, size=SIZE)
    return root


@pytest.fixture
def sp_copy(samples, tmp_path) -> Path:
    """A private copy of the SceneParsing sample that a test may damage."""
    return Path(shutil.copytree(samples / "ADEChallengeData2016", tmp_path / "ADEChallengeData2016"))


@pytest.fixture
def full_picture(samples, tmp_path) -> Path:
    """A private copy of the first full-release training picture's files; returns its .jpg."""
    src = samples / "ADE20K_2021_17_01" / "images" / "ADE" / "training" / "urban" / "street"
    dst = Path(shutil.copytree(src, tmp_path / "street"))
    return dst / "ADE_train_00000001.jpg"


# ----------------------------------------------------------------------------------------------- the shift
def test_shift_maps_every_stored_value_and_back():
    stored = np.arange(151, dtype=np.uint8)
    train = to_train_ids(stored)
    assert train[0] == 255 and train[1:].tolist() == list(range(150))
    assert to_submission(train[1:].reshape(10, 15)).ravel().tolist() == list(range(1, 151))
    assert to_submission(torch.tensor([[0, 149]])).tolist() == [[1, 150]]  # tensors too
    with pytest.raises(ValueError, match=r"ann.png: values \[151, 200\]"):
        to_train_ids(np.array([151, 0, 200]), "ann.png")
    with pytest.raises(ValueError, match=r"values \[255\] outside the classes 0..149"):
        to_submission(np.array([[3, 255]]))
    with pytest.raises(ValueError, match="integer map"):
        to_submission(np.zeros((2, 2), np.float32))


def test_sample_round_trip_and_shift_in_load_raw(samples):
    ds = ADE20KSceneParsing(samples, "train")
    assert len(ds) == 3 and ds.is_sample and len(ADE20KSceneParsing(samples, "val")) == 2
    for i in range(len(ds)):
        image, stored = ds.load_stored(i)
        _, shifted = ds.load_raw(i)
        assert image.mode == "RGB" and stored.shape == (SIZE[1], SIZE[0])
        np.testing.assert_array_equal(shifted, np.where(stored == 0, 255, stored.astype(np.int64) - 1))
        x, y = ds[i]
        assert x.shape == (3, SIZE[1], SIZE[0]) and y.dtype == torch.int64
        assert set(y.unique().tolist()) <= set(range(150)) | {255}
    assert any((ds.load_stored(i)[1] == 0).any() for i in range(len(ds)))  # umbrellas: "other"
    assert ds.scene(0) == "street" and ds.classes == ADE20K_CLASSES and ds.ignore_index == 255


def test_grayscale_and_cmyk_pictures_are_read_as_rgb(samples):
    ds = ADE20KSceneParsing(samples, "train")
    modes = [Image.open(p).mode for p, _ in ds.items]
    assert modes == ["RGB", "L", "CMYK"]  # the sample's second and third pictures, as a few of ADE20K's
    for i in (1, 2):
        image, _ = ds.load_raw(i)
        assert image.mode == "RGB" and image.size == SIZE
    grey = np.asarray(ds.load_raw(1)[0])
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()


def test_submission_files_score_perfectly(samples, tmp_path):
    ds = ADE20KSceneParsing(samples, "val")
    for i, (_, label_path) in enumerate(ds.items):
        _, labels = ds.load_raw(i)
        prediction = np.where(labels == 255, 7, labels)  # "other" pixels are not scored: any class will do
        save_submission(prediction, tmp_path / "pred" / label_path.name)
    report = score_semantic("ade20k", samples / "ADEChallengeData2016" / "annotations" / "validation",
                            tmp_path / "pred").overall
    assert report["miou"] == 1.0 and report["pixel_accuracy"] == 1.0 and report["images"] == 2
    assert Image.open(tmp_path / "pred" / ds.items[0][1].name).mode == "L"


# ----------------------------------------------------------------------------------------------- list files
def test_object_info_of_the_sample(samples):
    rows = parse_object_info(samples / "ADEChallengeData2016" / "objectInfo150.txt")
    assert [r.idx for r in rows] == list(range(1, 151))
    assert tuple(", ".join(r.names) for r in rows) == ADE20K_NAMES
    assert tuple(r.name for r in rows) == ADE20K_CLASSES
    assert rows[1].names == ("building", "edifice") and rows[1].train == 3  # every sample picture has a building
    assert sum(r.ratio for r in rows) == pytest.approx(1.0, abs=0.3)  # "other" pixels are not in a row


def test_object_info_variants_and_errors(tmp_path):
    path = tmp_path / "objectInfo150.txt"
    path.write_text("Idx Ratio Train Val Name\n1 0.5 3 1 wall\n2 0.25 2 0 building, edifice\n")  # spaces, not tabs
    rows = parse_object_info(path)
    assert rows[1].names == ("building", "edifice") and rows[0].ratio == 0.5
    for text, message in [
        ("Index Ratio Train Val Name\n1\t0.1\t1\t1\twall\n", ":1: expected the header"),
        ("Idx\tRatio\tTrain\tVal\tName\n1\t0.1\t1\t1\twall\n3\t0.1\t1\t1\tsky\n", ":3: class index 3 where 2"),
        ("Idx\tRatio\tTrain\tVal\tName\n1\t0.1\t1\twall\n", ":2: expected 5 tab-separated fields"),
        ("Idx\tRatio\tTrain\tVal\tName\n1\t1.5\t1\t1\twall\n", ":2: ratio 1.5 outside 0..1"),
        ("Idx\tRatio\tTrain\tVal\tName\n1\tx\t1\t1\twall\n", ":2: Idx, Ratio, Train and Val must be numbers"),
        ("Idx\tRatio\tTrain\tVal\tName\n1\t0.1\t1\t1\t , \n", ":2: class 1 has no name"),
        ("Idx\tRatio\tTrain\tVal\tName\n", ": objectInfo150 file holds a header but no class"),
    ]:
        path.write_text(text)
        with pytest.raises(ValueError, match="objectInfo150.txt" + message.replace(".", r"\.")):
            parse_object_info(path)


def test_another_benchmarks_object_info_is_refused(sp_copy):
    path = sp_copy / "objectInfo150.txt"
    path.write_text(path.read_text().replace("\tsky\n", "\tclouds\n"))
    with pytest.raises(ValueError, match=r"objectInfo150.txt: lists 150 classes .*first difference at class 3"):
        ADE20KSceneParsing(sp_copy, "val")


def test_scene_categories(tmp_path):
    path = tmp_path / "sceneCategories.txt"
    path.write_text("ADE_val_00000001 abbey\nADE_train_00000002 street\n")
    assert parse_scene_categories(path) == {"ADE_val_00000001": "abbey", "ADE_train_00000002": "street"}
    for text, message in [("ADE_val_00000001 abbey x\n", ":1: expected '<image id> <scene>'"),
                          ("ADE_val_1 a\nADE_val_1 b\n", ":2: ADE_val_1 is listed twice"),
                          ("../etc/passwd abbey\n", ":1: '../etc/passwd' is not an ADE picture name")]:
        path.write_text(text)
        with pytest.raises(ValueError, match="sceneCategories.txt" + message.replace(".", r"\.")):
            parse_scene_categories(path)


# ----------------------------------------------------------------------------------------------- bad pictures
def test_annotation_of_another_size_names_both_files(sp_copy):
    label = sp_copy / "annotations" / "validation" / "ADE_val_00000001.png"
    Image.open(label).resize((SIZE[0] - 2, SIZE[1])).save(label)
    ds = ADE20KSceneParsing(sp_copy, "val")
    with pytest.raises(ValueError, match=r"ADE_val_00000001.png: mask is 94x72 .*/ADE_val_00000001.jpg is 96x72"):
        ds[0]


def test_bad_annotations_are_named(sp_copy):
    label = sp_copy / "annotations" / "validation" / "ADE_val_00000002.png"
    Image.fromarray(np.full((SIZE[1], SIZE[0]), 151, np.uint8), "L").save(label)
    with pytest.raises(ValueError, match=r"ADE_val_00000002.png: values \[151\] are no ADE20K SceneParsing labels"):
        ADE20KSceneParsing(sp_copy, "val")[1]
    Image.open(sp_copy / "images" / "validation" / "ADE_val_00000002.jpg").save(label)  # an RGB picture as label
    with pytest.raises(ValueError, match="ADE_val_00000002.png: label image has PIL mode 'RGB'"):
        ADE20KSceneParsing(sp_copy, "val").load_raw(1)
    label.unlink()
    with pytest.raises(FileNotFoundError, match="ADE_val_00000002.png: label file of split 'val' is missing"):
        ADE20KSceneParsing(sp_copy, "val")
    with pytest.raises(ValueError, match="unknown ADE20K SceneParsing split 'test'"):
        ADE20KSceneParsing(sp_copy, "test")


# ----------------------------------------------------------------------------------------------- _seg.png
def _encode(classes: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Hand-made _seg.png pixels: R = class // 256 * 10, G = class % 256, B = instance code."""
    return np.stack([classes // 256 * 10, classes % 256, codes], axis=-1).astype(np.uint8)


def test_seg_decoding_on_hand_made_pixels():
    classes = np.array([[0, 1, 255, 256], [2978, 3688, 6400, 6655]])
    rgb = _encode(classes, np.array([[0, 5, 10, 15], [20, 25, 250, 255]]))
    assert rgb[1, 1].tolist() == [140, 104, 25]  # 3688 = 14 * 256 + 104
    decoded, codes = decode_seg(rgb)
    np.testing.assert_array_equal(decoded, classes)
    # the toolkit's formula (utils_ade20k.loadAde20K): (R / 10).astype(int32) * 256 + G
    toolkit = (rgb[..., 0] / 10).astype(np.int32) * 256 + rgb[..., 1].astype(np.int32)
    np.testing.assert_array_equal(decoded, toolkit)
    assert codes.tolist() == [[0, 5, 10, 15], [20, 25, 250, 255]]
    bad = rgb.copy()
    bad[0, 1, 0] = 15
    with pytest.raises(ValueError, match=r"x_seg.png: 1 pixels have R values \[15\] that are not multiples of 10"):
        decode_seg(bad, "x_seg.png")
    with pytest.raises(ValueError, match="expected an RGB uint8 array"):
        decode_seg(classes)


def test_read_seg_wants_rgb(tmp_path):
    Image.fromarray(_encode(np.array([[401, 2978]]), np.array([[3, 4]])), "RGB").save(tmp_path / "a_seg.png")
    assert read_seg(tmp_path / "a_seg.png")[0].tolist() == [[401, 2978]]
    Image.fromarray(np.zeros((2, 2), np.uint8), "L").save(tmp_path / "b_seg.png")
    with pytest.raises(ValueError, match="b_seg.png: an ADE20K segmentation is an RGB PNG .* mode 'L'"):
        read_seg(tmp_path / "b_seg.png")


def test_instance_ids_agree_with_the_toolkits_ranking():
    rng = np.random.default_rng(1)
    codes = rng.choice([0, 5, 35, 120, 245], (20, 30)).astype(np.uint8)
    classes = np.where(codes == 0, 0, 300 + codes.astype(np.int32))  # one class per code: the toolkit's case
    ours = instance_ids(classes, codes)
    toolkit = np.unique(codes, return_inverse=True)[1].reshape(codes.shape)  # B ranked; 0 = not annotated here
    np.testing.assert_array_equal(ours, toolkit)
    clash = instance_ids(np.array([[7, 9]]), np.array([[40, 40]], np.uint8))  # two objects, one code
    assert clash.tolist() == [[1, 2]]


# ----------------------------------------------------------------------------------------------- full release
def test_full_sample_objects_parts_and_instance_masks(samples):
    ds = ADE20KFull(samples, "train")
    assert len(ds) == 3 and ds.is_sample and len(ADE20KFull(samples, "val")) == 2
    full = ds.annotation(0)
    ann = full.annotation
    assert ann.size == (SIZE[1], SIZE[0]) and ann.scene == ("outdoor", "urban", "street")
    objects, parts, parts2 = ann.level(0), ann.level(1), ann.level(2)
    assert objects and parts and parts2 and len(full.part_classes) == 2
    assert int(full.instances.max()) == sum(1 for o in objects if (full.instance_mask(o.id) == 255).any())
    for obj in ann.objects:
        mask = full.instance_mask(obj.id)
        visible = mask == 255
        level = full.classes if obj.part_level == 0 else full.part_classes[obj.part_level - 1]
        assert (level[visible] == obj.class_index).all(), obj
        outline = Image.new("L", (SIZE[0], SIZE[1]), 0)  # the JSON polygon, rasterised, is the amodal extent
        ImageDraw.Draw(outline).polygon([tuple(p) for p in obj.polygon.tolist()], fill=1)
        assert visible.sum() == 0 or ((np.asarray(outline) > 0) | ~(mask > 0)).all()
        if obj.part_of is not None:
            owner = ann.by_id(obj.part_of)
            assert obj.id in owner.has_parts and owner.part_level == obj.part_level - 1
            assert (full.instance_mask(owner.id)[visible] == 255).all()  # a part shows where its owner shows
        assert obj.occluded == bool((mask == 128).any())
    umbrella = [o for o in objects if o.class_index == synthetic.UMBRELLA]
    if umbrella:
        assert (full.sceneparsing()[full.instance_mask(umbrella[0].id) == 255] == 0).all()  # not a class: "other"


def test_both_layouts_agree_on_the_same_pictures(samples):
    full, parsing = ADE20KFull(samples, "val"), ADE20KSceneParsing(samples, "val")
    assert [p.name for p, _ in full.items] == [p.name for p, _ in parsing.items]
    for i in range(len(full)):
        np.testing.assert_array_equal(full.load_raw(i)[1], parsing.load_raw(i)[1])


def test_mapping_table():
    assert sum(len(t) for t in ADE20K_FULL_INDICES) == 153 and int((FULL_TO_SCENEPARSING > 0).sum()) == 153
    for label, indices in enumerate(ADE20K_FULL_INDICES, start=1):
        assert to_sceneparsing(np.array(indices)).tolist() == [label] * len(indices)
    assert to_sceneparsing(np.array([0, 2901, 1231, 6655])).tolist() == [0, 0, 0, 0]  # other, umbrella, helmet
    assert ADE20K_CLASSES == tuple(n.split(",")[0] for n in ADE20K_NAMES)
    assert ADE20K_NAMES[14] == "door, double door" and ADE20K_FULL_INDICES[14] == (774, 783)


def test_sceneparsing_size_follows_convert_from_ade():
    assert sceneparsing_size(2048, 1536) == (683, 512) and sceneparsing_size(1536, 2048) == (512, 683)
    assert sceneparsing_size(1025, 1024) == (513, 512)  # 512.5 rounds away from zero, as MATLAB's round
    assert sceneparsing_size(683, 512) == (683, 512) and sceneparsing_size(800, 800) == (800, 800)


def test_read_instance_mask_values(tmp_path):
    Image.fromarray(np.array([[0, 128, 255]], np.uint8), "L").save(tmp_path / "instance_000_a.png")
    assert read_instance_mask(tmp_path / "instance_000_a.png").tolist() == [[0, 128, 255]]
    Image.fromarray(np.array([[0, 64, 255]], np.uint8), "L").save(tmp_path / "instance_001_a.png")
    with pytest.raises(ValueError, match=r"instance_001_a.png: instance mask holds values \[64\]"):
        read_instance_mask(tmp_path / "instance_001_a.png")


def _edit_json(jpg: Path, edit) -> Path:
    path = jpg.with_suffix(".json")
    data = json.loads(path.read_text())
    edit(data["annotation"])
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(("edit", "message"), [
    (lambda a: a.update(imsize=[0, 96, 3]), r"imsize must be \[height, width, 3\]"),
    (lambda a: a["object"][0].pop("name_ndx"), "object 0 lacks the field 'name_ndx'"),
    (lambda a: [o for o in a["object"] if o["parts"]["part_level"]][-1]["parts"].update(ispartof=999),
     r"parts belong to ids \[999\]"),
    (lambda a: a["object"][1].update(id=a["object"][0]["id"]), "object ids are not unique"),
    (lambda a: a["object"][0]["polygon"]["x"].pop(), "polygon needs lists x and y"),
    (lambda a: a["object"][0].update(instance_mask="../../../etc/passwd"), "leaves the dataset folder"),
    (lambda a: a["object"][0].update(occluded="maybe"), "occluded: expected yes/no"),
])
def test_bad_json_is_named(full_picture, edit, message):
    path = _edit_json(full_picture, edit)
    with pytest.raises(ValueError, match=f"{path.name}.*{message}"):
        read_annotation(path)


def test_full_release_size_mismatches_name_both_files(full_picture):
    seg = Path(str(full_picture.with_suffix("")) + "_seg.png")
    Image.open(seg).crop((0, 0, SIZE[0] - 4, SIZE[1])).save(seg)
    with pytest.raises(ValueError, match=r"ADE_train_00000001_seg.png: is 92x72 .*/ADE_train_00000001.jpg is 96x72"):
        load_annotation(full_picture)
    path = _edit_json(full_picture, lambda a: a.update(imsize=[SIZE[1], SIZE[0] - 4, 3]))
    Image.open(full_picture).crop((0, 0, SIZE[0] - 4, SIZE[1])).save(full_picture)
    part = Path(str(full_picture.with_suffix("")) + "_parts_1.png")
    with pytest.raises(ValueError, match=f"{part.name}: is 96x72 .*92x72"):
        load_annotation(full_picture)
    assert read_annotation(path).size == (SIZE[1], SIZE[0] - 4)


def test_index_pickle_is_read_without_running_code(samples, tmp_path):
    index = read_index(samples / "ADE20K_2021_17_01" / "index_ade20k.pkl")
    names = index["objectnames"]
    assert names[synthetic.CAR - 1].startswith("car") and names[synthetic.SKY - 1] == "sky"  # class k = row k - 1
    assert index["objectPresence"].shape == (len(names), 5) and list(index["filename"])[0] == "ADE_train_00000001.jpg"

    class Exploit:
        def __reduce__(self):
            return (Path.touch, (tmp_path / "pwned",))

    evil = tmp_path / "index_ade20k.pkl"
    evil.write_bytes(pickle.dumps({"objectnames": Exploit()}))
    with pytest.raises(ValueError, match=r"index_ade20k.pkl: not a readable ADE20K index pickle .*refusing"):
        read_index(evil)
    assert not (tmp_path / "pwned").exists()


def test_registry_entries(samples):
    sp, full = registry.get("ade20k"), registry.get("ade20k_full")
    assert sp.sample_writer_fn() is synthetic.write_sample and full.sample_writer_fn() is synthetic.write_full_sample
    assert registry.find_root("ade20k", samples).name == "ADEChallengeData2016"
    assert registry.find_root("ade20k_full", samples).name == "ADE20K_2021_17_01"
    assert not sp.is_root(samples / "ADE20K_2021_17_01") and not full.is_root(samples / "ADEChallengeData2016")
    assert "https://ade20k.csail.mit.edu" in full.note and full.classes == sp.classes and not full.downloadable
    assert ade20k.NUM_CLASSES == 150 and ade20k_full.ADE20KFull.ignore_index == 255
