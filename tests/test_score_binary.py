"""``python -m course_lib.score binary``: Dice/IoU at a threshold and PraNet's protocol, against hand-worked cases,
torchmetrics (per-image F1 at the threshold) and PySODMetrics (PraNet's Dice curve over 256 thresholds)."""

import json
import re

import numpy as np
import pytest
import torch
from PIL import Image

from course_lib.metrics.binary import dice_over_thresholds, iou_over_thresholds, pranet_normalize
from course_lib.score import ScoreError, score_binary
from course_lib.score.__main__ import main


def _write(folder, name, array):
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, np.uint8)).save(folder / name)


def test_hand_worked_2x3(tmp_path):
    # truth: the two left pixels of the top row; prediction levels 255, 128, 64 and 0
    _write(tmp_path / "gt", "a.png", [[255, 255, 0], [0, 0, 0]])
    _write(tmp_path / "pred", "a.png", [[255, 128, 0], [64, 0, 0]])
    r = score_binary(tmp_path / "gt", tmp_path / "pred").overall
    assert r["dice@0.5"] == 1.0 and r["iou@0.5"] == 1.0  # 128/255 >= 0.5 > 64/255: exactly the truth
    # thresholds k/255: k = 0 all 6 pixels (Dice 4/8); k = 1..64 three (4/5); 65..128 two (1); 129..255 one (2/3)
    expected = (0.5 + 64 * 0.8 + 64 * 1.0 + 127 * 2 / 3) / 256
    assert r["pranet_mean_dice"] == pytest.approx(expected, abs=1e-12)
    assert r["pranet_max_dice"] == 1.0
    iou = (2 / 6 + 64 * 2 / 3 + 64 * 1.0 + 127 * 0.5) / 256
    assert r["pranet_mean_iou"] == pytest.approx(iou, abs=1e-12)


def test_curve_rules():
    # both empty: PraNet's Fmeasure_calu gives 0 (no intersection), unlike the per-image convention (1)
    assert dice_over_thresholds(torch.zeros(2, 2), torch.zeros(2, 2, dtype=torch.bool)).max() == 0
    # a constant map is not stretched (mapminmax leaves it): 0.6 passes the thresholds up to 153/255
    curve = iou_over_thresholds(torch.full((2, 2), 0.6), torch.ones(2, 2, dtype=torch.bool))
    assert curve[:154].eq(1).all() and curve[154:].eq(0).all()
    assert pranet_normalize(np.array([0.2, 0.6])).tolist() == [0.0, 1.0]


def _pysod_curve(pred_u8, gt_u8):
    from py_sod_metrics import FmeasureV2
    from py_sod_metrics.fmeasurev2 import DICEHandler

    metric = FmeasureV2(metric_handlers={"dice": DICEHandler(with_dynamic=True, with_adaptive=False)})
    for p, g in zip(pred_u8, gt_u8, strict=True):
        metric.step(pred=p, gt=g)
    return metric.get_results()["dice"]["dynamic"]  # thresholds 255 .. 0


def test_pranet_protocol_matches_pysodmetrics(tmp_path):
    pytest.importorskip("py_sod_metrics")
    rng = np.random.default_rng(0)
    gts, preds = [], []
    for i in range(4):
        gt = np.zeros((24, 32), np.uint8)
        gt[4 + i:16, 6:20 + i] = 255
        # 0 and 255 both present: the stretch leaves value/255, whose 8-bit level both implementations agree on
        pred = np.clip(gt * 0.7 + rng.integers(0, 90, gt.shape), 0, 255).astype(np.uint8)
        pred[0, 0], pred[-1, -1] = 0, 255
        gts.append(gt), preds.append(pred)
        _write(tmp_path / "gt", f"{i}.png", gt)
        _write(tmp_path / "pred", f"{i}.png", pred)
    oracle = _pysod_curve(preds, gts)[::-1]  # ascending thresholds
    ours = torch.stack([dice_over_thresholds(p / 255.0, g > 128) for p, g in zip(preds, gts, strict=True)]).mean(0)
    np.testing.assert_allclose(ours.numpy(), oracle, atol=1e-12)
    r = score_binary(tmp_path / "gt", tmp_path / "pred").overall
    assert r["pranet_mean_dice"] == pytest.approx(oracle.mean(), abs=1e-12)
    assert r["pranet_max_dice"] == pytest.approx(oracle.max(), abs=1e-12)


