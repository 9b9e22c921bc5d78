"""YOLACT: real-time instance segmentation by prototype masks and per-instance coefficients.

Introduced in Chapter 5. Bolya, Zhou, Xiao, Lee, "YOLACT: Real-time Instance Segmentation", ICCV 2019,
https://arxiv.org/abs/1904.02689. Two parallel branches on an FPN:

* the *protonet* (on P3, upsampled to 1/4 of the input) predicts ``k`` prototype masks ``P`` ``[h, w, k]`` for the
  whole image, shared by all instances;
* a one-stage detection head (shared over the pyramid levels, 3 anchors per location) predicts per anchor the class
  scores, the box offsets and ``k`` mask coefficients ``c`` (``tanh``).

An instance's mask is ``sigmoid(P c^T)`` (a linear combination of prototypes), cropped to its box
(:func:`assemble_masks`, :func:`crop_masks`). Duplicates are removed with *Fast NMS* (:func:`fast_nms`): per class,
an upper-triangular IoU matrix of the top detections, and a detection is dropped when any higher-scoring one overlaps
it by more than the threshold; unlike standard NMS a dropped detection still suppresses others, which is why it can
be done with one matrix operation. The loss (anchor matching, OHEM, the mask loss cropped to the box and divided by
its area) is :class:`course_lib.losses.instance.YolactLoss`.

The backbone here is a ResNet-18 (the paper: ResNet-50/101 at 550x550) built without downloading anything.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torchvision.models import resnet18
from torchvision.ops import FeaturePyramidNetwork, box_iou
from torchvision.ops.feature_pyramid_network import LastLevelP6P7

__all__ = ["Yolact", "assemble_masks", "crop_masks", "decode_boxes", "encode_boxes", "fast_nms", "make_anchors",
           "yolact"]

#: box-coding variances of SSD and YOLACT (centre, size)
VARIANCES = (0.1, 0.2)


def make_anchors(image_size: int, strides: tuple[int, ...], scales: tuple[float, ...],
                 ratios: tuple[float, ...] = (1.0, 0.5, 2.0)) -> torch.Tensor:
    """Anchors ``[A, 4]`` as ``(cx, cy, w, h)`` relative to the image, level by level, location-major, as the head
    orders its outputs.

    Example:
        >>> make_anchors(64, (32,), (24.0,)).shape
        torch.Size([12, 4])
    """
    out = []
    for stride, scale in zip(strides, scales, strict=True):
        n = math.ceil(image_size / stride)
        ys, xs = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
        centres = torch.stack([(xs + 0.5) / n, (ys + 0.5) / n], -1).reshape(-1, 1, 2)
        sizes = torch.tensor([[scale * math.sqrt(r), scale / math.sqrt(r)] for r in ratios]) / image_size
        both = torch.cat([centres.expand(-1, len(ratios), 2), sizes.expand(len(centres), -1, 2)], -1)
        out.append(both.reshape(-1, 4))
    return torch.cat(out)


def encode_boxes(boxes: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """SSD box coding of XYXY ``boxes`` (relative) against ``(cx, cy, w, h)`` anchors."""
    centre, size = (boxes[:, :2] + boxes[:, 2:]) / 2, (boxes[:, 2:] - boxes[:, :2]).clamp(min=1e-6)
    return torch.cat([(centre - anchors[:, :2]) / (VARIANCES[0] * anchors[:, 2:]),
                      torch.log(size / anchors[:, 2:]) / VARIANCES[1]], 1)


def decode_boxes(offsets: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`encode_boxes`: relative XYXY boxes.

    Example:
        >>> a = torch.tensor([[0.5, 0.5, 0.2, 0.4]]); b = torch.tensor([[0.3, 0.2, 0.6, 0.9]])
        >>> torch.allclose(decode_boxes(encode_boxes(b, a), a), b)
        True
    """
    centre = anchors[:, :2] + offsets[:, :2] * VARIANCES[0] * anchors[:, 2:]
    size = anchors[:, 2:] * torch.exp(offsets[:, 2:] * VARIANCES[1])
    return torch.cat([centre - size / 2, centre + size / 2], 1)


