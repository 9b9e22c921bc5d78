"""``score davis``: DAVIS semi-supervised video object segmentation results -> J, F and J&F as DAVIS reports them.

Ground truth: a DAVIS 2016 or 2017 folder (:mod:`course_lib.data.davis`). Results: the DAVIS submission layout,
``RESULTS_DIR/<seq>/NNNNN.png`` for every annotated frame (the first and last may be absent: they are not
scored), of the ground truth's size:

* 2017: indexed PNGs (palette or grey) whose values are the object ids of the first frame's annotation
  (0 background); an id above the sequence's number of objects is an error, as in the official code; objects the
  results never mention count as empty masks;
* 2016: one object: grey 0/255 masks (object above 127) or palette PNGs (object = index above 0); a grey mask
  holding only 0 and 1 is an error (store 0/255).

The protocol (:mod:`course_lib.metrics.video`): frames 1 .. n-2, void pixels as background, per-object Mean,
Recall and Decay of J and F, global numbers averaged over objects. Rows are per object (``<seq>_<id>``, as the
official per-sequence table); ``sequences`` gives each sequence's J&F (mean over its objects).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..data.davis import DAVIS
from ..data.video import VOID
from ..io.images import open_image
from .common import Report, ScoreError

__all__ = ["read_result", "score_davis"]


def read_result(path: Path, *, binary: bool) -> np.ndarray:
    """One result PNG as object ids ``uint8 [H, W]`` (2016, ``binary``: 0/1)."""
    try:
        img = open_image(path, "result mask")
    except FileNotFoundError:
        raise ScoreError(f"{path}: result mask is missing (results must hold <seq>/NNNNN.png for every annotated "
                         "frame but the first and the last)") from None
    except (OSError, ValueError) as err:
        raise ScoreError(str(err)) from None
    if img.format != "PNG":
        raise ScoreError(f"{path}: result is a {img.format} file; DAVIS results are PNGs (lossless object ids)")
    if img.mode not in ("P", "L", "1"):
        raise ScoreError(f"{path}: result is a {img.mode} image; expected an indexed PNG (palette or 8-bit grey "
                         "object ids)")
    a = np.asarray(img, np.uint8)
    if not binary:
        return a.copy()
    if img.mode == "L":
        if a.max() == 1:
            raise ScoreError(f"{path}: DAVIS 2016 result holds only 0 and 1; store binary masks as 0/255")
        return (a > 127).astype(np.uint8)
    return (a > 0).astype(np.uint8)


def _sequence(seq, pred_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    indices = seq.annotated_indices
    if len(indices) < 3:
        raise ScoreError(f"{seq.annotations[indices[0]].parent}: {len(indices)} annotated frame(s); the "
                         "semi-supervised protocol needs at least 3 (it scores frames 1 .. n-2)")
    first = seq.labels(indices[0])
    ids = list(range(1, int(np.where(first == VOID, 0, first).max()) + 1))
    scored = indices[1:-1]
    truth = np.zeros((len(ids), len(scored), *first.shape), bool)
    pred = np.zeros_like(truth)
    for i, index in enumerate(scored):
        labels = seq.labels(index)
        if labels.shape != first.shape:
            raise ScoreError(f"{seq.annotations[index]}: annotation is {labels.shape[::-1]}, the first "
                             f"{first.shape[::-1]} (W x H)")
        result_path = pred_dir / seq.name / f"{seq.annotations[index].stem}.png"
        result = read_result(result_path, binary=seq.binary)
        if result.shape != labels.shape:
            raise ScoreError(f"{result_path}: result is {result.shape[1]}x{result.shape[0]} (WxH), the annotation "
                             f"{labels.shape[1]}x{labels.shape[0]}")
        top = int(result.max())
        if top > len(ids):
            raise ScoreError(f"{result_path}: object id {top} in the result, but {seq.name} has {len(ids)} "
                             "object(s) in its first frame")
        for k, obj in enumerate(ids):
            truth[k, i] = labels == obj
            pred[k, i] = result == obj
    return pred, truth


def score_davis(gt_dir: str | os.PathLike, pred_dir: str | os.PathLike, *, year: str | None = None,
                sequences: Sequence[str] | None = None, split: str | None = None,
                resolution: str = "480p") -> Report:
    """Score DAVIS results with the semi-supervised protocol.

    Args:
        gt_dir: the DAVIS folder (``Annotations/<resolution>/<seq>/``).
        pred_dir: the results folder (``<seq>/NNNNN.png``).
        year: ``"2016"`` or ``"2017"``; ``None``: told by the annotations.
        sequences: only these sequences.
        split: the sequences of ``ImageSets`` (``"val"``); ``None``: every annotated sequence on disk.
        resolution: ``"480p"`` or ``"Full-Resolution"``.

    Raises:
        ScoreError: a missing folder, sequence or result file, sizes that differ, ids above the number of objects.
    """
    from ..metrics.video import global_scores, sequence_scores

    pred_dir = Path(pred_dir)
    if not pred_dir.is_dir():
        raise ScoreError(f"{pred_dir}: results folder does not exist" if not pred_dir.exists()
                         else f"{pred_dir}: is a file, expected the results folder (<seq>/NNNNN.png)")
    try:
        davis = DAVIS(gt_dir, year=year, split=split, resolution=resolution, sequences=sequences)
    except (OSError, ValueError, KeyError) as err:
        raise ScoreError(str(err)) from None
    if davis.missing:
        raise ScoreError(f"{davis.root}: sequence(s) {davis.missing[:5]} are not in Annotations/{resolution}/")
    if not len(davis):
        raise ScoreError(f"{davis.root}: no annotated sequence to score")
    items, per_sequence = [], {}
    for seq in davis:
        if not (pred_dir / seq.name).is_dir():
            raise ScoreError(f"{pred_dir / seq.name}: results of sequence {seq.name} are missing")
        try:
            pred, truth = _sequence(seq, pred_dir)
        except (OSError, ValueError) as err:
            raise ScoreError(str(err)) from None
        rows = sequence_scores(pred, truth, semi_supervised=False)  # frames 1..n-2 are already selected
        for k, row in enumerate(rows, start=1):
            items.append({"name": f"{seq.name}_{k}", **{key: v for key, v in row.items() if key not in ("J", "F")}})
        per_sequence[seq.name] = float(np.mean([r["J&F-Mean"] for r in rows])) if rows else float("nan")
    overall = {**global_scores(items), "objects": len(items), "sequences": per_sequence}
    notes = [f"DAVIS {davis.year} semi-supervised, {resolution}: frames 1..n-2 of each sequence (first and last "
             "left out), void = background",
             "J = region IoU; F = boundary F-measure within ceil(0.008 x diagonal) px; Mean, Recall (> 0.5), Decay "
             "(first minus last quarter) per object; global = mean over objects; J&F-Mean = (J-Mean + F-Mean) / 2"]
    return Report(f"davis/{davis.year}", items, overall, notes)
