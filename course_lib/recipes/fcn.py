"""FCN recipes (Chapter 3): ``fcn{32s,16s,8s}-{camvid,voc}``.

``full`` follows the paper (Long et al., arXiv 1411.4038, Sec. 4.3): ImageNet VGG16 backbone when its weights are on
disk, the Caffe layout (pad 100, crops), SGD with momentum 0.9, weight decay 5e-4, doubled learning rate for the
biases, dropout 0.5 in fc6/fc7, zero-initialised score layers, bilinear-initialised learnable upsampling. The paper's
fixed rate 1e-4 was for a loss *summed* over the pixels of 20-image batches; our loss is the pixel *mean*, so the
rate is larger and decays with the "poly" policy (both stated in the hyper-parameters). Staged training (16s from
32s, 8s from 16s) is available with ``--set init_from=PATH``.

``quick`` trains a narrow VGG16 (width 1/4, 3/16 on CamVid; BatchNorm, padded "same" layout) from scratch at half
resolution with Adam, so that the notebook runs on a laptop CPU.
"""

from __future__ import annotations

from typing import Any

from ..models.fcn import FCN
from .segmentation import SegmentationRecipe


def _build_fcn(hp: dict[str, Any]) -> FCN:
    from ..models.fcn import fcn8s, fcn16s, fcn32s

    builder = {"32s": fcn32s, "16s": fcn16s, "8s": fcn8s}[hp["variant"]]
    return builder(num_classes=hp["num_classes"], width=hp["width"], fc_channels=hp["fc_channels"],
                   batch_norm=hp["batch_norm"], padding=hp["padding"], dropout=hp["dropout"],
                   learnable_upsampling=hp["learnable_upsampling"],
                   pretrained_backbone=hp.get("pretrained_backbone", False))


_COMMON = {
    "seed": 0, "init_from": None, "max_items": None, "amp": True, "grad_clip": None, "val_every": 1,
    "learnable_upsampling": True, "color_jitter": None, "class_weighting": None,
}

_FULL = {
    "width": 1.0, "fc_channels": 4096, "batch_norm": False, "padding": "paper", "dropout": 0.5,
    "pretrained_backbone": True, "optimizer": "sgd", "lr": 1e-3, "momentum": 0.9, "weight_decay": 5e-4,
    "bias_lr_mult": 2.0, "schedule": "poly", "eval_scale": 1.0, "num_workers": 4, "eval_batch_size": 4,
}

_QUICK = {
    "width": 0.25, "fc_channels": 256, "batch_norm": True, "padding": "same", "dropout": 0.1,
    "pretrained_backbone": False, "optimizer": "adam", "lr": 2e-3, "momentum": 0.9, "weight_decay": 1e-4,
    "bias_lr_mult": 1.0, "schedule": "poly", "num_workers": 0, "eval_batch_size": 8,
}

_DATA = {
    "camvid": {
        "full": {"epochs": 100, "batch_size": 8, "crop_size": [352, 480], "scale_range": [0.75, 1.25]},
        # about 12 s per model on a 2-core CPU (chapter 3 trains three); colour jitter costs more than a step here
        "quick": {"epochs": 10, "batch_size": 4, "crop_size": [128, 160], "scale_range": [0.35, 0.5],
                  "eval_scale": 0.5, "color_jitter": None, "width": 0.1875, "fc_channels": 192, "lr": 3e-3},
        "splits": ("train", "val", "test"),
    },
    "voc": {
        "full": {"epochs": 50, "batch_size": 20, "crop_size": [320, 320], "scale_range": [0.5, 1.5]},
        "quick": {"epochs": 12, "batch_size": 8, "crop_size": [128, 128], "scale_range": [0.4, 0.6],
                  "eval_scale": 0.5},
        "splits": ("train", "val"),
    },
}


def fcn_recipes() -> list[SegmentationRecipe]:
    """The six FCN recipes."""
    recipes = []
    titles = {"camvid": "CamVid (SegNet 11 classes)", "voc": "PASCAL VOC 2012"}
    for dataset, cfg in _DATA.items():
        for variant in ("32s", "16s", "8s"):
            recipes.append(SegmentationRecipe(
                name=f"fcn{variant}-{dataset}",
                description=f"FCN-{variant} (VGG16) on {titles[dataset]}",
                chapter="3",
                dataset=dataset,
                defaults={**_COMMON, "variant": variant},
                profiles={"full": {**_FULL, **cfg["full"]}, "quick": {**_QUICK, **cfg["quick"]}},
                monitor="miou",
                splits=cfg["splits"],
                build_model_fn=_build_fcn,
            ))
    return recipes