def assemble_masks(prototypes: torch.Tensor, coefficients: torch.Tensor) -> torch.Tensor:
    """``sigmoid(P C^T)``: prototypes ``[h, w, k]`` and coefficients ``[n, k]`` -> masks ``[n, h, w]`` in (0, 1)."""
    return torch.sigmoid(prototypes @ coefficients.t()).permute(2, 0, 1)


def crop_masks(masks: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """Zero each mask ``[n, h, w]`` outside its box (XYXY relative to the image): YOLACT's crop.

    Example:
        >>> crop_masks(torch.ones(1, 4, 4), torch.tensor([[0.0, 0.0, 0.5, 0.5]]))[0].sum()
        tensor(4.)
    """
    _, h, w = masks.shape
    xs = (torch.arange(w, device=masks.device, dtype=masks.dtype) + 0.5) / w
    ys = (torch.arange(h, device=masks.device, dtype=masks.dtype) + 0.5) / h
    inside_x = (xs[None, :] >= boxes[:, 0:1]) & (xs[None, :] < boxes[:, 2:3])
    inside_y = (ys[None, :] >= boxes[:, 1:2]) & (ys[None, :] < boxes[:, 3:4])
    return masks * (inside_y[:, :, None] & inside_x[:, None, :]).to(masks.dtype)


def fast_nms(boxes: torch.Tensor, scores: torch.Tensor, classes: torch.Tensor, iou_threshold: float = 0.5,
             top_k: int = 200) -> torch.Tensor:
    """Fast NMS (YOLACT section 3.3): indices of the detections kept, highest score first.

    Per class, the ``top_k`` detections are sorted by score; with ``X`` their IoU matrix made upper triangular
    (``X[i, j]`` for ``i < j`` only), detection ``j`` is kept when ``max_i X[i, j] <= iou_threshold``. A detection
    that is itself suppressed still suppresses lower ones, so Fast NMS keeps at most as many as standard NMS
    (``torchvision.ops.batched_nms``), usually a few fewer.

    Example:
        >>> b = torch.tensor([[0.0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]])
        >>> fast_nms(b, torch.tensor([0.9, 0.8, 0.7]), torch.tensor([0, 0, 0])).tolist()
        [0, 2]
    """
    kept = []
    for c in classes.unique():
        idx = torch.nonzero(classes == c).flatten()
        idx = idx[scores[idx].argsort(descending=True)][:top_k]
        iou = box_iou(boxes[idx], boxes[idx]).triu(diagonal=1)
        kept.append(idx[iou.max(0).values <= iou_threshold])
    if not kept:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    keep = torch.cat(kept)
    return keep[scores[keep].argsort(descending=True)]


class _ResNetTrunk(nn.Module):
    """A ResNet-18 returning C3, C4, C5 (strides 8, 16, 32)."""

    def __init__(self) -> None:
        super().__init__()
        r = resnet18(weights=None)
        self.stem = nn.Sequential(r.conv1, r.bn1, r.relu, r.maxpool, r.layer1)
        self.layer2, self.layer3, self.layer4 = r.layer2, r.layer3, r.layer4

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        c3 = self.layer2(self.stem(x))
        c4 = self.layer3(c3)
        return [c3, c4, self.layer4(c4)]


class Yolact(nn.Module):
    """YOLACT on a ResNet-18 FPN (P3-P7, as the paper) with a protonet and a shared prediction head.

    Args:
        num_classes: object classes including the background (index 0).
        image_size: the square input size (550 in the paper).
        num_prototypes: ``k``, the number of prototype masks (32 in the paper).
        width: FPN and head channels (256 in the paper).

    Outputs of ``forward(images [B, 3, S, S])`` (images in [0, 1], normalised inside): a dict with ``"logits"``
    ``[B, A, C]``, ``"offsets"`` ``[B, A, 4]``, ``"coefficients"`` ``[B, A, k]`` and ``"prototypes"``
    ``[B, S/4, S/4, k]``. :meth:`detect` turns them into detections.
    """

    def __init__(self, *, num_classes: int, image_size: int = 550, num_prototypes: int = 32, width: int = 256) -> None:
        super().__init__()
        self.num_classes, self.image_size, self.k = num_classes, image_size, num_prototypes
        self.backbone = _ResNetTrunk()
        self.fpn = FeaturePyramidNetwork([128, 256, 512], width, extra_blocks=LastLevelP6P7(width, width))
        self.protonet = nn.Sequential(
            *[m for _ in range(3) for m in (nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True))],
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
            nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(width, num_prototypes, 1),
            nn.ReLU(inplace=True))
        a = 3  # aspect ratios 1, 1/2, 2
        self.head = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True))
        self.cls = nn.Conv2d(width, a * num_classes, 3, padding=1)
        self.box = nn.Conv2d(width, a * 4, 3, padding=1)
        self.coef = nn.Conv2d(width, a * num_prototypes, 3, padding=1)
        self.strides = (8, 16, 32, 64, 128)
        base = image_size / 550
        self.register_buffer("anchors", make_anchors(image_size, self.strides,
                                                     tuple(s * base for s in (24, 48, 96, 192, 384))), persistent=False)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)

    # the pieces the loss needs (course_lib.losses.instance.YolactLoss.for_model)
    encode_boxes = staticmethod(encode_boxes)
    assemble_masks = staticmethod(assemble_masks)
    crop_masks = staticmethod(crop_masks)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        if images.shape[-2:] != (self.image_size, self.image_size):
            raise ValueError(f"YOLACT expects {self.image_size}x{self.image_size} inputs, got {tuple(images.shape)}")
        x = (images - self.mean) / self.std
        levels = list(self.fpn({str(i): c for i, c in enumerate(self.backbone(x))}).values())
        b = images.shape[0]
        logits, offsets, coefs = [], [], []
        for p in levels:
            h = self.head(p)
            logits.append(self.cls(h).permute(0, 2, 3, 1).reshape(b, -1, self.num_classes))
            offsets.append(self.box(h).permute(0, 2, 3, 1).reshape(b, -1, 4))
            coefs.append(torch.tanh(self.coef(h)).permute(0, 2, 3, 1).reshape(b, -1, self.k))
        return {"logits": torch.cat(logits, 1), "offsets": torch.cat(offsets, 1),
                "coefficients": torch.cat(coefs, 1), "prototypes": self.protonet(levels[0]).permute(0, 2, 3, 1)}

    @torch.no_grad()
    def detect(self, outputs: dict[str, torch.Tensor], *, score_threshold: float = 0.05, iou_threshold: float = 0.5,
               top_k: int = 200, max_detections: int = 100) -> list[dict[str, torch.Tensor]]:
        """Detections per image: ``boxes`` (relative XYXY), ``labels``, ``scores`` and ``masks`` (``[n, S/4, S/4]``
        probabilities, cropped to the boxes), after Fast NMS."""
        results = []
        for i in range(outputs["logits"].shape[0]):
            probs = outputs["logits"][i].float().softmax(-1)[:, 1:]
            boxes = decode_boxes(outputs["offsets"][i].float(), self.anchors).clamp(0, 1)
            anchor, cls = torch.nonzero(probs > score_threshold, as_tuple=True)
            scores = probs[anchor, cls]
            keep = fast_nms(boxes[anchor], scores, cls, iou_threshold, top_k)[:max_detections]
            anchor, cls, scores = anchor[keep], cls[keep], scores[keep]
            masks = assemble_masks(outputs["prototypes"][i].float(), outputs["coefficients"][i][anchor].float())
            results.append({"boxes": boxes[anchor], "labels": cls + 1, "scores": scores,
                            "masks": crop_masks(masks, boxes[anchor])})
        return results


def yolact(*, num_classes: int, image_size: int = 550, num_prototypes: int = 32, width: int = 256) -> Yolact:
    """Build :class:`Yolact` (a ResNet-18 FPN; nothing downloaded).

    Args:
        num_classes: classes including the background.
        image_size: square input size (550 in the paper; a multiple of 128 keeps the pyramid aligned).
        num_prototypes: ``k`` (32 in the paper).
        width: channels of the FPN and the heads (256 in the paper).

    Example:
        >>> m = yolact(num_classes=3, image_size=128, num_prototypes=8, width=32)
        >>> out = m(torch.rand(1, 3, 128, 128))
        >>> out["prototypes"].shape, out["coefficients"].shape[-1]
        (torch.Size([1, 32, 32, 8]), 8)
    """
    return Yolact(num_classes=num_classes, image_size=image_size, num_prototypes=num_prototypes, width=width)
