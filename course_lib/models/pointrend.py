"""PointRend: masks refined at adaptively chosen points, as a refinement head on Mask R-CNN's coarse masks.

Introduced in Chapter 5. Kirillov, Wu, He, Girshick, "PointRend: Image Segmentation as Rendering", CVPR 2020,
https://arxiv.org/abs/1912.08193. A coarse mask (Mask R-CNN's 28x28, or PointRend's own 7x7) is blurry at the
boundary, where most of its error is. PointRend predicts the label only at chosen *points*, from a point-wise
feature: fine-grained features (e.g. FPN P2) and the coarse prediction, both sampled bilinearly at the point
(:func:`point_sample`), fed to a small MLP (:class:`PointHead`).

* Training (:func:`sample_training_points`): draw ``k * N`` random points (oversampling ``k > 1``), keep the
  ``beta * N`` most uncertain of them (importance sampling; uncertainty = ``-|logit|``, highest where the coarse
  prediction is near 0.5), and add ``(1 - beta) * N`` uniform points. The loss is computed at those points only
  (:func:`course_lib.losses.instance.point_loss`). The paper: ``k = 3``, ``beta = 0.75``.
* Inference (:func:`subdivision_inference`): adaptive subdivision. Upsample the prediction 2x bilinearly, find the
  ``N`` most uncertain grid points (:func:`most_uncertain_points`), predict them with the point head, repeat until
  the target resolution: only a few thousand points are computed instead of every pixel.

Coordinates are ``(x, y)`` in ``[0, 1]`` over each mask's own box (the RoI), so fine features and the coarse mask
are given per RoI: :func:`maskrcnn_point_inputs` takes them from a torchvision Mask R-CNN (its 28x28 mask logits and
``roi_align`` of its finest FPN level), and :class:`PointRendRefiner` trains the point head on them (the loss at the
sampled points, :func:`course_lib.losses.instance.point_loss` in functional form) and refines by subdivision.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PointHead", "PointRendRefiner", "maskrcnn_point_inputs", "most_uncertain_points", "point_sample",
           "sample_training_points", "subdivision_inference", "uncertainty"]


def point_sample(features: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Bilinear features ``[N, C, P]`` of ``features`` ``[N, C, H, W]`` at ``points`` ``[N, P, 2]`` (``(x, y)`` in
    ``[0, 1]``; pixel ``j``'s centre is at ``(j + 0.5) / W``).

    Example:
        >>> f = torch.tensor([[[[0.0, 10.0]]]])
        >>> point_sample(f, torch.tensor([[[0.5, 0.5]]]))
        tensor([[[5.]]])
    """
    grid = 2.0 * points[:, :, None, :] - 1.0  # grid_sample's [-1, 1] with align_corners=False
    return F.grid_sample(features, grid.to(features.dtype), mode="bilinear", align_corners=False)[..., 0]


def uncertainty(logits: torch.Tensor) -> torch.Tensor:
    """PointRend's uncertainty of a binary mask logit: ``-|logit|`` (largest at probability 0.5)."""
    return -logits.abs()


def sample_training_points(coarse_logits: torch.Tensor, num_points: int, *, oversample: float = 3.0,
                           importance: float = 0.75, generator: torch.Generator | None = None) -> torch.Tensor:
    """The training points of PointRend: ``[N, num_points, 2]`` in ``[0, 1]``.

    Args:
        coarse_logits: ``[N, 1, h, w]`` coarse mask logits of each RoI.
        num_points: points per RoI (``14 * 14`` in the paper).
        oversample: ``k >= 1``: candidates drawn are ``k * num_points``.
        importance: ``beta`` in ``[0, 1]``: the share of points taken as the most uncertain candidates; the rest are
            drawn uniformly.

    Example:
        >>> pts = sample_training_points(torch.randn(2, 1, 7, 7), 10)
        >>> pts.shape, bool(((pts >= 0) & (pts <= 1)).all())
        (torch.Size([2, 10, 2]), True)
    """
    if oversample < 1 or not 0 <= importance <= 1:
        raise ValueError(f"need oversample >= 1 and 0 <= importance <= 1, got {oversample}, {importance}")
    n = coarse_logits.shape[0]
    device = coarse_logits.device
    candidates = torch.rand(n, int(oversample * num_points), 2, device=device, generator=generator)
    scores = uncertainty(point_sample(coarse_logits, candidates))[:, 0]  # [N, kP]
    n_important = int(importance * num_points)
    top = scores.topk(n_important, dim=1).indices
    chosen = torch.gather(candidates, 1, top[..., None].expand(-1, -1, 2))
    uniform = torch.rand(n, num_points - n_important, 2, device=device, generator=generator)
    return torch.cat([chosen, uniform], 1)


