"""``python -m course_lib.score semantic``: one confusion matrix over the set in each dataset's own encoding, checked
against a hand-worked case and torchmetrics' MulticlassJaccardIndex / MulticlassAccuracy on the same pixels."""

import json
import re

import numpy as np
import pytest
import torch
from PIL import Image

from course_lib.data.labels import CITYSCAPES_ID_TO_TRAINID, CITYSCAPES_TRAINID_TO_ID
from course_lib.data.registry import get
from course_lib.score import ScoreError, score_semantic
from course_lib.score.__main__ import main


def _write(folder, name, array, mode="L"):
    (folder / name).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, np.uint8), mode if mode != "P" else None).save(folder / name)


def _oracle(targets, preds, k, ignore):
    """Per-class IoU (NaN where the union is empty), pixel and mean accuracy over all pixels, by torchmetrics."""
    from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex

    t = torch.from_numpy(np.concatenate([a.ravel() for a in targets]).astype(np.int64))
    p = torch.from_numpy(np.concatenate([a.ravel() for a in preds]).astype(np.int64))
    iou = MulticlassJaccardIndex(k, average="none", ignore_index=ignore)(p, t).double()
    keep = t != ignore
    present = torch.bincount(t[keep], minlength=k) + torch.bincount(p[keep], minlength=k) > 0
    iou[~present] = float("nan")
    pa = float(MulticlassAccuracy(k, average="micro", ignore_index=ignore)(p, t))
    per_class = MulticlassAccuracy(k, average="none", ignore_index=ignore)(p, t).double()
    mean_acc = float(per_class[torch.bincount(t[keep], minlength=k) > 0].mean())
    return iou, pa, mean_acc


def test_hand_worked_voc_2x3(tmp_path):
    _write(tmp_path / "gt", "2007_000001.png", [[0, 1, 1], [255, 2, 0]], "P")
    _write(tmp_path / "pred", "2007_000001.png", [[0, 1, 2], [0, 2, 1]])
    r = score_semantic("voc", tmp_path / "gt", tmp_path / "pred").overall
    # 5 scored pixels (one void), 3 right; class 0: TP 1, FN 1 -> 1/2; class 1: TP 1, FN 1, FP 1 -> 1/3;
    # class 2: TP 1, FP 1 -> 1/2; the other 18 classes have an empty union and are not averaged
    assert r["pixels"] == 5 and r["pixel_accuracy"] == pytest.approx(0.6)
    assert r["iou"]["background"] == 0.5 and r["iou"]["aeroplane"] == pytest.approx(1 / 3)
    assert r["iou"]["bicycle"] == 0.5 and np.isnan(r["iou"]["bird"])
    assert r["miou"] == pytest.approx((0.5 + 1 / 3 + 0.5) / 3) and r["classes_scored"] == 3
    assert r["mean_accuracy"] == pytest.approx((0.5 + 0.5 + 1.0) / 3)


@pytest.mark.parametrize("dataset", ["voc", "camvid", "lip", "cihp", "atr", "ppp"])
def test_matches_torchmetrics_over_the_set(tmp_path, dataset):
    info = get(dataset)
    k, void = info.num_classes, info.ignore_index
    rng = np.random.default_rng(3)
    targets, preds = [], []
    for i, (h, w) in enumerate([(12, 16), (9, 20), (14, 14)]):  # images of different sizes: one matrix over all
        t = rng.integers(0, k, (h, w))
        t[rng.random((h, w)) < 0.1] = void
        p = np.where(rng.random((h, w)) < 0.6, t, rng.integers(0, k, (h, w)))
        p[p == void] = 0
        _write(tmp_path / "gt", f"img{i}.png", t)
        _write(tmp_path / "pred", f"img{i}.png", p)
        targets.append(t), preds.append(p)
    r = score_semantic(dataset, tmp_path / "gt", tmp_path / "pred").overall
    iou, pa, mean_acc = _oracle(targets, preds, k, void)
    np.testing.assert_allclose(list(r["iou"].values()), iou.numpy(), rtol=1e-6, atol=1e-6)
    assert r["miou"] == pytest.approx(float(np.nanmean(iou.numpy())), abs=1e-6)
    assert r["pixel_accuracy"] == pytest.approx(pa, abs=1e-6) and r["mean_accuracy"] == pytest.approx(mean_acc, 1e-6)


