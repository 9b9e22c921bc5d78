"""``score semantic --dataset camvid32|vistas`` (Chapter 10): CamVid's colour-coded 32 labels and Mapillary Vistas
v1.2, checked against torchmetrics on the same pixels and a hand-worked case."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from course_lib.data.camvid32 import encode_colours
from course_lib.score import ScoreError, score_semantic
from course_lib.score.__main__ import main


def _save(path, array, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, np.uint8), mode).save(path)
    return path


def test_camvid32_colours_match_torchmetrics(tmp_path):
    from torchmetrics.classification import MulticlassJaccardIndex

    rng = np.random.default_rng(0)
    targets, preds = [], []
    for i, (h, w) in enumerate([(10, 12), (8, 15)]):
        t = rng.integers(0, 31, (h, w))
        t[rng.random((h, w)) < 0.1] = 255  # Void, black in the files
        p = np.where(rng.random((h, w)) < 0.6, t, rng.integers(0, 31, (h, w)))
        p[p == 255] = 0
        _save(tmp_path / "gt" / f"0001TP_{i:06d}_L.png", encode_colours(t))
        _save(tmp_path / "pred" / f"0001TP_{i:06d}.png", encode_colours(p))
        targets.append(t.ravel()), preds.append(p.ravel())
    r = score_semantic("camvid32", tmp_path / "gt", tmp_path / "pred").overall
    t, p = (torch.from_numpy(np.concatenate(a)).long() for a in (targets, preds))
    oracle = MulticlassJaccardIndex(31, average="none", ignore_index=255)(p, t).double()
    keep = t != 255
    present = (torch.bincount(t[keep], minlength=31) + torch.bincount(p[keep], minlength=31)) > 0
    np.testing.assert_allclose([v for v, ok in zip(r["iou"].values(), present, strict=True) if ok],
                               oracle[present].numpy(), atol=1e-6)
    assert r["pixels"] == int(keep.sum()) and r["classes_scored"] == int(present.sum())


def test_camvid32_unknown_colour_names_the_file(tmp_path):
    _save(tmp_path / "gt" / "0001TP_000030_L.png", encode_colours(np.zeros((4, 4), np.uint8)))
    _save(tmp_path / "pred" / "0001TP_000030.png", np.full((4, 4, 3), 9))
    with pytest.raises(ScoreError, match=r"0001TP_000030.png.*no CamVid labels"):
        score_semantic("camvid32", tmp_path / "gt", tmp_path / "pred")


def test_vistas_hand_worked_and_unlabeled(tmp_path, capsys):
    # labels: 13 road, 27 sky, 65 unlabeled (ignored)
    gt = _save(tmp_path / "gt" / "k1.png", [[13, 13, 27], [65, 27, 27]], "L")
    _save(tmp_path / "pred" / "k1.png", [[13, 27, 27], [13, 27, 13]], "L")
    r = score_semantic("vistas", tmp_path / "gt", tmp_path / "pred").overall
    # 5 scored pixels: road TP 1, FN 1, FP 1 -> 1/3; sky TP 2, FN 1, FP 1 -> 2/4
    assert r["pixels"] == 5 and r["pixel_accuracy"] == pytest.approx(3 / 5)
    assert r["iou"]["Road"] == pytest.approx(1 / 3) and r["iou"]["Sky"] == pytest.approx(0.5)
    assert r["classes_scored"] == 2 and r["miou"] == pytest.approx((1 / 3 + 0.5) / 2)
    _save(tmp_path / "pred" / "k1.png", [[65, 13, 27], [13, 27, 27]], "L")
    with pytest.raises(ScoreError, match="k1.png.*void value"):
        score_semantic("vistas", tmp_path / "gt", tmp_path / "pred")
    assert score_semantic("vistas", gt.parent, tmp_path / "pred", allow_void=True).overall["void_predictions"] == 1
    _save(tmp_path / "pred" / "k1.png", [[70, 13, 27], [13, 27, 27]], "L")
    assert main(["semantic", "--dataset", "vistas", "--gt", str(gt.parent), "--pred", str(tmp_path / "pred")]) == 2
    assert "k1.png" in capsys.readouterr().err


def test_cli_camvid32(tmp_path, capsys):
    t = np.array([[17, 17, 21], [255, 21, 4]])
    _save(tmp_path / "gt" / "Seq05VD_f00030_L.png", encode_colours(t))
    _save(tmp_path / "pred" / "Seq05VD_f00030_L.png", encode_colours(np.where(t == 255, 17, t)))
    assert main(["semantic", "--dataset", "camvid32", "--gt", str(tmp_path / "gt"), "--pred",
                 str(tmp_path / "pred")]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["miou"] == 1.0 and result["pixels"] == 5
