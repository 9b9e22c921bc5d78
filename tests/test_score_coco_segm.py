"""``python -m course_lib.score coco-segm`` and the hand-written COCO mask AP, both against ``COCOeval``."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

from course_lib.metrics.instance_ap import COCO_STATS, coco_evaluate, encode_mask, mask_ap
from course_lib.score.__main__ import main
from course_lib.score.coco_segm import score_coco_segm
from course_lib.score.common import ScoreError

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pycocotools")
H, W = 24, 32


def _box(y0, y1, x0, x1) -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[y0:y1, x0:x1] = True
    return m


def _gt_dict(gts: list[dict], images=(1,), categories=(1, 2)) -> dict:
    anns = [{"id": i + 1, "image_id": g["image_id"], "category_id": g["category_id"], "iscrowd": g["iscrowd"],
             "segmentation": encode_mask(g["mask"]), "area": float(g["mask"].sum()), "bbox": [0, 0, 1, 1]}
            for i, g in enumerate(gts)]
    return {"images": [{"id": i, "height": H, "width": W, "file_name": f"{i}.jpg"} for i in images],
            "annotations": anns, "categories": [{"id": c, "name": f"c{c}"} for c in categories]}


def _results(dts: list[dict]) -> list[dict]:
    return [{"image_id": d["image_id"], "category_id": d["category_id"], "score": d["score"],
             "segmentation": encode_mask(d["mask"])} for d in dts]


def test_hand_worked_example():
    """Two objects, three detections: a hit, a false positive, a hit at IoU 0.62 (31 of 50 pixels)."""
    a, b = _box(0, 10, 0, 10), _box(12, 17, 20, 30)  # 100 and 50 pixels
    d3 = _box(12, 17, 20, 26) | _box(12, 13, 26, 27)  # 31 pixels inside b
    gts = [{"image_id": 1, "category_id": 1, "mask": m, "iscrowd": 0} for m in (a, b)]
    dts = [{"image_id": 1, "category_id": 1, "mask": a, "score": 0.9},
           {"image_id": 1, "category_id": 1, "mask": _box(20, 24, 0, 5), "score": 0.8},
           {"image_id": 1, "category_id": 1, "mask": d3, "score": 0.7}]
    # IoU 0.50, 0.55, 0.60: TP FP TP -> precision 1 up to recall 0.5 (51 points), 2/3 after (50 points)
    low = (51 + Fraction(2, 3) * 50) / 101
    high = Fraction(51, 101)  # 0.65 ... 0.95: only the first hit counts
    expected = float((3 * low + 7 * high) / 10)
    ours = mask_ap(gts, dts)
    assert ours["AP"] == pytest.approx(expected, abs=1e-12)
    assert ours["AP50"] == pytest.approx(float(low)) and ours["AP75"] == pytest.approx(float(high))
    assert coco_evaluate(_gt_dict(gts), _results(dts))["AP"] == pytest.approx(expected, abs=1e-9)


def test_crowd_is_an_ignore_region():
    person, crowd = _box(0, 8, 0, 8), _box(10, 24, 0, 32)
    gts = [{"image_id": 1, "category_id": 1, "mask": person, "iscrowd": 0},
           {"image_id": 1, "category_id": 1, "mask": crowd, "iscrowd": 1}]
    dts = [{"image_id": 1, "category_id": 1, "mask": person, "score": 0.5},
           {"image_id": 1, "category_id": 1, "mask": _box(12, 16, 2, 6), "score": 0.9}]  # inside the crowd
    assert mask_ap(gts, dts)["AP"] == pytest.approx(1.0)
    assert coco_evaluate(_gt_dict(gts), _results(dts))["AP"] == pytest.approx(1.0)
    plain = [dict(g, iscrowd=0) for g in gts]  # the same region as an object: the detection is a poor match
    assert mask_ap(plain, dts)["AP"] < 1.0


@pytest.mark.parametrize("seed", range(6))
def test_hand_written_ap_equals_cocoeval(seed):
    rng = np.random.default_rng(seed)

    def blob():
        y, x = rng.integers(0, H - 8), rng.integers(0, W - 8)
        h, w = rng.integers(3, 10, 2)
        return _box(y, y + h, x, x + w)

    gts, dts = [], []
    for image in (1, 2, 3):
        for _ in range(rng.integers(1, 4)):
            gts.append({"image_id": image, "category_id": int(rng.integers(1, 3)), "mask": blob(),
                        "iscrowd": int(rng.random() < 0.2)})
        for _ in range(rng.integers(0, 6)):
            g = gts[rng.integers(len(gts))]
            near = rng.random() < 0.6
            dts.append({"image_id": g["image_id"] if near else image, "score": float(rng.random()),
                        "category_id": g["category_id"] if near else int(rng.integers(1, 3)),
                        "mask": np.roll(g["mask"], int(rng.integers(-2, 3)), axis=1) if near else blob()})
    if all(g["iscrowd"] for g in gts):
        gts[0]["iscrowd"] = 0
    ours = mask_ap(gts, dts)
    theirs = coco_evaluate(_gt_dict(gts, images=(1, 2, 3)), _results(dts))
    assert ours["AP"] == pytest.approx(theirs["AP"], abs=1e-9)
    assert ours["AP50"] == pytest.approx(theirs["AP50"], abs=1e-9)
    assert ours["per_category"] == pytest.approx(theirs["per_category"], abs=1e-9)


@pytest.fixture()
def files(tmp_path):
    a, b = _box(0, 10, 0, 10), _box(12, 17, 20, 30)
    gt = _gt_dict([{"image_id": 1, "category_id": 1, "mask": a, "iscrowd": 0},
                   {"image_id": 2, "category_id": 2, "mask": b, "iscrowd": 0}], images=(1, 2))
    pred = _results([{"image_id": 1, "category_id": 1, "mask": a, "score": 0.9},
                     {"image_id": 2, "category_id": 2, "mask": b | _box(12, 14, 10, 20), "score": 0.8}])
    gt_path, pred_path = tmp_path / "instances.json", tmp_path / "results.json"
    gt_path.write_text(json.dumps(gt))
    pred_path.write_text(json.dumps(pred))
    return gt_path, pred_path, pred


def test_command_prints_twelve_statistics_as_json_last(files, capsys):
    gt_path, pred_path, _ = files
    assert main(["coco-segm", "--gt", str(gt_path), "--pred", str(pred_path)]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert all(k in last for k in COCO_STATS) and last["benchmark"] == "coco-segm"
    # category 1 exact (AP 1); category 2 at IoU 50/70 = 0.714: hits at 0.50 ... 0.70 only (5 of 10 thresholds)
    assert last["AP"] == pytest.approx((1.0 + 0.5) / 2) and last["AP50"] == pytest.approx(1.0)
    assert last["detections"] == 2 and last["images"] == 2


def test_empty_results_score_zero(files, tmp_path):
    gt_path, _, _ = files
    empty = tmp_path / "none.json"
    empty.write_text("[]")
    report = score_coco_segm(gt_path, empty)
    assert report.overall["AP"] == 0.0 and report.overall["detections"] == 0


@pytest.mark.parametrize(("edit", "message"), [
    (lambda r: r[1].update(image_id=7), "entry 1 \\(image_id 7\\): image_id is not an image"),
    (lambda r: r[0].update(category_id=3), "entry 0 \\(image_id 1\\): category_id 3 is not a category"),
    (lambda r: r[0]["segmentation"].update(counts="a b"), "entry 0 .*malformed RLE.*alphabet"),
    (lambda r: r[0]["segmentation"].update(size=[H, W + 1]), "entry 0 .*malformed RLE.*differs"),
    (lambda r: r[1]["segmentation"].update(counts=[3, 4]), "entry 1 .*malformed RLE.*add up"),
    (lambda r: r[0].update(segmentation=[[1, 1, 5, 1, 5, 5]]), "entry 0 .*polygon"),
    (lambda r: r[0].update(score=float("nan")), "entry 0 .*finite"),
    (lambda r: r[0].pop("score"), "entry 0: has no score"),
])
def test_bad_results_name_the_entry(files, edit, message, capsys):
    gt_path, pred_path, pred = files
    edit(pred)
    pred_path.write_text(json.dumps(pred))
    with pytest.raises(ScoreError, match=f"results.json: {message}"):
        score_coco_segm(gt_path, pred_path)
    assert main(["coco-segm", "--gt", str(gt_path), "--pred", str(pred_path)]) == 2
    assert "results.json" in capsys.readouterr().err


def test_bad_ground_truth_is_named(files, tmp_path):
    gt_path, pred_path, _ = files
    data = json.loads(gt_path.read_text())
    data["annotations"][0]["category_id"] = 99
    bad = tmp_path / "bad_instances.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(ScoreError, match="bad_instances.json: annotations\\[0\\] .*category_id 99"):
        score_coco_segm(bad, pred_path)
    with pytest.raises(ScoreError, match="missing.json"):
        score_coco_segm(tmp_path / "missing.json", pred_path)
