"""The semantic segmentation recipe family (Chapter 3): per-pixel cross-entropy, confusion-matrix metrics.

Evaluation protocol: each image is fed at ``eval_scale`` times its size (1.0 = full resolution), the logits are
upsampled bilinearly to the label's own resolution, and a dataset-level confusion matrix over all non-void pixels
gives pixel accuracy, mean class accuracy, mIoU, frequency-weighted IoU and mean Dice (as in the FCN paper).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from .. import distributed as D
from ..config import get_device
from ..data import SegmentationTransforms, class_weights, pad_collate
from ..metrics import ConfusionMatrix
from .base import Recipe

__all__ = ["SegmentationRecipe", "predict"]


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, scale: float = 1.0, out_size: tuple[int, int] | None = None,
            amp: bool = True) -> torch.Tensor:
    """Logits at ``out_size`` (default: the input size) for a batch fed at ``scale`` times its size."""
    size = tuple(images.shape[-2:]) if out_size is None else out_size
    x = images
    if scale != 1.0:
        x = F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False, antialias=True)
    dtype = torch.bfloat16 if amp and x.device.type == "cuda" else None
    with torch.autocast(x.device.type, dtype=dtype, enabled=dtype is not None):
        logits = model(x)
    logits = logits.float()
    if tuple(logits.shape[-2:]) != tuple(size):
        logits = F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
    return logits


@dataclass
class SegmentationRecipe(Recipe):
    """A semantic segmentation recipe over one of :data:`course_lib.data.DATASETS`.

    ``build_model_fn(hp) -> nn.Module`` is given per recipe; the rest (datasets with joint augmentation, loss,
    evaluation) is shared.
    """

    build_model_fn: Callable[[dict[str, Any]], nn.Module] | None = None

    def build_model(self, hp: dict[str, Any]) -> nn.Module:
        hp = dict(hp)
        hp.setdefault("num_classes", self.spec.num_classes)
        model = self.build_model_fn(hp)
        if hp.get("init_from"):  # staged training: FCN-16s from FCN-32s, FCN-8s from FCN-16s
            src = Recipe.load_checkpoint_state(hp["init_from"])
            own = model.state_dict()
            matched = {k: v for k, v in src.items() if k in own and own[k].shape == v.shape}
            model.load_state_dict(matched, strict=False)
            model.init_source = f"{hp['init_from']} ({len(matched)} tensors)"
        return model

    def build_dataset(self, data_root: Path, split: str, hp: dict[str, Any], train: bool) -> Dataset:
        ignore = self.spec.ignore_index
        if train:
            tf = SegmentationTransforms(train=True, size=tuple(hp["crop_size"]), scale=tuple(hp["scale_range"]),
                                        hflip=True, color_jitter=tuple(hp["color_jitter"]) if hp.get("color_jitter")
                                        else None, ignore_index=ignore)
        else:
            tf = SegmentationTransforms(train=False, size=None, ignore_index=ignore)
        return self.spec.dataset(data_root, split=split, transforms=tf, max_items=hp.get("max_items"))

    def collate_fn(self, hp: dict[str, Any]) -> Callable:
        ignore = self.spec.ignore_index
        return lambda batch: pad_collate(batch, ignore_index=ignore)

    def build_loss(self, hp: dict[str, Any], train_set: Dataset) -> Callable:
        weight = None
        if hp.get("class_weighting") == "median_frequency":
            weight = class_weights(train_set, self.spec.num_classes, self.spec.ignore_index).float()
        elif hp.get("class_weighting"):
            raise ValueError(f"unknown class_weighting {hp['class_weighting']!r}; use 'median_frequency' or null")
        ignore = self.spec.ignore_index

        def loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            w = weight.to(logits.device) if weight is not None else None
            return F.cross_entropy(logits.float(), target, weight=w, ignore_index=ignore)

        return loss

    def evaluate(self, model: nn.Module, dataset: Dataset, hp: dict[str, Any], device: torch.device | None = None,
                 progress: bool = True) -> dict[str, float]:
        device = device or get_device()
        was_training = model.training
        model.eval().to(device)
        cm = ConfusionMatrix(self.spec.num_classes, self.spec.ignore_index, list(self.spec.classes))
        loader = self.loader(dataset, hp, train=False)
        for images, masks in tqdm(loader, desc="evaluate", leave=False,
                                  disable=not (progress and D.is_main_process())):
            images, masks = images.to(device), masks.to(device)
            logits = predict(model, images, hp.get("eval_scale", 1.0), tuple(masks.shape[-2:]))
            cm.update(logits.argmax(1), masks)
        cm.all_reduce()
        model.train(was_training)
        return cm.compute()
