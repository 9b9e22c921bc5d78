"""``score coco-segm``: COCO instance masks -> mask AP exactly as ``COCOeval`` computes it (twelve statistics).

Ground truth: an instances JSON in the official format (``annotations/instances_val2017.json`` or a subset, read and
checked by :func:`course_lib.data.coco.read_instances`). Predictions: the official results format, one JSON list of
``{"image_id", "category_id", "segmentation": {"size": [h, w], "counts": "..."}, "score"}`` (compressed RLE as
``pycocotools.mask.encode`` writes it, or uncompressed RLE). Scored with ``pycocotools``' ``COCOeval`` (``iouType
"segm"``): IoU thresholds 0.50:0.05:0.95, 101 recall points, maxDets 1/10/100, crowd regions as ignore regions,
area ranges small < 32^2 <= medium < 96^2 <= large (:func:`course_lib.metrics.instance_ap.coco_evaluate`).

Every result must name an image and a category of the ground truth, and carry a finite score and an RLE of its
image's size whose runs cover the image: anything else is an error naming the entry (``pycocotools`` itself would
score a wrong image id as nothing and crash or read garbage on a malformed RLE).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from ..data.coco import check_rle, read_instances
from ..io.jsonfile import read_json
from ..metrics.instance_ap import COCO_STATS, coco_evaluate
from .common import Report, ScoreError

__all__ = ["read_results", "score_coco_segm"]


def read_results(path: str | os.PathLike, ground_truth: dict) -> list[dict]:
    """Read and check a COCO results JSON against ``ground_truth`` (a checked instances dict).

    Raises:
        ScoreError: naming the file and the first bad entry (its index, image id and what is wrong).
    """
    path = Path(path)
    try:
        data = read_json(path, "COCO results file")
    except (OSError, ValueError) as err:
        raise ScoreError(str(err)) from None
    if not isinstance(data, list):
        raise ScoreError(f"{path}: the results must be one JSON list of detections, got a {type(data).__name__}")
    images = {im["id"]: im for im in ground_truth["images"]}
    categories = {c["id"] for c in ground_truth["categories"]}
    out = []
    for i, entry in enumerate(data):
        where = f"{path}: entry {i}"
        if not isinstance(entry, dict):
            raise ScoreError(f"{where}: is not an object with image_id, category_id, segmentation and score")
        missing = [k for k in ("image_id", "category_id", "segmentation", "score") if k not in entry]
        if missing:
            raise ScoreError(f"{where}: has no {', '.join(missing)}")
        image_id, cat = entry["image_id"], entry["category_id"]
        where += f" (image_id {image_id!r})"
        if not isinstance(image_id, int) or isinstance(image_id, bool) or image_id not in images:
            raise ScoreError(f"{where}: image_id is not an image of the ground truth")
        if not isinstance(cat, int) or isinstance(cat, bool) or cat not in categories:
            raise ScoreError(f"{where}: category_id {cat!r} is not a category of the ground truth")
        score = entry["score"]
        if not isinstance(score, int | float) or isinstance(score, bool) or not math.isfinite(score):
            raise ScoreError(f"{where}: score must be a finite number, got {score!r}")
        if isinstance(entry["segmentation"], list):
            raise ScoreError(f"{where}: segmentation is a polygon; results need RLE ({{'size', 'counts'}}, "
                             "pycocotools.mask.encode)")
        image = images[image_id]
        try:
            rle = check_rle(entry["segmentation"], image["height"], image["width"])
        except ValueError as err:
            raise ScoreError(f"{where}: malformed RLE segmentation: {err}") from None
        out.append({"image_id": image_id, "category_id": cat, "score": float(score),
                    "segmentation": {"size": rle["size"], "counts": rle["counts"].decode("ascii")}})
    return out


def score_coco_segm(gt_path: str | os.PathLike, pred_path: str | os.PathLike) -> Report:
    """Score a COCO results file against an instances JSON with ``COCOeval`` (``segm``).

    Args:
        gt_path: the ground-truth instances JSON.
        pred_path: the results JSON list.

    Returns:
        A report: one row per category with ground truth (its AP), the twelve statistics overall (:data:`COCO_STATS`
        as the JSON keys), and the numbers of images and detections.

    Raises:
        ScoreError: unreadable or malformed files; results naming unknown images or categories, malformed RLE.
    """
    try:
        gt = read_instances(gt_path)
    except FileNotFoundError:
        raise ScoreError(f"{gt_path}: ground-truth file does not exist") from None
    except (OSError, ValueError) as err:
        raise ScoreError(str(err)) from None
    results = read_results(pred_path, gt)
    stats = coco_evaluate(gt, results, "segm")
    names = {c["id"]: c["name"] for c in gt["categories"]}
    items = [{"name": names[cat], "category_id": cat, "AP": ap} for cat, ap in stats["per_category"].items()]
    overall = {"images": len(gt["images"]), "detections": len(results), **{k: stats[k] for k in COCO_STATS}}
    notes = ["COCOeval (pycocotools), iouType segm: AP over IoU 0.50:0.05:0.95 and 101 recall points, maxDets 100 "
             "(AR1/AR10/AR100: 1/10/100); crowd regions are ignore regions; categories without ground truth are left "
             "out; -1 where nothing is averaged (e.g. no large objects)"]
    return Report("coco-segm", items, overall, notes)
