"""The small training loops of Chapter 6's demonstrations: a T-Net that learns to undo turns, an outlier scorer.

Both train in seconds on a CPU and show one idea each; they are not recipes (no dataset split, no checkpoint):

- :func:`fit_tnet_alignment`: an input T-Net (:class:`course_lib.models.pointnet.TNet`) trained alone to map turned
  copies of one cloud back onto it (section "The T-Net: learning to undo a pose");
- :func:`train_outlier_scorer`: a :class:`course_lib.models.pointnet.PatchPointNet` that scores each point's
  neighbourhood patch as outlier or surface, a toy PointCleanNet (clouds from
  :func:`course_lib.synthetic.points.add_outliers`, patches from :func:`course_lib.data.point_transforms.knn_patches`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ..data.point_transforms import knn_patches, rotation_about_axis
from ..models.pointnet import PatchPointNet, TNet

__all__ = ["fit_tnet_alignment", "train_outlier_scorer"]


def fit_tnet_alignment(cloud: torch.Tensor, up_axis: int = 2, steps: int = 300, batch: int = 16,
                       width: float = 0.25, lr: float = 3e-3, seed: int = 0) -> tuple[TNet, list[float]]:
    """Train an input T-Net alone to undo random turns of one cloud about its up axis (a Chapter 6 demo).

    Each step turns ``batch`` copies of the cloud by random angles and asks the T-Net for the 3x3 matrix that maps
    each copy back onto the original; the loss is the mean squared distance of corresponding points. After
    training, ``rotated @ tnet(rotated)`` is close to the upright cloud whatever the angle.

    Args:
        cloud: ``[N, 3]`` points (normalised).
        up_axis: the axis to turn about.
        steps: optimiser steps.
        batch: rotated copies per step.
        width: T-Net width multiplier.
        lr: Adam learning rate.
        seed: seed of the angles and the initial weights.

    Returns:
        The trained T-Net (in eval mode) and the loss of every step.
    """
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    tnet = TNet(3, width)
    optimizer = torch.optim.Adam(tnet.parameters(), lr=lr)
    losses = []
    for step in range(steps):
        angles = torch.rand(batch, generator=gen) * 2 * torch.pi
        R = torch.stack([rotation_about_axis(a, up_axis) for a in angles])  # [B, 3, 3]
        rotated = cloud.unsqueeze(0) @ R.transpose(1, 2)  # [B, N, 3]
        transform = tnet(rotated.transpose(1, 2))
        loss = ((rotated @ transform - cloud.unsqueeze(0)) ** 2).sum(dim=2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        for group in optimizer.param_groups:  # cosine decay to 5 % of the rate
            group["lr"] = lr * (0.05 + 0.95 * 0.5 * (1 + torch.cos(torch.tensor(torch.pi * (step + 1) / steps))))
        losses.append(loss.item())
    return tnet.eval(), losses


def train_outlier_scorer(clouds: Sequence[torch.Tensor], masks: Sequence[torch.Tensor], k: int = 16,
                         scale: float = 0.1, steps: int = 100, batch: int = 128, lr: float = 3e-3,
                         seed: int = 0) -> PatchPointNet:
    """Train a :class:`course_lib.models.pointnet.PatchPointNet` to tell outliers from surface points by their
    ``k``-neighbour patch.

    A toy version of PointCleanNet's outlier classifier: patches of every point of every training cloud, a
    binary cross-entropy on the outlier masks, Adam.

    Args:
        clouds: corrupted clouds ``[N_i, 3]`` (from :func:`course_lib.synthetic.points.add_outliers`).
        masks: their outlier masks ``[N_i]``.
        k: patch size.
        scale: patches are centred and divided by this length (see
            :func:`course_lib.data.point_transforms.knn_patches`); use the same at test time.
        steps: optimiser steps.
        batch: patches per step.
        lr: learning rate.
        seed: random seed.

    Returns:
        The trained network in eval mode: ``torch.sigmoid(net(knn_patches(cloud, k=k, scale=scale)[0]))`` is the
        outlier score of every point.
    """
    torch.manual_seed(seed)
    patches = torch.cat([knn_patches(c, k=k, scale=scale)[0] for c in clouds])
    targets = torch.cat([m.float() for m in masks])
    net = PatchPointNet(out_channels=1, width=(16, 32, 64), hidden=32)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    weight = (len(targets) - targets.sum()) / targets.sum().clamp_min(1)  # balance the rare outliers
    gen = torch.Generator().manual_seed(seed)
    net.train()
    for _ in range(steps):
        pick = torch.randint(0, len(patches), (batch,), generator=gen)
        logits = net(patches[pick]).squeeze(1)
        loss = F.binary_cross_entropy_with_logits(logits, targets[pick], pos_weight=weight)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return net.eval()
