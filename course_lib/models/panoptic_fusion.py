"""Panoptic fusion: instance masks and a semantic map merged into one non-overlapping panoptic segmentation.

Introduced in Chapter 11. The inference step of Panoptic FPN (Kirillov, Girshick, He, Dollar, *Panoptic Feature
Pyramid Networks*, arXiv:1901.02446, section 4) and of panopticapi's ``combine_semantic_and_instance_predictions``,
following the heuristic of the panoptic segmentation paper (arXiv:1801.00868):

1. instances are visited by decreasing score, those under ``score_threshold`` dropped;
2. an instance whose mask is covered by already placed instances for more than ``overlap_threshold`` of its area
   is dropped; otherwise it takes only the pixels still free (things never overlap);
3. each stuff class of the semantic map fills the pixels still free, if at least ``stuff_area`` of them are left
   (small stuff regions are usually noise); what remains is void (0).

Example:
    >>> masks = np.zeros((2, 4, 6), bool); masks[0, :, :3] = True; masks[1, :, 2:4] = True
    >>> semantic = np.full((4, 6), 7)
    >>> ids, segs, _ = panoptic_fusion(masks, [0.9, 0.8], [1, 1], semantic, stuff_ids=[7], stuff_area=4)
    >>> ids[0].tolist(), [(s["id"], s["category_id"]) for s in segs]
    ([1, 1, 1, 2, 3, 3], [(1, 1), (2, 1), (3, 7)])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["panoptic_fusion"]


def _numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def panoptic_fusion(masks, scores: Sequence[float], labels: Sequence[int], semantic, *, stuff_ids: Sequence[int],
                    score_threshold: float = 0.5, overlap_threshold: float = 0.5,
                    stuff_area: int = 4096) -> tuple[np.ndarray, list[dict], list[dict]]:
    """Fuse instance predictions and a semantic map into panoptic segment ids.

    Args:
        masks: binary instance masks ``[N, H, W]`` (numpy or torch; soft masks are thresholded at 0.5).
        scores: confidence of each instance.
        labels: category id of each instance (a thing category).
        semantic: category id per pixel ``[H, W]`` from the semantic head; only ``stuff_ids`` are used.
        stuff_ids: the stuff categories (Panoptic FPN's semantic head also predicts "things" and "other": ignored).
        score_threshold: instances below this confidence are dropped (Panoptic FPN: 0.5).
        overlap_threshold: drop an instance when more than this fraction of it is already taken (0.5).
        stuff_area: the least free area, in pixels, a stuff region needs (Panoptic FPN on COCO: 4096 = 64^2;
            scale it with the image area on small pictures).

    Returns:
        ``(ids int64 [H, W] with 0 = void, segments_info, decisions)``: ``segments_info`` entries carry ``id``,
        ``category_id``, ``iscrowd`` 0, ``isthing``, ``area`` and, for things, ``score``; ``decisions`` says for
        every instance and stuff class what happened and why (for showing the steps).
    """
    masks = _numpy(masks)
    masks = masks > 0.5 if masks.dtype != bool else masks
    scores, labels = _numpy(scores).astype(np.float64).ravel(), _numpy(labels).astype(np.int64).ravel()
    semantic = _numpy(semantic).astype(np.int64)
    if masks.ndim != 3 or len(masks) != len(scores) or len(scores) != len(labels):
        raise ValueError(f"masks [N, H, W], scores [N] and labels [N] disagree: {masks.shape}, {len(scores)}, "
                         f"{len(labels)}")
    if masks.shape[1:] != semantic.shape:
        raise ValueError(f"instance masks are {masks.shape[1:]} but the semantic map is {semantic.shape}")
    ids = np.zeros(semantic.shape, np.int64)
    segments, decisions = [], []
    for k in np.argsort(-scores, kind="stable"):
        step = {"kind": "thing", "index": int(k), "category_id": int(labels[k]), "score": float(scores[k])}
        area = int(masks[k].sum())
        taken = int((masks[k] & (ids > 0)).sum())
        if scores[k] < score_threshold:
            decisions.append({**step, "kept": False, "reason": f"score {scores[k]:.2f} < {score_threshold}"})
            continue
        if area == 0 or taken / area > overlap_threshold:
            why = "empty mask" if area == 0 else f"{taken / area:.0%} already taken > {overlap_threshold:.0%}"
            decisions.append({**step, "kept": False, "reason": why})
            continue
        free = masks[k] & (ids == 0)
        sid = len(segments) + 1
        ids[free] = sid
        segments.append({"id": sid, "category_id": int(labels[k]), "iscrowd": 0, "isthing": True,
                         "area": int(free.sum()), "score": float(scores[k])})
        decisions.append({**step, "kept": True, "reason": f"{area - int(free.sum())} of {area} pixels already taken"})
    for c in np.unique(semantic[np.isin(semantic, list(stuff_ids))]).tolist():
        free = (semantic == c) & (ids == 0)
        step = {"kind": "stuff", "category_id": int(c), "area": int(free.sum())}
        if free.sum() < stuff_area or free.sum() == 0:
            decisions.append({**step, "kept": False, "reason": f"{int(free.sum())} free pixels < {stuff_area}"})
            continue
        sid = len(segments) + 1
        ids[free] = sid
        segments.append({"id": sid, "category_id": int(c), "iscrowd": 0, "isthing": False, "area": int(free.sum())})
        decisions.append({**step, "kept": True, "reason": f"{int(free.sum())} free pixels"})
    return ids, segments, decisions
