"""``score panoptic``: COCO panoptic format in (JSON + PNG folder, for ground truth and prediction), PQ/SQ/RQ out.

The protocol of the COCO panoptic evaluation (``panopticapi/evaluation.py``, Kirillov et al. arXiv:1801.00868), as
:mod:`course_lib.metrics.panoptic` computes it: IoU > 0.5 matches within a category, void pixels left out of the
union, a predicted segment more than half on void or crowd is no false positive, statistics added over the whole
set, PQ/SQ/RQ per category, then the means over All, Things and Stuff (categories without ground truth or
prediction left out). Printed: one row per category, the three summary rows, and the JSON line last.

Bad input is an error naming the file, the image and the segment: a prediction JSON without an image of the ground
truth (or with an extra one), a missing or unreadable PNG, an id in a PNG without a ``segments_info`` entry or the
reverse, an unknown ``category_id``, sizes that differ. Everything is scored in one process.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .common import Report, ScoreError

__all__ = ["score_panoptic"]


def _read_png(folder: Path, annotation: dict, what: str) -> np.ndarray:
    from ..io.panoptic import read_panoptic_png

    path = folder / annotation["file_name"]
    try:
        return read_panoptic_png(path)
    except (OSError, ValueError) as err:
        raise ScoreError(f"{err} ({what} of image {annotation['image_id']})") from None


def score_panoptic(gt_json: str | os.PathLike, gt_dir: str | os.PathLike, pred_json: str | os.PathLike,
                   pred_dir: str | os.PathLike) -> Report:
    """Score predicted panoptic segmentations against ground truth, both in COCO panoptic format.

    Args:
        gt_json: the ground-truth JSON (with ``categories``), e.g. ``annotations/panoptic_val2017.json``.
        gt_dir: its PNG folder, e.g. ``annotations/panoptic_val2017``.
        pred_json: the predictions' JSON (``annotations`` with ``image_id``, ``file_name``, ``segments_info``).
        pred_dir: the predictions' PNG folder.

    Raises:
        ScoreError: see the module's documentation; the message names the file, the image and the segment.

    Example:
        >>> report = score_panoptic("panoptic_val2017.json", "panoptic_val2017", "pred.json", "pred")  # doctest: +SKIP
        >>> report.overall["All"]["pq"]  # doctest: +SKIP
    """
    from ..data.coco_panoptic import check_png_segments, read_panoptic_json
    from ..metrics.panoptic import pq_stats, pq_summary

    gt_dir, pred_dir = Path(gt_dir), Path(pred_dir)
    try:
        gt = read_panoptic_json(gt_json)
        pred = read_panoptic_json(pred_json, need_categories=False)
    except (OSError, ValueError) as err:
        raise ScoreError(str(err)) from None
    for folder, what in ((gt_dir, "ground-truth"), (pred_dir, "prediction")):
        if not folder.is_dir():
            raise ScoreError(f"{folder}: {what} PNG folder does not exist" if not folder.exists()
                             else f"{folder}: is a file, expected the {what} PNG folder")
    missing = [i for i in gt.annotations if i not in pred.annotations]
    if missing:
        raise ScoreError(f"{pred.path}: no prediction for image {missing[0]} of {gt.path} ({len(missing)} of "
                         f"{len(gt.annotations)} images have none)")
    extra = [i for i in pred.annotations if i not in gt.annotations]
    if extra:
        raise ScoreError(f"{pred.path}: prediction for image {extra[0]}, which {gt.path} does not hold "
                         f"({len(extra)} such images)")
    cats = list(gt.categories.values())
    ids = [c.id for c in cats]
    stats = np.zeros((len(ids), 4))
    for image_id, g in gt.annotations.items():
        p = pred.annotations[image_id]
        for s in p["segments_info"]:
            if s["category_id"] not in gt.categories:
                raise ScoreError(f"{pred.path}: image {image_id}: segment {s['id']} has unknown category_id "
                                 f"{s['category_id']} (not in the categories of {gt.path})")
        gt_ids, pred_ids = _read_png(gt_dir, g, "ground truth"), _read_png(pred_dir, p, "prediction")
        try:
            check_png_segments(gt_ids, g["segments_info"], gt_dir / g["file_name"], image_id)
            check_png_segments(pred_ids, p["segments_info"], pred_dir / p["file_name"], image_id)
        except ValueError as err:
            raise ScoreError(str(err)) from None
        if gt_ids.shape != pred_ids.shape:
            raise ScoreError(f"{pred_dir / p['file_name']}: image {image_id}: prediction is {pred_ids.shape[1]}x"
                             f"{pred_ids.shape[0]} (WxH), its ground truth {gt_ids.shape[1]}x{gt_ids.shape[0]}")
        stats += pq_stats(gt_ids, g["segments_info"], pred_ids, p["segments_info"], ids)
    summary = pq_summary(stats, ids, [c.isthing for c in cats])
    items = [{"name": c.name, "kind": "thing" if c.isthing else "stuff", **summary["per_category"][c.id],
              "tp": int(stats[k, 1]), "fp": int(stats[k, 2]), "fn": int(stats[k, 3])}
             for k, c in enumerate(cats) if stats[k, 1:].sum() > 0]
    overall = {"images": len(gt.annotations), **{k: summary[k] for k in ("All", "Things", "Stuff")}}
    notes = [f"COCO panoptic evaluation over {len(gt.annotations)} images: match IoU > 0.5, void left out of the "
             f"union; PQ per category, then the mean over the {summary['All']['n']} categories with ground truth or "
             "prediction (All), its things and its stuff"]
    return Report("panoptic", items, overall, notes)
