"""Binary segmentation recipes (Chapter 3): ``unet-kvasir``, U-Net on Kvasir-SEG polyps.

Training: joint random resized crops and flips (:class:`course_lib.data.transforms.KvasirTransforms`), BCE + soft Dice
(:mod:`course_lib.losses`), Adam, mixed precision on a GPU.

Evaluation protocol: each validation image is resized to the network's
input size, the predicted logits are resized bilinearly back to the size of the *original* mask, thresholded at
probability 0.5, and scored against the mask read from its JPEG and thresholded at grey level 128. The reported
``dice`` and ``iou`` are the means of the per-image scores (mDice, mIoU); ``dataset_dice``/``dataset_iou`` pool
the pixels of all images first (see :class:`course_lib.metrics.BinarySegmentationMeter`). :meth:`evaluate` adds
PraNet's evaluation, which does not threshold once: ``dice_pranet``/``iou_pranet`` average the per-image Dice/IoU over
256 thresholds of the min-max-stretched probability map (:mod:`course_lib.metrics.binary`; meanDic, the number of
PraNet's and HarDNet-MSEG's tables) and ``dice_pranet_max`` is the curve's maximum (maxDic).

Profiles of ``unet-kvasir`` (:class:`UNetConfig`; ``UNET_QUICK`` and ``UNET_FULL``):

``full``
    352x352 input (PraNet's and HarDNet-MSEG's size), the paper's U-Net (width 64, depth 4, 31 M parameters) with
    BatchNorm, Adam (lr 1e-4 ... 3e-4 as in the polyp papers; 3e-4 here because BatchNorm tolerates it), cosine
    decay over 100 epochs after a short warm-up, batch 16, bf16/fp16 autocast, the official 880/120 split.
``quick``
    What a CPU affords: 64x64 input, a narrow, shallow U-Net (width 8, depth 3, 0.12 M parameters), training images
    decoded once at reduced size and cached in memory, Adam at 3e-3 with the poly schedule, 15 epochs: well under a
    minute on the synthetic sample. A run on the real files capped at 10 minutes of a 2-core CPU
    (``--profile quick --epochs 100 --time-limit 10 --set val_every=3``) is recorded, with its scores, in
    ``course_lib/results/ch03.yaml``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from .. import distributed as D
from .. import inference
from ..config import get_device
from ..data.collate import binary_collate
from ..data.kvasir import KvasirSEG
from ..data.transforms import KvasirTransforms
from ..losses import BCEDiceLoss
from ..metrics import BinarySegmentationMeter, dice_over_thresholds, iou_over_thresholds
from ..models.unet import UNet
from .base import Recipe
from .config import RecipeConfig

__all__ = ["BinarySegmentationRecipe", "UNET_FULL", "UNET_QUICK", "UNetConfig", "predict_binary", "unet_recipes"]


@dataclass(frozen=True)
class UNetConfig(RecipeConfig):
    """The settings of ``unet-kvasir`` (the shared ones are documented in :class:`RecipeConfig`).

    Args:
        size: ``(height, width)`` given to the network (training crops and evaluation images are resized to it).
        width: channels of the U-Net's first level (doubled at each level down; 64 in the paper).
        depth: number of downsampling steps; ``size`` must be divisible by ``2 ** depth``.
        norm: normalisation layer of the U-Net (``batch``, ``instance``, ``group`` or ``None``).
        upsample: ``transpose`` (learned up-convolution, as in the paper) or ``interpolate``.
        skip: the skip connections (``False``: the ablation without them).
        dropout: dropout probability in the U-Net's blocks.
        scale_range: ``(min, max)`` share of the image area kept by the random resized crop.
        ratio_range: ``(min, max)`` aspect ratio (width / height) of the random crop.
        color_jitter: ``(brightness, contrast, saturation, hue)`` of the training images, or ``None``.
        max_val_items: validate on only the first this many images (``None``: all).
        decode_size: shrink training images right after decoding so that their shorter side stays at least this
            (see :class:`course_lib.data.kvasir.KvasirSEG`); ``None`` keeps the native resolution.
        cache: keep the decoded training images in memory (small CPU runs with ``num_workers=0``).
        bce_weight: weight of the BCE term of the loss.
        dice_weight: weight of the soft Dice term of the loss.
        threshold: probability from which a pixel is predicted polyp.
        eval_native: score at the mask's own resolution (the papers' protocol) instead of the network's.
        channels_last: channels-last memory format (faster convolutions on CPU and GPU).
    """

    size: tuple[int, int] = (352, 352)
    width: int = 64
    depth: int = 4
    norm: str | None = "batch"
    upsample: str = "transpose"
    skip: bool = True
    dropout: float = 0.0
    scale_range: tuple[float, float] = (0.5, 1.0)
    ratio_range: tuple[float, float] = (0.75, 1.5)
    color_jitter: tuple[float, float, float, float] | None = (0.2, 0.2, 0.1, 0.02)
    max_val_items: int | None = None
    decode_size: int | None = 704
    cache: bool = False
    bce_weight: float = 1.0
    dice_weight: float = 1.0
    threshold: float = 0.5
    eval_native: bool = True
    channels_last: bool = True


UNET_FULL = UNetConfig(
    profile="full", size=(352, 352), decode_size=704, width=64, batch_size=16, epochs=100, optimizer="adam",
    lr=3e-4, weight_decay=1e-5, schedule="cosine", num_workers=4, eval_batch_size=8)
UNET_QUICK = UNetConfig(
    profile="quick", size=(64, 64), decode_size=128, cache=True, width=8, depth=3, batch_size=8, epochs=15,
    optimizer="adam", lr=3e-3, weight_decay=0.0, schedule="poly", scale_range=(0.8, 1.0), num_workers=0,
    eval_batch_size=8)


@torch.no_grad()
def predict_binary(model: nn.Module, images: torch.Tensor, out_sizes: list[tuple[int, int]] | None = None,
                   amp: bool = True) -> list[torch.Tensor]:
    """Polyp probabilities of a batch, each resized (bilinear, on the logits) to its ``out_sizes`` entry.

    Args:
        model: returns one logit channel ``[N, 1, h, w]``.
        images: normalised batch ``[N, 3, h, w]`` at the network's input size.
        out_sizes: ``(H, W)`` per image (the native mask sizes); ``None`` keeps ``(h, w)``.
        amp: mixed precision on a GPU (the network runs under :func:`course_lib.inference.predict`: eval mode, no
            gradients, the training loop's autocast dtype; the model's mode is restored).

    Returns:
        One ``float32 [H, W]`` probability map per image.

    Example:
        >>> from course_lib.models.unet import UNet
        >>> probs = predict_binary(UNet(width=4, depth=2), torch.zeros(2, 3, 16, 16), [(20, 30), (8, 8)])
        >>> [tuple(p.shape) for p in probs]
        [(20, 30), (8, 8)]
    """
    logits = inference.predict(model, images, amp=amp)
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
    """A binary (object vs background) segmentation recipe over one registered dataset.

    Args:
        dataset_class: takes ``(root, split, transforms=..., max_items=..., seed=...)`` (plus ``decode_size`` and
            ``cache`` for training) and returns ``(image, mask in {0, 1})`` pairs, as
            :class:`course_lib.data.kvasir.KvasirSEG` does.
        build_model_fn: ``cfg -> nn.Module`` returning one logit channel.
    """

    dataset_class: type[Dataset] | None = None
    build_model_fn: Callable[[UNetConfig], nn.Module] | None = None
    monitor: str = "dice"

    def build_model(self, cfg: UNetConfig) -> nn.Module:
        model = self.build_model_fn(cfg)
        if cfg.channels_last:
            model = model.to(memory_format=torch.channels_last)  # faster convolutions on CPU (oneDNN) and GPU
        return model

    def transforms(self, cfg: UNetConfig, train: bool) -> KvasirTransforms:
        """The training or evaluation transforms of ``cfg``."""
        if train:
            return KvasirTransforms(train=True, size=cfg.size, scale=cfg.scale_range, ratio=cfg.ratio_range,
                                    color_jitter=cfg.color_jitter or None)
        return KvasirTransforms(train=False, size=cfg.size, resize_mask=not cfg.eval_native)

    def build_dataset(self, data_root: Path, split: str, cfg: UNetConfig, train: bool) -> Dataset:
        limit = cfg.max_items if train else cfg.max_val_items
        extra = {"decode_size": cfg.decode_size, "cache": cfg.cache} if train else {}
        return self.dataset_class(data_root, split=split, transforms=self.transforms(cfg, train), max_items=limit,
                                  seed=cfg.seed, **extra)

    def collate_fn(self, cfg: UNetConfig) -> Callable:
        return binary_collate

    def build_loss(self, cfg: UNetConfig, train_set: Dataset) -> Callable:
        return BCEDiceLoss(bce_weight=cfg.bce_weight, dice_weight=cfg.dice_weight)

    def score(self, model: nn.Module, dataset: Dataset, cfg: UNetConfig, device: torch.device | None = None,
              progress: bool = True) -> BinarySegmentationMeter:
        """Run the evaluation protocol and return the meter (it keeps the per-image scores, in dataset order)."""
        device = device or get_device()
        model.to(device)
        meter = BinarySegmentationMeter()  # keep_per_image: the per-image PraNet Dice is stored with it
        curves: list[torch.Tensor] = []
        loader = self.loader(dataset, cfg, train=False)
        for images, masks in tqdm(loader, desc="evaluate", leave=False,
                                  disable=not (progress and D.is_main_process())):
            images = images.to(device)
            masks = list(masks) if isinstance(masks, list) else list(masks.unbind(0))
            probs = predict_binary(model, images, [tuple(m.shape[-2:]) for m in masks], amp=cfg.amp)
            for prob, mask in zip(probs, masks, strict=True):
                meter.update((prob >= cfg.threshold)[None].cpu(), (mask > 0)[None].cpu())
                p, t = prob.float().cpu().clamp(0, 1), (mask > 0).cpu()
                curve = torch.stack([dice_over_thresholds(p, t), iou_over_thresholds(p, t)])
                curves.append(curve)
                meter.per_image[-1]["dice_pranet"] = float(curve[0].mean())
        meter.all_reduce()
        meter.dice_curve = torch.stack(curves).mean(0) if curves else None  # [Dice, IoU] x 256, this process
        return meter

    def evaluate(self, model: nn.Module, dataset: Dataset, cfg: UNetConfig, device: torch.device | None = None,
                 progress: bool = True) -> dict[str, float]:
        """mDice/mIoU at ``cfg.threshold`` (per image and pooled, :class:`BinarySegmentationMeter`), plus PraNet's
        protocol (:func:`course_lib.metrics.dice_over_thresholds`): ``dice_pranet`` = meanDic (the Dice curve over
        256 thresholds of the min-max-stretched probability map, averaged over images and thresholds) and
        ``dice_pranet_max`` = maxDic (the curve's maximum), ``iou_pranet`` = meanIoU likewise."""
        meter = self.score(model, dataset, cfg, device, progress)
        out = meter.compute()
        if meter.dice_curve is not None:
            out["dice_pranet"] = float(meter.dice_curve[0].mean())
            out["dice_pranet_max"] = float(meter.dice_curve[0].max())
            out["iou_pranet"] = float(meter.dice_curve[1].mean())
        return out


def _build_unet(cfg: UNetConfig) -> UNet:
    return UNet(3, 1, spatial_dims=2, width=cfg.width, depth=cfg.depth, norm=cfg.norm, upsample=cfg.upsample,
                skip=cfg.skip, dropout=cfg.dropout)


def unet_recipes() -> list[BinarySegmentationRecipe]:
    """The U-Net recipes of Chapter 3."""
    return [BinarySegmentationRecipe(
        name="unet-kvasir",
        description="U-Net (Ronneberger et al. 2015) on Kvasir-SEG polyps, BCE + Dice, mDice per image",
        chapter="3",
        dataset="kvasir",
        quick=UNET_QUICK,
        full=UNET_FULL,
        monitor="dice",
        splits=("train", "val"),
        dataset_class=KvasirSEG,
        build_model_fn=_build_unet,
    )]
