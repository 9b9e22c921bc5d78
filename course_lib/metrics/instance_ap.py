"""COCO mask AP: written out by hand for teaching, and computed by ``pycocotools``' ``COCOeval`` for real numbers.

Introduced in Chapter 5 (instance segmentation). The metric of Lin et al., "Microsoft COCO: Common Objects in
Context" (arXiv:1405.0312), as ``cocoapi/PythonAPI/pycocotools/cocoeval.py`` defines it:

1. per image and category, detections sorted by score (at most ``maxDets``) are matched greedily to the ground
   truth of highest IoU at or above the threshold; each ground truth is matched once, except crowd regions
   (``iscrowd=1``), which are *ignore* regions: a detection matched to one is neither a true nor a false positive,
   and the IoU with a crowd is ``intersection / detection area``;
2. over all images, detections are sorted by score; precision is made monotone (each value the maximum to its
   right) and read at the 101 recall points ``0, 0.01, ..., 1`` (0 where the recall is never reached);
3. AP is the mean over those points, over the IoU thresholds ``0.50:0.05:0.95`` and over the categories that have
   ground truth (a category without ground truth adds nothing, not even its false positives; images without any
   ground truth or detection of a category are skipped).

:func:`mask_ap` implements this for the area range "all" in plain NumPy; the tests check it against ``COCOeval``.
:func:`coco_evaluate` runs ``COCOeval`` and returns its twelve statistics by name (:data:`COCO_STATS`).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["COCO_STATS", "IOU_THRESHOLDS", "RECALL_POINTS", "coco_evaluate", "encode_mask", "interpolated_ap",
           "mask_ap", "mask_iou", "match_image"]

#: the ten IoU thresholds of COCO AP
IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
#: the 101 recall points of COCO's interpolation
RECALL_POINTS = np.linspace(0.0, 1.0, 101)
#: the twelve numbers of ``COCOeval.summarize()``, in its order
COCO_STATS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


def mask_iou(det: np.ndarray, gt: np.ndarray, iscrowd: Sequence[int]) -> np.ndarray:
    """IoU of every detection mask with every ground-truth mask, ``[D, G]``; against a crowd region it is
    ``intersection / detection area`` (how much of the detection lies inside the crowd).

    Example:
        >>> d = np.zeros((1, 2, 4), bool); d[0, :, :2] = True
        >>> g = np.ones((2, 2, 4), bool)
        >>> mask_iou(d, g, [0, 1]).tolist()
        [[0.5, 1.0]]
    """
    d = np.asarray(det, bool).reshape(len(det), -1).astype(np.float64)
    g = np.asarray(gt, bool).reshape(len(gt), -1).astype(np.float64)
    inter = d @ g.T
    union = d.sum(1)[:, None] + g.sum(1)[None, :] - inter
    crowd = np.asarray(iscrowd, bool)[None, :]
    denom = np.where(crowd, d.sum(1)[:, None], union)
    return np.divide(inter, denom, out=np.zeros_like(inter), where=denom > 0)


def match_image(ious: np.ndarray, iscrowd: Sequence[int], threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Greedy matching of one image and category at one IoU threshold, as ``COCOeval.evaluateImg``.

    Args:
        ious: ``[D, G]`` with detections sorted by decreasing score and the non-crowd ground truth first.
        iscrowd: ``G`` crowd flags (crowds are ignore regions and may be matched many times).
        threshold: the IoU a match needs.

    Returns:
        ``(matched, ignored)``: per detection, whether it matched a ground truth, and whether that ground truth was
        a crowd (then the detection counts neither way).

    Example:
        >>> match_image(np.array([[0.9, 0.0], [0.8, 0.0], [0.0, 0.7]]), [0, 1], 0.5)
        (array([ True, False,  True]), array([False, False,  True]))
    """
    crowd = np.asarray(iscrowd, bool)
    num_det, num_gt = ious.shape if ious.size else (len(ious), len(crowd))
    taken = np.zeros(num_gt, bool)
    matched, ignored = np.zeros(num_det, bool), np.zeros(num_det, bool)
    for d in range(num_det):
        best, m = min(threshold, 1 - 1e-10), -1
        for g in range(num_gt):
            if taken[g] and not crowd[g]:
                continue  # already matched, and not a crowd
            if m > -1 and not crowd[m] and crowd[g]:
                break  # a real match beats any crowd (crowds come last)
            if ious[d, g] < best:
                continue
            best, m = ious[d, g], g
        if m > -1:
            taken[m], matched[d], ignored[d] = True, True, crowd[m]
    return matched, ignored


def interpolated_ap(scores: np.ndarray, tp: np.ndarray, num_gt: int) -> float:
    """AP from the detections of all images (scores, true-positive flags): monotone precision read at the 101
    recall points, averaged (COCOeval's ``accumulate``).

    Example:
        >>> round(interpolated_ap(np.array([0.9, 0.8]), np.array([True, False]), 2), 4)
        0.505
    """
    order = np.argsort(-scores, kind="mergesort")
    tp = np.asarray(tp, bool)[order]
    tps, fps = np.cumsum(tp), np.cumsum(~tp)
    recall = tps / num_gt
    precision = tps / (tps + fps + np.spacing(1))
    precision = np.maximum.accumulate(precision[::-1])[::-1] if len(precision) else precision
    idx = np.searchsorted(recall, RECALL_POINTS, side="left")
    return float(np.mean([precision[i] if i < len(precision) else 0.0 for i in idx]))


