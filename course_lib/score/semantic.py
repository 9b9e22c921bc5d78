"""``score semantic``: label PNGs in a dataset's own encoding -> pixel accuracy, mean accuracy, per-class IoU, mIoU.

As the benchmarks' own evaluation code does it (VOC's ``VOCevalseg``, the ADE20K SceneParsing devkit,
cityscapesScripts' ``evalPixelLevelSemanticLabeling``): **one confusion matrix over the whole set**, then pixel
accuracy, mean class accuracy, per-class IoU and mIoU = the mean IoU over the classes whose union is non-empty.
Per-image averaging is another number (the per-image rows printed are for finding failures, not for tables).

The encodings, from the registry (:meth:`course_lib.data.registry.DatasetInfo.label_lut`): VOC 0..20 with 255 void;
CamVid (SegNet) 0..10 with 11 void; ADE20K SceneParsing 1..150 with 0 ignored (shifted to 0..149 here, never in the
files); LIP and CIHP 0..19, ATR 0..17, PASCAL-Person-Part 0..6, with 255 ignored; Cityscapes label ids 0..33 scored
on the 19 train ids (label ids the benchmark ignores become 255). A prediction holds values in the same encoding as
the ground truth. Where the official code counts a prediction of an ignored value at a labelled pixel as a miss
(Cityscapes' ignored label ids, or 255 in train-id predictions; ADE20K's 0), it counts here as a miss: wrong for the
true class, a false positive for no class. Elsewhere, and for ADE20K's 0 (the usual sign of a forgotten ``+ 1``), it
is an error unless ``allow_void=True``. Mapillary Vistas v1.2: palette indices 0..65, 65 (unlabeled) ignored.
CamVid's 32 labels are **colours** (``*_L.png``, decoded by ``label_colors.txt``; black Void is ignored), and so
are its predictions (named ``<frame>.png`` or ``<frame>_L.png``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from .common import Report, ScoreError, collect, pair_files

__all__ = ["SEMANTIC_DATASETS", "score_semantic"]

#: the datasets ``score semantic`` knows (registry names)
SEMANTIC_DATASETS = ("voc", "camvid", "ade20k", "lip", "cihp", "atr", "ppp", "cityscapes", "camvid32", "vistas")
_CITYSCAPES_KEY = re.compile(r"^(.+?_\d{6}_\d{6})")


def _cityscapes_key(path: Path) -> str:
    match = _CITYSCAPES_KEY.match(path.name)
    if not match:
        raise ScoreError(f"{path}: not a Cityscapes file name (<city>_<sequence>_<frame>_..., e.g. "
                         "frankfurt_000000_000294_gtFine_labelIds.png)")
    return match.group(1)


def _camvid32_key(path: Path) -> str:
    return path.stem[: -len("_L")] if path.stem.endswith("_L") else path.stem


def _read(path: Path, what: str, colours: bool = False) -> np.ndarray:
    from ..data.camvid32 import read_colour_label
    from ..io.images import read_label

    try:
        return read_colour_label(path) if colours else read_label(path)
    except (OSError, ValueError) as err:
        message = str(err) if str(path) in str(err) else f"{path}: {err}"
        raise ScoreError(f"{message} ({what})") from None


def _lookup(lut: np.ndarray, labels: np.ndarray, path: Path, what: str, allowed: str) -> np.ndarray:
    out = lut[labels]
    if (out < 0).any():
        bad = np.unique(labels[out < 0]).tolist()
        raise ScoreError(f"{path}: {what} holds values {bad[:10]} that are no labels of this dataset ({allowed})")
    return out


def score_semantic(dataset: str, gt_dir: str | os.PathLike, pred_dir: str | os.PathLike,
                   ids: list[str] | None = None, allow_void: bool = False, pred_train_ids: bool = False) -> Report:
    """Score the label PNGs under ``pred_dir`` against those under ``gt_dir`` (matched by file name).

    Args:
        dataset: one of :data:`SEMANTIC_DATASETS`.
        gt_dir: folder of ground-truth label PNGs (searched recursively; Cityscapes: ``*_gtFine_labelIds.png``).
        pred_dir: folder of predicted label PNGs with the same names (Cityscapes: any name starting with
            ``<city>_<sequence>_<frame>``), in the dataset's encoding.
        ids: score only these names (e.g. VOC's ``val.txt``).
        allow_void: count a prediction of the void value at a labelled pixel as a miss instead of an error.
        pred_train_ids: Cityscapes predictions hold the 19 train ids (255 = none), not label ids.

    Raises:
        ScoreError: missing or extra files, sizes that differ, colour PNGs, values outside the encoding.
    """
    import torch

    from ..data.registry import get
    from ..metrics.segmentation import confusion_matrix, iou_per_class, mean_class_accuracy, pixel_accuracy

    if dataset not in SEMANTIC_DATASETS:
        raise ScoreError(f"unknown dataset {dataset!r}; choose one of {', '.join(SEMANTIC_DATASETS)}")
    info = get(dataset)
    k, void = info.num_classes, info.ignore_index
    cityscapes = dataset == "cityscapes"
    colours = dataset == "camvid32"
    key = _cityscapes_key if cityscapes else _camvid32_key if colours else (lambda p: p.stem)
    gt = collect(gt_dir, ("*_gtFine_labelIds.png",) if cityscapes else ("*.png",), "gt label", key)
    pred = collect(pred_dir, ("*.png",), "pred label", key)
    pairs = pair_files(gt, pred, pred_dir, ids)
    lut_gt = info.label_lut()  # camvid32: colours are decoded to classes 0..30 and 255 (Void); an identity here
    lut_pred = lut_gt.copy()
    if cityscapes and pred_train_ids:
        lut_pred[:] = -1
        lut_pred[:k] = np.arange(k)
        lut_pred[255] = 255
    stored = (f"label ids 0..{len(info.label_map) - 1}" if info.label_map and not pred_train_ids
              else f"classes 0..{k - 1}") + ("" if dataset == "ade20k" else f", void {void}")
    if dataset == "ade20k":
        stored = "classes 1..150, 0 = other (ignored)"
    cm = torch.zeros(k + 1, k + 1, dtype=torch.int64)  # row/column k: a prediction of no class
    items, void_predictions = [], 0
    for name, g, p in pairs:
        labels, predicted = _read(g, "ground truth", colours), _read(p, "prediction", colours)
        if labels.shape != predicted.shape:
            raise ScoreError(f"{p}: prediction is {predicted.shape[1]}x{predicted.shape[0]} (WxH), its ground truth "
                             f"{g} is {labels.shape[1]}x{labels.shape[0]}")
        target = _lookup(lut_gt, labels, g, "ground truth", stored)
        guess = _lookup(lut_pred, predicted, p, "prediction", stored)
        scored = target != void
        target, guess, raw = target[scored], guess[scored], predicted[scored]
        none = guess == void
        if none.any():
            if cityscapes and not pred_train_ids and raw.size and raw.max() <= k - 1 and none.mean() > 0.5:
                raise ScoreError(f"{p}: looks like train ids (values 0..{raw.max()}, {none.mean():.0%} of the scored "
                                 "pixels predicted as label ids the benchmark ignores); submit label ids "
                                 "(course_lib.data.labels.CITYSCAPES_TRAINID_TO_ID) or pass --pred-train-ids")
            if not (allow_void or cityscapes):
                hint = " (ADE20K predictions are 1..150: was the +1 forgotten?)" if dataset == "ade20k" else ""
                raise ScoreError(f"{p}: prediction holds the void value at {int(none.sum())} labelled pixels{hint}; "
                                 "pass --allow-void to count them as misses")
            void_predictions += int(none.sum())
        guess = np.where(none, k, guess)
        one = confusion_matrix(torch.from_numpy(guess.astype(np.int64)), torch.from_numpy(target.astype(np.int64)),
                               k + 1)
        cm += one
        items.append({"name": name, "pixels": int(scored.sum()), "pixel_accuracy": pixel_accuracy(one),
                      "miou": float(torch.nanmean(iou_per_class(one)[:k]))})
    iou = iou_per_class(cm)[:k]
    overall = {
        "images": len(items),
        "pixels": int(cm.sum()),
        "pixel_accuracy": pixel_accuracy(cm),
        "mean_accuracy": mean_class_accuracy(cm[:k]),
        "miou": float(torch.nanmean(iou)),
        "classes_scored": int((~torch.isnan(iou)).sum()),
        "void_predictions": void_predictions,
        "iou": {name: float(v) for name, v in zip(info.classes, iou.tolist(), strict=True)},
    }
    notes = [f"{info.title}: one confusion matrix over all {len(items)} images ({stored}); mIoU = mean over the "
             f"{overall['classes_scored']} classes whose union is non-empty"]
    return Report(f"semantic/{dataset}", items, overall, notes)
