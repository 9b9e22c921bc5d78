"""J&F, the DAVIS measure of video object segmentation, as the DAVIS evaluation code defines it.

Introduced in Chapter 7. Perazzi et al., CVPR 2016 (region J and boundary F); Pont-Tuset et al.,
https://arxiv.org/abs/1704.00675 (the 2017 protocol: several objects, J&F = mean of J and F). The numbers follow
``davis2017-evaluation`` (``davis2017/metrics.py``, ``utils.db_statistics``, ``evaluation.py``) step by step:

* **J** (region similarity) of one object in one frame: ``|pred & truth| / |pred | truth|`` over the pixels not
  void, 1 when both are empty;
* **F** (contour accuracy): the boundary F-measure of :mod:`course_lib.metrics.boundary`: boundaries by
  ``seg2bmap`` (:func:`seg2bmap`, of the masks with void pixels removed), matched
  within a disk of radius ``ceil(0.008 * image diagonal)`` pixels (8 at 854 x 480); precision = matched predicted /
  predicted boundary pixels, recall = matched true / true; no predicted boundary but a true one gives F = 0 (and the
  reverse), none on either side F = 1. (The 2017 code dilates with OpenCV and a scikit-image disk and does not thin
  the boundaries; we dilate with OpenCV and the same disk too.)
* per object, over its frames: **Mean** (NaN frames skipped), **Recall** = fraction of frames above 0.5, **Decay** =
  mean of the first quarter of the frames minus mean of the last quarter (4 bins at ``round(linspace(1, n, 5))``);
* the **semi-supervised** protocol scores frames 1 .. n-2: the first frame (the given mask) and the last are left
  out; and it passes *no* void mask: DAVIS 2017's void pixels (255) are background in the truth (only the
  unsupervised protocol ignores them);
* the global numbers average over **objects** (all objects of all sequences alike), ``J&F = (J-Mean + F-Mean) / 2``.

Example:
    >>> t = np.zeros((1, 8, 8), bool); t[0, 2:6, 2:6] = True
    >>> p = np.roll(t, 1, axis=2)
    >>> round(float(region_similarity(p, t)[0]), 4), float(contour_accuracy(p, t)[0])
    (0.6, 1.0)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import cv2
import numpy as np
import torch

from .boundary import davis_tolerance

__all__ = ["BOUND_TH", "contour_accuracy", "davis_statistics", "f_measure", "global_scores", "region_similarity",
           "seg2bmap", "sequence_scores", "track_iou"]

#: DAVIS's boundary tolerance, a fraction of the image diagonal
BOUND_TH = 0.008


def _bool(a) -> np.ndarray:
    return (a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)).astype(bool)


def region_similarity(pred, truth, void=None) -> np.ndarray:
    """J per frame: ``[T]`` for masks ``[T, H, W]`` (or a 0-d array for ``[H, W]``); void pixels are ignored.

    Example:
        >>> region_similarity(np.zeros((2, 2)), np.zeros((2, 2))).item()
        1.0
    """
    p, t = _bool(pred), _bool(truth)
    if p.shape != t.shape:
        raise ValueError(f"prediction {p.shape} and truth {t.shape} differ in shape")
    keep = ~_bool(void) if void is not None else np.ones_like(t)
    inter = ((p & t) & keep).sum(axis=(-2, -1))
    union = ((p | t) & keep).sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        j = np.where(union == 0, 1.0, inter / np.maximum(union, 1))
    return np.asarray(j, np.float64)


def f_measure(pred, truth, void=None, bound_th: float = BOUND_TH) -> float:
    """F of one frame ``[H, W]`` (DAVIS's ``f_measure``): ``bound_th < 1`` is a fraction of the diagonal,
    ``>= 1`` a radius in pixels.

    Example:
        >>> m = np.zeros((10, 10), bool); m[3:7, 3:7] = True
        >>> f_measure(m, m), f_measure(np.zeros_like(m), m)
        (1.0, 0.0)
    """
    p, t = _bool(pred), _bool(truth)
    if p.shape != t.shape or p.ndim != 2:
        raise ValueError(f"f_measure needs two [H, W] masks of one shape, got {p.shape} and {t.shape}")
    if void is not None:
        keep = ~_bool(void)
        p, t = p & keep, t & keep
    radius = int(bound_th) if bound_th >= 1 else davis_tolerance(*t.shape, fraction=bound_th)
    bp, bt = seg2bmap(p), seg2bmap(t)
    n_p, n_t = int(bp.sum()), int(bt.sum())
    if n_p == 0 or n_t == 0:  # DAVIS: precision 1 / recall 0 (or the reverse) gives F = 0; both empty F = 1
        return float(n_p == n_t)
    disk = _disk(radius)  # OpenCV's dilation, as davis2017-evaluation (40x faster than a convolution at 480p)
    precision = int((bp & (cv2.dilate(bt.astype(np.uint8), disk) > 0)).sum()) / n_p
    recall = int((bt & (cv2.dilate(bp.astype(np.uint8), disk) > 0)).sum()) / n_t
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def seg2bmap(mask: np.ndarray) -> np.ndarray:
    """The boundary of a ``[H, W]`` mask as DAVIS's ``_seg2bmap`` (at the mask's own size) draws it: the pixels
    whose right, lower or lower-right neighbour differs; the NumPy twin of
    :func:`course_lib.metrics.boundary.boundary_map` (same pixels; NumPy is faster per frame at 480p).

    Example:
        >>> m = np.zeros((3, 3), bool); m[1, 1] = True
        >>> seg2bmap(m).astype(int).tolist()
        [[1, 1, 0], [1, 1, 0], [0, 0, 0]]
    """
    m = np.asarray(mask, bool)
    b = np.zeros_like(m)
    b[:, :-1] |= m[:, :-1] != m[:, 1:]
    b[:-1, :] |= m[:-1, :] != m[1:, :]
    b[:-1, :-1] |= m[:-1, :-1] != m[1:, 1:]
    return b


def _disk(radius: int) -> np.ndarray:
    """scikit-image's ``disk(radius)``: the pixels within ``radius`` of the centre, ``uint8 [2r+1, 2r+1]``."""
    r = np.arange(-radius, radius + 1)
    return ((r[:, None] ** 2 + r[None, :] ** 2) <= radius**2).astype(np.uint8)


