"""The YOLACT recipe of Chapter 5: ``yolact-coco``, prototype masks on COCO (Bolya et al., arXiv:1904.02689).

The model (:mod:`course_lib.models.yolact`, a ResNet-18 FPN here) takes square ``S x S`` inputs: training images are
large-scale jittered and cropped to ``S x S`` (:class:`course_lib.data.instances.InstanceTransforms`), evaluation
images resized to ``S x S`` ignoring the aspect ratio, as YOLACT does. The loss is
:class:`course_lib.losses.instance.YolactLoss`; detections come from Fast NMS, masks are assembled at ``S/4``,
cropped to their boxes and upsampled to ``S x S``.

Evaluation protocol: COCO mask and box AP by ``COCOeval`` as for Mask R-CNN (:mod:`course_lib.recipes.instance`), but
at the ``S x S`` input resolution (the ground-truth masks resized with the images), not at the original image size;
the paper's numbers (29.8 mask AP for YOLACT-550 R101 on test-dev) paste the masks back into the original images.

Profiles (:class:`YolactConfig`): ``full``: 550 px, 32 prototypes, width 256, SGD lr 1e-3, momentum 0.9, weight decay
5e-4, batch 8 per GPU, 55 epochs (about the paper's 800k iterations of batch 8 over 118k images), cosine decay (the
paper steps the rate down). ``quick``: 128 px, 8 prototypes, width 64, Adam, a few epochs on the sample.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from ..data.instances import InstanceTransforms
from ..losses.instance import YolactLoss
from ..models.yolact import Yolact, yolact
from .instance import InstanceConfig, MaskRCNNRecipe

__all__ = ["YolactConfig", "YolactDetector", "yolact_recipes"]


@dataclass(frozen=True)
class YolactConfig(InstanceConfig):
    """Settings of ``yolact-coco`` (see :class:`InstanceConfig` for the shared ones; the Mask R-CNN-only fields
    ``variant``, ``coco_weights``, ``min_size``, ``max_size`` and the RPN sizes are unused).

    Args:
        image_size: the square input size ``S`` (550 in the paper).
        num_prototypes: ``k`` (32 in the paper).
        width: FPN and head channels (256 in the paper).
        score_threshold: class score from which a detection is kept before NMS.
        nms_iou: Fast NMS threshold.
        top_k: detections per class entering Fast NMS.
    """

    image_size: int = 550
    num_prototypes: int = 32
    width: int = 256
    score_threshold: float = 0.05
    nms_iou: float = 0.5
    top_k: int = 200


class YolactDetector(nn.Module):
    """YOLACT with the interface of torchvision's detectors for the recipes: in training ``forward((images,
    targets))`` returns the raw outputs (the loss is computed by the recipe); in eval mode ``forward(images)``
    returns per image ``boxes`` (pixels), ``labels``, ``scores`` and ``masks`` ``[n, 1, S, S]`` probabilities."""

    def __init__(self, model: Yolact, cfg: YolactConfig) -> None:
        super().__init__()
        self.detector, self.cfg = model, cfg

    def forward(self, inputs):
        images = inputs[0] if self.training else inputs
        out = self.detector(torch.stack(list(images)))
        if self.training:
            return out
        size = self.detector.image_size
        results = []
        for det in self.detector.detect(out, score_threshold=self.cfg.score_threshold, iou_threshold=self.cfg.nms_iou,
                                        top_k=self.cfg.top_k, max_detections=self.cfg.detections_per_image):
            masks = det["masks"][:, None]
            if len(masks):
                masks = F.interpolate(masks, size=(size, size), mode="bilinear", align_corners=False)
            else:
                masks = masks.new_zeros((0, 1, size, size))
            results.append({"boxes": det["boxes"] * size, "labels": det["labels"], "scores": det["scores"],
                            "masks": masks})
        return results


@dataclass
class YolactRecipe(MaskRCNNRecipe):
    """YOLACT on COCO (or a category subset): the Mask R-CNN recipe's data and evaluation, YOLACT's model and loss."""

    def build_model(self, cfg: YolactConfig) -> nn.Module:
        model = yolact(num_classes=len(self.classes(cfg)), image_size=cfg.image_size,
                       num_prototypes=cfg.num_prototypes, width=cfg.width)
        wrapped = YolactDetector(model, cfg)
        wrapped.backbone_source = None
        return wrapped

    def transforms(self, cfg: YolactConfig, train: bool) -> InstanceTransforms:
        if train:
            return InstanceTransforms(train=True, size=cfg.image_size, scale_range=cfg.scale_range, hflip=cfg.hflip)
        return InstanceTransforms(train=False, square=cfg.image_size)

    def build_loss(self, cfg: YolactConfig, train_set: Dataset) -> Callable:
        model = yolact(num_classes=2, image_size=cfg.image_size, num_prototypes=1, width=8)  # anchors, box coding
        return YolactLoss.for_model(model)


YOLACT_FULL = YolactConfig(profile="full", image_size=550, num_prototypes=32, width=256, optimizer="sgd", lr=1e-3,
                           momentum=0.9, weight_decay=5e-4, batch_size=8, eval_batch_size=8, epochs=55,
                           schedule="cosine", num_workers=4)
YOLACT_QUICK = YolactConfig(profile="quick", image_size=128, num_prototypes=8, width=64, optimizer="adam", lr=1e-3,
                            batch_size=4, eval_batch_size=4, epochs=2, schedule="cosine", scale_range=(0.8, 1.25),
                            detections_per_image=20, grad_clip=10.0)


def yolact_recipes() -> list[YolactRecipe]:
    """The YOLACT recipe of Chapter 5."""
    return [YolactRecipe(name="yolact-coco", chapter="5", dataset="coco", quick=YOLACT_QUICK, full=YOLACT_FULL,
                         splits=("train", "val"),
                         description="YOLACT (Bolya et al. 2019) on COCO 2017 instances, ResNet-18 FPN, COCO mask AP")]
