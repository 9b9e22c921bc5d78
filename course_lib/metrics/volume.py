"""Metrics of volumetric region segmentation (Chapter 3, BraTS): Dice and HD95 per region, BraTS conventions.

Introduced in Chapter 3 (3D U-Net on BraTS). The BraTS challenge scores each case and each region (WT, TC, ET)
separately, with conventions for empty regions: both prediction and ground truth empty gives Dice 1 and HD95 0;
exactly one empty gives Dice 0 and HD95 :data:`BRATS_MAX_DISTANCE` (the diagonal of the BraTS volume, in mm).
:func:`hd95_per_region` uses MONAI's ``compute_hausdorff_distance``; the tests check :func:`dice_per_region`
against MONAI's ``compute_dice``.

Example:
    >>> p = torch.zeros(2, 4, 4, 4, dtype=torch.bool); p[0, 1, 1, 1] = True
    >>> dice_per_region(p, p)
    [1.0, 1.0]
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

__all__ = ["BRATS_MAX_DISTANCE", "dice_per_region", "hd95_per_region"]

#: HD95 given to a region that is empty in exactly one of prediction and ground truth (BraTS convention, mm).
BRATS_MAX_DISTANCE = 373.13


def dice_per_region(pred: torch.Tensor | np.ndarray, target: torch.Tensor | np.ndarray) -> list[float]:
    """Dice of each region of one case: ``2 |P & T| / (|P| + |T|)``, 1.0 when both are empty (BraTS convention).

    Args:
        pred: ``[R, *spatial]`` booleans (thresholded prediction).
        target: ``[R, *spatial]`` booleans.

    Raises:
        ValueError: ``pred`` and ``target`` differ in shape.

    Example:
        >>> p = torch.tensor([[1, 1, 0, 0], [0, 0, 0, 0]]).bool(); t = torch.tensor([[1, 0, 0, 0], [0, 0, 0, 0]]).bool()
        >>> [round(d, 3) for d in dice_per_region(p, t)]
        [0.667, 1.0]
    """
    p, t = torch.as_tensor(pred).bool(), torch.as_tensor(target).bool()
    if p.shape != t.shape:
        raise ValueError(f"prediction {tuple(p.shape)} and target {tuple(t.shape)} differ in shape")
    out = []
    for r in range(p.shape[0]):
        inter = (p[r] & t[r]).sum().item()
        total = p[r].sum().item() + t[r].sum().item()
        out.append(1.0 if total == 0 else 2.0 * inter / total)
    return out


def hd95_per_region(pred: torch.Tensor | np.ndarray, target: torch.Tensor | np.ndarray,
                    spacing: tuple[float, ...] = (1.0, 1.0, 1.0)) -> list[float]:
    """95th percentile Hausdorff distance of each region (mm), computed by MONAI, with the BraTS conventions.

    Both empty: 0; exactly one empty: :data:`BRATS_MAX_DISTANCE`. Returns NaN for every region when MONAI is not
    installed (``pip install monai``).

    Args:
        pred: ``[R, *spatial]`` booleans.
        target: ``[R, *spatial]`` booleans.
        spacing: voxel size in mm per spatial axis.

    Raises:
        ValueError: ``pred`` and ``target`` differ in shape.

    Example:
        >>> t = torch.zeros(1, 9, 9, 9, dtype=torch.bool); t[0, 2:5, 2:5, 2:5] = True
        >>> hd95_per_region(t.roll(2, dims=1), t)  # doctest: +SKIP
        [2.0]
    """
    p, t = torch.as_tensor(pred).bool().cpu(), torch.as_tensor(target).bool().cpu()
    if p.shape != t.shape:
        raise ValueError(f"prediction {tuple(p.shape)} and target {tuple(t.shape)} differ in shape")
    try:
        from monai.metrics import compute_hausdorff_distance
    except ImportError:
        return [float("nan")] * p.shape[0]
    out = []
    for r in range(p.shape[0]):
        has_p, has_t = bool(p[r].any()), bool(t[r].any())
        if not has_p and not has_t:
            out.append(0.0)
        elif has_p != has_t:
            out.append(BRATS_MAX_DISTANCE)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # MONAI's deprecation notices about its own internals
                d = compute_hausdorff_distance(p[r][None, None], t[r][None, None], include_background=True,
                                               percentile=95, spacing=list(spacing))
            out.append(float(d.reshape(-1)[0]))
    return out