def contour_accuracy(pred, truth, void=None, bound_th: float = BOUND_TH) -> np.ndarray:
    """F per frame ``[T]`` for masks ``[T, H, W]`` (void ``[T, H, W]`` or ``None``)."""
    p, t = _bool(pred), _bool(truth)
    if p.shape != t.shape or p.ndim != 3:
        raise ValueError(f"contour_accuracy needs two [T, H, W] mask stacks of one shape, got {p.shape}, {t.shape}")
    v = _bool(void) if void is not None else None
    return np.array([f_measure(p[i], t[i], None if v is None else v[i], bound_th) for i in range(len(t))],
                    np.float64)


def davis_statistics(per_frame: Sequence[float]) -> tuple[float, float, float]:
    """Mean, Recall (fraction of frames > 0.5) and Decay (first quarter minus last quarter) of one object.

    The four bins are DAVIS's: frame bounds ``round(linspace(1, n, 5)) - 1``, bin ``i`` from bound ``i`` to bound
    ``i + 1`` inclusive (neighbouring bins share a frame). NaN frames are skipped.

    Example:
        >>> davis_statistics([1.0, 1.0, 0.0, 0.0])
        (0.5, 0.5, 1.0)
    """
    v = np.asarray(per_frame, np.float64)
    if v.size == 0:
        return math.nan, math.nan, math.nan
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = float(np.nanmean(v))
        recall = float(np.nanmean(v > 0.5))
        ids = (np.round(np.linspace(1, len(v), 5) + 1e-10) - 1).astype(int)
        bins = [v[ids[i]:ids[i + 1] + 1] for i in range(4)]
        decay = float(np.nanmean(bins[0]) - np.nanmean(bins[3]))
    return mean, recall, decay


