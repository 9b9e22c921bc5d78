"""Instance segmentation recipes (Chapter 5): ``maskrcnn-pennfudan`` and ``maskrcnn-coco``.

Mask R-CNN (He et al., arXiv:1703.06870) from torchvision (:mod:`course_lib.models.maskrcnn`). The detection model
computes its own losses, so the recipe wraps it (:class:`DetectionLossModel`): a batch is ``((images, targets),
targets)`` (lists: images differ in size, targets in their number of instances) and the loss is the sum of the
model's five losses (RPN objectness and box, classifier, box regression, mask BCE).

Evaluation protocol: the model's masks (probabilities pasted into the image) thresholded at ``mask_threshold``
(0.5, as torchvision's reference), encoded as RLE with each box's score, scored by ``COCOeval`` (``segm`` and
``bbox``) against the dataset's targets with crowd regions kept as ignore regions
(:func:`course_lib.metrics.instance_ap.coco_evaluate`). ``mask_ap`` is COCO's mask AP (IoU 0.50:0.95), also
``mask_ap50``, ``mask_ap75``, ``box_ap``. Object areas (small/medium/large) are the pixel areas of the masks at the
evaluated size; the quick profile shrinks images (``max_image_size``), the full profile scores native sizes.

Profiles (:class:`InstanceConfig`):

``maskrcnn-pennfudan`` full: torchvision's fine-tuning tutorial: R50-FPN with COCO weights, box and mask predictors
swapped for 2 classes, SGD lr 0.005, momentum 0.9, weight decay 5e-4, batch 2, 10 epochs (cosine decay here; the
tutorial steps the rate down). quick: the MobileNetV3 FPN variant from scratch at 160-200 px, a few epochs.

``maskrcnn-coco`` full: torchvision's reference recipe for R50-FPN: 26 epochs, SGD lr 0.02 for 16 images per step
(2 per GPU on 8 GPUs), weight decay 1e-4, 800/1333 px (cosine decay here; the reference steps at epochs 16 and 22).
quick: the MobileNetV3 variant from scratch on the sample at 160-200 px.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from .. import distributed as D
from ..config import get_device
from ..data.coco import CocoInstances
from ..data.instances import InstanceTransforms, detection_collate
from ..data.pennfudan import PennFudan
from ..inference import evaluating
from ..metrics.instance_ap import coco_evaluate, encode_mask
from ..models.maskrcnn import load_coco_weights, maskrcnn, replace_predictors
from .base import Recipe
from .config import RecipeConfig
from .fcn import vgg16_weight_folders

__all__ = ["DetectionLossModel", "InstanceConfig", "MaskRCNNRecipe", "detections_to_results", "instance_recipes",
           "targets_to_coco"]


@dataclass(frozen=True)
class InstanceConfig(RecipeConfig):
    """The settings of the Mask R-CNN recipes (the shared ones are documented in :class:`RecipeConfig`).

    Args:
        variant: Mask R-CNN variant of :func:`course_lib.models.maskrcnn.maskrcnn`.
        coco_weights: start from torchvision's COCO weights (predictors swapped when the classes differ); offline the
            model starts from scratch and says so.
        min_size: the model's internal resize: the shorter image side (800 in the paper).
        max_size: the model's internal resize: cap on the longer side (1333 in the paper).
        max_image_size: shrink images in the dataset so that the longer side is at most this (``None``: native).
        crop_size: large-scale-jitter square crop of the training images (``None``: none).
        scale_range: ``(min, max)`` jitter factor relative to ``crop_size``.
        hflip: probability of a horizontal flip in training.
        categories: COCO category subset by name (empty: all 80).
        rpn_pre_nms_top_n_train: proposals kept before the RPN's NMS in training (per pyramid level).
        rpn_post_nms_top_n_train: proposals kept after the RPN's NMS in training.
        box_batch_size_per_image: proposals sampled per image for the box and mask heads in training.
        detections_per_image: at most this many detections per image.
        mask_threshold: probability from which a pixel belongs to a predicted mask.
        max_val_items: validate on only the first this many images (``None``: all).
    """

    variant: str = "resnet50_fpn"
    coco_weights: bool = False
    min_size: int = 800
    max_size: int = 1333
    max_image_size: int | None = None
    crop_size: int | None = None
    scale_range: tuple[float, float] = (0.5, 1.5)
    hflip: float = 0.5
    categories: tuple[str, ...] = ()
    rpn_pre_nms_top_n_train: int = 2000
    rpn_post_nms_top_n_train: int = 2000
    box_batch_size_per_image: int = 512
    detections_per_image: int = 100
    mask_threshold: float = 0.5
    max_val_items: int | None = None


class DetectionLossModel(nn.Module):
    """A torchvision detection model as the training loop expects: ``forward((images, targets))`` returns the loss
    dict in training mode, ``forward(images)`` the detections in eval mode.

    Example:
        >>> from course_lib.models.maskrcnn import maskrcnn
        >>> m = DetectionLossModel(maskrcnn(num_classes=2, variant="mobilenet_v3", min_size=64, max_size=64))
        >>> _ = m.eval(); sorted(m([torch.rand(3, 48, 64)])[0])
        ['boxes', 'labels', 'masks', 'scores']
    """

    def __init__(self, detector: nn.Module) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, inputs):
        if self.training:
            images, targets = inputs
            return self.detector(list(images), [_plain(t) for t in targets])
        return self.detector(list(inputs))


def _plain(target: dict) -> dict:
    """The tensors torchvision's detection models read from a target (no ``image_id`` int, plain tensors)."""
    return {k: v.as_subclass(torch.Tensor) for k, v in target.items() if k in ("boxes", "labels", "masks")}


