"""PointRend as a refinement head on a trained Mask R-CNN: fit it, and compare the masks with and without it.

Chapter 5. Kirillov et al., "PointRend: Image Segmentation as Rendering" (arXiv:1912.08193), used as the paper's
Mask R-CNN variant without retraining the detector: the detector is frozen, its coarse 28x28 mask logits and the
fine features of its finest FPN level are taken per box (:func:`course_lib.models.pointrend.maskrcnn_point_inputs`),
and a :class:`~course_lib.models.pointrend.PointRendRefiner` is trained on them (points drawn with oversampling
``k = 3`` and importance ratio ``beta = 0.75``, the loss at the points only). Training boxes are the ground-truth
boxes (the paper trains on the detector's positive proposals; with a frozen detector the ground-truth boxes are the
proposals that match best); the point labels come from each box's ground-truth mask cut at 112x112
(:func:`course_lib.models.roi_align.mask_targets`).

The comparison (:func:`pointrend_compare`) scores the *same detections* twice: with the coarse mask (28x28 logits
pasted into the image, what torchvision's Mask R-CNN outputs) and with the PointRend mask (28 -> 56 -> 112 by
adaptive subdivision, then pasted the same way). Two scores each:

* COCO mask AP (``COCOeval``, :func:`course_lib.metrics.instance_ap.coco_evaluate`), ``mask_ap`` and ``mask_ap50``;
* boundary quality: each non-crowd ground-truth instance is paired with the detection of highest coarse-mask IoU (if
  at least ``match_iou``); over those pairs, the mean boundary F-score at ``tolerance`` pixels
  (:func:`course_lib.metrics.boundary.boundary_f1`, DAVIS's definition) and the mean mask IoU. The pairing is made
  once, on the coarse masks, so both columns score the same pairs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset
from torchvision.models.detection.roi_heads import paste_masks_in_image
from torchvision.ops import roi_align

from ..metrics.boundary import boundary_f1
from ..metrics.instance_ap import coco_evaluate, mask_iou
from ..models.pointrend import PointRendRefiner, maskrcnn_point_inputs
from ..models.roi_align import mask_targets
from .instance import detections_to_results, targets_to_coco

__all__ = ["FINE_SOURCES", "fit_pointrend", "point_inputs", "pointrend_compare", "refined_detections"]


def _detector(model: nn.Module) -> nn.Module:
    """The torchvision Mask R-CNN inside a recipe's :class:`~course_lib.recipes.instance.DetectionLossModel`."""
    return getattr(model, "detector", model)


def _non_crowd(target: dict) -> dict[str, torch.Tensor]:
    keep = target["iscrowd"] == 0 if "iscrowd" in target else torch.ones(len(target["labels"]), dtype=torch.bool)
    return {"boxes": target["boxes"].as_subclass(torch.Tensor)[keep], "labels": target["labels"][keep]}


def _device(module: nn.Module) -> torch.device:
    return next(module.parameters()).device


def _items(dataset: Dataset) -> list[tuple[torch.Tensor, dict]]:
    return [dataset[i] for i in range(len(dataset))]


FINE_SOURCES = ("fpn", "fpn+image")


def point_inputs(detector: nn.Module, image: torch.Tensor, boxes: torch.Tensor, labels: torch.Tensor,
                 fine_source: str = "fpn") -> tuple[torch.Tensor, torch.Tensor]:
    """Coarse logits ``[R, 1, 28, 28]`` and fine features ``[R, C, 56, 56]`` of one image's boxes.

    Args:
        fine_source: ``"fpn"``: the finest FPN level, as the paper (P2, stride 4, in R50-FPN);
            ``"fpn+image"``: the image's own RGB (``roi_align`` at 56x56) appended, for backbones whose finest level
            is coarse (the quick recipe's MobileNetV3-FPN: stride 32), not in the paper.
    """
    if fine_source not in FINE_SOURCES:
        raise ValueError(f"fine_source must be one of {FINE_SOURCES}, got {fine_source!r}")
    coarse, fine = maskrcnn_point_inputs(detector, [image], [boxes], [labels])
    if fine_source == "fpn+image":
        rois = torch.cat([torch.zeros(len(boxes), 1, device=boxes.device), boxes.float()], 1)
        pixels = roi_align(image[None].float(), rois, fine.shape[-2:], spatial_scale=1.0, sampling_ratio=2)
        fine = torch.cat([fine, pixels.to(fine.dtype)], 1)
    return coarse, fine


