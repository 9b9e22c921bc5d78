"""The semantic segmentation recipe family (Chapter 3): per-pixel cross-entropy, confusion-matrix metrics.

Evaluation protocol: each image is fed at ``eval_scale`` times its size (1.0 = full resolution), the logits are
upsampled bilinearly to the label's own resolution, and a dataset-level confusion matrix over all non-void pixels
gives pixel accuracy, mean class accuracy, mIoU, frequency-weighted IoU and mean Dice (as in the FCN paper).
The classes, the palette and the void label come from the dataset's registry entry (``recipe.info``).
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
from ..data.collate import pad_collate
from ..data.common import class_weights
from ..data.transforms import SegmentationTransforms
from ..metrics import ConfusionMatrix
from .base import Recipe
from .config import RecipeConfig

__all__ = ["SegmentationConfig", "SegmentationRecipe", "predict"]


@dataclass(frozen=True)
class SegmentationConfig(RecipeConfig):
    """The settings of the FCN recipes (the shared ones are documented in :class:`RecipeConfig`).

    Args:
        variant: ``32s``, ``16s`` or ``8s``: the stride of the finest prediction the FCN fuses.
        width: VGG16 channel multiplier (1.0 = the paper's 64 ... 512 channels).
        fc_channels: channels of the convolutionalised ``fc6``/``fc7`` (4096 in the paper).
        batch_norm: BatchNorm after every backbone convolution (not in the paper; helps training from scratch).
        padding: ``paper`` (first conv padded by 100, crops at the skips) or ``same`` (padded layers, no crops).
        dropout: dropout after ``fc6`` and ``fc7`` (0.5 in the paper).
        learnable_upsampling: train the bilinear-initialised transposed convolutions.
        pretrained_backbone: load torchvision's ImageNet VGG16 weights when they are on disk (never downloads;
            see :func:`course_lib.recipes.fcn.vgg16_weight_folders`); otherwise train from scratch and say so.
        init_from: a checkpoint whose matching tensors initialise the model (staged training: FCN-16s from
            FCN-32s, FCN-8s from FCN-16s); ``None``: no initialisation from a checkpoint.
        crop_size: ``(height, width)`` of the random training crop (padded with void where the image is smaller).
        scale_range: ``(min, max)`` random scale factor applied before the crop.
        color_jitter: ``(brightness, contrast, saturation, hue)`` of the training images, or ``None``.
        class_weighting: ``median_frequency`` (SegNet's class balancing of the loss) or ``None``.
        eval_scale: the factor images are resized by before evaluation (logits are scored at the label's size).
    """

    variant: str = "8s"
    width: float = 1.0
    fc_channels: int = 4096
    batch_norm: bool = False
    padding: str = "paper"
    dropout: float = 0.5
    learnable_upsampling: bool = True
    pretrained_backbone: bool = False
    init_from: str | None = None
    crop_size: tuple[int, int] = (320, 320)
    scale_range: tuple[float, float] = (0.5, 2.0)
    color_jitter: tuple[float, float, float, float] | None = None
    class_weighting: str | None = None
    eval_scale: float = 1.0


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, scale: float = 1.0, out_size: tuple[int, int] | None = None,
            amp: bool = True) -> torch.Tensor:
    """Logits at ``out_size`` (default: the input size) for a batch fed at ``scale`` times its size.

    The network runs under :func:`course_lib.inference.predict` (eval mode, no gradients, the training loop's
    autocast on a GPU when ``amp``; the model's mode is restored).

    Args:
        model: maps ``[N, 3, h, w]`` to ``[N, K, h, w]`` logits.
        images: a normalised batch ``[N, 3, H, W]``.
        scale: resize factor of the input (bilinear, antialiased).
        out_size: ``(H, W)`` of the returned logits (bilinear upsampling).
        amp: mixed precision on a GPU.

    Returns:
        ``float32 [N, K, *out_size]`` logits.

    Example:
        >>> net = nn.Conv2d(3, 4, 1)
        >>> predict(net, torch.zeros(2, 3, 8, 10), scale=0.5, out_size=(16, 20)).shape
        torch.Size([2, 4, 16, 20])
    """
    size = tuple(images.shape[-2:]) if out_size is None else out_size
    x = images
    if scale != 1.0:
        x = F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False, antialias=True)
    logits = inference.predict(model, x, amp=amp)
    if tuple(logits.shape[-2:]) != tuple(size):
        logits = F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
    return logits


@dataclass
class SegmentationRecipe(Recipe):
    """A semantic segmentation recipe: one model on one registered dataset, cross-entropy, confusion matrix.

    Args:
        dataset_class: the ``Dataset`` class of the recipe's dataset; it takes ``(root, split=..., transforms=...,
            max_items=...)`` and returns ``(image, mask)`` pairs, as :class:`course_lib.data.camvid.CamVid` does.
        build_model_fn: ``(cfg, num_classes) -> nn.Module``; the number of classes comes from the registry.
    """

    dataset_class: type[Dataset] | None = None
    build_model_fn: Callable[[SegmentationConfig, int], nn.Module] | None = None

    def build_model(self, cfg: SegmentationConfig) -> nn.Module:
        model = self.build_model_fn(cfg, self.info.num_classes)
        if cfg.init_from:  # staged training: FCN-16s from FCN-32s, FCN-8s from FCN-16s
            src = Recipe.load_checkpoint_state(cfg.init_from)
            own = model.state_dict()
            matched = {k: v for k, v in src.items() if k in own and own[k].shape == v.shape}
            model.load_state_dict(matched, strict=False)
            model.init_source = f"{cfg.init_from} ({len(matched)} tensors)"
        return model

    def build_dataset(self, data_root: Path, split: str, cfg: SegmentationConfig, train: bool) -> Dataset:
        ignore = self.info.ignore_index
        if train:
            tf = SegmentationTransforms(train=True, size=cfg.crop_size, scale=cfg.scale_range, hflip=True,
                                        color_jitter=cfg.color_jitter or None, ignore_index=ignore)
        else:
            tf = SegmentationTransforms(train=False, size=None, ignore_index=ignore)
        return self.dataset_class(data_root, split=split, transforms=tf, max_items=cfg.max_items)

    def collate_fn(self, cfg: SegmentationConfig) -> Callable:
        ignore = self.info.ignore_index
        return lambda batch: pad_collate(batch, ignore_index=ignore)

    def build_loss(self, cfg: SegmentationConfig, train_set: Dataset) -> Callable:
        info = self.info
        weight = None
        if cfg.class_weighting == "median_frequency":
            weight = class_weights(train_set, info.num_classes, info.ignore_index).float()
        elif cfg.class_weighting:
            raise ValueError(f"unknown class_weighting {cfg.class_weighting!r}; use 'median_frequency' or null")
        ignore = info.ignore_index

        def loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            w = weight.to(logits.device) if weight is not None else None
            return F.cross_entropy(logits.float(), target, weight=w, ignore_index=ignore)

        return loss

    def evaluate(self, model: nn.Module, dataset: Dataset, cfg: SegmentationConfig,
                 device: torch.device | None = None, progress: bool = True) -> dict[str, float]:
        device = device or get_device()
        model.to(device)
        info = self.info
        cm = ConfusionMatrix(info.num_classes, info.ignore_index, list(info.classes))
        loader = self.loader(dataset, cfg, train=False)
        for images, masks in tqdm(loader, desc="evaluate", leave=False,
                                  disable=not (progress and D.is_main_process())):
            images, masks = images.to(device), masks.to(device)
            logits = predict(model, images, cfg.eval_scale, tuple(masks.shape[-2:]), amp=cfg.amp)
            cm.update(logits.argmax(1), masks)
        cm.all_reduce()
        return cm.compute()
