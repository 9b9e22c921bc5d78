"""Panoptic FPN: one ResNet-FPN backbone shared by Mask R-CNN's heads and a semantic segmentation FPN head.

Introduced in Chapter 11. Kirillov, Girshick, He, Dollar, *Panoptic Feature Pyramid Networks*, CVPR 2019,
arXiv:1901.02446. The instance branch is torchvision's Mask R-CNN (RPN, box head, mask head) on the FPN levels
P2..P6; the semantic branch (the paper's Fig. 3) takes P2..P5, brings each to 1/4 scale by stages of
3x3 conv (128 channels) + GroupNorm + ReLU + 2x bilinear upsampling (P2: one stage without upsampling, P5: three),
sums them, and predicts with a 1x1 conv, upsampled 4x. Its classes are the stuff classes plus one "things" class
(index 0); 255 is ignored. The loss is the sum of Mask R-CNN's losses plus ``semantic_weight`` (0.5 in the paper's
COCO setting) times the semantic cross-entropy. At inference, :func:`course_lib.models.panoptic_fusion` merges
the two outputs into one panoptic segmentation.

Example:
    >>> net = panoptic_fpn(num_things=2, num_stuff=3, backbone="resnet18", min_size=64, max_size=96)
    >>> out = net.eval()(torch.rand(1, 3, 64, 80))
    >>> out[0]["semantic_logits"].shape, sorted(k for k in out[0] if k != "semantic_logits")
    (torch.Size([4, 64, 80]), ['boxes', 'labels', 'masks', 'scores'])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.backbone_utils import BackboneWithFPN, resnet_fpn_backbone
from torchvision.ops.misc import FrozenBatchNorm2d

__all__ = ["PanopticFPN", "SemanticFPNHead", "panoptic_fpn"]


def _stage(cin: int, cout: int, upsample: bool) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.GroupNorm(32 if cout % 32 == 0 else 1, cout),
              nn.ReLU(inplace=True)]
    if upsample:
        layers.append(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False))
    return nn.Sequential(*layers)


class SemanticFPNHead(nn.Module):
    """The semantic branch of Panoptic FPN: P2..P5 (strides 4..32) merged at 1/4 scale, then a 1x1 classifier.

    Args:
        in_channels: channels of the FPN levels (256).
        channels: channels of the upsampling stages (128 in the paper).
        num_classes: stuff classes + 1 ("things").
        levels: how many FPN levels, finest first (4: P2..P5).
    """

    def __init__(self, in_channels: int = 256, channels: int = 128, num_classes: int = 54, levels: int = 4) -> None:
        super().__init__()
        self.branches = nn.ModuleList()
        for level in range(levels):
            stages = [_stage(in_channels if k == 0 else channels, channels, upsample=level > 0)
                      for k in range(max(1, level))]
            self.branches.append(nn.Sequential(*stages))
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        """Logits at 1/4 of the input's (padded) size, ``[B, num_classes, H/4, W/4]``."""
        size = features[0].shape[-2:]
        merged = 0
        for branch, feature in zip(self.branches, features, strict=True):
            out = branch(feature)
            if out.shape[-2:] != size:  # odd sizes: the last stage lands one pixel off
                out = F.interpolate(out, size=size, mode="bilinear", align_corners=False)
            merged = merged + out
        return self.classifier(merged)