def test_threshold_protocol_matches_torchmetrics(tmp_path):
    from torchmetrics.functional.classification import binary_f1_score, binary_jaccard_index

    rng = np.random.default_rng(1)
    dices, ious = [], []
    for i in range(3):
        gt = (rng.random((20, 20)) > 0.6).astype(np.uint8) * 255
        pred = rng.integers(0, 256, (20, 20), dtype=np.uint8)
        _write(tmp_path / "gt", f"{i}.png", gt)
        _write(tmp_path / "pred", f"{i}.png", pred)
        p, t = torch.from_numpy(pred / 255.0), torch.from_numpy(gt > 128).long()
        dices.append(float(binary_f1_score(p, t, threshold=0.5)))
        ious.append(float(binary_jaccard_index(p, t, threshold=0.5)))
    r = score_binary(tmp_path / "gt", tmp_path / "pred").overall
    assert r["dice@0.5"] == pytest.approx(np.mean(dices), abs=1e-6)  # torchmetrics computes in float32
    assert r["iou@0.5"] == pytest.approx(np.mean(ious), abs=1e-6)


def test_cli_end_to_end_with_jpeg_masks(tmp_path, capsys):
    gt = np.zeros((16, 16, 3), np.uint8)
    gt[4:12, 4:12] = 250  # a Kvasir-like RGB JPEG mask (JPEG ringing near the edges)
    (tmp_path / "masks").mkdir()
    Image.fromarray(gt).save(tmp_path / "masks" / "cju0.jpg", quality=90)
    _write(tmp_path / "pred", "cju0.png", (gt[..., 0] > 128) * 255)
    assert main(["binary", "--gt", str(tmp_path / "masks"), "--pred", str(tmp_path / "pred")]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0].startswith("cju0: dice@0.5 1.0000")
    result = json.loads(out[-1])
    assert result["benchmark"] == "binary" and result["dice@0.5"] == 1.0 and result["pranet_max_dice"] == 1.0


@pytest.mark.parametrize("case, message", [
    ("missing", "missing prediction"), ("extra", "prediction without a ground-truth file"),
    ("size", "12x10 (WxH), its mask"), ("zero_one", "only 0 and 1"), ("colour", "colour image"),
    ("empty", "empty (0 bytes)"),
])
def test_bad_inputs_name_the_file(tmp_path, capsys, case, message):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    mask = np.zeros((10, 10), np.uint8)
    mask[2:6, 2:6] = 255
    _write(gt, "a.png", mask)
    _write(pred, "a.png", mask)
    bad = pred / "a.png"
    if case == "missing":
        _write(gt, "b.png", mask)
        bad = pred / "b.png"
    elif case == "extra":
        _write(pred, "c.png", mask)
        bad = pred / "c.png"
    elif case == "size":
        _write(pred, "a.png", np.zeros((10, 12), np.uint8))
    elif case == "zero_one":
        _write(pred, "a.png", mask // 255)
    elif case == "colour":
        colour = np.zeros((10, 10, 3), np.uint8)
        colour[..., 0] = 200
        _write(pred, "a.png", colour)
    elif case == "empty":
        bad.write_bytes(b"")
    with pytest.raises(ScoreError, match=re.escape(message)) as err:
        score_binary(gt, pred)
    assert str(bad) in str(err.value)
    assert main(["binary", "--gt", str(gt), "--pred", str(pred)]) == 2
    printed = capsys.readouterr().err
    assert printed.startswith("error: ") and str(bad) in printed


@pytest.mark.realdata
def test_real_kvasir_masks(real_root, tmp_path):
    masks = real_root / "kvasir-seg" / "Kvasir-SEG" / "masks"
    if not masks.is_dir():
        pytest.skip("no Kvasir-SEG masks under COURSE_REAL_DATA")
    names = sorted(masks.glob("*.jpg"))[:4]
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(p.stem for p in names))
    expected_mean, shifted_dice = [], []
    for path in names:
        truth = np.asarray(Image.open(path).convert("L")) > 128
        # the truth itself, as a 0/255 PNG: perfect at 0.5; PraNet's curve is 1 except at threshold 0 (all pixels)
        _write(tmp_path / "same", path.stem + ".png", truth * 255)
        g, n = truth.sum(), truth.size
        expected_mean.append((255 + 2 * g / (n + g)) / 256)
        moved = np.roll(truth, 7, axis=1)
        _write(tmp_path / "moved", path.stem + ".png", moved * 255)
        shifted_dice.append(2 * (moved & truth).sum() / (moved.sum() + g))
    same = score_binary(masks, tmp_path / "same", ids=[p.stem for p in names]).overall
    assert same["dice@0.5"] == 1.0 and same["pranet_max_dice"] == 1.0
    assert same["pranet_mean_dice"] == pytest.approx(np.mean(expected_mean), abs=1e-12)
    assert main(["binary", "--gt", str(masks), "--pred", str(tmp_path / "moved"), "--ids", str(ids)]) == 0
    moved = score_binary(masks, tmp_path / "moved", ids=[p.stem for p in names]).overall
    assert moved["dice@0.5"] == pytest.approx(np.mean(shifted_dice), abs=1e-12) and moved["dice@0.5"] < 1
