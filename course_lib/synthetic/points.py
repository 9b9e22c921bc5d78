"""Corrupted point clouds with known ground truth: noise and outliers, as PointCleanNet trains on.

Introduced in Chapter 6 (learning on local patches). The clean cloud is known, so every added outlier is labelled;
:func:`course_lib.recipes.pointnet_demos.train_outlier_scorer` learns to find them.
"""

from __future__ import annotations

import torch

__all__ = ["add_outliers"]


def add_outliers(points: torch.Tensor, fraction: float = 0.1, noise: float = 0.0,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Corrupt a cloud as PointCleanNet's training data does: Gaussian noise on every point, plus outliers drawn
    uniformly in the cloud's bounding sphere.

    Args:
        points: ``[N, 3]`` (normalised to the unit sphere, ideally).
        fraction: outliers added, as a share of ``N``.
        noise: standard deviation of the noise added to the original points.
        generator: torch random generator.

    Returns:
        The corrupted cloud ``[N + M, 3]`` and a boolean mask of the outliers ``[N + M]``.

    Example:
        >>> noisy, is_outlier = add_outliers(torch.randn(100, 3), 0.2)
        >>> noisy.shape, int(is_outlier.sum())
        (torch.Size([120, 3]), 20)
    """
    n_out = int(round(fraction * len(points)))
    center = points.mean(dim=0)
    radius = (points - center).norm(dim=1).max()
    direction = torch.randn(n_out, 3, generator=generator)
    direction = direction / direction.norm(dim=1, keepdim=True).clamp_min(1e-9)
    outliers = center + direction * radius * torch.rand(n_out, 1, generator=generator) ** (1 / 3)
    inliers = points + noise * torch.randn(points.shape, generator=generator)
    mask = torch.cat([torch.zeros(len(points), dtype=torch.bool), torch.ones(n_out, dtype=torch.bool)])
    return torch.cat([inliers, outliers]), mask
