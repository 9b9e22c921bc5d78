"""``python -m course_lib.score panoptic`` and :mod:`course_lib.metrics.panoptic`: hand-worked cases of every COCO
rule (void out of the union, crowd and void predictions not false positives, IoU exactly 0.5 no match), torchmetrics'
PanopticQuality as the oracle where the two agree (no crowd, no void in predictions), panopticapi's numbers on a
real picture, bad input naming the image and the segment, and VPQ."""

import json

import numpy as np
import pytest
import torch
from torchmetrics.detection import PanopticQuality

from course_lib.data.coco_panoptic import segments_info, write_panoptic_json
from course_lib.data.registry import find_root
from course_lib.io.panoptic import read_panoptic_png, write_panoptic_png
from course_lib.metrics.panoptic import panoptic_quality, pq_stats, pq_summary, video_pq_stats, vpq
from course_lib.score import ScoreError
from course_lib.score.__main__ import main
from course_lib.score.panoptic import score_panoptic
from course_lib.synthetic.panoptic import moving_scene_video, noisy_prediction

CATS = [{"id": 1, "name": "person", "isthing": 1}, {"id": 2, "name": "car", "isthing": 1},
        {"id": 7, "name": "road", "isthing": 0}, {"id": 9, "name": "sky", "isthing": 0}]
PAIRS = [(c["id"], bool(c["isthing"])) for c in CATS]


def _seg(sid, cat, crowd=0):
    return {"id": sid, "category_id": cat, "iscrowd": crowd}


def _write_set(tmp_path, gts, preds, categories=CATS):
    """Write ground truth and predictions (lists of ``(ids, segments)``) in COCO panoptic format."""
    for side, items in (("gt", gts), ("pred", preds)):
        anns = []
        for k, (ids, segs) in enumerate(items):
            write_panoptic_png(tmp_path / side / f"{k}.png", np.asarray(ids))
            anns.append({"image_id": k, "file_name": f"{k}.png", "segments_info": segs})
        write_panoptic_json(tmp_path / f"{side}.json", anns, categories if side == "gt" else (),
                            [{"id": k, "file_name": f"{k}.jpg"} for k in range(len(items))] if side == "gt" else ())
    return [tmp_path / "gt.json", tmp_path / "gt", tmp_path / "pred.json", tmp_path / "pred"]


def test_void_pixels_leave_the_union():
    # truth: person on 3 pixels, void on 3; prediction: one person segment over all 6 pixels
    gt, pred = np.array([[5, 5, 5, 0, 0, 0]]), np.full((1, 6), 8)
    stats = pq_stats(gt, [_seg(5, 1)], pred, [_seg(8, 1)], [1, 2, 7, 9])
    assert stats[0].tolist() == [1.0, 1, 0, 0]  # IoU 3 / (6 + 3 - 3 - 3) = 1, not 3/6 (which would be no match)


def test_iou_of_exactly_one_half_is_no_match():
    gt, pred = np.array([[5, 5, 6, 6]]), np.array([[8, 9, 9, 9]])
    stats = pq_stats(gt, [_seg(5, 1), _seg(6, 7)], pred, [_seg(8, 1), _seg(9, 7)], [1, 2, 7, 9])
    # person: IoU 1/2 exactly -> FN and FP; road: IoU 2/3 -> TP
    assert stats[0].tolist() == [0, 0, 1, 1] and stats[2].tolist() == pytest.approx([2 / 3, 1, 0, 0])


