"""Human parsing recipes (Chapter 4): Self-Correction Human Parsing, ``schp-lip``, ``schp-cihp``, ``schp-atr``,
``schp-ppp``.

SCHP (Li, Dong, Sun & Yang, arXiv 1910.09777): the A-CE2P network (:class:`course_lib.models.ACE2P`), trained with
:class:`course_lib.losses.SCHPLoss` (Lovász-softmax + cross-entropy on the parsing and fusion outputs, a balanced
edge cross-entropy) and self-correction (:mod:`course_lib.recipes.self_correction`: SCHP's cyclical learning rate,
the running average of the weights at each cycle end, labels refined by the aggregated model). Training
augmentation: random scale, crop, and a horizontal flip that swaps left and right labels
(:class:`course_lib.data.parsing.ParsingTransforms`).

**Evaluation (the LIP protocol).** Each picture at its own resolution (``eval_scale`` 1), the logits upsampled to
the label's size, with flip test-time augmentation when ``flip_tta`` (the flipped picture's logits flipped back
with the left/right channels swapped, :func:`course_lib.data.parsing.flip_logits`, and averaged); one confusion
matrix over the split with 255 ignored: pixel accuracy, mean class accuracy, per-part IoU and mIoU (the mean over
the parts whose union is non-empty), as ``python -m course_lib.score semantic --dataset lip`` computes them from
PNGs.

``full`` follows SCHP's code base (``train.py`` defaults): ResNet-101 from ImageNet, output stride 16, 473x473
crops (512x512 for ATR and PASCAL-Person-Part), SGD lr 7e-3, momentum 0.9, weight decay 5e-4, batch 16, 150 epochs
with warm-up 10, cycles from epoch 100, 5 cycles of 10 epochs. Departures: BatchNorm instead of InPlace-ABN, the
BatchNorm statistics averaged with the weights instead of re-estimated, no consistency term (see
:mod:`course_lib.losses.parsing`). ``quick``: a ResNet-18 from scratch with narrow heads on the samples' small
pictures, Adam, 15 epochs (cycles from epoch 10), so that a CPU trains it in seconds; it shows the mechanics, not
the paper's accuracy.

``label_noise`` corrupts that share of the training labels (:class:`course_lib.data.parsing.NoisyLabels`) for
the self-correction experiment; ``self_correction=False`` trains the same network without it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from .. import distributed as D
from ..config import get_device
from ..data.collate import pad_collate
from ..data.parsing import ATR, CIHP, LIP, MappedLabels, NoisyLabels, ParsingTransforms, PascalPersonPart, flip_logits
from ..data.parsing_labels import FLIP_PAIRS, PARSING_CLASSES
from ..losses.parsing import SCHPLoss
from ..metrics import ConfusionMatrix
from ..models.ace2p import ace2p
from .base import SCHEDULES, Recipe
from .config import RecipeConfig
from .segmentation import predict
from .self_correction import SelfCorrection, schp_schedule

__all__ = ["ParsingConfig", "ParsingRecipe", "parsing_recipes", "parsing_scores", "predict_parsing"]

SCHEDULES.setdefault("schp", schp_schedule)  # SCHP's warm-up, cosine and cycles; the cycle ends of SelfCorrection


@dataclass(frozen=True)
class ParsingConfig(RecipeConfig):
    """The settings of the SCHP recipes (the shared ones are documented in :class:`RecipeConfig`).

    Args:
        backbone: the dilated ResNet of A-CE2P (``resnet101`` in SCHP).
        output_stride: of the backbone (16).
        context_channels: width of A-CE2P's context (pyramid pooling) branch (512).
        decoder_channels: width of its parsing decoder (256).
        edge_channels: width of its edge branch (256).
        pretrained_backbone: start the backbone from torchvision's ImageNet weights.
        crop_size: ``(height, width)`` of the training crops.
        scale_range: random scale before the crop (``None``: none).
        color_jitter: ``(brightness, contrast, saturation, hue)`` or ``None``.
        flip: random left/right-aware horizontal flips in training.
        self_correction: model aggregation and label refinement at the cycle ends (``False``: the plain network).
        label_noise: share of training pictures whose labels are corrupted (0: the labels as given).
        label_set: train and score in another label set, the dataset's labels mapped by
            :class:`course_lib.data.parsing.MappedLabels` (``"coarse"``: background, head, torso, arms, legs;
            ``"ppp"``, ``"atr"``, ``"lip"`` where a mapping exists); ``None``: the dataset's own labels.
        flip_tta: evaluate with flip test-time augmentation.
        eval_scale: the factor pictures are resized by for evaluation (logits scored at the label's size).
        lovasz_weight: weight of Lovász-softmax against the cross-entropy (0.5).
        edge_weight: weight of the edge loss (1).
    """

    backbone: str = "resnet101"
    output_stride: int = 16
    context_channels: int = 512
    decoder_channels: int = 256
    edge_channels: int = 256
    pretrained_backbone: bool = False
    crop_size: tuple[int, int] = (473, 473)
    scale_range: tuple[float, float] | None = (0.75, 1.25)
    color_jitter: tuple[float, float, float, float] | None = None
    flip: bool = True
    self_correction: bool = True
    label_noise: float = 0.0
    label_set: str | None = None
    flip_tta: bool = True
    eval_scale: float = 1.0
    lovasz_weight: float = 0.5
    edge_weight: float = 1.0


@torch.no_grad()
def predict_parsing(model: nn.Module, images: torch.Tensor, flip_pairs=(), *, flip_tta: bool = True,
                    scale: float = 1.0, out_size: tuple[int, int] | None = None, amp: bool = True) -> torch.Tensor:
    """Parsing logits ``[N, K, *out_size]``, averaged with the flipped picture's (channels swapped back).

    Args:
        model: returns logits in eval mode (A-CE2P returns its fusion output).
        images: a normalised batch ``[N, 3, H, W]``.
        flip_pairs: the dataset's ``(left, right)`` label pairs.
        flip_tta: add the flipped picture's prediction.
        scale, out_size, amp: as :func:`course_lib.recipes.segmentation.predict`.
    """
    logits = predict(model, images, scale, out_size, amp=amp)
    if flip_tta:
        flipped = predict(model, images.flip(-1), scale, out_size, amp=amp)
        logits = 0.5 * (logits + flip_logits(flipped, flip_pairs))
    return logits


def parsing_scores(model: nn.Module, dataset: Dataset, *, num_classes: int, class_names, flip_pairs,
                   ignore_index: int = 255, flip_tta: bool = True, scale: float = 1.0, batch_size: int = 1,
                   device: torch.device | None = None, amp: bool = True, progress: bool = False) -> ConfusionMatrix:
    """The LIP protocol's dataset-level confusion matrix of ``model`` on ``dataset`` (all processes reduced)."""
    device = device or get_device()
    model.to(device)
    cm = ConfusionMatrix(num_classes, ignore_index, list(class_names))
    sampler = D.ShardSampler(len(dataset)) if D.is_distributed() else None
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, sampler=sampler,
                                         collate_fn=lambda b: pad_collate(b, ignore_index=ignore_index))
    for images, masks in tqdm(loader, desc="evaluate", leave=False, disable=not (progress and D.is_main_process())):
        images, masks = images.to(device), masks.to(device)
        logits = predict_parsing(model, images, flip_pairs, flip_tta=flip_tta, scale=scale,
                                 out_size=tuple(masks.shape[-2:]), amp=amp)
        cm.update(logits.argmax(1), masks)
    cm.all_reduce()
    return cm


