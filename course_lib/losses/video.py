"""The loss of OSVOS (Chapter 8): class-balanced binary cross-entropy, as in HED and OSVOS.

Caelles et al., "One-Shot Video Object Segmentation", CVPR 2017, https://arxiv.org/abs/1611.05198, eq. (1): an
object covers a few per cent of a frame, so plain cross-entropy learns "background everywhere". The foreground term
is weighted by ``beta = |Y-| / |Y|`` (the background fraction) and the background term by ``1 - beta``.

Example:
    >>> x = torch.zeros(1, 1, 2, 2); t = torch.tensor([[[1, 0], [0, 0]]])
    >>> round(balanced_bce_loss(x, t).item(), 4)  # beta = 3/4: (3/4 * log 2 * 1 + 1/4 * log 2 * 3) / 4
    0.2599
"""

from __future__ import annotations

import torch

from .segmentation import bce_loss

__all__ = ["balanced_bce_loss"]


def balanced_bce_loss(logits: torch.Tensor, target: torch.Tensor, ignore_index: int = 255) -> torch.Tensor:
    """OSVOS's class-balanced BCE on logits ``[N, 1, H, W]`` against ``{0, 1}`` targets ``[N, H, W]`` (pixels of
    ``ignore_index`` do not count), averaged over the counted pixels.

    Args:
        logits: raw scores.
        target: 1 object, 0 background, ``ignore_index`` void.
        ignore_index: the void value.
    """
    valid = target != ignore_index
    t = torch.where(valid, target, torch.zeros_like(target)).float()
    n = valid.sum().clamp(min=1)
    fg = (t * valid).sum()
    beta = (n - fg) / n  # the background fraction
    if fg == 0 or fg == n:
        return bce_loss(logits, t, valid)
    # beta * fg-term + (1 - beta) * bg-term == (1 - beta) * (pos_weight * fg-term + bg-term), pos_weight = beta/(1-b)
    return (1 - beta) * bce_loss(logits, t, valid, pos_weight=float(beta / (1 - beta)))
