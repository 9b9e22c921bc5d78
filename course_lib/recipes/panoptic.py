"""Panoptic recipe of Chapter 11: ``panoptic-fpn-coco`` (Panoptic FPN on COCO panoptic, scored with PQ).

Panoptic FPN (Kirillov et al., arXiv:1901.02446): torchvision's Mask R-CNN and a semantic FPN head on one
ResNet-FPN backbone (:mod:`course_lib.models.panoptic_fpn`), trained on COCO panoptic files
(:mod:`course_lib.data.coco_panoptic`): the things (not crowd) become Mask R-CNN's boxes, labels and masks; the
semantic target holds the stuff classes 1..S, 0 for every thing pixel (crowd included) and 255 for void. The loss is
Mask R-CNN's five losses plus ``semantic_weight`` times the semantic cross-entropy. Evaluation runs the fusion
heuristic (:func:`course_lib.models.panoptic_fusion`) and PQ as the COCO panoptic evaluation
(:mod:`course_lib.metrics.panoptic`); ``python -m course_lib.score panoptic`` gives the same numbers on files.

``full`` is the paper's R50-FPN 1x COCO setting: ImageNet ResNet-50 (frozen batch norm), shorter side 800 (longer
at most 1333), SGD at 0.02 with momentum 0.9 and weight decay 1e-4, batches of 16, about 12 epochs (90 K iterations),
semantic loss weight 0.5, horizontal flips; fusion with score 0.5, overlap 0.5 and stuff area 4096. Departures:
the step schedule divides the rate by 10 at each quarter (the paper: at 60 K and 80 K of 90 K iterations) and
there is no warm-up. ``quick``: a ResNet-18 with a 64-channel pyramid trained from scratch at 96 pixels on the
synthetic sample, Adam at 1e-3, few proposals; it shows the pipeline and the losses working, not the paper's PQ.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from ..data.coco_panoptic import PanopticDataset, coco_panoptic
from ..metrics.panoptic import pq_stats, pq_summary
from ..models.panoptic_fpn import PanopticFPN, panoptic_fpn
from ..models.panoptic_fusion import panoptic_fusion
from .base import Recipe
from .config import RecipeConfig

__all__ = ["PANOPTIC_FULL", "PANOPTIC_QUICK", "PanopticConfig", "PanopticRecipe", "PanopticTargets",
           "panoptic_recipes", "predict_panoptic"]


@dataclass(frozen=True)
class PanopticConfig(RecipeConfig):
    """The settings of ``panoptic-fpn-coco`` (the shared ones are documented in :class:`RecipeConfig`).

    Args:
        num_things: thing categories of the JSON (COCO: 80; checked when loading).
        num_stuff: stuff categories of the JSON (COCO: 53; checked when loading).
        backbone: a torchvision ResNet (``resnet50`` in the paper's setting).
        pretrained_backbone: torchvision's ImageNet weights for it (downloaded once; offline: an error).
        min_size: Mask R-CNN's resizing of the shorter side (800).
        max_size: Mask R-CNN's limit of the longer side (1333).
        fpn_channels: width of the feature pyramid (256).
        semantic_channels: width of the semantic head (128).
        semantic_weight: weight of the semantic cross-entropy (0.5).
        rpn_batch: anchors per image for the RPN loss (256).
        roi_batch: proposals per image for the box and mask heads (512).
        proposals: proposals kept after the RPN's NMS in training (2000) and testing (1000: half of it).
        detections: detections kept per image (100).
        score_threshold: the fusion's minimum instance score (0.5).
        overlap_threshold: the fusion's largest share of an instance already taken by higher-scored ones (0.5).
        stuff_area: the fusion's minimum area of a stuff segment (4096 pixels).
        hflip: random horizontal flips in training.
        max_val_items: score only the first this many validation images (``None``: all).
    """

    num_things: int = 80
    num_stuff: int = 53
    backbone: str = "resnet50"
    pretrained_backbone: bool = False
    min_size: int = 800
    max_size: int = 1333
    fpn_channels: int = 256
    semantic_channels: int = 128
    semantic_weight: float = 0.5
    rpn_batch: int = 256
    roi_batch: int = 512
    proposals: int = 2000
    detections: int = 100
    score_threshold: float = 0.5
    overlap_threshold: float = 0.5
    stuff_area: int = 4096
    hflip: bool = True
    max_val_items: int | None = None


PANOPTIC_FULL = PanopticConfig(
    profile="full", backbone="resnet50", pretrained_backbone=True, optimizer="sgd", lr=0.02, momentum=0.9,
    weight_decay=1e-4, batch_size=16, epochs=12, schedule="step", num_workers=4, grad_clip=None)
PANOPTIC_QUICK = PanopticConfig(
    profile="quick", num_things=3, num_stuff=4, backbone="resnet18", min_size=96, max_size=128, fpn_channels=64,
    semantic_channels=32, rpn_batch=64, roi_batch=32, proposals=64, detections=10, score_threshold=0.3,
    stuff_area=64, optimizer="adam", lr=1e-3, batch_size=2, epochs=4, schedule="constant", max_items=4,
    max_val_items=2)


class PanopticTargets(Dataset):
    """A :class:`~course_lib.data.coco_panoptic.PanopticDataset` as Panoptic FPN's training pairs.

    Item: ``((image float [3, H, W] in 0..1, target), target)`` with target ``boxes``, ``labels`` (1..T),
    ``masks`` ``uint8 [N, H, W]``, ``semantic`` (0 = things, 1..S stuff, 255 void), ``ids`` (the panoptic map)
    and ``index``; the pair shape is what the shared loop passes to the model and to the loss.
    """

    def __init__(self, panoptic: PanopticDataset, hflip: bool = False) -> None:
        self.panoptic, self.hflip = panoptic, hflip
        cats = panoptic.categories
        self.thing_ids = [c for c in cats if cats[c].isthing]
        self.stuff_ids = [c for c in cats if not cats[c].isthing]

    def __len__(self) -> int:
        return len(self.panoptic)

    def __getitem__(self, index: int):
        image, ids, segments = self.panoptic.load_raw(index)
        if self.hflip and torch.rand(()) < 0.5:
            image, ids = image[:, ::-1], ids[:, ::-1]
        ids = np.ascontiguousarray(ids).astype(np.int64)
        semantic = np.full(ids.shape, 255, np.int64)
        boxes, labels, masks = [], [], []
        for s in segments:
            mask = ids == s["id"]
            if s["category_id"] in self.stuff_ids:
                semantic[mask] = 1 + self.stuff_ids.index(s["category_id"])
                continue
            semantic[mask] = 0
            if s["iscrowd"] or not mask.any():
                continue
            ys, xs = np.nonzero(mask)
            boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
            labels.append(1 + self.thing_ids.index(s["category_id"]))
            masks.append(mask)
        h, w = ids.shape
        target = {"boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                  "labels": torch.tensor(labels, dtype=torch.int64),
                  "masks": torch.from_numpy(np.stack(masks).astype(np.uint8)) if masks else
                  torch.zeros((0, h, w), dtype=torch.uint8),
                  "semantic": torch.from_numpy(semantic), "ids": torch.from_numpy(ids),
                  "index": torch.tensor(index)}
        picture = torch.from_numpy(np.array(image)).permute(2, 0, 1).float() / 255
        return (picture, target), target


def _collate(batch):
    images = [b[0][0] for b in batch]
    targets = [b[1] for b in batch]
    return (images, targets), targets


@torch.no_grad()
def predict_panoptic(model: PanopticFPN, image: torch.Tensor, thing_ids: list[int], stuff_ids: list[int],
                     cfg: PanopticConfig) -> tuple[np.ndarray, list[dict], list[dict]]:
    """One picture ``float [3, H, W]`` in 0..1 -> ``(ids, segments_info, fusion decisions)`` in category ids."""
    model.eval()
    out = model([image.to(next(model.parameters()).device)])[0]
    classes = out["semantic_logits"].argmax(0).cpu().numpy()
    stuff_lut = np.array([-1, *stuff_ids], np.int64)
    return panoptic_fusion(out["masks"][:, 0].cpu(), out["scores"].cpu(),
                           [thing_ids[int(k) - 1] for k in out["labels"].cpu()], stuff_lut[classes],
                           stuff_ids=stuff_ids, score_threshold=cfg.score_threshold,
                           overlap_threshold=cfg.overlap_threshold, stuff_area=cfg.stuff_area)


@dataclass
class PanopticRecipe(Recipe):
    """Panoptic FPN on a dataset in COCO panoptic format, scored with PQ (see the module's documentation)."""

    def build_model(self, cfg: PanopticConfig) -> nn.Module:
        weights = None
        if cfg.pretrained_backbone:
            import torchvision

            weights = torchvision.models.get_model_weights(cfg.backbone).IMAGENET1K_V1
        n = cfg.proposals
        return panoptic_fpn(num_things=cfg.num_things, num_stuff=cfg.num_stuff, backbone=cfg.backbone,
                            min_size=cfg.min_size, max_size=cfg.max_size, fpn_channels=cfg.fpn_channels,
                            semantic_channels=cfg.semantic_channels, backbone_weights=weights,
                            trainable_layers=3 if weights else 5, rpn_batch_size_per_image=cfg.rpn_batch,
                            box_batch_size_per_image=cfg.roi_batch, rpn_pre_nms_top_n_train=n,
                            rpn_post_nms_top_n_train=n, rpn_pre_nms_top_n_test=max(1, n // 2),
                            rpn_post_nms_top_n_test=max(1, n // 2), box_detections_per_img=cfg.detections)

    def build_dataset(self, data_root: Path, split: str, cfg: PanopticConfig, train: bool) -> Dataset:
        limit = cfg.max_items if train else cfg.max_val_items
        data = PanopticTargets(coco_panoptic(data_root, split, limit), hflip=train and cfg.hflip)
        if (len(data.thing_ids), len(data.stuff_ids)) != (cfg.num_things, cfg.num_stuff):
            raise ValueError(f"{data.panoptic.ann.path}: {len(data.thing_ids)} thing and {len(data.stuff_ids)} stuff "
                             f"categories, the settings say {cfg.num_things} and {cfg.num_stuff} (set num_things "
                             "and num_stuff)")
        return data

    def build_loss(self, cfg: PanopticConfig, train_set: Dataset) -> Callable:
        def loss(losses: dict, targets) -> torch.Tensor:
            return sum(v * (cfg.semantic_weight if k == "loss_semantic" else 1.0) for k, v in losses.items())
        return loss

    def collate_fn(self, cfg: PanopticConfig) -> Callable:
        return _collate

    def evaluate(self, model: nn.Module, dataset: PanopticTargets, cfg: PanopticConfig,
                 device: torch.device | None = None, progress: bool = True) -> dict[str, float]:
        cats = dataset.panoptic.categories
        ids = list(cats)
        stats = np.zeros((len(ids), 4))
        for k in range(len(dataset)):
            image, ids_map, segments = dataset.panoptic.load_raw(k)
            picture = torch.from_numpy(image.copy()).permute(2, 0, 1).float() / 255
            pred, pred_segments, _ = predict_panoptic(model, picture, dataset.thing_ids, dataset.stuff_ids, cfg)
            stats += pq_stats(ids_map, segments, pred, pred_segments, ids)
        s = pq_summary(stats, ids, [cats[c].isthing for c in ids])
        return {"pq": s["All"]["pq"], "sq": s["All"]["sq"], "rq": s["All"]["rq"], "pq_things": s["Things"]["pq"],
                "pq_stuff": s["Stuff"]["pq"]}


def panoptic_recipes() -> list[PanopticRecipe]:
    """The panoptic recipe of Chapter 11 (``panoptic-fpn-coco``)."""
    return [PanopticRecipe(
        name="panoptic-fpn-coco",
        description="Panoptic FPN (Kirillov et al. 2019): Mask R-CNN + semantic FPN head on one backbone, fusion; "
                    "COCO panoptic, PQ/SQ/RQ",
        chapter="11", dataset="coco_panoptic", quick=PANOPTIC_QUICK, full=PANOPTIC_FULL, monitor="pq",
        splits=("train", "val"))]
