"""``score binary``: polyp masks (Kvasir-SEG style) -> Dice/IoU at one threshold, and PraNet's protocol.

Ground truth: white-on-black masks (PNG or Kvasir-SEG's JPEGs), object where the grey value is above 128, as
PraNet's ``main.m`` reads them. Predictions: 8-bit PNGs with the ground truth's names (``<name>.png``), either
probability maps (255 = 1.0) or binary masks stored as 0/255. Two protocols, both reported, named:

* ``threshold``: each map binarised once (``value / 255 >= threshold``, 0.5 by default), Dice and IoU per image
  (1 when both masks are empty), then the mean over images: ``dice@0.5``, ``iou@0.5``.
* ``pranet``: PraNet's evaluation (:mod:`course_lib.metrics.binary`): each map stretched to [0, 1], Dice and IoU at
  the 256 thresholds 0, 1/255, ..., 1, averaged over images per threshold, then the mean over thresholds
  (``pranet_mean_dice``, the "mDice" of PraNet / HarDNet-MSEG tables) and the maximum (``pranet_max_dice``).

A prediction whose size differs from its mask is an error (PraNet's script resizes it silently), and so is a map
holding only 0 and 1 (a 0/1 mask would read as probabilities of at most 1/255: save masks as 0/255).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..io.images import open_image
from .common import Report, ScoreError, collect, pair_files

__all__ = ["score_binary"]

_GT_PATTERNS = ("*.png", "*.jpg", "*.jpeg", "*.PNG", "*.JPG", "*.JPEG", "*.bmp", "*.tif")


def _open(path: Path, what: str):
    try:
        img = open_image(path, what)
    except (OSError, ValueError) as err:
        raise ScoreError(str(err)) from None
    if img.mode in ("I;16", "I;16B", "I", "F"):
        raise ScoreError(f"{path}: {what} is a {img.mode} image; expected 8 bits (0..255)")
    return img


def read_prediction(path: Path) -> np.ndarray:
    """A prediction as ``float64 [H, W]`` in [0, 1] (its 8-bit values / 255); colour maps must be grey."""
    img = _open(path, "prediction")
    if img.mode == "P":
        raise ScoreError(f"{path}: prediction is a palette PNG; expected a grey 8-bit map (255 = probability 1)")
    a = np.asarray(img.convert("RGB") if img.mode not in ("L", "RGB") else img)
    if a.ndim == 3:
        if not (np.array_equal(a[..., 0], a[..., 1]) and np.array_equal(a[..., 0], a[..., 2])):
            raise ScoreError(f"{path}: prediction is a colour image; expected a grey map (equal channels)")
        a = a[..., 0]
    if a.max() == 1:
        raise ScoreError(f"{path}: prediction holds only 0 and 1; store binary masks as 0/255 (255 = probability 1)")
    return a.astype(np.float64) / 255.0


def read_truth(path: Path) -> np.ndarray:
    """A ground-truth mask as booleans: grey value above 128 (PraNet: ``gt(:,:,1) > 128`` after ``rgb2gray``)."""
    img = _open(path, "ground-truth mask")
    grey = np.asarray(img.convert("L"))
    return grey > 128


def score_binary(gt_dir: str | os.PathLike, pred_dir: str | os.PathLike, threshold: float = 0.5,
                 ids: list[str] | None = None) -> Report:
    """Score the prediction maps under ``pred_dir`` against the masks under ``gt_dir`` (matched by file name).

    Args:
        gt_dir: folder of ground-truth masks (PNG or JPEG, searched recursively).
        pred_dir: folder of 8-bit prediction PNGs named like the masks.
        threshold: the threshold of the single-threshold protocol, in (0, 1].
        ids: score only these names.

    Raises:
        ScoreError: missing or extra files, sizes that differ, colour or 0/1 predictions, unreadable files.
    """
    import torch

    from ..metrics.binary import dice_over_thresholds, iou_over_thresholds

    if not 0 < threshold <= 1:
        raise ScoreError(f"--threshold must lie in (0, 1], got {threshold}")
    gt = collect(gt_dir, _GT_PATTERNS, "gt mask")
    pred = collect(pred_dir, ("*.png", "*.PNG"), "pred map")
    pairs = pair_files(gt, pred, pred_dir, ids)
    items, dice_curves, iou_curves = [], [], []
    for name, g, p in pairs:
        truth, prob = read_truth(g), read_prediction(p)
        if truth.shape != prob.shape:
            raise ScoreError(f"{p}: prediction is {prob.shape[1]}x{prob.shape[0]} (WxH), its mask {g} is "
                             f"{truth.shape[1]}x{truth.shape[0]}")
        mask = prob >= threshold - 1e-12
        inter, total = int((mask & truth).sum()), int(mask.sum() + truth.sum())
        union = total - inter
        dice = 1.0 if total == 0 else 2.0 * inter / total
        iou = 1.0 if union == 0 else inter / union
        dice_curves.append(dice_over_thresholds(prob, truth))
        iou_curves.append(iou_over_thresholds(prob, truth))
        items.append({"name": name, f"dice@{threshold:g}": dice, f"iou@{threshold:g}": iou,
                      "pranet_mean_dice": float(dice_curves[-1].mean())})
    dice_curve = torch.stack(dice_curves).mean(0)
    iou_curve = torch.stack(iou_curves).mean(0)
    overall = {
        "images": len(items),
        f"dice@{threshold:g}": float(np.mean([r[f"dice@{threshold:g}"] for r in items])),
        f"iou@{threshold:g}": float(np.mean([r[f"iou@{threshold:g}"] for r in items])),
        "pranet_mean_dice": float(dice_curve.mean()),
        "pranet_max_dice": float(dice_curve.max()),
        "pranet_mean_iou": float(iou_curve.mean()),
        "pranet_max_iou": float(iou_curve.max()),
    }
    notes = [f"dice@{threshold:g} / iou@{threshold:g}: maps binarised at value/255 >= {threshold:g}, scored per "
             "image, mean over images",
             "pranet_*: PraNet's eval/main.m: each map stretched to [0, 1], Dice/IoU at 256 thresholds averaged over "
             "images, then the mean (the papers' mDice / mIoU) and the max over thresholds"]
    return Report("binary", items, overall, notes)