def sequence_scores(pred, truth, void=None, *, semi_supervised: bool = True,
                    bound_th: float = BOUND_TH) -> list[dict[str, float]]:
    """J and F statistics of every object of one sequence.

    Args:
        pred: predicted masks ``bool [K, T, H, W]`` (K objects; objects the prediction lacks must be all False).
        truth: true masks ``bool [K, T, H, W]``.
        void: ``bool [T, H, W]`` pixels to ignore, or ``None`` (the semi-supervised protocol passes none).
        semi_supervised: drop the first and the last frame.
        bound_th: see :func:`f_measure`.

    Returns:
        per object: ``J-Mean``, ``J-Recall``, ``J-Decay``, ``F-Mean``, ``F-Recall``, ``F-Decay``, ``J&F-Mean`` and
        the per-frame values under ``J`` and ``F``.
    """
    p, t = _bool(pred), _bool(truth)
    if p.shape != t.shape or p.ndim != 4:
        raise ValueError(f"sequence_scores needs [K, T, H, W] stacks of one shape, got {p.shape} and {t.shape}")
    v = _bool(void) if void is not None else None
    if semi_supervised:
        p, t = p[:, 1:-1], t[:, 1:-1]
        v = v[1:-1] if v is not None else None
    rows = []
    for k in range(t.shape[0]):
        j = region_similarity(p[k], t[k], v)
        f = contour_accuracy(p[k], t[k], v, bound_th)
        jm, jr, jd = davis_statistics(j)
        fm, fr, fd = davis_statistics(f)
        rows.append({"J-Mean": jm, "J-Recall": jr, "J-Decay": jd, "F-Mean": fm, "F-Recall": fr, "F-Decay": fd,
                     "J&F-Mean": (jm + fm) / 2, "J": j.tolist(), "F": f.tolist()})
    return rows


def global_scores(objects: Sequence[dict[str, float]]) -> dict[str, float]:
    """The global numbers of DAVIS: every statistic averaged over all objects, ``J&F-Mean = (J-Mean + F-Mean) / 2``.

    Example:
        >>> global_scores([{"J-Mean": 1.0, "F-Mean": 0.5}, {"J-Mean": 0.0, "F-Mean": 0.5}])["J&F-Mean"]
        0.5
    """
    keys = ("J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay")
    out = {k: float(np.mean([o[k] for o in objects])) if objects and k in objects[0] else math.nan for k in keys}
    return {"J&F-Mean": (out["J-Mean"] + out["F-Mean"]) / 2, **out}


def track_iou(pred: Sequence, truth: Sequence) -> float:
    """Spatio-temporal mask IoU of two tracks, the overlap YouTube-VIS's AP matches on (Chapter 8).

    L. Yang, Y. Fan, N. Xu, "Video Instance Segmentation", ICCV 2019, https://arxiv.org/abs/1905.04804: as
    ``iou_seq`` in the YouTube-VIS evaluation code (``ytvoseval.computeIoU``), the intersections of all frames are
    summed and divided by the summed unions; a frame where only one track has a mask adds that mask's area to the
    union; the IoU is 0 when both tracks are empty everywhere (unlike DAVIS's J, which gives 1 there).

    Args:
        pred: ``T`` masks ``[H, W]`` (``None`` where the track is absent) or ``bool [T, H, W]``.
        truth: the same for the ground-truth track.

    Example:
        >>> g = np.zeros((2, 4, 4), bool); g[:, :2, :2] = True          # 4 pixels in each of 2 frames
        >>> track_iou([g[0], None], g)                                   # frame 1 missed: 4 / (4 + 4)
        0.5
    """
    if len(pred) != len(truth):
        raise ValueError(f"track_iou: the tracks have {len(pred)} and {len(truth)} frames")
    inter = union = 0
    for d, g in zip(pred, truth, strict=True):
        d = None if d is None else _bool(d)
        g = None if g is None else _bool(g)
        if d is not None and g is not None:
            if d.shape != g.shape:
                raise ValueError(f"track_iou: masks of {d.shape} and {g.shape} in one frame")
            inter += int((d & g).sum())
            union += int((d | g).sum())
        elif d is not None or g is not None:
            union += int((d if d is not None else g).sum())
    return inter / union if union else 0.0