def most_uncertain_points(logits: torch.Tensor, num_points: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``num_points`` grid cells of highest uncertainty: ``(flat indices [N, P], centres [N, P, 2])``.

    Example:
        >>> logit = torch.full((1, 1, 2, 2), 5.0); logit[0, 0, 1, 0] = 0.1
        >>> idx, pts = most_uncertain_points(logit, 1)
        >>> idx.tolist(), pts.tolist()
        ([[2]], [[[0.25, 0.75]]])
    """
    n, _, h, w = logits.shape
    num_points = min(num_points, h * w)
    idx = uncertainty(logits).reshape(n, -1).topk(num_points, dim=1).indices
    xs = (idx % w).to(logits.dtype) + 0.5
    ys = torch.div(idx, w, rounding_mode="floor").to(logits.dtype) + 0.5
    return idx, torch.stack([xs / w, ys / h], -1)


class PointHead(nn.Module):
    """PointRend's point head: an MLP (1x1 convolutions over points) on fine-grained + coarse features, the coarse
    prediction concatenated again before every layer (the paper's design).

    Args:
        fine_channels: channels of the fine-grained features (256 for FPN P2).
        num_classes: mask logits per point (1 for a class-agnostic mask).
        hidden: width of the MLP (256 in the paper).
        layers: hidden layers (3 in the paper).

    Example:
        >>> head = PointHead(fine_channels=8, hidden=16)
        >>> head(torch.randn(2, 8, 5), torch.randn(2, 1, 5)).shape
        torch.Size([2, 1, 5])
    """

    def __init__(self, *, fine_channels: int, num_classes: int = 1, hidden: int = 256, layers: int = 3) -> None:
        super().__init__()
        self.layers = nn.ModuleList()
        width = fine_channels + num_classes
        for _ in range(layers):
            self.layers.append(nn.Conv1d(width, hidden, 1))
            width = hidden + num_classes
        self.predictor = nn.Conv1d(width, num_classes, 1)

    def forward(self, fine: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        """``fine`` ``[N, C, P]`` and ``coarse`` ``[N, K, P]`` point features -> ``[N, K, P]`` logits."""
        x = torch.cat([fine, coarse], 1)
        for layer in self.layers:
            x = torch.cat([F.relu(layer(x)), coarse], 1)
        return self.predictor(x)


def subdivision_inference(coarse_logits: torch.Tensor, fine_features: torch.Tensor, head: PointHead, *,
                          steps: int = 2, num_points: int = 28 * 28) -> torch.Tensor:
    """Adaptive subdivision: ``steps`` rounds of 2x bilinear upsampling, each re-predicting the ``num_points`` most
    uncertain cells with the point head.

    Args:
        coarse_logits: ``[N, 1, h, w]``.
        fine_features: ``[N, C, H, W]`` over the same RoIs (any resolution; sampled at the point centres).
        head: the point head.
        steps: 28 -> 56 -> 112 for ``steps=2``.
        num_points: points re-predicted per step.

    Returns:
        ``[N, 1, h * 2^steps, w * 2^steps]`` refined logits.
    """
    logits = coarse_logits
    for _ in range(steps):
        logits = F.interpolate(logits, scale_factor=2, mode="bilinear", align_corners=False)
        idx, points = most_uncertain_points(logits, num_points)
        refined = head(point_sample(fine_features, points), point_sample(coarse_logits, points))  # [N, 1, P]
        n, c, h, w = logits.shape
        logits = logits.reshape(n, c, h * w).scatter(2, idx[:, None, :], refined.to(logits.dtype)).reshape(n, c, h, w)
    return logits


def maskrcnn_point_inputs(model: nn.Module, images: list[torch.Tensor], boxes: list[torch.Tensor],
                          labels: list[torch.Tensor], *, fine_size: int = 56) -> tuple[torch.Tensor, torch.Tensor]:
    """What PointRend refines in a torchvision Mask R-CNN: per box, the coarse 28x28 mask logits of its class and
    fine-grained features of the finest pyramid level (``torchvision.ops.roi_align`` at ``fine_size``).

    Args:
        model: a ``torchvision.models.detection.MaskRCNN`` (e.g. from :func:`course_lib.models.maskrcnn.maskrcnn`).
        images: ``[3, H, W]`` images in ``[0, 1]``.
        boxes: per image ``[R_i, 4]`` XYXY boxes in the images' pixels (detections, or ground truth in training).
        labels: per image ``[R_i]`` class indices (the mask channel to take).
        fine_size: side of the fine feature grid per box.

    Returns:
        ``coarse [R, 1, 28, 28]`` and ``fine [R, C, fine_size, fine_size]``, boxes of all images in order.
    """
    from torchvision.ops import roi_align as tv_roi_align

    targets = [{"boxes": b.float(), "labels": lab} for b, lab in zip(boxes, labels, strict=True)]
    image_list, targets = model.transform(images, targets)
    features = model.backbone(image_list.tensors)
    scaled = [t["boxes"] for t in targets]
    pooled = model.roi_heads.mask_roi_pool(features, scaled, image_list.image_sizes)
    logits = model.roi_heads.mask_predictor(model.roi_heads.mask_head(pooled))  # [R, classes, 28, 28]
    chosen = torch.cat(labels).to(logits.device)
    coarse = logits[torch.arange(len(chosen), device=logits.device), chosen][:, None]
    finest = next(iter(features.values()))
    scale = finest.shape[-1] / image_list.tensors.shape[-1]
    rois = torch.cat([torch.cat([torch.full((len(b), 1), float(i), device=b.device), b], 1)
                      for i, b in enumerate(scaled)])
    fine = tv_roi_align(finest, rois, (fine_size, fine_size), spatial_scale=scale, sampling_ratio=2)
    return coarse, fine


class PointRendRefiner(nn.Module):
    """PointRend as a mask refinement head: a :class:`PointHead` with its training loss and inference.

    Args:
        fine_channels: channels of the fine features (256 for torchvision's FPN).
        num_points: training points per box (``14 * 14`` in the paper).
        oversample, importance: ``k`` and ``beta`` of :func:`sample_training_points` (3 and 0.75).
        hidden: width of the point head.

    Example:
        >>> r = PointRendRefiner(fine_channels=8, num_points=16, hidden=16)
        >>> coarse, fine, truth = torch.randn(2, 1, 7, 7), torch.randn(2, 8, 14, 14), torch.rand(2, 1, 28, 28)
        >>> bool(r.loss(coarse, fine, truth) > 0), tuple(r.refine(coarse, fine, steps=2).shape)
        (True, (2, 1, 28, 28))
    """

    def __init__(self, *, fine_channels: int, num_points: int = 14 * 14, oversample: float = 3.0,
                 importance: float = 0.75, hidden: int = 256) -> None:
        super().__init__()
        self.head = PointHead(fine_channels=fine_channels, hidden=hidden)
        self.num_points, self.oversample, self.importance = num_points, oversample, importance

    def loss(self, coarse: torch.Tensor, fine: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
        """Binary cross-entropy at PointRend's training points; ``truth`` ``[R, 1, h, w]`` is each box's ground-truth
        mask in ``[0, 1]`` over the box (e.g. :func:`course_lib.models.roi_align.mask_targets` at 112)."""
        with torch.no_grad():
            points = sample_training_points(coarse.detach(), self.num_points, oversample=self.oversample,
                                            importance=self.importance)
            labels = point_sample(truth.float(), points)[:, 0] >= 0.5
        logits = self.head(point_sample(fine, points), point_sample(coarse, points))[:, 0]
        return F.binary_cross_entropy_with_logits(logits, labels.float())

    def refine(self, coarse: torch.Tensor, fine: torch.Tensor, steps: int = 2,
               num_points: int = 28 * 28) -> torch.Tensor:
        """Adaptive subdivision of ``coarse`` (:func:`subdivision_inference`) with this head."""
        return subdivision_inference(coarse, fine, self.head, steps=steps, num_points=num_points)