@torch.no_grad()
def _training_rois(detector: nn.Module, items: Sequence[tuple[torch.Tensor, dict]], truth_size: int,
                   fine_source: str):
    coarse, fine, truth = [], [], []
    for image, target in items:
        keep = target["iscrowd"] == 0 if "iscrowd" in target else torch.ones(len(target["labels"]), dtype=torch.bool)
        boxes = _non_crowd(target)["boxes"].float()
        if len(boxes) == 0:  # an image without objects adds no RoI
            continue
        dev = _device(detector)
        c, f = point_inputs(detector, image.as_subclass(torch.Tensor).to(dev), boxes.to(dev),
                            target["labels"][keep].to(dev), fine_source)
        masks = target["masks"].as_subclass(torch.Tensor)[keep].float()
        truth.append(mask_targets(masks, boxes, torch.arange(len(boxes)), size=truth_size)[:, None])
        coarse.append(c.cpu())
        fine.append(f.cpu())
    if not coarse:
        raise ValueError("fit_pointrend: the training images hold no non-crowd instance to train on")
    return torch.cat(coarse), torch.cat(fine), torch.cat(truth)


def fit_pointrend(model: nn.Module, dataset: Dataset, *, iterations: int = 300, lr: float = 1e-3,
                  num_points: int = 14 * 14, oversample: float = 3.0, importance: float = 0.75, hidden: int = 256,
                  truth_size: int = 112, fine_source: str = "fpn", seed: int = 0) -> PointRendRefiner:
    """Train a PointRend point head on a frozen Mask R-CNN's coarse masks (see the module docstring).

    Args:
        model: a torchvision Mask R-CNN, or a recipe's ``DetectionLossModel`` around one (kept frozen, in eval mode).
        dataset: ``(image, target)`` items of :mod:`course_lib.data.instances` (e.g. ``recipe.build_dataset``).
        iterations: Adam steps, each on all training boxes at once (the point sets are redrawn every step).
        lr: Adam learning rate.
        num_points: points per box and step (``14 * 14`` in arXiv:1912.08193).
        oversample: ``k`` of the point selection (3 in the paper).
        importance: ``beta`` of the point selection (0.75 in the paper).
        hidden: width of the point head's MLP (256 in the paper).
        truth_size: side of the ground-truth mask per box the point labels are read from.
        fine_source: the fine-grained features (:func:`point_inputs`); the refiner remembers it for inference.
        seed: seed of the head's initialisation and of the point draws.

    Returns:
        The trained refiner, in eval mode, on the CPU.
    """
    if iterations < 1:
        raise ValueError(f"fit_pointrend: iterations must be >= 1, got {iterations}")
    detector = _detector(model).eval()  # stays on its device; the refiner trains on the CPU
    coarse, fine, truth = _training_rois(detector, _items(dataset), truth_size, fine_source)
    torch.manual_seed(seed)
    refiner = PointRendRefiner(fine_channels=fine.shape[1], num_points=num_points, oversample=oversample,
                               importance=importance, hidden=hidden)
    optimizer = torch.optim.Adam(refiner.parameters(), lr=lr)
    refiner.train()
    for _ in range(iterations):
        optimizer.zero_grad()
        loss = refiner.loss(coarse, fine, truth)
        loss.backward()
        optimizer.step()
    refiner.final_loss = float(loss.detach())
    refiner.fine_source = fine_source
    return refiner.eval()


@torch.no_grad()
def refined_detections(model: nn.Module, refiner: PointRendRefiner | None, image: torch.Tensor, *, steps: int = 2,
                       num_points: int = 28 * 28, given: dict | None = None) -> dict[str, torch.Tensor]:
    """One image's detections, their masks pasted from the coarse 28x28 logits and from PointRend's.

    Args:
        given: ``boxes`` and ``labels`` to use instead of the detector's (score 1 each; e.g. the ground truth, to
            score the masks alone).

    Returns:
        torchvision's output dict (``boxes``, ``labels``, ``scores``, ``masks`` ``[D, 1, H, W]`` probabilities of the
        coarse masks) and, with a ``refiner``, ``refined_masks`` (the same detections' PointRend masks).
    """
    detector = _detector(model).eval()
    dev = _device(detector)
    image = image.as_subclass(torch.Tensor).cpu()
    if given is None:
        out = {k: v.cpu() for k, v in detector([image.to(dev)])[0].items()}
    else:
        boxes = given["boxes"].as_subclass(torch.Tensor).float()
        out = {"boxes": boxes, "labels": given["labels"], "scores": torch.ones(len(boxes)),
               "masks": torch.zeros(len(boxes), 1, *image.shape[-2:])}
    if len(out["boxes"]) == 0:
        if refiner is not None:
            out["refined_masks"] = out["masks"]
        return out
    source = getattr(refiner, "fine_source", "fpn")
    coarse, fine = (t.cpu() for t in point_inputs(detector, image.to(dev), out["boxes"].to(dev),
                                                  out["labels"].to(dev), source))
    size = tuple(image.shape[-2:])
    out["masks"] = paste_masks_in_image(coarse.sigmoid(), out["boxes"], size, padding=1)
    if refiner is not None:
        logits = refiner.refine(coarse, fine, steps=steps, num_points=num_points)
        out["refined_masks"] = paste_masks_in_image(logits.sigmoid(), out["boxes"], size, padding=1)
    return out


