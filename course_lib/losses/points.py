"""Losses of the point cloud networks (Chapter 6): PointNet's transform regulariser and its classification loss.

PointNet (Qi et al. 2017, https://arxiv.org/abs/1612.00593) predicts a 64x64 feature transform; the regulariser
``||I - A A^T||_F^2`` keeps it close to an orthogonal matrix (a rotation, which loses no information). The training
loss is the cross-entropy of the logits plus ``reg_weight`` times the regulariser (0.001 in the paper).

Example:
    >>> loss = pointnet_classification_loss(reg_weight=0.001)
    >>> value = loss((torch.zeros(2, 3), {"feature_transform": torch.eye(4).expand(2, 4, 4)}), torch.tensor([0, 2]))
    >>> round(float(value), 4)  # log(3): uniform logits, and an orthogonal transform costs nothing
    1.0986
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

__all__ = ["orthogonality_loss", "pointnet_classification_loss"]


def orthogonality_loss(transform: torch.Tensor) -> torch.Tensor:
    """The PointNet regulariser ``|| I - A A^T ||_F^2``, averaged over the batch.

    Args:
        transform: ``[B, k, k]``.

    Example:
        >>> float(orthogonality_loss(torch.eye(3).expand(2, 3, 3)))
        0.0
    """
    k = transform.shape[-1]
    eye = torch.eye(k, device=transform.device, dtype=transform.dtype)
    return ((transform @ transform.transpose(1, 2) - eye) ** 2).sum(dim=(1, 2)).mean()


def pointnet_classification_loss(reg_weight: float = 0.0, label_smoothing: float = 0.0
                                 ) -> Callable[[tuple[torch.Tensor, dict], torch.Tensor], torch.Tensor]:
    """The training loss of the point cloud classifiers: cross-entropy, plus ``reg_weight`` times
    :func:`orthogonality_loss` of the feature transform when the model returns one.

    Args:
        reg_weight: weight of the regulariser (0.001 for PointNet; 0 switches it off).
        label_smoothing: as in ``F.cross_entropy``.

    Returns:
        ``loss((logits [B, K], aux), target [B]) -> scalar``, computed in float32.
    """

    def loss(outputs: tuple[torch.Tensor, dict], target: torch.Tensor) -> torch.Tensor:
        logits, aux = outputs
        value = F.cross_entropy(logits.float(), target, label_smoothing=label_smoothing)
        if reg_weight and "feature_transform" in aux:
            value = value + reg_weight * orthogonality_loss(aux["feature_transform"].float())
        return value

    return loss