def test_prediction_mostly_on_crowd_or_void_is_no_false_positive():
    gt = np.array([[3, 3, 3, 3, 0, 0, 7, 7]])
    segs = [_seg(3, 1, crowd=1), _seg(7, 7)]
    on_crowd = np.array([[4, 4, 4, 0, 0, 0, 9, 9]])  # person on 3 crowd pixels: ignored
    s = pq_stats(gt, segs, on_crowd, [_seg(4, 1), _seg(9, 7)], [1, 2, 7, 9])
    assert s[0].tolist() == [0, 0, 0, 0] and s[2].tolist() == [1.0, 1, 0, 0]  # the crowd is no FN either
    other_class = pq_stats(gt, segs, on_crowd, [_seg(4, 2), _seg(9, 7)], [1, 2, 7, 9])
    assert other_class[1].tolist() == [0, 0, 1, 0]  # a car on a person crowd is a false positive
    half = np.array([[0, 0, 0, 0, 4, 4, 9, 4]])  # 2 of 3 pixels void: ignored; 1 of 3 would count
    assert pq_stats(gt, segs, half, [_seg(4, 2), _seg(9, 7)], [1, 2, 7, 9])[1].tolist() == [0, 0, 0, 0]
    third = np.array([[0, 0, 0, 0, 4, 9, 4, 4]])
    assert pq_stats(gt, segs, third, [_seg(4, 2), _seg(9, 7)], [1, 2, 7, 9])[1].tolist() == [0, 0, 1, 0]


def test_hand_worked_set_averages_per_category(tmp_path):
    # image 0: person matched with IoU 3/4, road matched with IoU 1; image 1: a missed person, a false sky
    gt0, p0 = np.array([[1, 1, 1, 0], [7, 7, 7, 7]]), np.array([[2, 2, 2, 2], [8, 8, 8, 8]])
    gt1, p1 = np.array([[1, 1, 7, 7]]), np.array([[9, 9, 8, 8]])
    files = _write_set(tmp_path, [(gt0, [_seg(1, 1), _seg(7, 7)]), (gt1, [_seg(1, 1), _seg(7, 7)])],
                       [(p0, [_seg(2, 1), _seg(8, 7)]), (p1, [_seg(9, 9), _seg(8, 7)])])
    r = score_panoptic(*files).overall
    person = 1.0 / (1 + 0.5)  # IoU 1 (the void pixel leaves the union) over TP 1 + FN/2
    road, sky = 1.0, 0.0
    assert r["Things"]["pq"] == pytest.approx(person) and r["Things"]["n"] == 1
    assert r["Stuff"]["pq"] == pytest.approx((road + sky) / 2) and r["Stuff"]["n"] == 2
    assert r["All"]["pq"] == pytest.approx((person + road + sky) / 3)
    assert r["All"]["sq"] == pytest.approx((1 + 1 + 0) / 3)  # a category without TP has SQ 0
    assert r["All"]["pq"] != pytest.approx(r["All"]["sq"] * r["All"]["rq"])


def _torchmetrics_pq(gts, preds, things, stuffs):
    """torchmetrics on (category, instance) maps; ground-truth void -> an unknown category (its void colour)."""
    metric = PanopticQuality(things=things, stuffs=stuffs, return_sq_and_rq=True)
    void = max(things | stuffs) + 1

    def pairs(ids, segs):
        cat = {s["id"]: s["category_id"] for s in segs}
        out = np.zeros((*ids.shape, 2), np.int64)
        for sid in np.unique(ids):
            out[ids == sid] = (cat[int(sid)], sid) if sid else (void, 0)
        return torch.from_numpy(out)[None]

    for (g, gs), (p, ps) in zip(gts, preds, strict=True):
        metric.update(pairs(p, ps), pairs(g, gs))
    return metric.compute().tolist()