class PanopticFPN(nn.Module):
    """Mask R-CNN and a semantic FPN head on one backbone.

    ``forward(images, targets=None)``: ``images`` a float tensor ``[B, 3, H, W]`` in 0..1 or a list of ``[3, H, W]``
    tensors; in training, ``targets`` has one dict per image with ``boxes`` ``[N, 4]`` (x0, y0, x1, y1), ``labels``
    ``[N]`` (thing classes 1..T), ``masks`` ``[N, H, W]`` and ``semantic`` ``[H, W]`` (0 = things, 1..S = stuff,
    255 = void), and the result is the dict of losses (``loss_semantic`` included, not weighted). In evaluation the
    result is one dict per image: Mask R-CNN's ``boxes``, ``labels``, ``scores``, ``masks`` ``[N, 1, H, W]`` and
    ``semantic_logits`` ``[S + 1, H, W]``, all at the input's size. The shared training loop passes one argument:
    an ``(images, targets)`` pair is accepted in its place.

    Args:
        detector: a torchvision :class:`~torchvision.models.detection.MaskRCNN` with an FPN backbone.
        semantic_head: a :class:`SemanticFPNHead`.
    """

    def __init__(self, detector: MaskRCNN, semantic_head: SemanticFPNHead) -> None:
        super().__init__()
        self.detector, self.semantic_head = detector, semantic_head

    def forward(self, images, targets: list[dict] | None = None):
        if targets is None and isinstance(images, (tuple, list)) and len(images) == 2 and \
                isinstance(images[1], (list, tuple)) and all(isinstance(t, dict) for t in images[1]):
            images, targets = images
        images = list(images)
        if self.training and targets is None:
            raise ValueError("PanopticFPN needs targets in training mode")
        sizes = [tuple(im.shape[-2:]) for im in images]
        det_targets = None if targets is None else [{k: t[k] for k in ("boxes", "labels", "masks")} for t in targets]
        batch, det_targets = self.detector.transform(images, det_targets)
        features = self.detector.backbone(batch.tensors)
        proposals, rpn_losses = self.detector.rpn(batch, features, det_targets)
        detections, roi_losses = self.detector.roi_heads(features, proposals, batch.image_sizes, det_targets)
        logits = self.semantic_head([features[k] for k in list(features)[:len(self.semantic_head.branches)]])
        logits = F.interpolate(logits, size=batch.tensors.shape[-2:], mode="bilinear", align_corners=False)
        if self.training:
            sem = torch.full((len(images), *batch.tensors.shape[-2:]), 255, dtype=torch.long, device=logits.device)
            for i, (t, (h, w)) in enumerate(zip(targets, batch.image_sizes, strict=True)):
                resized = F.interpolate(t["semantic"][None, None].float(), size=(h, w), mode="nearest")
                sem[i, :h, :w] = resized[0, 0].long()
            loss = F.cross_entropy(logits, sem, ignore_index=255) if (sem != 255).any() else logits.sum() * 0
            return {**rpn_losses, **roi_losses, "loss_semantic": loss}
        detections = self.detector.transform.postprocess(detections, batch.image_sizes, sizes)
        for i, (d, (h, w), size) in enumerate(zip(detections, batch.image_sizes, sizes, strict=True)):
            d["semantic_logits"] = F.interpolate(logits[i, None, :, :h, :w], size=size, mode="bilinear",
                                                 align_corners=False)[0]
        return detections


def panoptic_fpn(*, num_things: int, num_stuff: int, backbone: str = "resnet50", min_size: int = 800,
                 max_size: int = 1333, fpn_channels: int = 256, semantic_channels: int = 128, trainable_layers: int = 5,
                 backbone_weights=None, **maskrcnn_kwargs) -> PanopticFPN:
    """Panoptic FPN (arXiv:1901.02446) on a torchvision ResNet-FPN backbone.

    Args:
        num_things: thing classes (Mask R-CNN predicts them plus the background: COCO 80).
        num_stuff: stuff classes (the semantic head predicts them plus one "things" class: COCO 53).
        backbone: a torchvision ResNet name (``resnet50`` in the paper's R50 1x setting; ``resnet18`` for quick runs).
        min_size, max_size: Mask R-CNN's resizing of the shorter and the longer side (800 and 1333 on COCO).
        fpn_channels: channels of the feature pyramid (256; fewer make a quick run cheaper).
        semantic_channels: channels of the semantic head's stages (128).
        trainable_layers: ResNet stages to train (5: all; 3 with ImageNet weights as torchvision does).
        backbone_weights: a torchvision weights enum (e.g. ``ResNet50_Weights.IMAGENET1K_V1``) or ``None``
            (random: nothing is downloaded unless asked).
        maskrcnn_kwargs: passed on to :class:`~torchvision.models.detection.MaskRCNN` (e.g. ``box_detections_per_img``).
    """
    if num_things < 1 or num_stuff < 1:
        raise ValueError(f"Panoptic FPN needs thing and stuff classes, got num_things={num_things}, "
                         f"num_stuff={num_stuff}")
    # from scratch, batch norm must learn; on ImageNet weights it stays frozen, as torchvision (and the paper) do
    norm = nn.BatchNorm2d if backbone_weights is None else FrozenBatchNorm2d
    body = resnet_fpn_backbone(backbone_name=backbone, weights=backbone_weights, trainable_layers=trainable_layers,
                               norm_layer=norm)
    if fpn_channels != body.out_channels:  # a narrower pyramid for quick runs (the heads follow out_channels)
        body = BackboneWithFPN(body.body, {f"layer{k}": str(k - 1) for k in range(1, 5)},
                               [b[0].in_channels for b in body.fpn.inner_blocks], fpn_channels)
    detector = MaskRCNN(body, num_classes=num_things + 1, min_size=min_size, max_size=max_size, **maskrcnn_kwargs)
    return PanopticFPN(detector, SemanticFPNHead(body.out_channels, semantic_channels, num_stuff + 1))