def test_ade20k_shift_and_void(tmp_path):
    rng = np.random.default_rng(4)
    t = rng.integers(0, 151, (16, 16))  # 0 = other (ignored), classes 1..150
    p = np.where(rng.random(t.shape) < 0.7, t, rng.integers(1, 151, t.shape))
    p[t == 0] = 0  # the official demo's fake prediction keeps 0 where the truth is 0: not an error
    _write(tmp_path / "gt", "ADE_val_00000001.png", t)
    _write(tmp_path / "pred", "ADE_val_00000001.png", p)
    r = score_semantic("ade20k", tmp_path / "gt", tmp_path / "pred").overall
    iou, pa, _ = _oracle([np.where(t == 0, 255, t - 1)], [np.where(p == 0, 0, p - 1)], 150, 255)
    np.testing.assert_allclose(list(r["iou"].values()), iou.numpy(), atol=1e-6)
    assert r["pixel_accuracy"] == pytest.approx(pa, abs=1e-6)
    # a prediction in 0..149 (the +1 forgotten): 0 at labelled pixels is an error, or a miss with --allow-void
    _write(tmp_path / "pred", "ADE_val_00000001.png", np.where(t == 0, 0, t - 1))
    with pytest.raises(ScoreError, match=r"ADE_val_00000001.png: prediction holds the void value.*\+1 forgotten"):
        score_semantic("ade20k", tmp_path / "gt", tmp_path / "pred")
    r = score_semantic("ade20k", tmp_path / "gt", tmp_path / "pred", allow_void=True).overall
    assert r["void_predictions"] == int(((t - 1) == 0).sum()) and r["pixel_accuracy"] == 0.0


def test_cityscapes_label_ids_scored_on_train_ids(tmp_path):
    rng = np.random.default_rng(5)
    gt_name = "val/frankfurt/frankfurt_000000_000294_gtFine_labelIds.png"
    t = rng.integers(0, 34, (20, 24))
    p = np.where(rng.random(t.shape) < 0.6, t, rng.integers(0, 34, t.shape))  # some ignored label ids too
    _write(tmp_path / "gt", gt_name, t)
    _write(tmp_path / "pred", "frankfurt_000000_000294_leftImg8bit.png", p)
    r = score_semantic("cityscapes", tmp_path / "gt", tmp_path / "pred").overall
    # the official script: ignored label ids in the truth are skipped; predicted, they are misses
    tt, pt = CITYSCAPES_ID_TO_TRAINID[t].astype(np.int64), CITYSCAPES_ID_TO_TRAINID[p].astype(np.int64)
    pt = np.where((pt == 255) & (tt != 255), 19, pt)  # a 20th "none" class that no truth pixel has
    iou, pa, _ = _oracle([tt], [pt], 20, 255)
    np.testing.assert_allclose(list(r["iou"].values()), iou[:19].numpy(), atol=1e-6)
    assert r["pixel_accuracy"] == pytest.approx(pa, abs=1e-6) and r["void_predictions"] > 0
    # the same prediction in train ids is detected, and accepted with --pred-train-ids
    train = np.where(tt == 255, 0, tt)
    _write(tmp_path / "pred", "frankfurt_000000_000294_leftImg8bit.png", train)
    with pytest.raises(ScoreError, match="looks like train ids"):
        score_semantic("cityscapes", tmp_path / "gt", tmp_path / "pred")
    r_train = score_semantic("cityscapes", tmp_path / "gt", tmp_path / "pred", pred_train_ids=True).overall
    _write(tmp_path / "pred", "frankfurt_000000_000294_leftImg8bit.png", CITYSCAPES_TRAINID_TO_ID[train])
    r_ids = score_semantic("cityscapes", tmp_path / "gt", tmp_path / "pred").overall
    assert r_train["miou"] == r_ids["miou"] == 1.0
    _write(tmp_path / "pred", "frankfurt_000000_000294_leftImg8bit.png", np.where(tt == 0, 255, train))
    r_none = score_semantic("cityscapes", tmp_path / "gt", tmp_path / "pred", pred_train_ids=True).overall
    assert r_none["void_predictions"] == int((tt == 0).sum()) and r_none["iou"]["road"] == 0.0  # misses, as ids


def test_cli_end_to_end_camvid(tmp_path, capsys):
    _write(tmp_path / "testannot", "0001TP_008550.png", [[0, 1, 11], [3, 3, 3]])
    _write(tmp_path / "pred", "0001TP_008550.png", [[0, 1, 5], [3, 3, 4]])
    assert main(["semantic", "--dataset", "camvid", "--gt", str(tmp_path / "testannot"), "--pred",
                 str(tmp_path / "pred")]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0].startswith("0001TP_008550: pixels 5, pixel_accuracy 0.8000")
    result = json.loads(out[-1])
    assert result["benchmark"] == "semantic/camvid" and result["pixel_accuracy"] == pytest.approx(0.8)
    assert result["iou"]["Road"] == pytest.approx(2 / 3) and result["iou"]["Sky"] == 1.0
    assert result["iou"]["Pedestrian"] is None  # NaN (empty union) is null in the JSON line


