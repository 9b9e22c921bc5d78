"""``score kitti-flow``: 16-bit KITTI flow PNGs against ``flow_occ`` or ``flow_noc`` -> EPE and Fl-all.

As the KITTI development kit computes them (``cpp/io_flow.h`` and ``evaluate_flow.cpp`` / ``evaluate_scene_flow.cpp``):

1. the estimate's invalid pixels are filled first (``FlowImage::interpolateBackground``): along each row, a gap
   between two valid pixels takes the smaller of their two flows (per component), gaps at the row's ends take the
   nearest valid flow; rows without any valid pixel take the nearest such row above or below
   (:func:`interpolate_background`). ``density`` reports how many ground-truth pixels the estimate itself covered;
2. at every pixel with valid ground truth: end-point error ``|F_est - F_gt|`` and the outlier rule of KITTI 2015,
   EPE > 3 px **and** > 5 % of ``|F_gt|`` (:func:`course_lib.metrics.flow.flow_outliers`);
3. ``fl_all``: outliers of all images / valid pixels of all images, in % (the 2015 kit sums its counts over the set);
   ``epe``: each image's mean EPE over its valid pixels, then the mean over images (the 2012 kit's
   ``flowErrorsAverage`` and ``statMean``; RAFT and torchvision report this one); ``epe_pixels``: the mean over all
   valid pixels of the set, for comparison.

Files: ``--gt`` is the ``flow_occ`` (all pixels, "Fl-all") or ``flow_noc`` (non-occluded) folder of
``NNNNNN_10.png``; ``--pred`` holds the estimates under the same names, 16-bit RGB as the benchmark requires.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .common import Report, ScoreError, collect, pair_files

__all__ = ["interpolate_background", "score_kitti_flow"]


def interpolate_background(flow: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fill the invalid pixels of a flow estimate as the KITTI devkit does before scoring it.

    Args:
        flow: ``[H, W, 2]`` estimate (values at invalid pixels are ignored unless nothing fills them).
        valid: ``bool [H, W]``.

    Returns:
        ``(filled flow, filled validity)``; pixels of rows that lie between rows without any valid pixel stay as
        they were (the devkit extrapolates up and down only from the first and last row that has one).

    Example:
        >>> f = np.zeros((1, 5, 2), np.float32); f[0, 1] = (3, 1); f[0, 3] = (2, 4)
        >>> v = np.array([[False, True, False, True, False]])
        >>> interpolate_background(f, v)[0][0, :, 0].tolist()  # left edge, gap: min(3, 2), right edge
        [3.0, 3.0, 2.0, 2.0, 2.0]
    """
    f, v = flow.astype(np.float32).copy(), np.asarray(valid, bool).copy()
    h, w = v.shape
    cols = np.broadcast_to(np.arange(w), (h, w))
    last = np.maximum.accumulate(np.where(v, cols, -1), axis=1)  # nearest valid column to the left (or itself)
    nxt = np.minimum.accumulate(np.where(v, cols, w)[:, ::-1], axis=1)[:, ::-1]  # ... to the right
    rows = np.arange(h)[:, None]
    left = f[rows, np.clip(last, 0, w - 1)]
    right = f[rows, np.clip(nxt, 0, w - 1)]
    has_left, has_right = (last >= 0)[..., None], (nxt < w)[..., None]
    fill = np.where(has_left & has_right, np.minimum(left, right), np.where(has_left, left, right))
    any_valid = v.any(axis=1)
    todo = ~v & any_valid[:, None]
    f[todo] = fill[todo]
    v[any_valid] = True
    full = np.flatnonzero(any_valid)
    if full.size:
        f[:full[0]], v[:full[0]] = f[full[0]], True
        f[full[-1] + 1:], v[full[-1] + 1:] = f[full[-1]], True
    return f, v


def _read(path: Path, what: str) -> tuple[np.ndarray, np.ndarray]:
    from ..io.flow import read_kitti_flow

    try:
        return read_kitti_flow(path)
    except (OSError, ValueError) as err:
        raise ScoreError(f"{err} ({what})") from None


def score_kitti_flow(gt_dir: str | os.PathLike, pred_dir: str | os.PathLike, ids: list[str] | None = None) -> Report:
    """Score the flow PNGs under ``pred_dir`` against the ground truth of ``gt_dir`` (``flow_occ`` or ``flow_noc``).

    Raises:
        ScoreError: missing or extra files, sizes that differ, 8-bit or otherwise unreadable PNGs, ground truth
            without a valid pixel.
    """
    import torch

    from ..metrics.flow import FlowMetrics

    gt_path = Path(gt_dir)
    if any((gt_path / sub).is_dir() for sub in ("flow_occ", "flow_noc")):
        raise ScoreError(f"{gt_path}: holds flow_occ/ and flow_noc/; pass one of them as --gt (flow_occ: Fl-all)")
    gt = collect(gt_dir, ("*_10.png",), "gt flow")
    pred = collect(pred_dir, ("*.png",), "pred flow")
    pairs = pair_files(gt, pred, pred_dir, ids)
    total, items, covered = FlowMetrics(), [], 0
    for name, g, p in pairs:
        flow_gt, valid_gt = _read(g, "ground truth")
        flow_est, valid_est = _read(p, "prediction")
        if flow_gt.shape != flow_est.shape:
            raise ScoreError(f"{p}: estimate is {flow_est.shape[1]}x{flow_est.shape[0]} (WxH), its ground truth {g} "
                             f"is {flow_gt.shape[1]}x{flow_gt.shape[0]}; KITTI scores estimates at full resolution")
        if not valid_gt.any():
            raise ScoreError(f"{g}: ground truth has no valid pixel")
        filled, _ = interpolate_background(flow_est, valid_est)
        one = FlowMetrics()
        args = (torch.from_numpy(filled).permute(2, 0, 1)[None], torch.from_numpy(flow_gt).permute(2, 0, 1)[None],
                torch.from_numpy(valid_gt)[None])
        one.update(*args)
        total.update(*args)
        covered += int((valid_gt & valid_est).sum())
        r = one.compute()
        items.append({"name": name, "epe": r["epe"], "fl_all": r["fl_all"], "pixels": r["pixels"],
                      "density": float((valid_gt & valid_est).sum() / valid_gt.sum())})
    r = total.compute()
    overall = {"pairs": len(items), "epe": r["epe_per_image"], "epe_pixels": r["epe"], "fl_all": r["fl_all"],
               "pixels": r["pixels"], "density": covered / r["pixels"]}
    notes = [f"KITTI devkit: estimate gaps filled (interpolateBackground); ground truth {gt_path.name}; fl_all = "
             "outliers (EPE > 3 px and > 5 % of |F_gt|) of all pixels, in %; epe = mean over images of each image's "
             "mean EPE; epe_pixels = mean over all valid pixels"]
    return Report("kitti-flow", items, overall, notes)
