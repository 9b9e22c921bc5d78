"""Real ADE20K files under $COURSE_REAL_DATA, both layouts: SceneParsing (ADEChallengeData2016) and the full release
(ADE20K_2021_17_01), read with course_lib.data.ade20k / .ade20k_full, and the scoring command on real annotations.

Discovers the folders below $COURSE_REAL_DATA (no file names or counts written here); skips what is absent.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from course_lib.data.ade20k import FOLDERS, ADE20KSceneParsing, parse_object_info, parse_scene_categories
from course_lib.data.ade20k_annotations import read_annotation
from course_lib.data.ade20k_full import ADE20KFull, decode_seg, find_images, sceneparsing_size, to_sceneparsing
from course_lib.data.labels import ADE20K_CLASSES, ADE20K_NAMES
from course_lib.data.registry import find_root
from course_lib.score.__main__ import main as score_main

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def sp_root(real_root) -> Path:
    try:
        return find_root("ade20k", real_root)
    except FileNotFoundError:
        pytest.skip(f"no ADEChallengeData2016 folder (images/ + annotations/) under {real_root}")


@pytest.fixture(scope="module")
def full_root(real_root) -> Path:
    try:
        return find_root("ade20k_full", real_root)
    except FileNotFoundError:
        pytest.skip(f"no ADE20K_2021_17_01 folder (images/ADE/) under {real_root}")


def _splits(has) -> list[str]:
    present = [s for s in FOLDERS if has(s)]
    if not present:
        pytest.skip("no split present")
    return present


# ----------------------------------------------------------------------------------------------- SceneParsing
def test_object_info_is_the_registrys(sp_root):
    path = sp_root / "objectInfo150.txt"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    rows = parse_object_info(path)
    assert tuple(", ".join(r.names) for r in rows) == ADE20K_NAMES
    assert tuple(r.name for r in rows) == ADE20K_CLASSES
    assert sum(r.ratio for r in rows) == pytest.approx(1.0, abs=0.15)  # "other" pixels are in no row
    assert all(r.train > 0 and r.val > 0 for r in rows)


def test_every_scene_parsing_picture_reads(sp_root):
    scenes_file = sp_root / "sceneCategories.txt"
    scenes = parse_scene_categories(scenes_file) if scenes_file.is_file() else {}
    for split in _splits(lambda s: (sp_root / "images" / FOLDERS[s]).is_dir()):
        ds = ADE20KSceneParsing(sp_root, split)
        assert not ds.is_sample and len(ds) > 0
        for i, (image_path, label_path) in enumerate(ds.items):
            image, stored = ds.load_stored(i)
            _, shifted = ds.load_raw(i)
            assert stored.max() <= 150 and (stored > 0).mean() > 0.2, f"{label_path}: mostly 'other'?"
            np.testing.assert_array_equal(shifted == 255, stored == 0)
            np.testing.assert_array_equal(shifted[stored > 0], stored[stored > 0] - 1)
            assert min(image.size) <= 512, f"{image_path}: SceneParsing pictures have a shorter side <= 512"
            x, y = ds[i]
            assert tuple(x.shape[1:]) == tuple(y.shape) == stored.shape
            if scenes:
                assert image_path.stem in scenes, f"{image_path.stem} is not in {scenes_file}"


def test_score_semantic_on_real_validation_annotations(sp_root, tmp_path, capsys):
    """``python -m course_lib.score semantic --dataset ade20k``: the truth scored against itself is perfect; with one
    class relabelled as another everywhere, the drop is the hand-computed one."""
    gt = sp_root / "annotations" / "validation"
    files = sorted(gt.glob("*.png"))
    if not files:
        pytest.skip(f"{gt}: no validation annotations")

    def score(pred: Path) -> dict:
        assert score_main(["semantic", "--dataset", "ade20k", "--gt", str(gt), "--pred", str(pred)]) == 0
        return json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    same = tmp_path / "same"
    shutil.copytree(gt, same)
    result = score(same)
    assert result["miou"] == 1.0 and result["pixel_accuracy"] == 1.0 and result["images"] == len(files)

    labels = [np.asarray(Image.open(f)) for f in files]
    counts = np.bincount(np.concatenate([a.ravel() for a in labels]), minlength=151)
    present = [c for c in range(1, 151) if counts[c]]
    assert len(present) >= 2
    lost = min(present, key=lambda c: counts[c])  # the rarest class becomes the most common one
    gain = max(present, key=lambda c: counts[c])
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    for f, a in zip(files, labels, strict=True):
        Image.fromarray(np.where(a == lost, gain, a).astype(np.uint8), "L").save(wrong / f.name)
    result = score(wrong)
    k = len(present)
    iou_gain = counts[gain] / (counts[gain] + counts[lost])
    assert result["classes_scored"] == k
    assert result["iou"][ADE20K_CLASSES[lost - 1]] == 0.0
    assert result["iou"][ADE20K_CLASSES[gain - 1]] == pytest.approx(iou_gain)
    assert result["miou"] == pytest.approx((k - 2 + iou_gain) / k)
    assert result["pixel_accuracy"] == pytest.approx(1 - counts[lost] / counts[1:].sum())


# ----------------------------------------------------------------------------------------------- full release
def test_every_full_release_picture_reads(full_root):
    for split in _splits(lambda s: (full_root / "images" / "ADE" / FOLDERS[s]).is_dir()):
        ds = ADE20KFull(full_root, split)
        assert not ds.is_sample and len(ds) > 0
        for i in range(len(ds)):
            full = ds.annotation(i)
            ann = full.annotation
            assert ann.size == full.classes.shape and ann.filename == full.image.name
            objects = ann.level(0)
            assert set(np.unique(full.classes[full.classes > 0]).tolist()) <= {o.class_index for o in objects}
            for level, part_classes in enumerate(full.part_classes, start=1):
                found = set(np.unique(part_classes[part_classes > 0]).tolist())
                assert found <= {o.class_index for o in ann.level(level)}, f"{full.image}: parts {level}"
            for obj in ann.objects:
                assert obj.part_of is None or obj.id in ann.by_id(obj.part_of).has_parts
            _, labels = ds.load_raw(i)
            np.testing.assert_array_equal(labels == 255, to_sceneparsing(full.classes) == 0)


def test_mapped_classes_carry_the_benchmarks_names(full_root):
    """The index table (mapFromADE.txt) and the names agree: a mapped object's WordNet name is its class's
    objectInfo150 name."""
    mapped = unmapped = 0
    for split in _splits(lambda s: (full_root / "images" / "ADE" / FOLDERS[s]).is_dir()):
        for image in find_images(full_root, split):
            for obj in read_annotation(image.with_suffix(".json")).level(0):
                label = int(to_sceneparsing(np.array(obj.class_index)))
                if label:
                    assert obj.name == ADE20K_NAMES[label - 1], (image, obj.name, ADE20K_NAMES[label - 1])
                    mapped += 1
                else:
                    unmapped += 1
    print(f"full-release objects mapped to the 150 classes: {mapped}, 'other': {unmapped}")
    assert mapped > unmapped


def test_instance_masks_agree_with_the_segmentations(full_root):
    """Each object's and part's visible pixels (255 in its instance mask) show its class in _seg.png or
    _parts_N.png."""
    shares, pixels = [], 0
    for split in _splits(lambda s: (full_root / "images" / "ADE" / FOLDERS[s]).is_dir()):
        ds = ADE20KFull(full_root, split)
        for i in range(len(ds)):
            full = ds.annotation(i)
            for obj in full.annotation.objects:
                mask = full.instance_mask(obj.id)
                visible = mask == 255
                level = full.classes if obj.part_level == 0 else full.part_classes[obj.part_level - 1]
                if visible.any():
                    shares.append(float((level[visible] == obj.class_index).mean()))
                    pixels += int(visible.sum())
    print(f"{len(shares)} masks: visible pixels showing the object's class, worst {min(shares):.4f}, "
          f"mean {np.mean(shares):.4f}")
    assert min(shares) > 0.9 and np.mean(shares) > 0.99 and pixels > 0


def test_full_release_agrees_with_scene_parsing(full_root, sp_root):
    """Where both layouts hold the same picture, the mapped full-release classes, shrunk as the benchmark did, agree
    with the SceneParsing annotation (the benchmark was made from the 2016 release: fixes since then differ)."""
    full = {p.stem: p for s in FOLDERS if (full_root / "images" / "ADE" / FOLDERS[s]).is_dir()
            for p in find_images(full_root, s)}
    parsing = {p.stem: p for s in FOLDERS for p in (sp_root / "annotations" / FOLDERS[s]).glob("ADE_*.png")}
    both = sorted(set(full) & set(parsing))
    if not both:
        pytest.skip(f"no picture is in both layouts (full release: {sorted(full)[:3]}..., SceneParsing: "
                    f"{sorted(parsing)[:3]}...)")
    rates = []
    for stem in both:
        rates.append(_agreement(Path(f"{full[stem].with_suffix('')}_seg.png"), parsing[stem]))
        print(f"{stem}: {rates[-1]:.4f} of the pixels agree")
    assert np.mean(rates) > 0.8


def test_convert_from_ade_example_is_reproduced(real_root):
    """The benchmark devkit's own example (convertFromADE/ADE_train_*_raw.png -> *_challenge.png), where present."""
    folders = [f for f in real_root.iterdir() if f.is_dir() and "ade" in f.name.lower()]  # not all of the data
    raws = [raw for folder in folders for raw in folder.rglob("ADE_*_raw.png")]
    pairs = [(raw, raw.with_name(raw.name.replace("_raw.png", "_challenge.png"))) for raw in raws]
    pairs = [(a, b) for a, b in pairs if b.is_file()]
    if not pairs:
        pytest.skip(f"no convertFromADE example pair (*_raw.png + *_challenge.png) under {real_root}")
    for raw, challenge in pairs:
        rate = _agreement(raw, challenge)
        print(f"{raw.name} -> {challenge.name}: {rate:.4f} of the pixels agree")
        assert rate > 0.99


def _agreement(seg_png: Path, annotation_png: Path) -> float:
    """Share of pixels where the mapped, shrunk full-release classes equal the SceneParsing annotation."""
    classes, _ = decode_seg(np.asarray(Image.open(seg_png).convert("RGB")), seg_png)
    mapped = Image.fromarray(to_sceneparsing(classes), "L")
    mapped = mapped.resize(sceneparsing_size(*mapped.size), Image.Resampling.NEAREST)
    truth = np.asarray(Image.open(annotation_png))
    assert truth.shape == mapped.size[::-1], f"{annotation_png}: {truth.shape[::-1]} vs {mapped.size}"
    return float((np.asarray(mapped) == truth).mean())