@pytest.mark.parametrize("case, message", [
    ("missing", "missing prediction"), ("extra", "prediction without a ground-truth file"),
    ("size", "prediction is 5x4 (WxH), its ground truth"), ("rgb", "PIL mode 'RGB'"),
    ("range", "values [21, 40] that are no labels"), ("void", "void value at 1 labelled pixels"),
    ("truncated", "label file is"),
])
def test_bad_inputs_name_the_file(tmp_path, capsys, case, message):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    labels = np.array([[0, 1, 2, 3], [4, 5, 255, 7], [0, 0, 1, 1], [2, 2, 3, 3]])
    _write(gt, "a.png", labels)
    _write(pred, "a.png", np.where(labels == 255, 0, labels))
    bad = pred / "a.png"
    if case == "missing":
        _write(gt, "b.png", labels)
        bad = pred / "b.png"
    elif case == "extra":
        _write(pred, "c.png", labels)
        bad = pred / "c.png"
    elif case == "size":
        _write(pred, "a.png", np.zeros((4, 5)))
    elif case == "rgb":
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(bad)
    elif case == "range":
        _write(pred, "a.png", np.where(labels == 1, 21, np.where(labels == 2, 40, 0)))
    elif case == "void":
        _write(pred, "a.png", np.where(labels == 7, 255, labels))
    elif case == "truncated":
        bad.write_bytes(bad.read_bytes()[:40])
    with pytest.raises(ScoreError, match=re.escape(message)) as err:
        score_semantic("voc", gt, pred)
    assert str(bad) in str(err.value)
    assert main(["semantic", "--dataset", "voc", "--gt", str(gt), "--pred", str(pred)]) == 2
    printed = capsys.readouterr().err
    assert printed.startswith("error: ") and str(bad) in printed


def test_ids_restrict_the_set(tmp_path):
    for name in ("a", "b"):
        _write(tmp_path / "gt", f"{name}.png", [[1, 2]])
    _write(tmp_path / "pred", "a.png", [[1, 2]])
    (tmp_path / "val.txt").write_text("a\n")
    assert main(["semantic", "--dataset", "voc", "--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "pred"),
                 "--ids", str(tmp_path / "val.txt")]) == 0


_REAL = [("ade20k", "ade20k_sceneparsing/ADEChallengeData2016/annotations/validation"),
         ("lip", "parsing_lip/TrainVal_parsing_annotations/train_segmentations"),
         ("cihp", "parsing_cihp/instance-level_human_parsing/Training/Category_ids"),
         ("camvid", "camvid_segnet/CamVid/testannot")]


@pytest.mark.realdata
@pytest.mark.parametrize("dataset, folder", _REAL)
def test_real_ground_truth(real_root, tmp_path, dataset, folder):
    gt = real_root / folder
    if not gt.is_dir():
        pytest.skip(f"{gt} is absent")
    files = sorted(gt.glob("*.png"))[:4]
    info = get(dataset)
    lut = info.label_lut()
    targets, preds = [], []
    for path in files:
        (tmp_path / "gt").mkdir(exist_ok=True)
        (tmp_path / "gt" / path.name).write_bytes(path.read_bytes())
        labels = np.asarray(Image.open(path))
        moved = np.roll(labels, (3, -5), axis=(0, 1))  # a shifted copy: a realistic, imperfect prediction
        moved = np.where(lut[moved] == info.ignore_index, labels.max(), moved)  # no void predictions
        moved = np.where(lut[moved] == info.ignore_index, 1, moved)
        _write(tmp_path / "pred", path.name, moved)
        targets.append(lut[labels]), preds.append(lut[moved])
    same = score_semantic(dataset, tmp_path / "gt", tmp_path / "gt").overall
    assert same["pixel_accuracy"] == 1.0 and same["miou"] == 1.0 and same["images"] == len(files)
    r = score_semantic(dataset, tmp_path / "gt", tmp_path / "pred").overall
    iou, pa, _ = _oracle(targets, preds, info.num_classes, info.ignore_index)
    np.testing.assert_allclose(list(r["iou"].values()), iou.numpy(), atol=1e-6)
    assert r["pixel_accuracy"] == pytest.approx(pa, abs=1e-6) and r["miou"] < 1


def test_registry_entries_of_the_scored_datasets(tmp_path):
    from course_lib.datasets import locate

    ade, cityscapes = get("ade20k"), get("cityscapes")
    assert ade.num_classes == 150 and ade.label_lut()[[0, 1, 150, 151]].tolist() == [255, 0, 149, -1]
    assert cityscapes.num_classes == 19 and cityscapes.label_lut()[[7, 33, 0, 34]].tolist() == [0, 18, 255, -1]
    assert get("lip").classes[10] == "Jumpsuits" and get("cihp").classes[10] == "Torso-skin"
    assert ade.palette.shape == (150, 3) and cityscapes.palette[0].tolist() == [128, 64, 128]
    # no loader yet: no sample writer, and a clear error instead of a sample
    # LIP has its loader and sample writer since Chapter 4: the quick profile falls back to the sample
    folder, synthetic = locate("lip", tmp_path / "empty", profile="quick", work=tmp_path / "lip_work", verbose=False)
    assert synthetic and get("lip").is_root(folder)
    # Cityscapes has its sample writer since Chapter 10 (course_lib.synthetic.driving)
    assert cityscapes.is_root(cityscapes.write_sample(tmp_path / "sample", n_train=1, n_val=1, size=(64, 48)))
    assert not (tmp_path / "work").exists()


@pytest.mark.realdata
def test_registry_finds_the_real_folders(real_root):
    from course_lib.data.registry import find_root

    for name, folder in [("ade20k", "ade20k_sceneparsing"), ("lip", "parsing_lip"), ("cihp", "parsing_cihp")]:
        if (real_root / folder).is_dir():
            assert get(name).is_root(find_root(name, real_root / folder))