def _sum_losses(outputs: dict[str, torch.Tensor], targets: Any) -> torch.Tensor:
    return sum(outputs.values())


def _train_collate(batch):
    images, targets = detection_collate(batch)
    return (images, targets), targets


def targets_to_coco(targets: list[dict], sizes: list[tuple[int, int]], category_ids: tuple[int, ...],
                    classes: tuple[str, ...]) -> dict:
    """A COCO ground-truth dict from dataset targets (masks as RLE, crowds kept, ``area`` = mask pixels).

    Args:
        targets: the targets of :mod:`course_lib.data.instances`, in dataset order.
        sizes: ``(height, width)`` of each image.
        category_ids: the category id of each label (index 0 the background).
        classes: the class names (index 0 the background).
    """
    images, anns = [], []
    for target, (h, w) in zip(targets, sizes, strict=True):
        images.append({"id": int(target["image_id"]), "height": int(h), "width": int(w), "file_name": ""})
        boxes = target["boxes"].as_subclass(torch.Tensor).tolist()
        for mask, label, crowd, box in zip(target["masks"], target["labels"].tolist(), target["iscrowd"].tolist(),
                                           boxes, strict=True):
            m = mask.numpy().astype(np.uint8)
            x0, y0, x1, y1 = box
            anns.append({"id": len(anns) + 1, "image_id": int(target["image_id"]), "iscrowd": int(crowd),
                         "category_id": int(category_ids[label]), "segmentation": encode_mask(m),
                         "area": float(m.sum()), "bbox": [x0, y0, x1 - x0, y1 - y0]})
    cats = [{"id": int(c), "name": n} for c, n in zip(category_ids[1:], classes[1:], strict=True)]
    return {"images": images, "annotations": anns, "categories": cats}


def detections_to_results(output: dict[str, torch.Tensor], image_id: int, category_ids: tuple[int, ...],
                          threshold: float = 0.5) -> tuple[list[dict], list[dict]]:
    """One image's detections (torchvision's output dict) as COCO results: ``(mask results, box results)``."""
    masks, boxes = output["masks"], output["boxes"].tolist()
    segm, bbox = [], []
    for k, (label, score) in enumerate(zip(output["labels"].tolist(), output["scores"].tolist(), strict=True)):
        base = {"image_id": int(image_id), "category_id": int(category_ids[label]), "score": float(score)}
        mask = (masks[k, 0] >= threshold).cpu().numpy()
        segm.append({**base, "segmentation": encode_mask(mask)})
        x0, y0, x1, y1 = boxes[k]
        bbox.append({**base, "bbox": [x0, y0, x1 - x0, y1 - y0]})
    return segm, bbox


