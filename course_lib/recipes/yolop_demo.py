"""YOLOP trained jointly on synthetic driving scenes by the shared loop, and scored on its three tasks (Chapter 11).

A small YOLOP (:mod:`course_lib.models.yolop`) learns detection, drivable area and lane lines at once from
:func:`course_lib.synthetic.driving_multitask.driving_batch` with :class:`course_lib.losses.yolop.YOLOPLoss`, through
:class:`course_lib.engine.Trainer`. The scores follow YOLOP's protocol on BDD100K: detection recall at IoU 0.5 and
mAP@0.5 (torchmetrics' ``MeanAveragePrecision``), drivable-area mIoU over its two classes, lane-line IoU of the
lane class. The book has no BDD100K loader (a follow-up); the demonstration shows joint training, not the
paper's numbers.
"""

from __future__ import annotations

import numpy as np
import torch

from ..engine import Trainer, TrainerConfig, cosine_schedule
from ..losses.yolop import YOLOPLoss
from ..models.yolop import YOLOP, decode_detections, yolop
from ..synthetic.driving_multitask import driving_batch

__all__ = ["train_yolop", "yolop_scores"]


@torch.no_grad()
def yolop_scores(model: YOLOP, batches, conf: float = 0.25) -> dict[str, float]:
    """Recall@0.5 and mAP@0.5 of the detections, drivable-area mIoU (two classes), lane IoU, over ``batches``."""
    from torchmetrics.detection import MeanAveragePrecision
    from torchvision.ops import box_convert, box_iou

    model.eval()
    ap = MeanAveragePrecision(iou_thresholds=[0.5], max_detection_thresholds=[1, 10, 100])
    inter, union = np.zeros(3), np.zeros(3)  # drivable background, drivable area, lane
    found = total = 0
    for images, targets in batches:
        out = model(images)
        dets = decode_detections(model, out["detection"], conf=conf)
        truth = [{"boxes": box_convert(t[:, 1:5], "cxcywh", "xyxy"), "labels": t[:, 0].long()}
                 for t in targets["boxes"]]
        ap.update(dets, truth)
        for d, t in zip(dets, truth, strict=True):
            total += len(t["boxes"])
            if len(t["boxes"]) and len(d["boxes"]):
                found += int((box_iou(t["boxes"], d["boxes"]).amax(1) > 0.5).sum())
        for k, (name, cls) in enumerate((("drivable", 0), ("drivable", 1), ("lane", 1))):
            p, t = out[name].argmax(1) == cls, targets[name] == cls
            inter[k] += float((p & t).sum())
            union[k] += float((p | t).sum())
    iou = inter / np.maximum(union, 1)
    return {"recall": found / max(total, 1), "map50": float(ap.compute()["map_50"]),
            "da_miou": float(iou[:2].mean()), "lane_iou": float(iou[2])}


def train_yolop(*, width: int = 8, size: tuple[int, int] = (64, 96), train_batches: int = 6, batch_size: int = 8,
                val_batches: int = 1, epochs: int = 4, lr: float = 3e-3, seed: int = 0,
                progress: bool = True) -> tuple[YOLOP, list[dict], dict[str, float]]:
    """Train a small YOLOP on synthetic scenes with the shared loop; returns ``(model, history, scores)``.

    Args:
        width: the model's first-stage channels (YOLOP: 32).
        size: ``(height, width)`` of the scenes (multiples of 32).
        train_batches, batch_size, val_batches: how many scenes (fixed, drawn once from ``seed``).
        epochs, lr: the schedule (AdamW, cosine).
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    train = [driving_batch(batch_size, *size, rng=rng) for _ in range(train_batches)]
    val = [driving_batch(batch_size, *size, rng=rng) for _ in range(val_batches)]
    model = yolop(width=width)
    trainer = Trainer(model, YOLOPLoss(model), torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=5e-4),
                      train, val_fn=lambda m: yolop_scores(m, val),
                      config=TrainerConfig(epochs=epochs, lr_schedule=cosine_schedule(), progress=progress,
                                           amp=False))
    history = trainer.fit()
    return model, history, yolop_scores(model, val)