def test_against_torchmetrics_without_crowd(tmp_path):
    """Random scenes with void in the ground truth only and one segment per stuff class (torchmetrics' stuff)."""
    rng = np.random.default_rng(0)
    cat_ids = [c["id"] for c in CATS]
    gts, preds = [], []
    for _ in range(6):
        gt = np.where(np.arange(24)[None, :] < 12, 7, 9).repeat(16, 0)
        cats = {7: 7, 9: 9}
        for k in range(int(rng.integers(1, 4))):
            y, x = rng.integers(0, 12, 2)
            gt[y:y + 5, x:x + int(rng.integers(3, 9))] = 100 + k
            cats[100 + k] = int(rng.choice([1, 2]))
        gt[rng.random(gt.shape) < 0.05] = 0
        gt_segs = segments_info(gt, {k: v for k, v in cats.items() if (gt == k).any()})
        pred, _ = noisy_prediction(gt, gt_segs, cat_ids, rng, n_spurious=1)
        pred[pred == 0] = 999  # no void in predictions; each predicted id takes the class under its first pixel
        _, first = np.unique(pred, return_index=True)
        pred_cat = {int(s): (cats.get(int(gt.ravel()[f]), 1) if s != 999 else 9)
                    for s, f in zip(np.unique(pred), first, strict=True)}
        for stuff in (7, 9):  # one segment per stuff category, as torchmetrics sees stuff
            ids_of = [s for s, c in pred_cat.items() if c == stuff]
            for s in ids_of[1:]:
                pred[pred == s] = ids_of[0]
        pred_segs = segments_info(pred, {s: c for s, c in pred_cat.items() if (pred == s).any()})
        gts.append((gt, gt_segs))
        preds.append((pred, pred_segs))
    ours = score_panoptic(*_write_set(tmp_path, gts, preds)).overall["All"]
    pq, sq, rq = _torchmetrics_pq(gts, preds, {1, 2}, {7, 9})
    assert ours["pq"] == pytest.approx(pq, abs=1e-6) and ours["sq"] == pytest.approx(sq, abs=1e-6)
    assert ours["rq"] == pytest.approx(rq, abs=1e-6) and 0 < ours["pq"] < 1


