"""Polyp-segmentation scores over thresholds: the protocol of PraNet's evaluation (``eval/main.m``).

Introduced in Chapter 3 (U-Net on Kvasir-SEG). PraNet, HarDNet-MSEG and the papers that copy their tables do not
threshold the predicted probability map once at 0.5. PraNet's MATLAB evaluation, for each image:

1. reads the ground truth as ``gray > 128`` and the prediction's first channel as ``im2double`` (``value / 255``);
2. stretches the map to [0, 1] (``mapminmax``: ``(p - min) / (max - min)``; a constant map is left as it is);
3. binarises it at each of the 256 thresholds ``1, 254/255, ..., 1/255, 0`` (``p >= t``) and computes Dice
   ``2 |P & G| / (|P| + |G|)`` and IoU ``|P & G| / |P | G|`` at each, **0 when the intersection is empty** (also when
   both masks are empty: ``Fmeasure_calu``);

then averages each threshold's score over the images (a curve of 256 values) and reports the mean of that curve
("meanDic", the number in the papers' tables) and its maximum ("maxDic"). The Python port ``py_sod_metrics``
(PySODMetrics, ``FmeasureV2`` with a ``DICEHandler``) computes the same curve from 8-bit maps. Comparing
thresholds here is exact (``p * 255 >= k``, with a 1e-9 tolerance for rounding), as MATLAB's comparison of the
stretched map intends.

Example:
    >>> prob = torch.tensor([[0.0, 0.2], [0.6, 1.0]]); target = torch.tensor([[0, 0], [1, 1]]).bool()
    >>> curve = dice_over_thresholds(prob, target)
    >>> curve.shape, float(curve[0]), float(curve[255])  # threshold 0: all foreground; threshold 1: one pixel
    (torch.Size([256]), 0.6666666666666666, 0.6666666666666666)
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["dice_over_thresholds", "iou_over_thresholds", "pranet_normalize", "threshold_counts"]


def pranet_normalize(prob: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Stretch a probability map to [0, 1] as PraNet's evaluation does (MATLAB ``mapminmax``).

    Args:
        prob: values in [0, 1] (an 8-bit map divided by 255).

    Returns:
        ``float64`` tensor; ``(p - min) / (max - min)``, or ``p`` unchanged when the map is constant.

    Example:
        >>> pranet_normalize(torch.tensor([0.25, 0.5, 0.75])).tolist()
        [0.0, 0.5, 1.0]
    """
    p = torch.as_tensor(prob).double()
    lo, hi = p.min(), p.max()
    return (p - lo) / (hi - lo) if hi > lo else p


def threshold_counts(prob: torch.Tensor | np.ndarray, target: torch.Tensor | np.ndarray, n: int = 256
                     ) -> tuple[torch.Tensor, torch.Tensor, int]:
    """True and predicted positives of one image at the thresholds ``k / (n - 1)``, ``k = 0 .. n - 1``.

    Args:
        prob: ``[H, W]`` map in [0, 1] (already normalised as wanted).
        target: ``[H, W]`` booleans.
        n: number of thresholds (256: every 8-bit level).

    Returns:
        ``(tp [n], predicted [n], |target|)``: at threshold ``k / (n - 1)`` a pixel is foreground when
        ``prob >= k / (n - 1)``.
    """
    p = torch.as_tensor(prob).double().reshape(-1)
    t = torch.as_tensor(target).bool().reshape(-1)
    if p.numel() != t.numel():
        raise ValueError(f"probability map {tuple(torch.as_tensor(prob).shape)} and target "
                         f"{tuple(torch.as_tensor(target).shape)} differ in size")
    if p.numel() and (p.min() < 0 or p.max() > 1 or torch.isnan(p).any()):
        raise ValueError("probability map values must lie in [0, 1]")
    # the number of thresholds a pixel passes: all k with k <= p * (n - 1)
    level = torch.floor(p * (n - 1) + 1e-9).long().clamp(0, n - 1)
    hist_all = torch.bincount(level, minlength=n)
    hist_fg = torch.bincount(level[t], minlength=n)
    # pixels at level >= k, for k = 0 .. n - 1 (a reversed cumulative sum)
    predicted = hist_all.flip(0).cumsum(0).flip(0)
    tp = hist_fg.flip(0).cumsum(0).flip(0)
    return tp, predicted, int(t.sum())


def _curve(prob, target, n: int, normalize: bool, iou: bool) -> torch.Tensor:
    p = pranet_normalize(prob) if normalize else torch.as_tensor(prob).double()
    tp, predicted, positives = threshold_counts(p, target, n)
    tp, predicted = tp.double(), predicted.double()
    denominator = predicted + positives - tp if iou else predicted + positives
    score = (tp if iou else 2 * tp) / denominator.clamp(min=1)
    return torch.where(tp > 0, score, torch.zeros_like(score))


def dice_over_thresholds(prob: torch.Tensor | np.ndarray, target: torch.Tensor | np.ndarray, n: int = 256,
                         normalize: bool = True) -> torch.Tensor:
    """Dice of one image at ``n`` thresholds, as PraNet's evaluation computes it (see the module docstring).

    Average the curves of all images, then take the mean ("meanDic") or the maximum ("maxDic") over thresholds.

    Args:
        prob: ``[H, W]`` predicted probabilities in [0, 1].
        target: ``[H, W]`` true mask (booleans).
        n: number of thresholds, ``k / (n - 1)`` for ``k = 0 .. n - 1`` (ascending).
        normalize: stretch ``prob`` to [0, 1] first (:func:`pranet_normalize`), as PraNet does.

    Returns:
        ``float64 [n]``: Dice at each threshold; 0 where prediction and truth share no pixel.
    """
    return _curve(prob, target, n, normalize, iou=False)


def iou_over_thresholds(prob: torch.Tensor | np.ndarray, target: torch.Tensor | np.ndarray, n: int = 256,
                        normalize: bool = True) -> torch.Tensor:
    """IoU of one image at ``n`` thresholds, as PraNet's evaluation computes it ("meanIoU" after averaging)."""
    return _curve(prob, target, n, normalize, iou=True)
