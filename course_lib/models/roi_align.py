"""RoIAlign by hand (bilinear sampling on a regular grid per bin) and the 28x28 mask targets of Mask R-CNN.

Introduced in Chapter 5. He, Gkioxari, Dollar, Girshick, "Mask R-CNN", ICCV 2017, https://arxiv.org/abs/1703.06870:
RoIPool rounds a box to the feature grid twice (the box, then its bins), which shifts masks by up to a stride;
RoIAlign keeps the box's real coordinates, splits it into ``output_size`` bins, samples each bin at a small grid of
points by bilinear interpolation and averages them. The code follows ``torchvision.ops.roi_align`` step by step
(its CPU kernel ``roi_align_kernel.cpp``) and the tests check it against it. :func:`mask_targets` cuts each positive
proposal's ground-truth mask to ``M x M`` with the same operation, as ``torchvision``'s
``roi_heads.project_masks_on_boxes`` does for the mask loss.
"""

from __future__ import annotations

import math

import torch

__all__ = ["bilinear", "mask_targets", "roi_align"]


def bilinear(feature: torch.Tensor, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Sample ``feature`` ``[C, H, W]`` at real coordinates ``(y, x)`` (pixel centres at integers), as RoIAlign does.

    Points more than one pixel outside the map give 0; points in the outer half pixel are clamped to the border.

    Returns:
        ``[C, *y.shape]``.

    Example:
        >>> f = torch.tensor([[[0.0, 10.0], [20.0, 30.0]]])
        >>> bilinear(f, torch.tensor([0.5]), torch.tensor([0.5]))
        tensor([[15.]])
    """
    _, height, width = feature.shape
    outside = (y < -1.0) | (y > height) | (x < -1.0) | (x > width)
    y, x = y.clamp(min=0.0), x.clamp(min=0.0)
    y_low, x_low = y.floor().long(), x.floor().long()
    at_edge_y, at_edge_x = y_low >= height - 1, x_low >= width - 1
    y_low, x_low = torch.where(at_edge_y, height - 1, y_low), torch.where(at_edge_x, width - 1, x_low)
    y, x = torch.where(at_edge_y, y_low.to(y.dtype), y), torch.where(at_edge_x, x_low.to(x.dtype), x)
    y_high, x_high = (y_low + 1).clamp(max=height - 1), (x_low + 1).clamp(max=width - 1)
    ly, lx = y - y_low, x - x_low
    hy, hx = 1.0 - ly, 1.0 - lx
    value = (hy * hx * feature[:, y_low, x_low] + hy * lx * feature[:, y_low, x_high]
             + ly * hx * feature[:, y_high, x_low] + ly * lx * feature[:, y_high, x_high])
    return torch.where(outside, torch.zeros((), dtype=feature.dtype), value)


def roi_align(features: torch.Tensor, rois: torch.Tensor, output_size: int | tuple[int, int],
              spatial_scale: float = 1.0, sampling_ratio: int = -1, aligned: bool = False) -> torch.Tensor:
    """RoIAlign written out: the same numbers as ``torchvision.ops.roi_align`` (one RoI at a time, for teaching).

    Args:
        features: ``[N, C, H, W]`` feature maps.
        rois: ``[K, 5]`` rows ``(batch index, x1, y1, x2, y2)`` in image coordinates.
        output_size: bins per side ``(h, w)`` (7 for the box head, 14 for the mask head of Mask R-CNN).
        spatial_scale: feature-map size over image size (1/4 for FPN level P2).
        sampling_ratio: sample points per bin side; ``<= 0``: adaptive, ``ceil(bin size)``.
        aligned: shift the box by half a pixel so that pixel centres sit at ``.5`` (Detectron2's correction;
            torchvision's Mask R-CNN uses ``False``).

    Returns:
        ``[K, C, h, w]``.

    Example:
        >>> f = torch.arange(16.0).view(1, 1, 4, 4)
        >>> roi_align(f, torch.tensor([[0.0, 0.0, 0.0, 3.0, 3.0]]), 1, aligned=True)
        tensor([[[[5.]]]])
    """
    out_h, out_w = (output_size, output_size) if isinstance(output_size, int) else output_size
    offset = 0.5 if aligned else 0.0
    out = features.new_zeros((len(rois), features.shape[1], out_h, out_w))
    for k, (index, x1, y1, x2, y2) in enumerate(rois.tolist()):
        start_x, start_y = x1 * spatial_scale - offset, y1 * spatial_scale - offset
        roi_w, roi_h = x2 * spatial_scale - offset - start_x, y2 * spatial_scale - offset - start_y
        if not aligned:  # legacy behaviour: a box is at least one pixel wide
            roi_w, roi_h = max(roi_w, 1.0), max(roi_h, 1.0)
        bin_h, bin_w = roi_h / out_h, roi_w / out_w
        grid_h = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_h / out_h)
        grid_w = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_w / out_w)
        count = max(grid_h * grid_w, 1)
        # sample points: bin p, point i -> start + p * bin + (i + 0.5) * bin / grid
        ys = start_y + (torch.arange(out_h, dtype=torch.float64)[:, None] * bin_h
                        + (torch.arange(grid_h, dtype=torch.float64)[None, :] + 0.5) * bin_h / grid_h)
        xs = start_x + (torch.arange(out_w, dtype=torch.float64)[:, None] * bin_w
                        + (torch.arange(grid_w, dtype=torch.float64)[None, :] + 0.5) * bin_w / grid_w)
        yy = ys.reshape(out_h, 1, grid_h, 1).expand(out_h, out_w, grid_h, grid_w)
        xx = xs.reshape(1, out_w, 1, grid_w).expand(out_h, out_w, grid_h, grid_w)
        samples = bilinear(features[int(index)].double(), yy, xx)  # [C, out_h, out_w, grid_h, grid_w]
        out[k] = (samples.sum((-1, -2)) / count).to(features.dtype)
    return out


def mask_targets(gt_masks: torch.Tensor, proposals: torch.Tensor, matched: torch.Tensor,
                 size: int = 28) -> torch.Tensor:
    """Mask R-CNN's mask targets: each proposal's matched ground-truth mask cut to its box and resized to
    ``size x size`` with RoIAlign (continuous values in ``[0, 1]``; the loss is binary cross-entropy on them).

    Args:
        gt_masks: ``[G, H, W]`` binary masks of one image.
        proposals: ``[P, 4]`` positive proposals (XYXY, image coordinates).
        matched: ``[P]`` index of the ground truth each proposal was matched to.
        size: the mask head's output size (28 in the paper).

    Example:
        >>> m = torch.zeros(1, 8, 8); m[0, 2:6, 2:6] = 1
        >>> t = mask_targets(m, torch.tensor([[2.0, 2.0, 6.0, 6.0]]), torch.tensor([0]), size=4)
        >>> tuple(t.shape), float(t.max())
        ((1, 4, 4), 1.0)
    """
    rois = torch.cat([matched[:, None].to(proposals.dtype), proposals], dim=1)
    return roi_align(gt_masks[:, None].float(), rois, (size, size), 1.0)[:, 0]
