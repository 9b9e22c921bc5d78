"""PraNet on Kvasir-SEG (Chapter 3): ``pranet-kvasir``, next to ``unet-kvasir`` on the same data and protocol.

PraNet (Fan et al., "PraNet: Parallel Reverse Attention Network for Polyp Segmentation", MICCAI 2020, arXiv
2006.11392; :mod:`course_lib.models.pranet`) trains through the Kvasir machinery of ``unet-kvasir``
(:class:`course_lib.recipes.unet.BinarySegmentationRecipe`: the official 880/120 split, the same transforms, the
same evaluation). Two things differ from the U-Net recipe:

*Deep supervision with the structure loss*
    The model returns four maps in training (the partial decoder's global map and the three reverse-attention
    outputs); the loss is the sum of PraNet's weighted IoU + weighted BCE over them
    (:class:`course_lib.losses.DeepSupervisionLoss` with :class:`course_lib.losses.StructureLoss`).
*Multi-scale training*
    As in the authors' ``MyTrain.py``, every batch is used once at each rate of ``size_rates`` (0.75, 1, 1.25):
    images and masks are resized bilinearly (``align_corners=True``) to ``round(size * rate / 32) * 32`` and each
    rescaled batch takes one optimiser step (:class:`MultiScaleBatches`); the rescaled masks are soft, which the
    structure loss accepts.

Scores (:meth:`BinarySegmentationRecipe.evaluate`): both Dice protocols of ``python -m course_lib.score binary``,
mDice/mIoU at a 0.5 threshold (``dice``, ``iou``) and PraNet's meanDic/meanIoU over 256 thresholds of the
min-max-stretched map (``dice_pranet``, ``iou_pranet``; ``dice_pranet_max`` = maxDic), each image resized to 352x352
for the network and scored at the mask's own resolution.

``full`` follows the paper (Sec. 3.3) and the authors' code: Res2Net-50 (26w x 4s) backbone with ImageNet weights
(timm's ``res2net50d``, from the Hugging Face hub; offline it trains from scratch and ``model.backbone_source`` says
so), 352x352 inputs, Adam at 1e-4, batch 16, 20 epochs, multi-scale training {0.75, 1, 1.25}. Departures:
it trains on Kvasir-SEG's 880 training images only (the paper adds 550 CVC-ClinicDB images and tests on 100 Kvasir
images of its own split); random horizontal and vertical flips (the original code has none); the authors clamp
every gradient element to +-0.5, which is left out (Adam's steps do not depend on the gradient's scale); the
weighted BCE of the paper rather than the plain BCE the authors' code computes in effect (``paper_code_bce=True``
switches to it; see :mod:`course_lib.losses.polyp`).

``quick``: a ResNet-18 PraNet with 16 decoder channels (16.6 M parameters, most of them in the reverse attention
of ``layer4``) trained from scratch at 64x64 (multi-scale 48/64/80, rounded to multiples of 16), Adam at 1e-3
with the poly schedule, 4 epochs on the synthetic sample: about 22 s on an idle 2-core CPU. It shows the pipeline
and the losses working, not the paper's accuracy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from ..data.kvasir import KvasirSEG
from ..losses import DeepSupervisionLoss, StructureLoss
from ..models.pranet import PraNet, pranet
from .config import RecipeConfig
from .fcn import vgg16_weight_folders
from .unet import BinarySegmentationRecipe

__all__ = ["MultiScaleBatches", "PRANET_FULL", "PRANET_QUICK", "PraNetConfig", "PraNetRecipe", "multiscale_size",
           "pranet_recipes"]


@dataclass(frozen=True)
class PraNetConfig(RecipeConfig):
    """The settings of ``pranet-kvasir`` (the shared ones are documented in :class:`RecipeConfig`).

    Args:
        size: ``(height, width)`` given to the network (352x352 in the paper).
        backbone: ``res2net50`` (the paper's, needs ``timm``) or a torchvision ResNet (``resnet18`` on a CPU).
        channels: channels of the receptive field blocks and the partial decoder (32).
        pretrained_backbone: ImageNet weights for the backbone (offline: from scratch, and it says so).
        size_rates: every training batch is used once at each of these scales (PraNet: 0.75, 1, 1.25).
        size_multiple: the rescaled sizes are rounded to a multiple of this (32, as the authors' code).
        paper_code_bce: the unweighted BCE that the authors' code computes in effect (default: the paper's
            weighted BCE).
        scale_range: ``(min, max)`` share of the image area kept by the random resized crop (``(1, 1)``: the whole
            picture, resized to ``size`` as the authors do).
        ratio_range: ``(min, max)`` aspect ratio (width / height) of the random crop.
        color_jitter: ``(brightness, contrast, saturation, hue)`` of the training images, or ``None``.
        max_val_items: validate on only the first this many images (``None``: all).
        decode_size: shrink training images right after decoding so that their shorter side stays at least this
            (see :class:`course_lib.data.kvasir.KvasirSEG`); ``None`` keeps the native resolution.
        cache: keep the decoded training images in memory (small CPU runs with ``num_workers=0``).
        threshold: probability from which a pixel is predicted polyp (the 0.5-threshold protocol).
        eval_native: score at the mask's own resolution (the papers' protocol) instead of the network's.
        channels_last: channels-last memory format (faster convolutions on CPU and GPU).
    """

    size: tuple[int, int] = (352, 352)
    backbone: str = "res2net50"
    channels: int = 32
    pretrained_backbone: bool = False
    size_rates: tuple[float, ...] = (0.75, 1.0, 1.25)
    size_multiple: int = 32
    paper_code_bce: bool = False
    scale_range: tuple[float, float] = (1.0, 1.0)
    ratio_range: tuple[float, float] = (0.5, 2.0)
    color_jitter: tuple[float, float, float, float] | None = None
    max_val_items: int | None = None
    decode_size: int | None = 704
    cache: bool = False
    threshold: float = 0.5
    eval_native: bool = True
    channels_last: bool = True


PRANET_FULL = PraNetConfig(
    profile="full", size=(352, 352), backbone="res2net50", channels=32, pretrained_backbone=True, optimizer="adam",
    lr=1e-4, batch_size=16, epochs=20, schedule="constant", num_workers=4, eval_batch_size=8)
PRANET_QUICK = PraNetConfig(
    profile="quick", size=(64, 64), size_multiple=16, decode_size=128, cache=True, backbone="resnet18", channels=16,
    pretrained_backbone=False, optimizer="adam", lr=1e-3, batch_size=8, epochs=4, schedule="poly",
    scale_range=(0.8, 1.0), ratio_range=(0.75, 1.33), num_workers=0, eval_batch_size=8)


def multiscale_size(size: int, rate: float, multiple: int = 32) -> int:
    """PraNet's rescaled training size: ``round(size * rate / multiple) * multiple`` (at least ``multiple``).

    Example:
        >>> [multiscale_size(352, r) for r in (0.75, 1.0, 1.25)]
        [256, 352, 448]
    """
    if size < 1 or rate <= 0 or multiple < 1:
        raise ValueError(f"size, rate and multiple must be positive, got {size}, {rate}, {multiple}")
    return max(multiple, int(round(size * rate / multiple)) * multiple)


class MultiScaleBatches:
    """Yield every batch of ``loader`` once per rate, rescaled (PraNet's multi-scale training).

    Images are resized bilinearly with ``align_corners=True`` (the authors' ``F.upsample``); masks likewise, as
    floats in [0, 1]; a rate whose size equals the batch's own leaves the batch unchanged. ``len()`` counts the
    rescaled batches, so the training loop's step count and schedule see every one of them.

    Args:
        loader: yields ``(images [N, 3, H, W], masks [N, H, W])`` at the network's size.
        rates: scale factors (each gives one batch).
        multiple: rescaled sizes are rounded to a multiple of this.

    Example:
        >>> data = [(torch.zeros(2, 3, 64, 64), torch.ones(2, 64, 64, dtype=torch.long))]
        >>> [tuple(x.shape[-2:]) for x, _ in MultiScaleBatches(data, (0.5, 1.0, 1.5), multiple=16)]
        [(32, 32), (64, 64), (96, 96)]
    """

    def __init__(self, loader: DataLoader, rates: tuple[float, ...], multiple: int = 32):
        if not rates:
            raise ValueError("size_rates must hold at least one scale factor")
        self.loader, self.rates, self.multiple = loader, tuple(float(r) for r in rates), multiple
        self.sampler = getattr(loader, "sampler", None)  # for DistributedSampler.set_epoch in the training loop

    def __len__(self) -> int:
        return len(self.loader) * len(self.rates)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for images, masks in self.loader:
            if isinstance(masks, list):
                raise ValueError("multi-scale training needs masks of one size per batch (resize them in the "
                                 "training transforms)")
            h, w = images.shape[-2:]
            for rate in self.rates:
                size = (multiscale_size(h, rate, self.multiple), multiscale_size(w, rate, self.multiple))
                if size == (h, w):
                    yield images, masks
                    continue
                x = F.interpolate(images, size=size, mode="bilinear", align_corners=True)
                y = F.interpolate(masks[:, None].float(), size=size, mode="bilinear", align_corners=True)[:, 0]
                yield x, y


@dataclass
class PraNetRecipe(BinarySegmentationRecipe):
    """``BinarySegmentationRecipe`` with PraNet's deep-supervised structure loss and multi-scale training."""

    def build_loss(self, cfg: PraNetConfig, train_set: Dataset) -> Callable:
        return DeepSupervisionLoss(StructureLoss(paper_code_bce=cfg.paper_code_bce))

    def loader(self, dataset: Dataset, cfg: PraNetConfig, train: bool) -> DataLoader | MultiScaleBatches:
        base = super().loader(dataset, cfg, train)
        if not train or tuple(cfg.size_rates) == (1.0,):
            return base
        return MultiScaleBatches(base, cfg.size_rates, cfg.size_multiple)


def _build_pranet(cfg: PraNetConfig) -> PraNet:
    folders = vgg16_weight_folders() if cfg.pretrained_backbone else []
    return pranet(backbone=cfg.backbone, channels=cfg.channels, pretrained_backbone=cfg.pretrained_backbone,
                  weight_folders=folders)


def pranet_recipes() -> list[PraNetRecipe]:
    """The PraNet recipe of Chapter 3."""
    return [PraNetRecipe(
        name="pranet-kvasir",
        description="PraNet (Fan et al. 2020): partial decoder + reverse attention, deep-supervised structure "
                    "loss, multi-scale training; Kvasir-SEG, mDice and PraNet's meanDic",
        chapter="3",
        dataset="kvasir",
        quick=PRANET_QUICK,
        full=PRANET_FULL,
        monitor="dice",
        splits=("train", "val"),
        dataset_class=KvasirSEG,
        build_model_fn=_build_pranet,
    )]
