"""YOLOP: one encoder and neck, a detection head and two segmentation heads (drivable area, lane lines).

Introduced in Chapter 11. D. Wu, M. Liao, W. Zhang, X. Wang, *YOLOP: You Only Look Once for Panoptic Driving
Perception*, 2021, arXiv:2108.11250. The layout of the paper's Fig. 2, scaled by ``width``:

- **encoder**: a CSP-Darknet (Conv-BN-SiLU, C3 blocks with cross-stage partial connections, SPPF on top) giving
  features at strides 8, 16 and 32;
- **neck**: an FPN (top-down) and a PAN (bottom-up) path, as YOLOv5;
- **detection head**: per level, one 1x1 conv predicting ``anchors x (4 box + 1 objectness + classes)``, with
  YOLOP's BDD100K anchors (:data:`YOLOP_ANCHORS`); boxes decode as YOLOv5 (``2 sigmoid - 0.5`` for the centre,
  ``(2 sigmoid)^2 x anchor`` for the size);
- **segmentation heads**: two light decoders from the FPN's stride-8 output, three 2x upsamplings to the input size,
  two channels each (background / drivable area; background / lane line).

The losses are :class:`course_lib.losses.yolop.YOLOPLoss`; :func:`decode_detections` turns the raw head into boxes.

Example:
    >>> net = yolop(num_classes=1, width=8, depth=1)
    >>> out = net(torch.rand(1, 3, 64, 96))
    >>> [tuple(o.shape) for o in out["detection"]], tuple(out["drivable"].shape), tuple(out["lane"].shape)
    ([(1, 3, 8, 12, 6), (1, 3, 4, 6, 6), (1, 3, 2, 3, 6)], (1, 2, 64, 96), (1, 2, 64, 96))
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.ops import batched_nms

__all__ = ["YOLOP", "YOLOP_ANCHORS", "YOLOP_STRIDES", "decode_detections", "yolop"]

#: YOLOP's anchors (width, height in pixels) for strides 8, 16, 32 (``lib/config/default.py`` of the authors' code)
YOLOP_ANCHORS = ((3, 9, 5, 11, 4, 20), (7, 18, 6, 39, 12, 31), (19, 50, 38, 81, 68, 157))
YOLOP_STRIDES = (8, 16, 32)


class _Conv(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int = 1, s: int = 1) -> None:
        super().__init__(nn.Conv2d(cin, cout, k, s, k // 2, bias=False), nn.BatchNorm2d(cout), nn.SiLU(inplace=True))


class _C3(nn.Module):
    """A CSP block: half the channels through ``n`` bottlenecks, half around them, concatenated and mixed."""

    def __init__(self, cin: int, cout: int, n: int = 1, shortcut: bool = True) -> None:
        super().__init__()
        c = cout // 2
        self.a, self.b, self.out = _Conv(cin, c), _Conv(cin, c), _Conv(2 * c, cout)
        self.blocks = nn.ModuleList(nn.Sequential(_Conv(c, c), _Conv(c, c, 3)) for _ in range(n))
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.a(x)
        for block in self.blocks:
            y = y + block(y) if self.shortcut else block(y)
        return self.out(torch.cat([y, self.b(x)], 1))


class _SPPF(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.cv1, self.cv2, self.pool = _Conv(c, c // 2), _Conv(c * 2, c), nn.MaxPool2d(5, 1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.cv1(x)
        y1 = self.pool(x)
        y2 = self.pool(y1)
        return self.cv2(torch.cat([x, y1, y2, self.pool(y2)], 1))


def _seg_head(c: int) -> nn.Sequential:
    up = nn.Upsample(scale_factor=2, mode="nearest")
    return nn.Sequential(_Conv(c, c, 3), up, _C3(c, c // 2, 1, False), _Conv(c // 2, c // 4, 3), nn.Upsample(
        scale_factor=2, mode="nearest"), _Conv(c // 4, c // 4, 3), nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(c // 4, 2, 3, padding=1))


class YOLOP(nn.Module):
    """YOLOP; ``forward(images [B, 3, H, W])`` (H and W multiples of 32) returns ``{"detection": [3 tensors
    [B, A, H/s, W/s, 5 + classes]], "drivable": [B, 2, H, W], "lane": [B, 2, H, W]}`` (raw logits).

    Args:
        num_classes: detection classes (YOLOP: 1, all vehicles as one class).
        width: channels of the first stage (YOLOP: 32; the stages double it up to 16x).
        depth: bottlenecks per C3 block (YOLOP: 1 to 3).
        anchors: per level, ``(w1, h1, w2, h2, w3, h3)`` in pixels.
    """

    def __init__(self, num_classes: int = 1, width: int = 32, depth: int = 1,
                 anchors=YOLOP_ANCHORS) -> None:
        super().__init__()
        w, n = width, depth
        self.num_classes, self.strides = num_classes, YOLOP_STRIDES
        self.register_buffer("anchors", torch.tensor(anchors, dtype=torch.float32).view(3, 3, 2), persistent=False)
        self.stem = nn.Sequential(_Conv(3, w, 3, 2), _Conv(w, 2 * w, 3, 2), _C3(2 * w, 2 * w, n))
        self.stage3 = nn.Sequential(_Conv(2 * w, 4 * w, 3, 2), _C3(4 * w, 4 * w, n))  # stride 8
        self.stage4 = nn.Sequential(_Conv(4 * w, 8 * w, 3, 2), _C3(8 * w, 8 * w, n))  # stride 16
        self.stage5 = nn.Sequential(_Conv(8 * w, 16 * w, 3, 2), _C3(16 * w, 16 * w, n), _SPPF(16 * w))  # 32
        self.lat5, self.top4 = _Conv(16 * w, 8 * w), _C3(16 * w, 8 * w, n, False)
        self.lat4, self.top3 = _Conv(8 * w, 4 * w), _C3(8 * w, 4 * w, n, False)
        self.down3, self.bottom4 = _Conv(4 * w, 4 * w, 3, 2), _C3(8 * w, 8 * w, n, False)
        self.down4, self.bottom5 = _Conv(8 * w, 8 * w, 3, 2), _C3(16 * w, 16 * w, n, False)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.detect = nn.ModuleList(nn.Conv2d(c, 3 * (5 + num_classes), 1) for c in (4 * w, 8 * w, 16 * w))
        self.drivable_head, self.lane_head = _seg_head(4 * w), _seg_head(4 * w)

    def forward(self, x: torch.Tensor) -> dict:
        if x.shape[-1] % 32 or x.shape[-2] % 32:
            raise ValueError(f"YOLOP needs height and width that are multiples of 32, got {tuple(x.shape[-2:])}")
        c3 = self.stage3(self.stem(x))
        c4 = self.stage4(c3)
        c5 = self.stage5(c4)
        p5 = self.lat5(c5)
        p4 = self.lat4(self.top4(torch.cat([self.up(p5), c4], 1)))
        n3 = self.top3(torch.cat([self.up(p4), c3], 1))  # the FPN's stride-8 output: also the segmentation input
        n4 = self.bottom4(torch.cat([self.down3(n3), p4], 1))
        n5 = self.bottom5(torch.cat([self.down4(n4), p5], 1))
        det = []
        for head, feature in zip(self.detect, (n3, n4, n5), strict=True):
            b, _, h, w = feature.shape
            det.append(head(feature).view(b, 3, 5 + self.num_classes, h, w).permute(0, 1, 3, 4, 2).contiguous())
        return {"detection": det, "drivable": self.drivable_head(n3), "lane": self.lane_head(n3)}

    def decode_level(self, raw: torch.Tensor, level: int) -> torch.Tensor:
        """:func:`decode_boxes` of the detection output of ``level`` (0..2) with this model's anchors."""
        return decode_boxes(raw, self.anchors[level], self.strides[level])


