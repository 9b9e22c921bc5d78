"""FCN recipes (Chapter 3): ``fcn{32s,16s,8s}-{camvid,voc}``.

``full`` follows the paper (Long et al., arXiv 1411.4038, Sec. 4.3): ImageNet VGG16 backbone through torchvision's
weight API (``VGG16_Weights.IMAGENET1K_V1``, cached in ``$TORCH_HOME``; offline it trains from scratch and says so;
``model.backbone_source`` and the checkpoint's ``backbone_source`` say which happened),
the Caffe layout (pad 100, crops), SGD with momentum 0.9, weight decay 5e-4, doubled learning rate for the
biases, dropout 0.5 in fc6/fc7, zero-initialised score layers, bilinear-initialised learnable upsampling. The paper's
fixed rate 1e-4 was for a loss *summed* over the pixels of 20-image batches; our loss is the pixel *mean*, so the
rate is larger and decays with the "poly" policy (both stated in the settings). Staged training (16s from
32s, 8s from 16s) is available with ``--set init_from=PATH``.

``quick`` trains a narrow VGG16 (width 1/4, 3/16 on CamVid; BatchNorm, padded "same" layout) from scratch at half
resolution with Adam, so that the notebook runs on a laptop CPU.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from ..config import data_root
from ..data.camvid import CamVid
from ..data.voc import VOCSegmentation
from ..models.fcn import FCN, fcn8s, fcn16s, fcn32s
from .segmentation import SegmentationConfig, SegmentationRecipe

__all__ = ["FCN_FULL", "FCN_QUICK", "fcn_recipes", "vgg16_weight_folders"]

#: the paper's settings, shared by both datasets (the dataset-specific ones are set in :func:`fcn_recipes`)
FCN_FULL = SegmentationConfig(
    profile="full", width=1.0, fc_channels=4096, batch_norm=False, padding="paper", dropout=0.5,
    pretrained_backbone=True, optimizer="sgd", lr=1e-3, momentum=0.9, weight_decay=5e-4, bias_lr_mult=2.0,
    schedule="poly", eval_scale=1.0, num_workers=4, eval_batch_size=4)
#: what a laptop CPU affords: a narrow VGG16 with BatchNorm, trained from scratch with Adam
FCN_QUICK = SegmentationConfig(
    profile="quick", width=0.25, fc_channels=256, batch_norm=True, padding="same", dropout=0.1,
    pretrained_backbone=False, optimizer="adam", lr=2e-3, momentum=0.9, weight_decay=1e-4, bias_lr_mult=1.0,
    schedule="poly", num_workers=0, eval_batch_size=8)

_DATA = {
    "camvid": {
        "title": "CamVid (SegNet 11 classes)", "dataset_class": CamVid, "splits": ("train", "val", "test"),
        "full": {"epochs": 100, "batch_size": 8, "crop_size": (352, 480), "scale_range": (0.75, 1.25)},
        # about 12 s per model on a 2-core CPU (chapter 3 trains three); colour jitter costs more than a step here
        "quick": {"epochs": 10, "batch_size": 4, "crop_size": (128, 160), "scale_range": (0.35, 0.5),
                  "eval_scale": 0.5, "color_jitter": None, "width": 0.1875, "fc_channels": 192, "lr": 3e-3},
    },
    "voc": {
        "title": "PASCAL VOC 2012", "dataset_class": VOCSegmentation, "splits": ("train", "val"),
        "full": {"epochs": 50, "batch_size": 20, "crop_size": (320, 320), "scale_range": (0.5, 1.5)},
        "quick": {"epochs": 12, "batch_size": 8, "crop_size": (128, 128), "scale_range": (0.4, 0.6),
                  "eval_scale": 0.5},
    },
}


def vgg16_weight_folders() -> list[Path]:
    """Where the recipes look for torchvision's ImageNet VGG16 file before asking torchvision's weight API:
    ``<data root>/weights`` (a copy put there by hand), then torch hub's cache ``$TORCH_HOME/hub/checkpoints`` (where
    the weight API keeps it)."""
    return [data_root() / "weights", Path(torch.hub.get_dir()) / "checkpoints"]


def _build_fcn(cfg: SegmentationConfig, num_classes: int) -> FCN:
    builder = {"32s": fcn32s, "16s": fcn16s, "8s": fcn8s}[cfg.variant]
    return builder(num_classes=num_classes, width=cfg.width, fc_channels=cfg.fc_channels, batch_norm=cfg.batch_norm,
                   padding=cfg.padding, dropout=cfg.dropout, learnable_upsampling=cfg.learnable_upsampling,
                   pretrained_backbone=cfg.pretrained_backbone,
                   weight_folders=vgg16_weight_folders() if cfg.pretrained_backbone else ())


def fcn_recipes() -> list[SegmentationRecipe]:
    """The six FCN recipes."""
    recipes = []
    for dataset, spec in _DATA.items():
        for variant in ("32s", "16s", "8s"):
            recipes.append(SegmentationRecipe(
                name=f"fcn{variant}-{dataset}",
                description=f"FCN-{variant} (VGG16) on {spec['title']}",
                chapter="3",
                dataset=dataset,
                quick=dataclasses.replace(FCN_QUICK, variant=variant, **spec["quick"]),
                full=dataclasses.replace(FCN_FULL, variant=variant, **spec["full"]),
                monitor="miou",
                splits=spec["splits"],
                dataset_class=spec["dataset_class"],
                build_model_fn=_build_fcn,
            ))
    return recipes
