"""PraNet's "structure loss" (weighted IoU + weighted BCE) and deep supervision over side outputs.

Introduced in Chapter 3 (PraNet on Kvasir-SEG; Fan et al., arXiv 2006.11392, Eq. 4, after F3Net, Wei et al.,
arXiv 1911.11445). Pixels near the polyp's boundary are hard, so they weigh more:

``w = 1 + 5 |avgpool_31x31(mask) - mask|``
    The 31x31 local mean of the mask (zero padding, padding counted) differs from the mask itself only within
    about 15 pixels of a boundary: there ``w`` grows up to 6, elsewhere it stays near 1.
weighted BCE
    ``sum(w * bce) / sum(w)`` per image.
weighted IoU
    ``1 - (sum(w p m) + 1) / (sum(w (p + m)) - sum(w p m) + 1)`` per image with ``p = sigmoid(logits)``: a soft IoU
    (the +1 keeps empty masks defined) that, like Dice, weighs small and large polyps alike.

The loss is the mean over the batch of their sum. One detail of the authors' ``MyTrain.py``:
``F.binary_cross_entropy_with_logits(pred, mask, reduce='none')`` passes ``'none'`` to the *deprecated*
``reduce`` flag, which reads any non-empty string as ``True``: the BCE term there is the plain pixel mean, not the
weighted one. ``paper_code_bce=True`` reproduces that; the default is the weighted BCE the paper describes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .segmentation import split_outputs

__all__ = ["boundary_weights", "structure_loss", "StructureLoss", "DeepSupervisionLoss"]


def _as_mask(mask: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    if mask.ndim == like.ndim - 1:
        mask = mask.unsqueeze(1)
    if mask.shape != like.shape:
        raise ValueError(f"mask {tuple(mask.shape)} and logits {tuple(like.shape)} do not match; expected "
                         "[N, 1, H, W] logits and an [N, H, W] or [N, 1, H, W] mask")
    mask = mask.to(torch.promote_types(like.dtype, torch.float32))
    if mask.numel() and (mask.min() < 0 or mask.max() > 1):
        raise ValueError(f"mask must hold values in [0, 1], found {mask.min().item()}..{mask.max().item()}")
    return mask


def boundary_weights(mask: torch.Tensor, kernel: int = 31, gain: float = 5.0) -> torch.Tensor:
    """``1 + gain * |avg_pool(mask, kernel) - mask|``: large near the mask's boundary, 1 far from it.

    Args:
        mask: ``[N, 1, H, W]`` values in [0, 1].
        kernel: side of the (odd) averaging window; zero padding counts in the mean, as in the authors' code.
        gain: 5 in PraNet.

    Example:
        >>> w = boundary_weights(torch.ones(1, 1, 5, 5), kernel=3)
        >>> w[0, 0, 2, 2].item(), round(w[0, 0, 0, 0].item(), 4)  # inside: 1; a corner sees 5 padded zeros
        (1.0, 3.7778)
    """
    if kernel < 1 or kernel % 2 == 0:
        raise ValueError(f"kernel must be a positive odd size, got {kernel}")
    local = F.avg_pool2d(mask, kernel_size=kernel, stride=1, padding=kernel // 2)
    return 1 + gain * (local - mask).abs()


def structure_loss(logits: torch.Tensor, mask: torch.Tensor, *, kernel: int = 31, gain: float = 5.0,
                   paper_code_bce: bool = False) -> torch.Tensor:
    """PraNet's weighted BCE + weighted IoU (see the module docstring), averaged over the batch.

    Args:
        logits: ``[N, 1, H, W]`` raw scores.
        mask: ``[N, H, W]`` or ``[N, 1, H, W]``, values in [0, 1].
        kernel, gain: of :func:`boundary_weights`.
        paper_code_bce: use the unweighted mean BCE, as the authors' code does in effect.

    Example:
        >>> round(structure_loss(torch.zeros(1, 1, 4, 4), torch.zeros(1, 4, 4)).item(), 4)  # log 2 + 1 - 1/9
        1.582
    """
    mask = _as_mask(mask, logits)
    logits = logits.to(mask.dtype)
    w = boundary_weights(mask, kernel, gain)
    bce = F.binary_cross_entropy_with_logits(logits, mask, reduction="none")
    if paper_code_bce:
        wbce = bce.mean().expand(logits.shape[0])
    else:
        wbce = (w * bce).sum(dim=(1, 2, 3)) / w.sum(dim=(1, 2, 3))
    p = torch.sigmoid(logits)
    inter = (w * p * mask).sum(dim=(1, 2, 3))
    union = (w * (p + mask)).sum(dim=(1, 2, 3))
    wiou = 1 - (inter + 1) / (union - inter + 1)
    return (wbce + wiou).mean()


class StructureLoss(nn.Module):
    """:func:`structure_loss` as a module (one output).

    Example:
        >>> StructureLoss()(torch.randn(2, 1, 8, 8), torch.randint(0, 2, (2, 8, 8))).shape
        torch.Size([])
    """

    def __init__(self, kernel: int = 31, gain: float = 5.0, paper_code_bce: bool = False):
        super().__init__()
        self.kernel, self.gain, self.paper_code_bce = kernel, gain, paper_code_bce

    def forward(self, logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return structure_loss(logits, mask, kernel=self.kernel, gain=self.gain, paper_code_bce=self.paper_code_bce)


class DeepSupervisionLoss(nn.Module):
    """Sum of a loss over several side outputs (PraNet: the global map and the three reverse-attention maps).

    Args:
        loss: the per-output loss (default :class:`StructureLoss`).
        weights: one weight per output (PraNet: all 1); ``None`` = 1 each.

    A single tensor (a model in eval mode) gets the plain loss.

    Example:
        >>> outs = tuple(torch.zeros(1, 1, 4, 4) for _ in range(4))
        >>> round(DeepSupervisionLoss()(outs, torch.zeros(1, 4, 4)).item(), 4)  # 4 x 1.582
        6.3281
    """

    def __init__(self, loss: nn.Module | None = None, weights: Sequence[float] | None = None):
        super().__init__()
        self.loss = loss if loss is not None else StructureLoss()
        self.weights = None if weights is None else tuple(float(w) for w in weights)

    def forward(self, outputs, mask: torch.Tensor) -> torch.Tensor:
        main, rest = split_outputs(outputs)
        outs = [main, *rest]
        weights = self.weights or (1.0,) * len(outs)
        if len(weights) != len(outs):
            raise ValueError(f"{len(weights)} weights for {len(outs)} side outputs")
        return sum(w * self.loss(o, mask) for w, o in zip(weights, outs, strict=True))
