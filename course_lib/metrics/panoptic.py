"""Panoptic quality (PQ = SQ x RQ) as the COCO panoptic evaluation defines it, and video PQ (VPQ) on top of it.

Introduced in Chapter 11 (Kirillov et al., *Panoptic Segmentation*, arXiv:1801.00868; the reference evaluator is
``cocodataset/panopticapi``'s ``evaluation.py``). Per image, with the ground-truth and predicted segment maps:

- a predicted segment matches a ground-truth segment of the **same category** when their **IoU > 0.5** (such
  matches are unique, so no assignment is needed); crowd ground truth is never matched;
- the IoU's union leaves out the predicted pixels that fall on **void** ground truth (id 0):
  ``union = |pred| + |gt| - |pred & gt| - |pred & void|``;
- an unmatched ground-truth segment that is not crowd is a **false negative**; an unmatched predicted segment is a
  **false positive unless more than half of it** lies on void or on crowd regions of its own category;
- per category over the whole set: ``PQ = sum IoU(TP) / (TP + FP/2 + FN/2)``, ``SQ = sum IoU(TP) / TP``,
  ``RQ = TP / (TP + FP/2 + FN/2)``; categories with no TP, FP or FN are left out; All, Things and Stuff are the
  plain means over their categories (so mean PQ is not mean SQ x mean RQ).

Here one image is one intersection table (``np.bincount`` over pairs of ids), so nothing loops over segments in
Python and the whole set is scored in one process. One difference from panopticapi, which takes one crowd region
per category (a dict keeps the last one): overlaps with *all* crowd regions of the category count (COCO stores at
most one per category and image, so the numbers agree).

VPQ (Kim et al., *Video Panoptic Segmentation*, arXiv:2006.11339): the frames of a window of ``k`` consecutive
annotated frames are stacked into one volume, so a segment is a spatio-temporal tube (its id must stay the same
over time) and a tube matches only when IoU > 0.5 over the whole window; statistics add up over all windows of all
videos, VPQ^k is their PQ, and VPQ is the mean over the window sizes (1..4 annotated frames, k = 0, 5, 10, 15 frames
in Cityscapes-VPS).

Example:
    >>> gt = np.array([[1, 1, 2, 2]]); pred = np.array([[5, 5, 5, 6]])
    >>> segs = [{"id": 1, "category_id": 0}, {"id": 2, "category_id": 1}]
    >>> pseg = [{"id": 5, "category_id": 0}, {"id": 6, "category_id": 1}]
    >>> stats = pq_stats(gt, segs, pred, pseg, [0, 1])
    >>> stats.tolist()  # per category: IoU sum, TP, FP, FN
    [[0.6666666666666666, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]]
    >>> round(pq_summary(stats, [0, 1], [True, False])["All"]["pq"], 4)
    0.3333
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["panoptic_quality", "pq_stats", "pq_summary", "video_pq_stats", "vpq"]


def _lookup(ids: np.ndarray, segments: Sequence[dict], index: dict[int, int], what: str):
    """Category index and crowd flag of each id in ``ids`` (0 = void: -1); errors name the segment."""
    info = {}
    for s in segments:
        if s["category_id"] not in index:
            raise ValueError(f"{what} segment {s['id']} has unknown category_id {s['category_id']}")
        info[int(s["id"])] = (index[s["category_id"]], int(s.get("iscrowd", 0)))
    cat, crowd = np.full(len(ids), -1, np.int64), np.zeros(len(ids), bool)
    for j, sid in enumerate(ids.tolist()):
        if sid == 0:
            continue
        if sid not in info:
            raise ValueError(f"{what} segment {sid} is in the map but not in segments_info")
        cat[j], crowd[j] = info[sid]
    absent = set(info) - set(ids.tolist())
    if absent:
        raise ValueError(f"{what} segment {min(absent)} of segments_info is not in the map ({len(absent)} such ids)")
    return cat, crowd


def pq_stats(gt_ids: np.ndarray, gt_segments: Sequence[dict], pred_ids: np.ndarray, pred_segments: Sequence[dict],
             category_ids: Sequence[int]) -> np.ndarray:
    """Per-category ``[IoU sum, TP, FP, FN]`` of one image (or one stacked video window), ``float64 [K, 4]``.

    Args:
        gt_ids, pred_ids: segment ids of the same shape (0 = void), e.g. from
            :func:`course_lib.io.panoptic.read_panoptic_png`.
        gt_segments, pred_segments: their ``segments_info`` (``id``, ``category_id``, ``iscrowd``).
        category_ids: the categories, in the order of the rows.

    Raises:
        ValueError: shapes differ; an id of a map without an entry, an entry without pixels, an unknown category
            (the message names the segment).
    """
    gt_ids, pred_ids = np.asarray(gt_ids), np.asarray(pred_ids)
    if gt_ids.shape != pred_ids.shape:
        raise ValueError(f"prediction has shape {pred_ids.shape}, the ground truth {gt_ids.shape}")
    index = {int(c): k for k, c in enumerate(category_ids)}
    num = len(index)
    g_u, p_u = np.unique(gt_ids), np.unique(pred_ids)  # a few ids: searchsorted beats unique's inverse (a sort)
    g_inv, p_inv = np.searchsorted(g_u, gt_ids.ravel()), np.searchsorted(p_u, pred_ids.ravel())
    g_cat, g_crowd = _lookup(g_u, gt_segments, index, "ground-truth")
    p_cat, _ = _lookup(p_u, pred_segments, index, "predicted")
    inter = np.bincount(g_inv.ravel() * len(p_u) + p_inv.ravel(), minlength=len(g_u) * len(p_u))
    inter = inter.reshape(len(g_u), len(p_u)).astype(np.int64)
    g_area, p_area = inter.sum(1), inter.sum(0)
    void = inter[0] if g_u[0] == 0 else np.zeros(len(p_u), np.int64)
    union = p_area[None, :] + g_area[:, None] - inter - void[None, :]
    iou = inter / np.maximum(union, 1)
    g_ok, p_ok = g_cat >= 0, p_cat >= 0
    match = (iou > 0.5) & (g_cat[:, None] == p_cat[None, :]) & (g_ok & ~g_crowd)[:, None] & p_ok[None, :]
    rows, cols = np.nonzero(match)
    stats = np.zeros((num, 4), np.float64)
    stats[:, 0] = np.bincount(g_cat[rows], weights=iou[rows, cols], minlength=num)
    stats[:, 1] = np.bincount(g_cat[rows], minlength=num)
    missed = g_ok & ~g_crowd & ~match.any(1)
    stats[:, 3] = np.bincount(g_cat[missed], minlength=num)
    same_crowd = (g_crowd & g_ok)[:, None] & (g_cat[:, None] == p_cat[None, :])
    ignored = void + (inter * same_crowd).sum(0)
    false = p_ok & ~match.any(0) & (ignored / np.maximum(p_area, 1) <= 0.5)
    stats[:, 2] = np.bincount(p_cat[false], minlength=num)
    return stats


def pq_summary(stats: np.ndarray, category_ids: Sequence[int], isthing: Sequence[bool]) -> dict:
    """PQ, SQ, RQ per category and their means over All, Things and Stuff, from :func:`pq_stats` summed over a set.

    Returns:
        ``{"All": {"pq", "sq", "rq", "n"}, "Things": ..., "Stuff": ..., "per_category": {id: {"pq", "sq", "rq"}}}``;
        a category without TP, FP or FN gets zeros and is left out of the means; a mean over no category is NaN.
    """
    stats = np.asarray(stats, np.float64)
    iou, tp, fp, fn = stats.T
    denom = tp + 0.5 * fp + 0.5 * fn
    seen = denom > 0
    safe = np.where(seen, denom, 1.0)
    pq, rq = np.where(seen, iou / safe, 0.0), np.where(seen, tp / safe, 0.0)
    sq = np.where(tp > 0, iou / np.maximum(tp, 1), 0.0)
    thing = np.asarray(isthing, bool)
    out = {}
    for name, keep in (("All", seen), ("Things", seen & thing), ("Stuff", seen & ~thing)):
        n = int(keep.sum())
        out[name] = {"pq": float(pq[keep].mean()) if n else float("nan"),
                     "sq": float(sq[keep].mean()) if n else float("nan"),
                     "rq": float(rq[keep].mean()) if n else float("nan"), "n": n}
    out["per_category"] = {int(c): {"pq": float(pq[k]), "sq": float(sq[k]), "rq": float(rq[k])}
                           for k, c in enumerate(category_ids)}
    return out


def panoptic_quality(gt_ids, gt_segments, pred_ids, pred_segments, categories: Sequence[tuple[int, bool]]) -> dict:
    """:func:`pq_summary` of one image; ``categories`` is ``[(category id, isthing), ...]``."""
    ids = [c for c, _ in categories]
    return pq_summary(pq_stats(gt_ids, gt_segments, pred_ids, pred_segments, ids), ids, [t for _, t in categories])


def _merge(frames: Sequence[Sequence[dict]], what: str) -> list[dict]:
    merged: dict[int, dict] = {}
    for t, segments in enumerate(frames):
        for s in segments:
            old = merged.setdefault(int(s["id"]), s)
            if old["category_id"] != s["category_id"]:
                raise ValueError(f"{what} tube {s['id']} changes category from {old['category_id']} to "
                                 f"{s['category_id']} at frame {t}")
    return list(merged.values())


def video_pq_stats(gt_frames: Sequence[np.ndarray], gt_segments: Sequence[Sequence[dict]],
                   pred_frames: Sequence[np.ndarray], pred_segments: Sequence[Sequence[dict]],
                   category_ids: Sequence[int], window: int) -> np.ndarray:
    """``[IoU sum, TP, FP, FN]`` per category summed over every window of ``window`` consecutive frames of one
    video (stride 1), each window scored as one volume of spatio-temporal tubes (VPSNet's ``eval_vpq.py``).

    Args:
        gt_frames, pred_frames: segment ids per frame (a tube keeps its id over time).
        gt_segments, pred_segments: each frame's ``segments_info``.
        category_ids: the categories, in the order of the rows.
        window: annotated frames per window (1 is plain PQ over the frames).
    """
    n = len(gt_frames)
    if len(pred_frames) != n or len(gt_segments) != n or len(pred_segments) != n:
        raise ValueError(f"video has {n} ground-truth frames but {len(pred_frames)} predicted frames "
                         f"({len(gt_segments)} and {len(pred_segments)} segments_info)")
    if not 1 <= window <= n:
        raise ValueError(f"window must lie in 1..{n} (the number of frames), got {window}")
    stats = np.zeros((len(category_ids), 4))
    for start in range(n - window + 1):
        span = slice(start, start + window)
        stats += pq_stats(np.stack(gt_frames[span]), _merge(gt_segments[span], "ground-truth"),
                          np.stack(pred_frames[span]), _merge(pred_segments[span], "predicted"), category_ids)
    return stats


def vpq(videos: Sequence[tuple], category_ids: Sequence[int], isthing: Sequence[bool],
        windows: Sequence[int] = (1, 2, 3, 4)) -> dict:
    """VPQ over a set of videos: for each window size, :func:`pq_summary` of the window statistics added over all
    videos; ``"VPQ"`` is the mean of the All-PQs over the window sizes (Things and Stuff likewise).

    Args:
        videos: ``(gt_frames, gt_segments, pred_frames, pred_segments)`` per video.
        category_ids, isthing: the categories.
        windows: window sizes in annotated frames (VPSNet: 1, 2, 3, 4, i.e. k = 0, 5, 10, 15 frames).
    """
    per_window = {}
    for k in windows:
        total = sum(video_pq_stats(*v, category_ids, k) for v in videos if len(v[0]) >= k)
        if isinstance(total, int):
            raise ValueError(f"no video has {k} frames (window {k})")
        per_window[k] = pq_summary(total, category_ids, isthing)
    out = {name: float(np.mean([per_window[k][name]["pq"] for k in windows])) for name in ("All", "Things", "Stuff")}
    return {"VPQ": out["All"], "VPQ_things": out["Things"], "VPQ_stuff": out["Stuff"], "per_window": per_window}