def test_command_prints_categories_then_summaries_then_json(tmp_path, capsys):
    gt = np.array([[1, 1, 7, 7]])
    files = _write_set(tmp_path, [(gt, [_seg(1, 1), _seg(7, 7)])], [(gt, [_seg(1, 1), _seg(7, 7)])])
    args = ["panoptic", "--gt-json", str(files[0]), "--gt-dir", str(files[1]), "--pred-json", str(files[2]),
            "--pred-dir", str(files[3])]
    assert main(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("person: kind thing, pq 1.0000") and lines[1].startswith("road: kind stuff")
    assert {"All:", "Things:", "Stuff:"} <= set(lines)
    last = json.loads(lines[-1])
    assert last["benchmark"] == "panoptic" and last["All"]["pq"] == 1.0 and last["images"] == 1


@pytest.mark.parametrize(("break_it", "message"), [
    (lambda f: (f[3] / "0.png").unlink(), r"0.png: panoptic PNG file is missing \(prediction of image 0\)"),
    (lambda f: write_panoptic_png(f[3] / "0.png", np.array([[1, 1, 5, 7]])),
     r"0.png: image 0: segment 5 is in the PNG but not in segments_info"),
    (lambda f: _edit(f[2], lambda d: d["annotations"][0]["segments_info"].append(_seg(4, 1))),
     r"0.png: image 0: segment 4 of segments_info is not in the PNG"),
    (lambda f: _edit(f[2], lambda d: d["annotations"][0]["segments_info"][0].update(category_id=55)),
     r"image 0: segment 1 has unknown category_id 55"),
    (lambda f: _edit(f[2], lambda d: d["annotations"].pop()), r"pred.json: no prediction for image 0"),
    (lambda f: write_panoptic_png(f[3] / "0.png", np.array([[1, 1, 7, 7, 7]])), r"0.png: image 0: prediction is 5x1"),
])
def test_bad_input_names_the_image_and_the_segment(tmp_path, capsys, break_it, message):
    gt = np.array([[1, 1, 7, 7]])
    files = _write_set(tmp_path, [(gt, [_seg(1, 1), _seg(7, 7)])], [(gt, [_seg(1, 1), _seg(7, 7)])])
    break_it(files)
    with pytest.raises(ScoreError, match=message):
        score_panoptic(*files)
    args = ["panoptic", "--gt-json", str(files[0]), "--gt-dir", str(files[1]), "--pred-json", str(files[2]),
            "--pred-dir", str(files[3])]
    assert main(args) == 2 and "error:" in capsys.readouterr().err


def _edit(path, change):
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


#: panopticapi (cocodataset/panopticapi @ 7bb4655, evaluation.pq_compute) on COCO val image 142238 against its
#: ground truth rolled by (4, 6) pixels with its first segment removed (/work/notes/panoptic_ref/real_reference.py)
PANOPTICAPI_142238 = {"All": (0.5401902030560084, 0.600925262292048, 0.696, 5),
                      "Things": (0.1401578290062453, 0.2919954770963444, 0.24, 2),
                      "Stuff": (0.8068784524225171, 0.8068784524225171, 1.0, 3)}


@pytest.mark.realdata
def test_real_coco_panoptic_against_panopticapi_numbers(real_root, tmp_path):
    folder = find_root("coco_panoptic", real_root)
    if folder is None:
        pytest.skip("no COCO panoptic files under COURSE_REAL_DATA")
    gt_json = folder / "annotations/panoptic_val2017.json"
    gt_dir = gt_json.with_suffix("")
    same = score_panoptic(gt_json, gt_dir, gt_json, gt_dir).overall
    assert same["All"]["pq"] == 1.0 and same["Things"]["n"] + same["Stuff"]["n"] == same["All"]["n"] > 0
    anns = []
    for a in json.loads(gt_json.read_text())["annotations"]:
        ids = read_panoptic_png(gt_dir / a["file_name"])
        pred = np.roll(ids, (4, 6), axis=(0, 1)).astype(np.int64)
        pred[pred == a["segments_info"][0]["id"]] = 0
        write_panoptic_png(tmp_path / "pred" / a["file_name"], pred)
        anns.append({"image_id": a["image_id"], "file_name": a["file_name"], "segments_info": segments_info(
            pred, {s["id"]: s["category_id"] for s in a["segments_info"]})})
    write_panoptic_json(tmp_path / "pred.json", anns)
    r = score_panoptic(gt_json, gt_dir, tmp_path / "pred.json", tmp_path / "pred").overall
    assert r["All"]["pq"] < 1
    if [a["image_id"] for a in anns] == [142238]:  # the file panopticapi's numbers were computed on
        for name, (pq, sq, rq, n) in PANOPTICAPI_142238.items():
            assert (r[name]["pq"], r[name]["sq"], r[name]["rq"], r[name]["n"]) == pytest.approx((pq, sq, rq, n),
                                                                                               abs=1e-12)


def test_vpq_window_one_is_pq_and_a_broken_tube_costs_longer_windows():
    ids, segs, cats = moving_scene_video(frames=4, seed=1)
    cat_ids, things = [c for c, _ in cats], [t for _, t in cats]
    perfect = vpq([(ids, segs, ids, segs)], cat_ids, things)
    assert perfect["VPQ"] == 1.0 and set(perfect["per_window"]) == {1, 2, 3, 4}
    # the tracker loses one object after frame 1: a new id from frame 2 on
    lost = min(s["id"] for s in segs[0] if s["id"] >= 1000)
    pred_ids = [np.where(f == lost, 5000, f) if t >= 2 else f for t, f in enumerate(ids)]
    pred_segs = [[{**s, "id": 5000} if (s["id"] == lost and t >= 2) else s for s in f] for t, f in enumerate(segs)]
    frame_pq = pq_summary(sum(pq_stats(g, gs, p, ps, cat_ids) for g, gs, p, ps in
                              zip(ids, segs, pred_ids, pred_segs, strict=True)), cat_ids, things)["All"]["pq"]
    result = vpq([(ids, segs, pred_ids, pred_segs)], cat_ids, things)
    assert result["per_window"][1]["All"]["pq"] == frame_pq == 1.0  # each frame alone is perfect
    assert result["per_window"][2]["All"]["pq"] < 1 and result["VPQ"] < 1
    assert np.array_equal(video_pq_stats(ids, segs, pred_ids, pred_segs, cat_ids, 1)[:, 1:],
                          sum(pq_stats(g, gs, p, ps, cat_ids) for g, gs, p, ps in
                              zip(ids, segs, pred_ids, pred_segs, strict=True))[:, 1:])
    single = panoptic_quality(ids[0], segs[0], pred_ids[0], pred_segs[0], cats)
    assert single["All"]["pq"] == 1.0