def decode_boxes(raw: torch.Tensor, anchors: torch.Tensor, stride: int) -> torch.Tensor:
    """YOLOv5's decoding of one level ``[B, A, H, W, 5 + C]`` to ``(cx, cy, w, h)`` in pixels ``[B, A, H, W, 4]``."""
    _, _, h, w, _ = raw.shape
    gy, gx = torch.meshgrid(torch.arange(h, device=raw.device), torch.arange(w, device=raw.device), indexing="ij")
    xy = (raw[..., :2].sigmoid() * 2 - 0.5 + torch.stack([gx, gy], -1)) * stride
    wh = (raw[..., 2:4].sigmoid() * 2) ** 2 * anchors.view(1, -1, 1, 1, 2)
    return torch.cat([xy, wh], -1)


@torch.no_grad()
def decode_detections(model: YOLOP, detection: list[torch.Tensor], conf: float = 0.25, iou: float = 0.45,
                      max_det: int = 100) -> list[dict]:
    """Boxes ``(x0, y0, x1, y1)``, scores and labels per image: objectness x class score over ``conf``, the
    ``max_det`` best kept after NMS."""
    out = []
    for i in range(detection[0].shape[0]):
        boxes, scores, labels = [], [], []
        for raw, anchors, stride in zip(detection, model.anchors, model.strides, strict=True):
            r = raw[i:i + 1]
            b = decode_boxes(r, anchors, stride)[0].reshape(-1, 4)
            p = r[0].reshape(-1, r.shape[-1]).sigmoid()
            cls = p[:, 5:].max(1) if p.shape[1] > 5 else (torch.ones_like(p[:, 4]), torch.zeros_like(p[:, 4]).long())
            score = p[:, 4] * cls[0]
            keep = score > conf
            xyxy = torch.cat([b[keep, :2] - b[keep, 2:] / 2, b[keep, :2] + b[keep, 2:] / 2], 1)
            boxes.append(xyxy), scores.append(score[keep]), labels.append(cls[1][keep])
        boxes, scores, labels = torch.cat(boxes), torch.cat(scores), torch.cat(labels)
        keep = batched_nms(boxes, scores, labels, iou)[:max_det]
        out.append({"boxes": boxes[keep], "scores": scores[keep], "labels": labels[keep]})
    return out


def yolop(*, num_classes: int = 1, width: int = 32, depth: int = 1) -> YOLOP:
    """YOLOP (arXiv:2108.11250); ``width=32, depth=1`` is close to the paper's 7.9 M parameters, smaller widths
    make quick runs (see :class:`YOLOP`)."""
    if width < 4 or width % 4:
        raise ValueError(f"width must be a positive multiple of 4, got {width}")
    return YOLOP(num_classes=num_classes, width=width, depth=depth)
