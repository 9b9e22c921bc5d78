"""Instance-segmentation losses of Chapter 5: YOLACT's detection + prototype mask loss, PointRend's point loss.

* :class:`YolactLoss`: Bolya et al., "YOLACT", arXiv:1904.02689, section 3 and 4: anchors matched to ground truth
  by IoU (positive >= 0.5, negative < 0.4, the rest ignored), smooth-L1 box loss on SSD offsets, softmax
  cross-entropy with online hard negative mining (3 negatives per positive), and the mask loss: binary
  cross-entropy between the assembled mask ``sigmoid(P c^T)`` and the ground-truth mask at prototype resolution,
  cropped to the ground-truth box and divided by the box's area. Weights 1 (class), 1.5 (box), 6.125 (mask), as
  the paper's code.
* :func:`point_loss`: Kirillov et al., "PointRend", arXiv:1912.08193: binary cross-entropy only at the sampled points.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import box_iou

__all__ = ["YolactLoss", "point_loss"]


def _xyxy(anchors: torch.Tensor) -> torch.Tensor:
    return torch.cat([anchors[:, :2] - anchors[:, 2:] / 2, anchors[:, :2] + anchors[:, 2:] / 2], 1)


class YolactLoss(nn.Module):
    """YOLACT's training loss (see the module docstring).

    Build it with :meth:`for_model` (losses do not import models: the model hands over its anchors, box coding
    and mask assembly).

    Args:
        anchors: ``[A, 4]`` ``(cx, cy, w, h)`` relative anchors of the model (``model.anchors``).
        image_size: the square input size (boxes in the targets are in its pixels).
        encode: the model's box coding ``(boxes XYXY relative, anchors) -> offsets``.
        assemble: ``(prototypes [h, w, k], coefficients [n, k]) -> masks [n, h, w]`` (``sigmoid(P C^T)``).
        crop: ``(masks [n, h, w], boxes XYXY relative) -> masks`` zeroed outside the boxes.
        positive_iou, negative_iou: matching thresholds (0.5 and 0.4).
        negatives_per_positive: OHEM ratio (3).
        weights: ``(class, box, mask)`` loss weights.

    ``forward(outputs, targets)``: the model's output dict and one target per image (``boxes`` XYXY in pixels of the
    ``S x S`` input, ``labels`` 1..K, ``masks`` ``[N, S, S]``; crowds are left out of the targets).
    """

    def __init__(self, anchors: torch.Tensor, image_size: int, *, encode: Callable, assemble: Callable, crop: Callable,
                 positive_iou: float = 0.5,
                 negative_iou: float = 0.4, negatives_per_positive: int = 3,
                 weights: tuple[float, float, float] = (1.0, 1.5, 6.125)) -> None:
        super().__init__()
        self.register_buffer("anchors", anchors.clone(), persistent=False)
        self.image_size, self.pos, self.neg, self.ratio, self.weights = (image_size, positive_iou, negative_iou,
                                                                          negatives_per_positive, weights)
        self.encode, self.assemble, self.crop = encode, assemble, crop
        self.last: dict[str, float] = {}

    @classmethod
    def for_model(cls, model: nn.Module, **kwargs) -> YolactLoss:
        """The loss of a :class:`course_lib.models.yolact.Yolact` (its anchors, input size, box coding, masks)."""
        return cls(model.anchors, model.image_size, encode=model.encode_boxes, assemble=model.assemble_masks,
                   crop=model.crop_masks, **kwargs)

    def forward(self, outputs: dict[str, torch.Tensor], targets: list[dict]) -> torch.Tensor:
        anchors = self.anchors.to(outputs["logits"].device)
        cls_total, box_total, mask_total, num_pos = 0.0, 0.0, 0.0, 0
        for i, target in enumerate(targets):
            logits, offsets = outputs["logits"][i].float(), outputs["offsets"][i].float()
            boxes = target["boxes"].as_subclass(torch.Tensor).float().to(logits.device) / self.image_size
            labels = target["labels"].to(logits.device)
            cls_target = torch.zeros(len(anchors), dtype=torch.long, device=logits.device)
            if len(boxes):
                iou = box_iou(_xyxy(anchors), boxes)  # [A, G]
                best, match = iou.max(1)
                best[iou.argmax(0)] = 1.0  # every object keeps its best anchor
                match[iou.argmax(0)] = torch.arange(len(boxes), device=logits.device)
                positive = best >= self.pos
                cls_target[positive] = labels[match[positive]]
                cls_target[(best >= self.neg) & ~positive] = -1  # ignored
            else:
                positive = torch.zeros(len(anchors), dtype=torch.bool, device=logits.device)
            ce = F.cross_entropy(logits, cls_target.clamp(min=0), reduction="none")
            hard = ce.detach().clone()
            hard[positive | (cls_target < 0)] = -1.0  # mine among the negatives only
            n_neg = min(self.ratio * max(int(positive.sum()), 1), int((hard >= 0).sum()))
            negatives = torch.zeros_like(positive)
            negatives[hard.topk(n_neg).indices] = True
            cls_total = cls_total + ce[positive | negatives].sum()
            if positive.any():
                pos = torch.nonzero(positive).flatten()
                gt = boxes[match[pos]]
                box_total = box_total + F.smooth_l1_loss(offsets[pos], self.encode(gt, anchors[pos]), reduction="sum")
                protos = outputs["prototypes"][i].float()
                h, w = protos.shape[:2]
                gt_masks = F.interpolate(target["masks"].as_subclass(torch.Tensor)[None].float().to(logits.device),
                                         size=(h, w), mode="bilinear", align_corners=False)[0].gt(0.5).float()
                pred = self.assemble(protos, outputs["coefficients"][i][pos].float())
                bce = F.binary_cross_entropy(pred.clamp(1e-6, 1 - 1e-6), gt_masks[match[pos]], reduction="none")
                area = ((gt[:, 2] - gt[:, 0]) * (gt[:, 3] - gt[:, 1])).clamp(min=1.0 / (h * w))
                mask_total = mask_total + (self.crop(bce, gt).sum((1, 2)) / (h * w) / area).sum()
                num_pos += len(pos)
        n = max(num_pos, 1)
        parts = {"class": cls_total / n, "box": box_total / n, "mask": mask_total / n}
        self.last = {k: float(v.detach()) if torch.is_tensor(v) else float(v) for k, v in parts.items()}
        wc, wb, wm = self.weights
        return wc * parts["class"] + wb * parts["box"] + wm * parts["mask"]


def point_loss(point_logits: torch.Tensor, point_labels: torch.Tensor) -> torch.Tensor:
    """PointRend's mask loss: binary cross-entropy at the sampled points only (``[N, P]`` logits and 0/1 labels).

    Example:
        >>> round(float(point_loss(torch.zeros(1, 4), torch.ones(1, 4))), 4)
        0.6931
    """
    return F.binary_cross_entropy_with_logits(point_logits, point_labels.float())
