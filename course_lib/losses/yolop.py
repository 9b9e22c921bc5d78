"""YOLOP's multi-task loss: detection (YOLOv5-style), drivable-area and lane segmentation, summed with weights.

Introduced in Chapter 11 (Wu et al., arXiv:2108.11250, Sec. 3.4, and the gains of the authors' configuration):

- **detection**: each ground-truth box is assigned, on every level, to the anchors whose width and height ratios to
  it are within 4 (YOLOv5's ``anchor_t``), in the cell holding its centre; box loss ``1 - CIoU`` of the decoded box
  (gain 0.05), objectness BCE over every cell with the CIoU of the assigned boxes as target (gain 1.0; levels
  weighted 4, 1, 0.4), class BCE (gain 0.5, only with more than one class);
- **segmentation**: BCE of the two-channel drivable-area logits against one-hot targets (gain 0.2), the same for the
  lane lines (0.2) plus a lane IoU loss ``1 - soft IoU`` of the lane channel (0.2).

Departure from the authors' code: YOLOv5 also assigns each box to the two neighbouring cells nearest to its centre;
here only the centre cell, which is simpler to read and trains the same way on small samples.

Example:
    >>> from course_lib.models.yolop import yolop
    >>> net = yolop(width=8)
    >>> out = net(torch.rand(2, 3, 64, 64))
    >>> empty = torch.zeros(2, 64, 64, dtype=torch.long)
    >>> targets = {"boxes": [torch.tensor([[0, 30.0, 40.0, 12.0, 10.0]]), torch.zeros(0, 5)], "drivable": empty,
    ...            "lane": empty}
    >>> loss = YOLOPLoss(net)(out, targets)
    >>> sorted(YOLOPLoss(net).parts(out, targets))
    ['box', 'class', 'drivable', 'lane', 'lane_iou', 'objectness']
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import box_convert, complete_box_iou_loss

__all__ = ["YOLOPLoss"]


class YOLOPLoss(nn.Module):
    """The weighted sum of YOLOP's six losses; ``forward(outputs, targets) -> scalar``.

    Args:
        model: the :class:`course_lib.models.yolop.YOLOP` (its anchors, strides and classes).
        gains: weights of ``box``, ``objectness``, ``class``, ``drivable``, ``lane``, ``lane_iou``.
        anchor_t: largest width or height ratio between a box and an anchor it is assigned to.

    ``targets``: ``boxes`` (one ``[N, 5]`` tensor per image: class, centre x, centre y, width, height in pixels),
    ``drivable`` and ``lane`` (``[B, H, W]``, 1 on the class).
    """

    def __init__(self, model, gains: dict | None = None, anchor_t: float = 4.0) -> None:
        super().__init__()
        self.model, self.anchor_t = model, anchor_t
        self.gains = {"box": 0.05, "objectness": 1.0, "class": 0.5, "drivable": 0.2, "lane": 0.2, "lane_iou": 0.2}
        self.gains.update(gains or {})
        self.balance = (4.0, 1.0, 0.4)

    def parts(self, outputs: dict, targets: dict) -> dict[str, torch.Tensor]:
        """The six unweighted losses."""
        det = outputs["detection"]
        zero = det[0].sum() * 0
        box, obj, cls = zero, zero, zero
        for level, (raw, anchors, stride) in enumerate(zip(det, self.model.anchors, self.model.strides, strict=True)):
            target_obj = torch.zeros(raw.shape[:4], device=raw.device)
            b_idx, a_idx, gy, gx, tboxes, tcls = [], [], [], [], [], []
            h, w = raw.shape[2:4]
            for i, t in enumerate(targets["boxes"]):
                if not len(t):
                    continue
                t = t.to(raw.device).float()
                ratio = t[:, None, 3:5] / anchors[None]  # [N, A, 2]
                ok = torch.max(ratio, 1 / ratio).amax(-1) < self.anchor_t
                n, a = torch.nonzero(ok, as_tuple=True)
                cx = (t[n, 1] / stride).long().clamp(0, w - 1)
                cy = (t[n, 2] / stride).long().clamp(0, h - 1)
                b_idx.append(torch.full_like(n, i)), a_idx.append(a), gy.append(cy), gx.append(cx)
                tboxes.append(t[n, 1:5]), tcls.append(t[n, 0].long())
            if b_idx and sum(len(v) for v in b_idx):  # (a level where no anchor fits adds no box loss)
                b_idx, a_idx, gy, gx = (torch.cat(v) for v in (b_idx, a_idx, gy, gx))
                tboxes, tcls = torch.cat(tboxes), torch.cat(tcls)
                pred = self.model.decode_level(raw, level)[b_idx, a_idx, gy, gx]
                loss = complete_box_iou_loss(box_convert(pred, "cxcywh", "xyxy"), box_convert(tboxes, "cxcywh", "xyxy"))
                box = box + loss.mean()
                target_obj[b_idx, a_idx, gy, gx] = (1 - loss).detach().clamp(0).to(target_obj.dtype)
                if self.model.num_classes > 1:
                    onehot = F.one_hot(tcls, self.model.num_classes).float()
                    cls = cls + F.binary_cross_entropy_with_logits(raw[b_idx, a_idx, gy, gx, 5:], onehot)
            obj = obj + self.balance[level] * F.binary_cross_entropy_with_logits(raw[..., 4], target_obj)
        parts = {"box": box, "objectness": obj, "class": cls}
        for name in ("drivable", "lane"):
            onehot = F.one_hot(targets[name].long(), 2).permute(0, 3, 1, 2).float()
            parts[name] = F.binary_cross_entropy_with_logits(outputs[name], onehot)
        p = outputs["lane"].softmax(1)[:, 1]
        t = (targets["lane"] == 1).float()
        parts["lane_iou"] = 1 - (p * t).sum() / ((p + t - p * t).sum() + 1e-6)
        return parts

    def forward(self, outputs: dict, targets: dict) -> torch.Tensor:
        return sum(self.gains[k] * v for k, v in self.parts(outputs, targets).items())