def mask_ap(ground_truth: Sequence[dict[str, Any]], detections: Sequence[dict[str, Any]], *,
            max_dets: int = 100) -> dict[str, float]:
    """COCO mask AP by hand (area range "all"): the mean over IoU thresholds, categories with ground truth.

    Args:
        ground_truth: dicts with ``image_id``, ``category_id``, ``mask`` (``[H, W]`` boolean) and ``iscrowd``.
        detections: dicts with ``image_id``, ``category_id``, ``mask`` and ``score``.
        max_dets: detections kept per image and category (highest scores first).

    Returns:
        ``{"AP", "AP50", "AP75"}`` plus ``"per_threshold"`` (the ten APs) and ``"per_category"``.

    Example:
        >>> m = np.zeros((4, 4), bool); m[:2] = True
        >>> gt = [{"image_id": 1, "category_id": 1, "mask": m, "iscrowd": 0}]
        >>> round(mask_ap(gt, [{"image_id": 1, "category_id": 1, "mask": m, "score": 0.9}])["AP"], 6)
        1.0
    """
    categories = sorted({g["category_id"] for g in ground_truth})
    per_category: dict[int, list[float]] = {}
    for cat in categories:
        images = sorted({g["image_id"] for g in ground_truth if g["category_id"] == cat}
                        | {d["image_id"] for d in detections if d["category_id"] == cat})
        num_gt = sum(1 for g in ground_truth if g["category_id"] == cat and not g.get("iscrowd", 0))
        if num_gt == 0:
            continue  # only crowds: COCOeval gives -1 and leaves the category out
        scores, flags = [], [[] for _ in IOU_THRESHOLDS]
        for image in images:
            gts = [g for g in ground_truth if g["category_id"] == cat and g["image_id"] == image]
            gts.sort(key=lambda g: bool(g.get("iscrowd", 0)))  # non-crowd first (stable)
            dts = [d for d in detections if d["category_id"] == cat and d["image_id"] == image]
            dts = sorted(dts, key=lambda d: -d["score"])[:max_dets]
            if not dts:
                continue
            crowd = [int(g.get("iscrowd", 0)) for g in gts]
            ious = (mask_iou(np.stack([d["mask"] for d in dts]), np.stack([g["mask"] for g in gts]), crowd)
                    if gts else np.zeros((len(dts), 0)))
            scores.append(np.array([d["score"] for d in dts], np.float64))
            for t, threshold in enumerate(IOU_THRESHOLDS):
                matched, ignored = match_image(ious, crowd, threshold)
                flags[t].append(np.where(ignored, -1, matched.astype(int)))
        all_scores = np.concatenate(scores) if scores else np.zeros(0)
        aps = []
        for t in range(len(IOU_THRESHOLDS)):
            f = np.concatenate(flags[t]) if flags[t] else np.zeros(0, int)
            keep = f >= 0  # detections matched to a crowd are ignored
            aps.append(interpolated_ap(all_scores[keep], f[keep] == 1, num_gt))
        per_category[cat] = aps
    if not per_category:
        raise ValueError("mask_ap: the ground truth holds no (non-crowd) object")
    table = np.array(list(per_category.values()))  # [categories, thresholds]
    per_threshold = table.mean(0)
    return {"AP": float(per_threshold.mean()), "AP50": float(per_threshold[0]), "AP75": float(per_threshold[5]),
            "per_threshold": [float(v) for v in per_threshold],
            "per_category": {int(c): float(np.mean(v)) for c, v in per_category.items()}}


def encode_mask(mask: np.ndarray) -> dict[str, Any]:
    """A binary ``[H, W]`` mask as compressed RLE with a text ``counts`` (the JSON results format).

    Example:
        >>> encode_mask(np.array([[0, 1], [0, 1]], np.uint8))
        {'size': [2, 2], 'counts': '22'}
    """
    from pycocotools import mask as mask_utils  # imported on use: course_lib.metrics imports without pycocotools

    rle = mask_utils.encode(np.asfortranarray(np.asarray(mask, np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def coco_evaluate(ground_truth: dict | Any, results: list[dict], iou_type: str = "segm") -> dict[str, Any]:
    """Run ``COCOeval`` (``iouType`` ``"segm"`` or ``"bbox"``) and return its twelve statistics by name.

    Args:
        ground_truth: a COCO instances dict (``images``, ``annotations``, ``categories``) or a
            ``pycocotools.coco.COCO`` index (``pycocotools``, the ``instance`` extra, is imported on use).
        results: the official results format: ``image_id``, ``category_id``, ``score`` and ``segmentation``
            (RLE) for ``segm`` or ``bbox`` ``[x, y, w, h]``; an empty list scores 0.
        iou_type: ``"segm"`` (mask AP) or ``"bbox"``.

    Returns:
        :data:`COCO_STATS` mapped to their values (``-1`` where COCOeval has nothing to average, e.g. no large
        objects), plus ``"per_category"``: the AP of each category with ground truth, by category id.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if isinstance(ground_truth, COCO):
        gt = ground_truth
    else:
        gt = COCO()
        gt.dataset = {k: v for k, v in ground_truth.items()}
        with contextlib.redirect_stdout(io.StringIO()):
            gt.createIndex()
    with contextlib.redirect_stdout(io.StringIO()):
        if results:
            dt = gt.loadRes([dict(r) for r in results])
        else:
            dt = COCO()
            dt.dataset = {"images": gt.dataset["images"], "annotations": [], "categories": gt.dataset["categories"]}
            dt.createIndex()
        ev = COCOeval(gt, dt, iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    stats = {name: float(v) for name, v in zip(COCO_STATS, ev.stats, strict=True)}
    precision = ev.eval["precision"][:, :, :, 0, -1]  # [T, R, K] at area "all", maxDets 100
    per_category = {}
    for k, cat in enumerate(ev.params.catIds):
        p = precision[:, :, k]
        if (p > -1).any():
            per_category[int(cat)] = float(p[p > -1].mean())
    return {**stats, "per_category": per_category}
