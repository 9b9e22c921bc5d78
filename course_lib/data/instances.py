"""What the instance-segmentation datasets share: the target dict, joint transforms, the collate function.

Introduced in Chapter 5 (Mask R-CNN, YOLACT) and reused by Chapter 11 (panoptic segmentation). Every instance
dataset (:class:`course_lib.data.coco.CocoInstances`, :class:`course_lib.data.pennfudan.PennFudan`) returns
``(image, target)`` in the format of torchvision's detection models:

* ``image``: ``tv_tensors.Image`` ``float32 [3, H, W]`` in ``[0, 1]`` (the detection models normalise inside);
* ``target``: a dict with ``boxes`` (``tv_tensors.BoundingBoxes`` ``[N, 4]``, XYXY in pixels, the right and bottom
  edges exclusive), ``masks`` (``tv_tensors.Mask`` ``uint8 [N, H, W]``), ``labels`` (``int64 [N]``, 0 is the
  background, so objects are ``1..K``), ``iscrowd`` (``int64 [N]``), ``area`` (``float32 [N]``, mask pixels) and
  ``image_id`` (``int``). An image without objects has ``N = 0`` (torchvision's models train on such images).

The transforms move image, boxes and masks together (``torchvision.transforms.v2``); after a crop,
``v2.SanitizeBoundingBoxes`` drops the instances cut away (boxes under one pixel) together with their masks, labels,
crowd flags and areas.

Example:
    >>> import torch
    >>> t = make_target(torch.zeros(1, 4, 5, dtype=torch.uint8), [1], image_id=7)
    >>> t["boxes"].shape, t["labels"].tolist(), t["image_id"]
    (torch.Size([0, 4]), [], 7)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.ops import masks_to_boxes
from torchvision.transforms import v2

__all__ = ["InstanceTransforms", "detection_collate", "make_target"]


def make_target(masks: np.ndarray | torch.Tensor, labels: Sequence[int], *, image_id: int,
                iscrowd: Sequence[int] | None = None, boxes: np.ndarray | torch.Tensor | None = None
                ) -> dict[str, Any]:
    """The target dict of one image from its instance masks (boxes from the masks unless given).

    Instances whose mask is empty are dropped (a polygon smaller than a pixel, an object cropped away), with their
    label, crowd flag and box.

    Args:
        masks: ``[N, H, W]`` binary masks (any integer or boolean type).
        labels: ``N`` class indices (``1..K``).
        image_id: the image's id (COCO's ``image_id``; an index for other datasets).
        iscrowd: ``N`` crowd flags (default all 0).
        boxes: ``[N, 4]`` XYXY boxes (exclusive right/bottom edges); default: the tight boxes of the masks.

    Example:
        >>> m = np.zeros((2, 4, 6), np.uint8); m[0, 1:3, 2:5] = 1
        >>> t = make_target(m, [1, 1], image_id=0)
        >>> t["boxes"].tolist(), t["area"].tolist()
        ([[2.0, 1.0, 5.0, 3.0]], [6.0])
    """
    masks = torch.as_tensor(np.asarray(masks) if not torch.is_tensor(masks) else masks).to(torch.uint8)
    if masks.ndim != 3:
        raise ValueError(f"masks must be [N, H, W], got shape {tuple(masks.shape)}")
    n, height, width = masks.shape
    labels = torch.as_tensor(list(labels), dtype=torch.int64).reshape(-1)
    crowd = torch.as_tensor(list(iscrowd) if iscrowd is not None else [0] * n, dtype=torch.int64).reshape(-1)
    if len(labels) != n or len(crowd) != n:
        raise ValueError(f"{n} masks but {len(labels)} labels and {len(crowd)} crowd flags")
    keep = masks.flatten(1).any(1).bool() if n else torch.zeros(0, dtype=torch.bool)
    masks, labels, crowd = masks[keep], labels[keep], crowd[keep]
    if boxes is None:
        box = masks_to_boxes(masks) + torch.tensor([0.0, 0.0, 1.0, 1.0]) if len(masks) else torch.zeros(0, 4)
    else:
        box = torch.as_tensor(np.asarray(boxes), dtype=torch.float32).reshape(-1, 4)[keep]
    return {
        "boxes": tv_tensors.BoundingBoxes(box.float(), format="XYXY", canvas_size=(height, width)),
        "masks": tv_tensors.Mask(masks),
        "labels": labels,
        "iscrowd": crowd,
        "area": masks.flatten(1).sum(1).float(),
        "image_id": int(image_id),
    }


def _labels_and_flags(inputs: Any) -> tuple[torch.Tensor, ...]:
    """What ``SanitizeBoundingBoxes`` filters along with the boxes and masks: labels, crowd flags, areas."""
    target = inputs[1]
    return target["labels"], target["iscrowd"], target["area"]


class _RecomputeArea(v2.Transform):
    """Set ``target["area"]`` to the mask pixels after geometric transforms (COCO's area is the mask area)."""

    def forward(self, *inputs: Any) -> Any:
        image, target = inputs if len(inputs) == 2 else inputs[0]
        target = dict(target)
        target["area"] = target["masks"].flatten(1).sum(1).float() if len(target["masks"]) else torch.zeros(0)
        return image, target


class InstanceTransforms:
    """Joint transforms of an image and its instance target (``torchvision.transforms.v2``).

    Training: horizontal flip, then optionally large-scale jitter (resize by a random factor of ``size`` and crop
    or pad to ``size x size``, the augmentation of torchvision's Mask R-CNN v2 weights), then
    ``SanitizeBoundingBoxes``. Evaluation: optionally shrink so that the longer side is at most ``max_size``.
    Both end with the image as ``float32`` in ``[0, 1]``.

    Args:
        train: training or evaluation transforms.
        size: the square crop of the scale jitter (``None``: no jitter, no crop).
        scale_range: ``(min, max)`` factor of the jitter relative to ``size``.
        hflip: probability of a horizontal flip in training.
        max_size: evaluation (and training without jitter): longer image side at most this (``None``: keep).
        square: instead, resize to ``square x square`` regardless of the aspect ratio (YOLACT's 550x550 input).

    Example:
        >>> t = make_target(np.ones((1, 8, 8), np.uint8), [1], image_id=0)
        >>> img, out = InstanceTransforms(train=False, max_size=4)(tv_tensors.Image(torch.zeros(3, 8, 8,
        ...     dtype=torch.uint8)), t)
        >>> tuple(img.shape), out["boxes"].tolist(), out["area"].tolist()
        ((3, 4, 4), [[0.0, 0.0, 4.0, 4.0]], [16.0])
    """

    def __init__(self, *, train: bool, size: int | None = None, scale_range: tuple[float, float] = (0.5, 1.5),
                 hflip: float = 0.5, max_size: int | None = None, square: int | None = None) -> None:
        steps: list[v2.Transform] = []
        if train and hflip > 0:
            steps.append(v2.RandomHorizontalFlip(hflip))
        if train and size is not None:
            steps += [v2.ScaleJitter((size, size), scale_range=tuple(scale_range), antialias=True),
                      v2.RandomCrop((size, size), pad_if_needed=True)]
        elif square is not None:
            steps.append(v2.Resize((square, square), antialias=True))
        elif max_size is not None:
            steps.append(v2.Resize(size=None, max_size=max_size, antialias=True))
        steps += [v2.SanitizeBoundingBoxes(min_size=1.0, labels_getter=_labels_and_flags), _RecomputeArea(),
                  v2.ToDtype({tv_tensors.Image: torch.float32, "others": None}, scale=True)]
        self.transform = v2.Compose(steps)
        self.train, self.size, self.max_size = train, size, max_size

    def __call__(self, image: tv_tensors.Image, target: dict[str, Any]) -> tuple[tv_tensors.Image, dict[str, Any]]:
        return self.transform(image, target)

    def __repr__(self) -> str:
        return f"InstanceTransforms(train={self.train}, size={self.size}, max_size={self.max_size})"


def detection_collate(batch: Sequence[tuple[torch.Tensor, dict]]) -> tuple[list[torch.Tensor], list[dict]]:
    """Keep a batch as lists: images of different sizes and targets with different numbers of instances.

    Example:
        >>> images, targets = detection_collate([(torch.zeros(3, 4, 4), {"labels": []}),
        ...                                      (torch.zeros(3, 5, 2), {"labels": []})])
        >>> [tuple(i.shape) for i in images], len(targets)
        ([(3, 4, 4), (3, 5, 2)], 2)
    """
    if not batch:
        raise ValueError("detection_collate got an empty batch")
    images, targets = zip(*batch, strict=True)
    return list(images), list(targets)
