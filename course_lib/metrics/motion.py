"""Scores of a moving-object mask against KITTI 2015's ``obj_map``: precision, recall and F1 over pixels and objects.

Introduced in Chapter 10 (motion detection). The ground truth is an object map (0 = background, 1..N = objects:
KITTI 2015's ``obj_map``, the vehicles it fitted with 3D models); the prediction a boolean mask.

* **pixels**: true positives are mask pixels on an object, false positives mask pixels on the background, false
  negatives object pixels outside the mask; summed over all frames before dividing (one count over the set, as
  the semantic metrics of the book do).
* **objects**: a ground-truth object is *found* when the mask covers at least ``overlap`` (0.5) of its pixels
  (recall = found / objects); a predicted region (a connected component of the mask of at least ``min_area``
  pixels) is *correct* when at least ``overlap`` of it lies on objects (precision = correct / regions).

F1 is ``2 P R / (P + R)`` (0 when both are 0). Pixels where ``valid`` is False are left out of both counts.

Example:
    >>> gt = np.zeros((4, 6), np.uint8); gt[1:3, 1:3] = 1; gt[0, 5] = 2
    >>> pred = np.zeros((4, 6), bool); pred[1:3, 1:4] = True
    >>> s = MotionScores(); counts = s.update(pred, gt); r = s.compute()
    >>> r["pixel_precision"], r["pixel_recall"], r["object_recall"], r["object_precision"]
    (0.6666666666666666, 0.8, 0.5, 1.0)
"""

from __future__ import annotations

import numpy as np

__all__ = ["MotionScores"]


def f1(precision: float, recall: float) -> float:
    """The harmonic mean, 0 when both are 0."""
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


class MotionScores:
    """Accumulate pixel and object counts over frames; :meth:`compute` gives precision, recall and F1 of both.

    Args:
        overlap: the share of an object (of a predicted region) that must be covered (must lie on objects).
        min_area: predicted regions smaller than this many pixels are not counted as detections.
    """

    def __init__(self, overlap: float = 0.5, min_area: int = 1) -> None:
        if not 0 < overlap <= 1:
            raise ValueError(f"overlap must lie in (0, 1], got {overlap}")
        self.overlap, self.min_area = overlap, min_area
        self.tp = self.fp = self.fn = 0
        self.objects = self.found = self.regions = self.correct = 0
        self.frames = 0

    def update(self, pred, obj_map, valid=None) -> dict:
        """Add one frame: ``pred`` bool ``[H, W]``, ``obj_map`` int ``[H, W]`` (0 background); returns its counts."""
        import cv2

        pred, obj_map = np.asarray(pred, bool), np.asarray(obj_map)
        if pred.shape != obj_map.shape:
            raise ValueError(f"prediction {pred.shape} and object map {obj_map.shape} differ in size")
        if valid is not None:
            valid = np.asarray(valid, bool)
            pred, obj_map = pred & valid, np.where(valid, obj_map, 0)
        on = obj_map > 0
        tp, fp, fn = int((pred & on).sum()), int((pred & ~on).sum()), int((~pred & on).sum())
        ids = np.unique(obj_map[on])
        found = sum(int(pred[obj_map == i].mean() >= self.overlap) for i in ids)
        n, comp = cv2.connectedComponents(pred.astype(np.uint8), connectivity=8)
        regions = correct = 0
        for k in range(1, n):
            region = comp == k
            if region.sum() < self.min_area:
                continue
            regions += 1
            correct += int(on[region].mean() >= self.overlap)
        self.tp, self.fp, self.fn = self.tp + tp, self.fp + fp, self.fn + fn
        self.objects, self.found = self.objects + len(ids), self.found + found
        self.regions, self.correct = self.regions + regions, self.correct + correct
        self.frames += 1
        return {"tp": tp, "fp": fp, "fn": fn, "objects": len(ids), "found": found, "regions": regions,
                "correct": correct}

    def compute(self) -> dict:
        """``pixel_{precision,recall,f1}``, ``object_{precision,recall,f1}`` and the counts (0 when empty)."""
        pp = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        pr = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        op = self.correct / self.regions if self.regions else 0.0
        orc = self.found / self.objects if self.objects else 0.0
        return {"pixel_precision": pp, "pixel_recall": pr, "pixel_f1": f1(pp, pr), "object_precision": op,
                "object_recall": orc, "object_f1": f1(op, orc), "frames": self.frames, "objects": self.objects,
                "regions": self.regions}