def _boundary_scores(outputs: list[dict], targets: list[dict], threshold: float, tolerance: int,
                     match_iou: float) -> list[tuple[int, int, int]]:
    """``(image, detection, ground truth)`` pairs: each non-crowd ground truth with its best coarse detection."""
    pairs = []
    for i, (out, target) in enumerate(zip(outputs, targets, strict=True)):
        gts = target["masks"].as_subclass(torch.Tensor).numpy().astype(bool)
        crowd = target["iscrowd"].tolist() if "iscrowd" in target else [0] * len(gts)
        if len(out["masks"]) == 0 or len(gts) == 0:
            continue
        det = (out["masks"][:, 0] >= threshold).numpy()
        ious = mask_iou(det, gts, [0] * len(gts))
        for g in range(len(gts)):
            if not crowd[g] and ious[:, g].max() >= match_iou:
                pairs.append((i, int(ious[:, g].argmax()), g))
    return pairs


def pointrend_compare(model: nn.Module, refiner: PointRendRefiner, dataset: Dataset, *, tolerance: int = 1,
                      match_iou: float = 0.5, threshold: float = 0.5, steps: int = 2, num_points: int = 28 * 28,
                      category_ids: tuple[int, ...] | None = None,
                      boxes: str = "detections") -> dict[str, dict[str, float]]:
    """Score the same detections with the coarse masks and with PointRend's (see the module docstring).

    Args:
        model: the trained Mask R-CNN (or the recipe's wrapper).
        refiner: a trained refiner (:func:`fit_pointrend`).
        dataset: the evaluation images with their targets.
        tolerance: boundary match radius in pixels (:func:`course_lib.metrics.boundary.boundary_f1`).
        match_iou: least coarse-mask IoU for a ground truth to be paired with a detection for the boundary scores.
        threshold: mask probability from which a pixel is in the mask (0.5, as torchvision).
        steps, num_points: PointRend's adaptive subdivision (28 -> 112 with 28 * 28 points per step).
        category_ids: the category id of each label (default: the dataset's, else ``(0, 1)``).
        boxes: ``"detections"`` (the detector's boxes and scores) or ``"ground_truth"`` (the non-crowd true boxes with
            score 1: the masks are scored alone, without the detector's misses and false positives).

    Returns:
        ``{"coarse": scores, "pointrend": scores}``, each with ``mask_ap``, ``mask_ap50``, ``boundary_f``,
        ``pair_iou`` (mean mask IoU of the pairs) and ``pairs`` (the number of pairs scored).
    """
    items = _items(dataset)
    ids = category_ids or getattr(getattr(dataset, "datasets", [dataset])[0], "category_ids", (0, 1))
    classes = ("background",) + tuple(str(c) for c in ids[1:])
    targets = [t for _, t in items]
    gt = targets_to_coco(targets, [tuple(im.shape[-2:]) for im, _ in items], ids, classes)
    if boxes not in ("detections", "ground_truth"):
        raise ValueError(f"pointrend_compare: boxes must be 'detections' or 'ground_truth', got {boxes!r}")
    given = [None if boxes == "detections" else _non_crowd(t) for t in targets]
    detected = [refined_detections(model, refiner, im, steps=steps, num_points=num_points, given=g)
                for (im, _), g in zip(items, given, strict=True)]
    pairs = _boundary_scores(detected, targets, threshold, tolerance, match_iou)
    scores = {}
    for name, key in (("coarse", "masks"), ("pointrend", "refined_masks")):
        outs = [{**out, "masks": out[key]} for out in detected]
        results = [r for out, t in zip(outs, targets, strict=True)
                   for r in detections_to_results(out, t["image_id"], ids, threshold)[0]]
        ap = coco_evaluate(gt, results, "segm") if results else {"AP": 0.0, "AP50": 0.0}
        f, iou = [], []
        for i, d, g in pairs:
            pred = (outs[i]["masks"][d, 0] >= threshold).numpy()
            truth = targets[i]["masks"].as_subclass(torch.Tensor)[g].numpy().astype(bool)
            f.append(boundary_f1(pred, truth, tolerance))
            iou.append(float(mask_iou(pred[None], truth[None], [0])[0, 0]))
        scores[name] = {"mask_ap": float(ap["AP"]), "mask_ap50": float(ap["AP50"]),
                        "boundary_f": float(np.mean(f)) if f else float("nan"),
                        "pair_iou": float(np.mean(iou)) if iou else float("nan"), "pairs": float(len(pairs))}
    return scores
