"""Segmentation metrics from a confusion matrix: pixel accuracy, per-class IoU, mIoU and Dice.

Introduced in Chapter 1 (what the numbers mean) and used by every chapter's evaluation.

Everything is computed from one ``num_classes x num_classes`` confusion matrix ``cm`` whose row is the true
class and whose column is the predicted class. Accumulating the matrix over a whole dataset and computing the
scores once at the end gives the *dataset-level* scores that the FCN paper and the PASCAL VOC / Cityscapes
benchmarks report (not an average of per-image scores).
"""

from __future__ import annotations

import torch

__all__ = [
    "confusion_matrix",
    "pixel_accuracy",
    "mean_class_accuracy",
    "iou_per_class",
    "mean_iou",
    "dice_per_class",
    "mean_dice",
    "frequency_weighted_iou",
    "binary_dice",
    "ConfusionMatrix",
]


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int,
                     ignore_index: int | None = None) -> torch.Tensor:
    """Count (true class, predicted class) pairs.

    Args:
        pred: predicted class indices, any shape, or logits ``[N, C, ...]`` (arg-maxed over dim 1).
        target: true class indices with the shape of ``pred`` (after the arg-max).
        num_classes: number of classes ``C``.
        ignore_index: label value that is skipped (void), e.g. 255 for PASCAL VOC, 11 for CamVid.

    Returns:
        ``int64`` tensor ``[C, C]``; ``cm[t, p]`` counts pixels of true class ``t`` predicted as ``p``.

    Example:
        >>> confusion_matrix(torch.tensor([0, 1, 1]), torch.tensor([0, 1, 0]), 2)
        tensor([[1, 1],
                [0, 1]])
    """
    if pred.dim() == target.dim() + 1:
        pred = pred.argmax(dim=1)
    if pred.shape != target.shape:
        raise ValueError(f"prediction shape {tuple(pred.shape)} does not match target shape {tuple(target.shape)}")
    pred = pred.reshape(-1).long()
    target = target.reshape(-1).long()
    keep = torch.ones_like(target, dtype=torch.bool)
    if ignore_index is not None:
        keep &= target != ignore_index
    bad = keep & ((target < 0) | (target >= num_classes))
    if bad.any():
        raise ValueError(f"target holds labels outside [0, {num_classes}) that are not ignore_index={ignore_index}: "
                         f"{torch.unique(target[bad]).tolist()[:10]}")
    if ((pred[keep] < 0) | (pred[keep] >= num_classes)).any():
        raise ValueError(f"prediction holds class indices outside [0, {num_classes})")
    idx = target[keep] * num_classes + pred[keep]
    return torch.bincount(idx, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def _safe_div(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """``num / den`` with NaN where ``den == 0`` (a class that never occurs is *undefined*, not 0)."""
    num = num.double()
    den = den.double()
    out = torch.full_like(num, float("nan"))
    ok = den > 0
    out[ok] = num[ok] / den[ok]
    return out


def pixel_accuracy(cm: torch.Tensor) -> float:
    """Fraction of (non-void) pixels whose class is right: ``trace(cm) / sum(cm)``."""
    total = cm.sum()
    return float(cm.diag().sum().double() / total) if total > 0 else float("nan")


def mean_class_accuracy(cm: torch.Tensor) -> float:
    """Recall averaged over the classes present in the ground truth (the FCN paper's "mean accuracy")."""
    return float(torch.nanmean(_safe_div(cm.diag(), cm.sum(dim=1))))


def iou_per_class(cm: torch.Tensor) -> torch.Tensor:
    """Intersection over union per class, ``TP / (TP + FP + FN)``; NaN for a class absent from both."""
    tp = cm.diag()
    return _safe_div(tp, cm.sum(dim=0) + cm.sum(dim=1) - tp)


def mean_iou(cm: torch.Tensor) -> float:
    """Mean of the per-class IoU over classes that occur in the ground truth or the prediction."""
    return float(torch.nanmean(iou_per_class(cm)))


def frequency_weighted_iou(cm: torch.Tensor) -> float:
    """Per-class IoU weighted by how often each class occurs in the ground truth (FCN paper, Sec. 5)."""
    freq = cm.sum(dim=1).double() / cm.sum().double()
    iou = iou_per_class(cm)
    ok = ~torch.isnan(iou)
    return float((freq[ok] * iou[ok]).sum())


def dice_per_class(cm: torch.Tensor) -> torch.Tensor:
    """Dice (F1) per class, ``2 TP / (2 TP + FP + FN)``; NaN for a class absent from both."""
    tp = cm.diag()
    return _safe_div(2 * tp, cm.sum(dim=0) + cm.sum(dim=1))


def mean_dice(cm: torch.Tensor) -> float:
    """Mean of the per-class Dice over classes that occur in the ground truth or the prediction."""
    return float(torch.nanmean(dice_per_class(cm)))


def binary_dice(pred: torch.Tensor, target: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """Dice of binary masks per item: ``2 |P ∩ T| / (|P| + |T|)`` over all but the first dimension.

    Two empty masks agree perfectly and score 1.

    Args:
        pred: ``{0, 1}`` or boolean tensor ``[N, ...]``.
        target: same shape as ``pred``.
        eps: added to numerator and denominator (0 keeps the exact definition).
    """
    if pred.shape != target.shape:
        raise ValueError(f"prediction shape {tuple(pred.shape)} does not match target shape {tuple(target.shape)}")
    p = pred.reshape(pred.shape[0], -1).double()
    t = target.reshape(target.shape[0], -1).double()
    inter = (p * t).sum(1)
    denom = p.sum(1) + t.sum(1)
    dice = (2 * inter + eps) / (denom + eps)
    return torch.where(denom == 0, torch.ones_like(dice), dice)


class ConfusionMatrix:
    """Accumulates a confusion matrix over batches and reports the dataset-level scores.

    Args:
        num_classes: number of classes.
        ignore_index: void label, skipped.
        class_names: optional names used by :meth:`table`.

    Example:
        >>> m = ConfusionMatrix(3)
        >>> m.update(torch.tensor([[0, 1, 2]]), torch.tensor([[0, 1, 1]]))
        >>> round(m.compute()["pixel_accuracy"], 3)
        0.667
    """

    def __init__(self, num_classes: int, ignore_index: int | None = None, class_names: list[str] | None = None):
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.class_names = class_names or [str(i) for i in range(num_classes)]
        self.cm = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    def reset(self) -> None:
        self.cm.zero_()

    @torch.no_grad()
    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """Add a batch; ``pred`` may be class indices or logits ``[N, C, H, W]``."""
        self.cm += confusion_matrix(pred.detach().cpu(), target.detach().cpu(), self.num_classes, self.ignore_index)

    def all_reduce(self) -> None:
        """Sum the matrix over all processes of a ``torch.distributed`` run (no-op otherwise)."""
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            t = self.cm.to("cuda" if dist.get_backend() == "nccl" else "cpu")
            dist.all_reduce(t)
            self.cm = t.cpu()

    def compute(self) -> dict[str, float]:
        """The scores as plain floats: pixel_accuracy, mean_accuracy, miou, fwiou, mean_dice."""
        return {
            "pixel_accuracy": pixel_accuracy(self.cm),
            "mean_accuracy": mean_class_accuracy(self.cm),
            "miou": mean_iou(self.cm),
            "fwiou": frequency_weighted_iou(self.cm),
            "mean_dice": mean_dice(self.cm),
        }

    def per_class(self) -> dict[str, dict[str, float]]:
        """Per-class IoU and Dice keyed by class name (NaN where a class never occurs)."""
        iou = iou_per_class(self.cm).tolist()
        dice = dice_per_class(self.cm).tolist()
        return {n: {"iou": i, "dice": d} for n, i, d in zip(self.class_names, iou, dice, strict=True)}


# ----------------------------------------------------------------------------------------------------------------
# Binary masks, per image and per dataset (Chapter 3, U-Net on Kvasir-SEG)


def binary_stats(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """True positives, false positives and false negatives of binary masks, per item.

    Args:
        pred: ``{0, 1}`` or boolean tensor ``[N, ...]``.
        target: same shape as ``pred``.

    Returns:
        ``(tp, fp, fn)``, each ``int64 [N]``.

    Example:
        >>> binary_stats(torch.tensor([[1, 1, 0, 0]]), torch.tensor([[1, 0, 1, 0]]))
        (tensor([1]), tensor([1]), tensor([1]))
    """
    if pred.shape != target.shape:
        raise ValueError(f"prediction shape {tuple(pred.shape)} does not match target shape {tuple(target.shape)}")
    if pred.ndim < 1:
        raise ValueError("expected a batch [N, ...] of masks")
    p = pred.reshape(pred.shape[0], -1).bool()
    t = target.reshape(target.shape[0], -1).bool()
    tp = (p & t).sum(1)
    return tp, (p & ~t).sum(1), (~p & t).sum(1)


def binary_iou(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """IoU (Jaccard) of binary masks per item: ``|P ∩ T| / |P ∪ T|``; two empty masks score 1.

    Args:
        pred: ``{0, 1}`` or boolean tensor ``[N, ...]``.
        target: same shape as ``pred``.

    Example:
        >>> binary_iou(torch.tensor([[1, 1, 0, 0]]), torch.tensor([[1, 0, 1, 0]]))
        tensor([0.3333], dtype=torch.float64)
    """
    tp, fp, fn = binary_stats(pred, target)
    union = (tp + fp + fn).double()
    return torch.where(union == 0, torch.ones_like(union), tp.double() / union.clamp(min=1))


class BinarySegmentationMeter:
    """Accumulates Dice and IoU of binary masks image by image and over the whole dataset.

    Two ways to average, and papers use both:

    * **per image** (``dice``, ``iou``): the score of every image, then the mean over images. Each image weighs the
      same, however large its polyp. This is the "mDice"/"mIoU" of PraNet, HarDNet-MSEG and TGANet.
    * **dataset level** (``dataset_dice``, ``dataset_iou``): true/false positives and false negatives summed over
      all pixels of all images first (one big image). Large polyps dominate it; it equals torchmetrics'
      ``BinaryF1Score``/``BinaryJaccardIndex`` over the whole set.

    ``precision`` and ``recall`` are dataset level. An image whose true and predicted masks are both empty scores
    1 (perfect agreement).

    Args:
        keep_per_image: keep the per-image scores (for the Dice distribution and best/worst cases).

    Example:
        >>> m = BinarySegmentationMeter()
        >>> m.update(torch.tensor([[1, 1, 0, 0]]), torch.tensor([[1, 0, 0, 0]]))
        >>> m.update(torch.tensor([[1, 1, 1, 1]]), torch.tensor([[1, 1, 1, 1]]))
        >>> {k: round(v, 3) for k, v in m.compute().items() if k in ("dice", "dataset_dice")}
        {'dice': 0.833, 'dataset_dice': 0.909}
    """

    def __init__(self, keep_per_image: bool = True):
        self.keep_per_image = keep_per_image
        self.reset()

    def reset(self) -> None:
        self.totals = torch.zeros(3, dtype=torch.float64)  # tp, fp, fn over the dataset
        self.sums = torch.zeros(3, dtype=torch.float64)  # sum of per-image dice, sum of per-image iou, images
        self.per_image: list[dict[str, float]] = []

    @torch.no_grad()
    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """Add a batch of binary masks ``[N, ...]`` (``pred`` thresholded already)."""
        tp, fp, fn = binary_stats(pred.detach().cpu(), target.detach().cpu())
        denom = (2 * tp + fp + fn).double()
        dice = torch.where(denom == 0, torch.ones_like(denom), 2 * tp.double() / denom.clamp(min=1))
        union = (tp + fp + fn).double()
        iou = torch.where(union == 0, torch.ones_like(union), tp.double() / union.clamp(min=1))
        self.totals += torch.stack([tp.sum(), fp.sum(), fn.sum()]).double()
        self.sums += torch.tensor([float(dice.sum()), float(iou.sum()), float(len(dice))], dtype=torch.float64)
        if self.keep_per_image:
            self.per_image.extend({"dice": float(d), "iou": float(i), "area": int(a), "predicted": int(p)}
                                  for d, i, a, p in zip(dice, iou, tp + fn, tp + fp, strict=True))

    def all_reduce(self) -> None:
        """Sum the totals over the processes of a ``torch.distributed`` run (per-image lists stay local)."""
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            device = "cuda" if dist.get_backend() == "nccl" else "cpu"
            t = torch.cat([self.totals, self.sums]).to(device)
            dist.all_reduce(t)
            t = t.cpu()
            self.totals, self.sums = t[:3].clone(), t[3:].clone()

    def compute(self) -> dict[str, float]:
        """``dice``, ``iou`` (per-image means), ``dataset_dice``, ``dataset_iou``, ``precision``, ``recall``."""
        tp, fp, fn = (float(v) for v in self.totals)
        n = float(self.sums[2])

        def ratio(a: float, b: float) -> float:
            return a / b if b > 0 else 1.0  # b == 0 implies a == 0 here: nothing to find and nothing found

        return {
            "dice": float(self.sums[0]) / n if n else float("nan"),
            "iou": float(self.sums[1]) / n if n else float("nan"),
            "dataset_dice": ratio(2 * tp, 2 * tp + fp + fn),
            "dataset_iou": ratio(tp, tp + fp + fn),
            "precision": ratio(tp, tp + fp),
            "recall": ratio(tp, tp + fn),
        }


__all__ += ["binary_stats", "binary_iou", "BinarySegmentationMeter"]