def _gather(items: list) -> list:
    """Concatenate a list over all processes (``torchrun``), else return it."""
    if not D.is_distributed():
        return items
    parts: list[list] = [[] for _ in range(D.world_size())]
    torch.distributed.all_gather_object(parts, items)
    return [x for part in parts for x in part]


@dataclass
class MaskRCNNRecipe(Recipe):
    """Mask R-CNN on an instance dataset of the registry (``pennfudan`` or ``coco``)."""

    monitor: str = "mask_ap"

    def build_model(self, cfg: InstanceConfig) -> nn.Module:
        classes = len(self.classes(cfg))
        extra = dict(rpn_pre_nms_top_n_train=cfg.rpn_pre_nms_top_n_train,
                     rpn_post_nms_top_n_train=cfg.rpn_post_nms_top_n_train,
                     box_detections_per_img=cfg.detections_per_image,
                     box_batch_size_per_image=cfg.box_batch_size_per_image)
        source = None
        if cfg.coco_weights:
            model = maskrcnn(num_classes=91, variant=cfg.variant, min_size=cfg.min_size, max_size=cfg.max_size, **extra)
            source = load_coco_weights(model, cfg.variant, folders=vgg16_weight_folders())  # <data root>/weights, hub
            if classes != 91:
                model = replace_predictors(model, classes)
        else:
            model = maskrcnn(num_classes=classes, variant=cfg.variant, min_size=cfg.min_size, max_size=cfg.max_size,
                             **extra)
        wrapped = DetectionLossModel(model)
        wrapped.backbone_source = source
        return wrapped

    def config_from_checkpoint(self, checkpoint: str | Path, meta: dict[str, Any]) -> InstanceConfig:
        """The checkpoint's settings, without the COCO weights (its own weights replace them: nothing to fetch)."""
        cfg = super().config_from_checkpoint(checkpoint, meta)
        return dataclasses.replace(cfg, coco_weights=False)

    def classes(self, cfg: InstanceConfig) -> tuple[str, ...]:
        """Class names of the model (background first): a COCO subset, all of COCO, or Penn-Fudan's."""
        if self.dataset == "coco" and cfg.categories:
            return ("background", *cfg.categories)
        if self.dataset == "coco":
            return ("background",) * 91  # torchvision's convention: the label is COCO's category id (1..90)
        return self.info.classes

    def transforms(self, cfg: InstanceConfig, train: bool) -> InstanceTransforms:
        """The training or evaluation transforms of ``cfg``."""
        return InstanceTransforms(train=train, size=cfg.crop_size if train else None, scale_range=cfg.scale_range,
                                  hflip=cfg.hflip, max_size=cfg.max_image_size)

    def build_dataset(self, data_root: Path, split: str, cfg: InstanceConfig, train: bool) -> Dataset:
        limit = cfg.max_items if train else cfg.max_val_items
        if self.dataset == "pennfudan":
            return PennFudan(data_root, split, self.transforms(cfg, train), max_items=limit, seed=cfg.seed)
        # all categories: labels are the category ids, as torchvision's COCO models predict them
        return CocoInstances(data_root, split, self.transforms(cfg, train), categories=cfg.categories or None,
                             include_crowd=not train, max_items=limit, category_labels=not cfg.categories)

    def collate_fn(self, cfg: InstanceConfig) -> Callable:
        return _train_collate

    def build_loss(self, cfg: InstanceConfig, train_set: Dataset) -> Callable:
        return _sum_losses

    def predict_dataset(self, model: nn.Module, dataset: Dataset, cfg: InstanceConfig,
                        device: torch.device | None = None, progress: bool = True):
        """``(results_segm, results_bbox, ground-truth dict)`` of ``dataset`` (all processes gathered)."""
        device = device or get_device()
        model.to(device)
        base = getattr(dataset, "datasets", [dataset])[0]
        category_ids = getattr(base, "category_ids", (0, 1))
        segm, bbox, targets, sizes = [], [], [], []
        loader = self.loader(dataset, cfg, train=False)
        with evaluating(model, cfg.amp, device):
            for (images, batch_targets), _ in tqdm(loader, desc="evaluate", leave=False,
                                                  disable=not (progress and D.is_main_process())):
                outputs = model([im.to(device) for im in images])
                for image, output, target in zip(images, outputs, batch_targets, strict=True):
                    output = {k: v.float().cpu() if v.is_floating_point() else v.cpu() for k, v in output.items()}
                    s, b = detections_to_results(output, target["image_id"], category_ids, cfg.mask_threshold)
                    segm += s
                    bbox += b
                    targets.append(target)
                    sizes.append(tuple(image.shape[-2:]))
        classes = getattr(base, "classes", ("background", "object"))
        names = classes if len(classes) == len(category_ids) else tuple(str(c) for c in category_ids)
        gt = targets_to_coco(_gather(targets), _gather(sizes), category_ids, names)
        return _gather(segm), _gather(bbox), gt

    def evaluate(self, model: nn.Module, dataset: Dataset, cfg: InstanceConfig, device: torch.device | None = None,
                 progress: bool = True) -> dict[str, float]:
        """COCO mask and box AP of ``model`` on ``dataset`` (see the module docstring for the protocol)."""
        segm, bbox, gt = self.predict_dataset(model, dataset, cfg, device, progress)
        mask, box = coco_evaluate(gt, segm, "segm"), coco_evaluate(gt, bbox, "bbox")
        return {"mask_ap": mask["AP"], "mask_ap50": mask["AP50"], "mask_ap75": mask["AP75"],
                "mask_ar100": mask["AR100"], "box_ap": box["AP"], "box_ap50": box["AP50"],
                "detections": float(len(segm))}


