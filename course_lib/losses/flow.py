"""Training losses of the optical flow networks (Chapter 9): RAFT's sequence loss and FlowNet's multi-scale EPE.

Both take the network's list of predictions (in pixels of the input), the true flow ``[B, 2, H, W]`` and the mask of
pixels with known flow ``[B, H, W]``, and average over the valid pixels only.

* :func:`sequence_loss`: Z. Teed, J. Deng, *RAFT*, ECCV 2020 (https://arxiv.org/abs/2003.12039), Sec. 3.4;
* :func:`multiscale_epe_loss`: A. Dosovitskiy et al., *FlowNet*, ICCV 2015 (https://arxiv.org/abs/1504.06852).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["multiscale_epe_loss", "sequence_loss"]


def sequence_loss(predictions: list[torch.Tensor], flow: torch.Tensor, valid: torch.Tensor, gamma: float = 0.8,
                  max_flow: float = 400.0) -> torch.Tensor:
    """RAFT's training loss: L1 distance of every iteration's prediction, later ones weighted more (``gamma``).

    ``sum_i gamma^(N-1-i) * mean over valid pixels of |f_i - f_gt|_1``; pixels with ``|f_gt| > max_flow`` are left out.

    Args:
        predictions: the ``N`` full-resolution predictions ``[B, 2, H, W]``.
        flow: target ``[B, 2, H, W]``.
        valid: ``[B, H, W]``.
        gamma: decay towards earlier iterations.
        max_flow: pixels with longer true flow are ignored.

    Example:
        >>> p = [torch.zeros(1, 2, 4, 4)] * 2
        >>> float(sequence_loss(p, torch.ones(1, 2, 4, 4), torch.ones(1, 4, 4), gamma=0.5))
        1.5
    """
    mask = (valid > 0) & (torch.linalg.vector_norm(flow, dim=1) < max_flow)
    mask = mask[:, None].float()
    denom = (mask.sum() * 2).clamp_min(1)  # mean over pixels and both components
    n = len(predictions)
    total = flow.new_zeros(())
    for i, pred in enumerate(predictions):
        total = total + gamma ** (n - 1 - i) * ((pred.float() - flow).abs() * mask).sum() / denom
    return total


def _downsample_target(flow: torch.Tensor, valid: torch.Tensor, size: tuple[int, int]):
    """Area-average the flow over its valid pixels; a coarse pixel is valid when most of its area was."""
    v = valid.float()[:, None]
    v_small = F.adaptive_avg_pool2d(v, size)
    f_small = F.adaptive_avg_pool2d(flow * v, size) / v_small.clamp_min(1e-6)
    return f_small, v_small[:, 0] > 0.5


def multiscale_epe_loss(predictions: list[torch.Tensor], flow: torch.Tensor, valid: torch.Tensor,
                        weights: tuple[float, ...] = (1.0, 0.5, 0.25, 0.25, 0.25)) -> torch.Tensor:
    """FlowNet's training loss: weighted mean end-point error of every scale's prediction.

    The target is averaged down to each prediction's size (over its valid pixels); its values stay in pixels of the
    input, like the predictions of :class:`FlowNetS`.

    Args:
        predictions: finest first, ``[B, 2, h_k, w_k]``.
        flow: target ``[B, 2, H, W]``.
        valid: ``[B, H, W]`` (bool or 0/1).
        weights: one per prediction (extra predictions get the last weight).

    Example:
        >>> preds = [torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 2, 2)]
        >>> float(multiscale_epe_loss(preds, torch.ones(1, 2, 16, 16), torch.ones(1, 16, 16)))  # doctest: +ELLIPSIS
        2.12...
    """
    total = flow.new_zeros(())
    for k, pred in enumerate(predictions):
        target, mask = _downsample_target(flow, valid, tuple(pred.shape[-2:]))
        epe = torch.linalg.vector_norm(pred.float() - target, dim=1)
        weight = weights[min(k, len(weights) - 1)]
        total = total + weight * (epe * mask).sum() / mask.sum().clamp_min(1)
    return total
