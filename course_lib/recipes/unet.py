"""Binary segmentation recipes (Chapter 3): ``unet-kvasir``, U-Net on Kvasir-SEG polyps.

Training: joint random resized crops and flips (:class:`course_lib.data.kvasir.KvasirTransforms`), BCE + soft Dice
(:mod:`course_lib.losses`), Adam, mixed precision on a GPU.

Evaluation protocol (the one of PraNet, HarDNet-MSEG and TGANet): each validation image is resized to the network's
input size, the predicted logits are resized bilinearly back to the size of the *original* mask, thresholded at
probability 0.5, and scored against the mask read from its JPEG and thresholded at grey level 128. The reported
``dice`` and ``iou`` are the means of the per-image scores (mDice, mIoU); ``dataset_dice``/``dataset_iou`` pool
the pixels of all images first (see :class:`course_lib.metrics.BinarySegmentationMeter`).

Profiles of ``unet-kvasir``:

``full``
    352x352 input (PraNet's and HarDNet-MSEG's size), the paper's U-Net (width 64, depth 4, 31 M parameters) with
    BatchNorm, Adam (lr 1e-4 ... 3e-4 as in the polyp papers; 3e-4 here because BatchNorm tolerates it), cosine
    decay over 100 epochs after a short warm-up, batch 16, bf16/fp16 autocast, the official 880/120 split.
``quick``
    What a CPU affords: 64x64 input, a narrow, shallow U-Net (width 8, depth 3, 0.12 M parameters), training images
    decoded once at reduced size and cached in memory, Adam at 3e-3 with the poly schedule, 15 epochs: well under a
    minute on the synthetic sample. On the real files a run capped at 10 minutes of a 2-core CPU
    (``--profile quick --epochs 100 --time-limit 10 --set val_every=3``) reaches a validation mDice above 0.6.
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
from ..data.kvasir import KvasirTransforms, binary_collate
from ..losses import BCEDiceLoss
from ..metrics import BinarySegmentationMeter
from ..models.unet import UNet
from .base import Recipe

__all__ = ["BinarySegmentationRecipe", "predict_binary", "unet_recipes"]


@torch.no_grad()
def predict_binary(model: nn.Module, images: torch.Tensor, out_sizes: list[tuple[int, int]] | None = None,
                   amp: bool = True) -> list[torch.Tensor]:
    """Polyp probabilities of a batch, each resized (bilinear, on the logits) to its ``out_sizes`` entry.

    Args:
        model: returns one logit channel ``[N, 1, h, w]``.
        images: normalised batch ``[N, 3, h, w]`` at the network's input size.
        out_sizes: ``(H, W)`` per image (the native mask sizes); ``None`` keeps ``(h, w)``.
        amp: bfloat16 autocast on CUDA.

    Returns:
        One ``float32 [H, W]`` probability map per image.

    Example:
        >>> from course_lib.models.unet import UNet
        >>> probs = predict_binary(UNet(width=4, depth=2).eval(), torch.zeros(2, 3, 16, 16), [(20, 30), (8, 8)])
        >>> [tuple(p.shape) for p in probs]
        [(20, 30), (8, 8)]
    """
    dtype = torch.bfloat16 if amp and images.device.type == "cuda" else None
    with torch.autocast(images.device.type, dtype=dtype, enabled=dtype is not None):
        logits = model(images)
    logits = logits.float()
    if logits.ndim != 4 or logits.shape[1] != 1:
        raise ValueError(f"a binary model must return [N, 1, H, W] logits, got {tuple(logits.shape)}")
    sizes = out_sizes or [tuple(images.shape[-2:])] * len(images)
    if len(sizes) != len(images):
        raise ValueError(f"got {len(sizes)} output sizes for {len(images)} images")
    out = []
    for logit, size in zip(logits, sizes, strict=True):
        if tuple(logit.shape[-2:]) != tuple(size):
            logit = F.interpolate(logit[None], size=tuple(size), mode="bilinear", align_corners=False)[0]
        out.append(torch.sigmoid(logit[0]))
    return out


@dataclass
class BinarySegmentationRecipe(Recipe):
    """A binary (object vs background) segmentation recipe over a dataset of :data:`course_lib.data.DATASETS`.

    The dataset class must accept ``(root, split, transforms=..., max_items=..., seed=...)`` and return
    ``(image, mask in {0, 1})`` pairs, as :class:`course_lib.data.KvasirSEG` does. The model returns one logit
    channel. ``build_model_fn(hp) -> nn.Module`` is given per recipe.

    Hyper-parameters read here: ``size`` (``[h, w]``), ``scale_range``, ``ratio_range``, ``color_jitter``,
    ``max_items``, ``max_val_items``, ``seed``, ``decode_size`` and ``cache`` (training images decoded once at
    reduced size and kept in memory), ``bce_weight``, ``dice_weight``, ``threshold``, ``eval_native`` (score at
    the mask's own resolution), ``channels_last``, plus those of :class:`Recipe` (``batch_size``, ``epochs``,
    ``lr``, ``optimizer``, ``schedule``, ``amp``, ``val_every``, ...).
    """

    build_model_fn: Callable[[dict[str, Any]], nn.Module] | None = None
    monitor: str = "dice"

    def build_model(self, hp: dict[str, Any]) -> nn.Module:
        model = self.build_model_fn(hp)
        if hp.get("channels_last"):
            model = model.to(memory_format=torch.channels_last)  # faster convolutions on CPU (oneDNN) and GPU
        return model

    def transforms(self, hp: dict[str, Any], train: bool) -> KvasirTransforms:
        """The training or evaluation transforms of ``hp``."""
        if train:
            jitter = hp.get("color_jitter")
            return KvasirTransforms(train=True, size=tuple(hp["size"]), scale=tuple(hp["scale_range"]),
                                    ratio=tuple(hp["ratio_range"]), color_jitter=tuple(jitter) if jitter else None)
        return KvasirTransforms(train=False, size=tuple(hp["size"]), resize_mask=not hp.get("eval_native", True))

    def build_dataset(self, data_root: Path, split: str, hp: dict[str, Any], train: bool) -> Dataset:
        limit = hp.get("max_items") if train else hp.get("max_val_items")
        extra = {"decode_size": hp.get("decode_size"), "cache": bool(hp.get("cache"))} if train else {}
        return self.spec.dataset(data_root, split=split, transforms=self.transforms(hp, train), max_items=limit,
                                 seed=hp.get("seed", 0), **extra)

    def collate_fn(self, hp: dict[str, Any]) -> Callable:
        return binary_collate

    def build_loss(self, hp: dict[str, Any], train_set: Dataset) -> Callable:
        return BCEDiceLoss(bce_weight=hp.get("bce_weight", 1.0), dice_weight=hp.get("dice_weight", 1.0))

    def score(self, model: nn.Module, dataset: Dataset, hp: dict[str, Any], device: torch.device | None = None,
              progress: bool = True) -> BinarySegmentationMeter:
        """Run the evaluation protocol and return the meter (it keeps the per-image scores, in dataset order)."""
        device = device or get_device()
        was_training = model.training
        model.eval().to(device)
        meter = BinarySegmentationMeter()
        threshold = float(hp.get("threshold", 0.5))
        loader = self.loader(dataset, hp, train=False)
        for images, masks in tqdm(loader, desc="evaluate", leave=False,
                                  disable=not (progress and D.is_main_process())):
            images = images.to(device)
            masks = list(masks) if isinstance(masks, list) else list(masks.unbind(0))
            probs = predict_binary(model, images, [tuple(m.shape[-2:]) for m in masks], amp=hp.get("amp", True))
            for prob, mask in zip(probs, masks, strict=True):
                meter.update((prob >= threshold)[None].cpu(), (mask > 0)[None].cpu())
        meter.all_reduce()
        model.train(was_training)
        return meter

    def evaluate(self, model: nn.Module, dataset: Dataset, hp: dict[str, Any], device: torch.device | None = None,
                 progress: bool = True) -> dict[str, float]:
        return self.score(model, dataset, hp, device, progress).compute()


def _build_unet(hp: dict[str, Any]) -> UNet:
    return UNet(3, 1, spatial_dims=2, width=hp["width"], depth=hp["depth"], norm=hp["norm"],
                upsample=hp["upsample"], skip=hp["skip"], dropout=hp["dropout"])


_COMMON = {
    "seed": 0, "max_items": None, "max_val_items": None, "val_every": 1, "amp": True, "grad_clip": None,
    "depth": 4, "norm": "batch", "upsample": "transpose", "skip": True, "dropout": 0.0,
    "bce_weight": 1.0, "dice_weight": 1.0, "threshold": 0.5, "eval_native": True, "channels_last": True,
    "scale_range": [0.5, 1.0], "ratio_range": [0.75, 1.5], "color_jitter": [0.2, 0.2, 0.1, 0.02],
    "optimizer": "adam", "weight_decay": 0.0, "cache": False,
}

_FULL = {
    "size": [352, 352], "decode_size": 704, "width": 64, "batch_size": 16, "epochs": 100, "lr": 3e-4,
    "weight_decay": 1e-5, "schedule": "cosine", "num_workers": 4, "eval_batch_size": 8,
}

_QUICK = {
    "size": [64, 64], "decode_size": 128, "cache": True, "width": 8, "depth": 3, "batch_size": 8, "epochs": 15,
    "lr": 3e-3, "schedule": "poly", "scale_range": [0.8, 1.0], "num_workers": 0, "eval_batch_size": 8,
}


def unet_recipes() -> list[BinarySegmentationRecipe]:
    """The U-Net recipes of Chapter 3."""
    return [BinarySegmentationRecipe(
        name="unet-kvasir",
        description="U-Net (Ronneberger et al. 2015) on Kvasir-SEG polyps, BCE + Dice, mDice per image",
        chapter="3",
        dataset="kvasir",
        defaults=dict(_COMMON),
        profiles={"full": dict(_FULL), "quick": dict(_QUICK)},
        monitor="dice",
        splits=("train", "val"),
        build_model_fn=_build_unet,
    )]
