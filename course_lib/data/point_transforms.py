"""Geometry of point clouds used by the loaders and training: normalisation, rotations, augmentation, patches.

Introduced in Chapter 6 (PointNet and PointNet++ on ModelNet). Clouds are ``[N, 3]`` (x, y, z) or ``[N, 6]`` (with
unit normals, which turn with the points and are never scaled or shifted). Points are row vectors: a cloud ``P`` is
rotated as ``P @ R.T``.

Example:
    >>> aug = PointAugment(up_axis=2, dropout=0.0)
    >>> aug(torch.randn(128, 3)).shape
    torch.Size([128, 3])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["PointAugment", "knn_patches", "normalize_to_unit_sphere", "rotation_about_axis"]


def normalize_to_unit_sphere(points: np.ndarray) -> np.ndarray:
    """Move a cloud's centroid to the origin and scale it so that its farthest point lies on the unit sphere.

    Only the first three columns (x, y, z) change; normals in columns 3..5 are kept.

    Args:
        points: ``[N, 3]`` or ``[N, 6]``.

    Example:
        >>> p = normalize_to_unit_sphere(np.array([[10., 0, 0], [14., 0, 0]]))
        >>> p[:, 0].tolist()
        [-1.0, 1.0]
    """
    points = np.array(points, dtype=np.float32, copy=True)
    xyz = points[:, :3]
    xyz -= xyz.mean(axis=0)
    radius = float(np.sqrt((xyz ** 2).sum(axis=1)).max()) if len(xyz) else 0.0
    if radius > 0:
        xyz /= radius
    return points


def rotation_about_axis(angle: float | torch.Tensor, axis: int) -> torch.Tensor:
    """The 3x3 rotation matrix of ``angle`` radians about coordinate axis ``axis`` (0 = x, 1 = y, 2 = z).

    Points are row vectors here: a cloud ``P [N, 3]`` is rotated as ``P @ R.T``.

    Example:
        >>> R = rotation_about_axis(math.pi / 2, axis=2)
        >>> (torch.tensor([[1.0, 0.0, 0.0]]) @ R.T).round().abs().tolist()
        [[0.0, 1.0, 0.0]]
    """
    angle = torch.as_tensor(angle, dtype=torch.float32)
    c, s = torch.cos(angle), torch.sin(angle)
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    R = torch.eye(3)
    R[i, i], R[i, j], R[j, i], R[j, j] = c, -s, s, c
    return R


@dataclass
class PointAugment:
    """Training augmentation of a cloud ``[N, 3 or 6]`` (normals, when present, turn with the points).

    Applied in this order, each with the PointNet / PointNet++ defaults:

    * ``rotate``: a random rotation about the up axis (ModelNet shapes stand upright but face any direction);
    * ``scale``: one random factor in ``scale`` for the whole cloud;
    * ``shift``: a random translation of up to ``shift`` per axis;
    * ``jitter``: Gaussian noise of standard deviation ``jitter[0]`` clipped to ``+-jitter[1]`` on each coordinate;
    * ``dropout``: drop a random fraction (up to ``dropout``) of the points, replacing them by the first point so
      that the number of points stays fixed (PointNet++'s random input dropout).

    Random numbers come from torch, so DataLoader workers get independent streams.

    Args:
        up_axis: 0, 1 or 2 (see :data:`course_lib.data.modelnet.UP_AXIS`).
        rotate: rotate about the up axis.
        scale: ``(low, high)`` or ``None``.
        shift: maximum translation or 0.
        jitter: ``(sigma, clip)`` or ``None``.
        dropout: maximum dropped fraction or 0.

    Example:
        >>> aug = PointAugment(up_axis=2, dropout=0.0)
        >>> aug(torch.randn(128, 3)).shape
        torch.Size([128, 3])
    """

    up_axis: int = 1
    rotate: bool = True
    scale: tuple[float, float] | None = (0.8, 1.25)
    shift: float = 0.1
    jitter: tuple[float, float] | None = (0.01, 0.05)
    dropout: float = 0.875

    def __call__(self, points: torch.Tensor) -> torch.Tensor:
        points = points.clone()
        xyz = points[:, :3]
        if self.rotate:
            R = rotation_about_axis(torch.rand(()) * 2 * math.pi, self.up_axis)
            xyz = xyz @ R.T
            if points.shape[1] >= 6:
                points[:, 3:6] = points[:, 3:6] @ R.T
        if self.scale:
            low, high = self.scale
            xyz = xyz * (low + (high - low) * torch.rand(()))
        if self.shift:
            xyz = xyz + (torch.rand(3) * 2 - 1) * self.shift
        if self.jitter:
            sigma, clip = self.jitter
            xyz = xyz + (torch.randn_like(xyz) * sigma).clamp(-clip, clip)
        points[:, :3] = xyz
        if self.dropout:
            ratio = torch.rand(()) * self.dropout
            drop = torch.rand(len(points)) <= ratio
            if drop.any():
                points[drop] = points[0].clone()
        return points


def knn_patches(points: torch.Tensor, centers: torch.Tensor | None = None, k: int = 32,
                normalize: bool = True, scale: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` nearest neighbours of each centre, as local patches (the input of PCPNet and PointCleanNet).

    Args:
        points: ``[N, 3]``.
        centers: ``[M, 3]`` (default: every point).
        k: neighbours per patch (the centre itself included when it is one of the points).
        normalize: express each patch relative to its centre and scale it by its largest distance.
        scale: instead of each patch's own size, divide every patch by this fixed length, so that the size of a
            neighbourhood (small on a dense surface, large around an isolated outlier) stays visible.

    Returns:
        ``patches [M, k, 3]`` and the neighbour indices ``[M, k]``.

    Example:
        >>> patches, idx = knn_patches(torch.randn(100, 3), k=8)
        >>> patches.shape, bool(patches.norm(dim=2).max() <= 1 + 1e-6)
        (torch.Size([100, 8, 3]), True)
    """
    centers = points if centers is None else centers
    k = min(k, len(points))
    distances = torch.cdist(centers, points, compute_mode="donot_use_mm_for_euclid_dist")  # exact, unlike the default
    idx = distances.topk(k, dim=1, largest=False).indices
    patches = points[idx]
    if normalize or scale is not None:
        patches = patches - centers[:, None, :]
        if scale is not None:
            patches = patches / scale
        else:
            radius = patches.norm(dim=2).amax(dim=1, keepdim=True).clamp_min(1e-9)
            patches = patches / radius[..., None]
    return patches, idx