@dataclass
class ParsingRecipe(Recipe):
    """An SCHP recipe: A-CE2P with self-correction on one human-parsing dataset.

    Args:
        dataset_class: the reader (:class:`course_lib.data.parsing.LIP`, ``CIHP``, ``ATR``, ``PascalPersonPart``).
    """

    dataset_class: type[Dataset] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self._train_steps: int | None = None  # optimiser steps per epoch of the run being built

    @property
    def flip_pairs(self) -> tuple[tuple[int, int], ...]:
        return self.dataset_class.flip_pairs

    def _mapped_to(self, cfg: ParsingConfig) -> str | None:
        """The label set the dataset's labels are mapped to, ``None`` where the run keeps its own labels."""
        return None if cfg.label_set in (None, self.dataset) else cfg.label_set

    def label_set(self, cfg: ParsingConfig) -> tuple[tuple[str, ...], tuple[tuple[int, int], ...]]:
        """The class names and left/right pairs the run trains and scores (``cfg.label_set`` or the dataset's)."""
        target = self._mapped_to(cfg)
        if target is None:
            return tuple(self.info.classes), self.flip_pairs
        MappedLabels.table(self.dataset, target)  # a clear error for a set with no mapping
        return PARSING_CLASSES[target], FLIP_PAIRS.get(target, ())

    def build_dataset(self, data_root: Path, split: str, cfg: ParsingConfig, train: bool) -> Dataset:
        ignore = self.info.ignore_index
        _, pairs = self.label_set(cfg)
        tf = ParsingTransforms(train=train, flip_pairs=pairs, size=cfg.crop_size if train else None,
                               scale=cfg.scale_range, color_jitter=cfg.color_jitter, ignore_index=ignore,
                               flip_p=0.5 if cfg.flip else 0.0)
        ds = self.dataset_class(data_root, split=split, transforms=tf, max_items=cfg.max_items if train else None)
        if self._mapped_to(cfg) is not None:
            ds = MappedLabels(ds, cfg.label_set)
        if train:
            per_process = math.ceil(len(ds) / D.world_size()) if D.is_distributed() else len(ds)
            self._train_steps = max(1, per_process // cfg.batch_size) if len(ds) > 1 else 1
            if cfg.label_noise > 0:
                ds = NoisyLabels(ds, cfg.label_noise, seed=cfg.seed)
        return ds

    def build_model(self, cfg: ParsingConfig) -> nn.Module:
        net = ace2p(num_classes=len(self.label_set(cfg)[0]), backbone=cfg.backbone, output_stride=cfg.output_stride,
                    context_channels=cfg.context_channels, decoder_channels=cfg.decoder_channels,
                    edge_channels=cfg.edge_channels, pretrained_backbone=cfg.pretrained_backbone)
        steps, self._train_steps = self._train_steps, None  # set by build_dataset(train=True) of this run only
        model = SelfCorrection(net, total_steps=cfg.epochs * steps if steps else None, enabled=cfg.self_correction)
        model.backbone_source = net.backbone_source
        return model

    def collate_fn(self, cfg: ParsingConfig) -> Callable:
        ignore = self.info.ignore_index
        return lambda batch: pad_collate(batch, ignore_index=ignore)

    def build_loss(self, cfg: ParsingConfig, train_set: Dataset) -> Callable:
        return SCHPLoss(self.info.ignore_index, edge_weight=cfg.edge_weight, lovasz_weight=cfg.lovasz_weight)

    def evaluate(self, model: nn.Module, dataset: Dataset, cfg: ParsingConfig,
                 device: torch.device | None = None, progress: bool = True) -> dict[str, float]:
        classes, pairs = self.label_set(cfg)
        cm = parsing_scores(model, dataset, num_classes=len(classes), class_names=classes,
                            flip_pairs=pairs, ignore_index=self.info.ignore_index, flip_tta=cfg.flip_tta,
                            scale=cfg.eval_scale, batch_size=cfg.eval_batch_size, device=device, amp=cfg.amp,
                            progress=progress)
        return cm.compute()


PARSING_FULL = ParsingConfig(
    profile="full", epochs=150, batch_size=16, eval_batch_size=1, optimizer="sgd", lr=7e-3, momentum=0.9,
    weight_decay=5e-4, schedule="schp", pretrained_backbone=True, num_workers=4)
PARSING_QUICK = ParsingConfig(
    epochs=15, val_every=5, batch_size=4, eval_batch_size=4, optimizer="adam", lr=5e-3, schedule="schp",
    backbone="resnet18", context_channels=64, decoder_channels=48, edge_channels=16, crop_size=(96, 64),
    scale_range=(0.8, 1.2))

_SPECS = (
    ("schp-lip", "lip", LIP, "LIP (Look Into Person)", (473, 473), (96, 64)),
    ("schp-cihp", "cihp", CIHP, "CIHP, semantic part labels", (473, 473), (96, 128)),
    ("schp-atr", "atr", ATR, "ATR", (512, 512), (96, 64)),
    ("schp-ppp", "ppp", PascalPersonPart, "PASCAL-Person-Part", (512, 512), (96, 128)),
)


def parsing_recipes() -> list[ParsingRecipe]:
    """The four SCHP recipes of Chapter 4."""
    return [ParsingRecipe(name=name, description=f"SCHP (A-CE2P, self-correction) on {title}", chapter="4",
                          dataset=dataset, quick=dataclasses.replace(PARSING_QUICK, crop_size=quick),
                          full=dataclasses.replace(PARSING_FULL, crop_size=full), monitor="miou",
                          dataset_class=reader)
            for name, dataset, reader, title, full, quick in _SPECS]
