"""Mask R-CNN from torchvision: built offline, a small-backbone variant, predictor swapping, COCO weights.

Introduced in Chapter 5 and reused by Chapter 11 (panoptic segmentation). He, Gkioxari, Dollar, Girshick, "Mask
R-CNN", ICCV 2017, https://arxiv.org/abs/1703.06870: Faster R-CNN (a backbone with FPN, a region proposal network,
RoIAlign, a box head) plus a small fully convolutional head that predicts one 28x28 mask per class for each box.

:func:`maskrcnn` builds torchvision's model with nothing downloaded by default (``weights=None`` and no backbone
weights, the pitfall of torchvision's detection builders offline). ``variant``:

* ``"resnet50_fpn"``: the paper's R50-FPN as torchvision ships it (COCO weights: 34.6 mask AP on val2017);
* ``"resnet50_fpn_v2"``: the improved recipe of Li et al. 2021 (arXiv:2111.11429; 41.8 mask AP);
* ``"mobilenet_v3"``: a MobileNetV3-Large FPN backbone (as ``fasterrcnn_mobilenet_v3_large_fpn``) with Mask R-CNN's
  heads, small enough to train a few steps on a CPU (the quick profile). No COCO weights exist for it.

:func:`replace_predictors` swaps the box and mask predictors for another number of classes (fine-tuning on
Penn-Fudan or a COCO category subset, as torchvision's tutorial does); :func:`load_coco_weights` finds torchvision's
COCO weights file in given folders or torch hub's cache, else asks torchvision's weight API (once, online).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from torch import nn
from torchvision.models import detection
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import _mobilenet_extractor
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.mobilenetv3 import mobilenet_v3_large

from .weights import load_backbone_state

__all__ = ["COCO_WEIGHTS", "VARIANTS", "load_coco_weights", "maskrcnn", "replace_predictors"]

VARIANTS = ("resnet50_fpn", "resnet50_fpn_v2", "mobilenet_v3")
#: torchvision's COCO weights of each variant (91 classes: COCO's category ids, 0 = background)
COCO_WEIGHTS = {"resnet50_fpn": detection.MaskRCNN_ResNet50_FPN_Weights.COCO_V1,
                "resnet50_fpn_v2": detection.MaskRCNN_ResNet50_FPN_V2_Weights.COCO_V1}


def maskrcnn(*, num_classes: int = 91, variant: str = "resnet50_fpn", min_size: int = 800, max_size: int = 1333,
             trainable_backbone_layers: int | None = None, **kwargs) -> detection.MaskRCNN:
    """torchvision's Mask R-CNN, built without downloading anything.

    Args:
        num_classes: classes including the background (91 for COCO's category ids, 2 for Penn-Fudan).
        variant: one of :data:`VARIANTS`.
        min_size, max_size: the model's internal resize (shorter side, cap on the longer side); 800/1333 in the
            paper, smaller for quick CPU runs.
        trainable_backbone_layers: backbone stages left trainable (``None``: all, as from scratch).
        **kwargs: passed to ``torchvision.models.detection.MaskRCNN`` (e.g. ``box_detections_per_img``).

    Returns:
        The model: in training mode ``model(images, targets)`` returns the losses (``loss_classifier``,
        ``loss_box_reg``, ``loss_mask``, ``loss_objectness``, ``loss_rpn_box_reg``); in eval mode ``model(images)``
        returns per image ``boxes``, ``labels``, ``scores`` and ``masks`` (``[N, 1, H, W]`` probabilities).

    Example:
        >>> import torch
        >>> m = maskrcnn(num_classes=2, variant="mobilenet_v3", min_size=128, max_size=160)
        >>> _ = m.eval(); out = m([torch.rand(3, 96, 128)])
        >>> sorted(out[0])
        ['boxes', 'labels', 'masks', 'scores']
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown Mask R-CNN variant {variant!r}; choose one of {VARIANTS}")
    common = dict(num_classes=num_classes, min_size=min_size, max_size=max_size, **kwargs)
    if variant == "resnet50_fpn":
        return detection.maskrcnn_resnet50_fpn(weights=None, weights_backbone=None,
                                               trainable_backbone_layers=trainable_backbone_layers, **common)
    if variant == "resnet50_fpn_v2":
        return detection.maskrcnn_resnet50_fpn_v2(weights=None, weights_backbone=None,
                                                  trainable_backbone_layers=trainable_backbone_layers, **common)
    trunk = mobilenet_v3_large(weights=None, norm_layer=nn.BatchNorm2d)
    backbone = _mobilenet_extractor(trunk, True, trainable_backbone_layers or 6)
    anchors = AnchorGenerator(((32, 64, 128, 256, 512),) * 3, ((0.5, 1.0, 2.0),) * 3)
    # lighter heads than R50-FPN's (a 1024-wide box MLP, four 256-channel mask convolutions): a 256-wide MLP and two
    # 128-channel mask convolutions, so that a CPU trains it in seconds per step
    common.setdefault("box_head", TwoMLPHead(backbone.out_channels * 7 * 7, 256))
    common.setdefault("box_predictor", FastRCNNPredictor(256, num_classes))
    common.setdefault("mask_head", MaskRCNNHeads(backbone.out_channels, [128, 128], 1))
    common.setdefault("mask_predictor", MaskRCNNPredictor(128, 128, num_classes))
    return detection.MaskRCNN(backbone, rpn_anchor_generator=anchors, **{**common, "num_classes": None})


def replace_predictors(model: detection.MaskRCNN, num_classes: int, *,
                       mask_hidden: int | None = None) -> detection.MaskRCNN:
    """Give ``model`` new box and mask predictors for ``num_classes`` (background included); the rest is kept.

    This is how a COCO-trained Mask R-CNN is fine-tuned on another label set: the class-specific last layers are
    replaced (freshly initialised), everything up to them keeps its weights. ``mask_hidden``: channels of the new
    mask predictor's transposed convolution (default: those of the old one, 256 for R50-FPN).

    Example:
        >>> m = replace_predictors(maskrcnn(variant="mobilenet_v3", min_size=64, max_size=64), 2)
        >>> m.roi_heads.box_predictor.cls_score.out_features, m.roi_heads.mask_predictor.mask_fcn_logits.out_channels
        (2, 2)
    """
    box_in = model.roi_heads.box_predictor.cls_score.in_features
    model.roi_heads.box_predictor = FastRCNNPredictor(box_in, num_classes)
    mask_in = model.roi_heads.mask_predictor.conv5_mask.in_channels
    hidden = model.roi_heads.mask_predictor.conv5_mask.out_channels if mask_hidden is None else mask_hidden
    model.roi_heads.mask_predictor = MaskRCNNPredictor(mask_in, hidden, num_classes)
    return model


def load_coco_weights(model: detection.MaskRCNN, variant: str, *,
                      folders: Sequence[str | os.PathLike] = ()) -> str | None:
    """Load torchvision's COCO weights of ``variant`` into a 91-class ``model`` built by :func:`maskrcnn`.

    The weights file (torchvision's name, e.g. ``maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth``) is looked for in
    ``folders`` and torch hub's cache first; only then is torchvision's weight API asked (it downloads once).

    Returns:
        Where the weights came from, or ``None`` when they could not be had (offline): the model keeps its
        initialisation and a message says so.

    Raises:
        ValueError: a variant without COCO weights, or a model that does not fit them.
    """
    if variant not in COCO_WEIGHTS:
        raise ValueError(f"no COCO weights for Mask R-CNN variant {variant!r}; torchvision has them for "
                         f"{sorted(COCO_WEIGHTS)}")
    return load_backbone_state(model, COCO_WEIGHTS[variant], folders=folders, what=f"COCO Mask R-CNN {variant} weights")
