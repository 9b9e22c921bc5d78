"""Losses of volumetric region segmentation (Chapter 3, BraTS): BCE + soft Dice per region, one sigmoid each.

Introduced in Chapter 3 (3D U-Net on BraTS). The BraTS regions WT, TC and ET are nested, not exclusive, so a
network predicts each with its own sigmoid (region-based training, as in nnU-Net for BraTS 2020 and Myronenko
2018) and the loss is the binary one of :mod:`course_lib.losses.segmentation`, applied per region.

Example:
    >>> x = torch.full((2, 3, 4, 4, 4), 20.0); t = torch.ones(2, 3, 4, 4, 4)
    >>> region_loss(x, t).item() < 1e-6
    True
"""

from __future__ import annotations

import torch

from .segmentation import bce_dice_loss

__all__ = ["region_loss"]


def region_loss(logits: torch.Tensor, target: torch.Tensor, bce_weight: float = 1.0,
                dice_weight: float = 1.0) -> torch.Tensor:
    """BCE + soft Dice for region outputs ``[N, R, *spatial]`` (one sigmoid per region).

    The Dice term is computed per region over the whole batch (a "batch Dice": a patch without enhancing tumour
    does not produce a meaningless 0/0 term) and averaged over the regions; the BCE is the mean over all voxels
    and regions. Targets may be soft (fractions from downsampling).

    Args:
        logits: ``[N, R, *spatial]`` raw scores.
        target: ``[N, R, *spatial]`` values in [0, 1].
        bce_weight, dice_weight: weights of the two terms.

    Raises:
        ValueError: ``logits`` and ``target`` differ in shape, or have fewer than three axes.

    Example:
        >>> x = torch.full((2, 3, 4, 4, 4), -20.0); t = torch.zeros(2, 3, 4, 4, 4)
        >>> region_loss(x, t).item() < 1e-6  # confident and right: nothing predicted, nothing there
        True
    """
    if logits.shape != target.shape or logits.ndim < 3:
        raise ValueError(f"region_loss expects logits and target of the same shape [N, R, ...], got "
                         f"{tuple(logits.shape)} and {tuple(target.shape)}")
    # regions first: each region becomes one "image" whose Dice is computed over the whole batch
    return bce_dice_loss(logits.transpose(0, 1), target.transpose(0, 1), bce_weight=bce_weight,
                         dice_weight=dice_weight, per_image=True)