_QUICK = dict(profile="quick", variant="mobilenet_v3", min_size=160, max_size=200, max_image_size=200,
              rpn_pre_nms_top_n_train=300, rpn_post_nms_top_n_train=150, box_batch_size_per_image=64,
              detections_per_image=20, optimizer="sgd", lr=0.02, momentum=0.9, weight_decay=1e-4, batch_size=2,
              eval_batch_size=2, schedule="cosine", grad_clip=10.0)

PENNFUDAN_FULL = InstanceConfig(profile="full", variant="resnet50_fpn", coco_weights=True, optimizer="sgd", lr=0.005,
                                momentum=0.9, weight_decay=5e-4, batch_size=2, eval_batch_size=2, epochs=10,
                                schedule="cosine", num_workers=4)
PENNFUDAN_QUICK = InstanceConfig(epochs=6, **_QUICK)
COCO_FULL = InstanceConfig(profile="full", variant="resnet50_fpn", optimizer="sgd", lr=0.02, momentum=0.9,
                           weight_decay=1e-4, batch_size=2, eval_batch_size=2, epochs=26, schedule="cosine",
                           num_workers=4)
COCO_QUICK = InstanceConfig(epochs=4, **_QUICK)


def instance_recipes() -> list[MaskRCNNRecipe]:
    """The Mask R-CNN recipes of Chapter 5."""
    return [
        MaskRCNNRecipe(name="maskrcnn-pennfudan", chapter="5", dataset="pennfudan", quick=PENNFUDAN_QUICK,
                       full=PENNFUDAN_FULL, splits=("train", "val"),
                       description="Mask R-CNN (He et al. 2017) fine-tuned on Penn-Fudan pedestrians, COCO mask AP"),
        MaskRCNNRecipe(name="maskrcnn-coco", chapter="5", dataset="coco", quick=COCO_QUICK, full=COCO_FULL,
                       splits=("train", "val"),
                       description="Mask R-CNN R50-FPN on COCO 2017 instances (torchvision's reference), COCO mask AP"),
    ]
