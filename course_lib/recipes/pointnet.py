"""Point cloud classification recipes (Chapter 6): ``pointnet-modelnet40`` and ``pointnet2-modelnet40``.

Protocol. The model is trained on the official ModelNet40 training split minus a validation part (``val_fraction``
of each class, chosen deterministically by :class:`course_lib.data.modelnet.ModelNet`); ``best.pt`` is chosen on
that validation part, never on the test split. Scores, computed from one confusion matrix over the split:
**overall accuracy** (share of shapes classified correctly, "instance accuracy", the papers' headline number) and
**class-average accuracy** (per-class recall averaged over the classes, which weighs the rare classes equally).
Each cloud is ``num_points`` points moved into the unit sphere, taken in file order at evaluation. Voting
(``--set votes=12``) averages the softmax over copies of each cloud turned about the up axis by ``360/votes``
degrees, as the released PointNet++ evaluation script can do; the default is one view (no voting), and the
evaluation output names the number of votes.

``full`` follows the papers: 1024 points (x, y, z), Adam at 1e-3 with batch 32 (PointNet) or 16 (PointNet++),
250 epochs, PointNet's augmentation (rotation about the up axis, jitter sigma 0.01 clipped at 0.05) with the
feature-transform regulariser weighted 0.001, PointNet++'s (plus random scaling 0.8-1.25, shifts of 0.1 and input
dropout up to 87.5 %). The papers decay the rate in steps; here it follows a cosine. ``quick`` trains a quarter-width
network on 256 points for a few epochs, on the synthetic sample (or at most 20 shapes per class of real data).

Example:
    >>> from course_lib.recipes import get_recipe
    >>> r = get_recipe("pointnet-modelnet40")
    >>> r.hparams("quick")["num_points"]
    256
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from .. import distributed as D
from ..config import get_device
from ..metrics import confusion_matrix, mean_class_accuracy, pixel_accuracy
from .base import Recipe

__all__ = ["ClassificationResult", "PointCloudClassificationRecipe", "evaluate_classifier", "pointnet_recipes"]


@dataclass
class ClassificationResult:
    """What :func:`evaluate_classifier` returns.

    Attributes:
        confusion: ``int64 [K, K]``, rows true class, columns predicted class.
        predictions: predicted class per shape ``[N]`` (of this process under ``torchrun``).
        labels: true class per shape ``[N]``.
        probabilities: softmax scores ``[N, K]`` (averaged over the votes).
        votes: number of rotated views averaged.
    """

    confusion: torch.Tensor
    predictions: torch.Tensor
    labels: torch.Tensor
    probabilities: torch.Tensor
    votes: int = 1

    @property
    def overall_accuracy(self) -> float:
        """Share of shapes classified correctly."""
        return pixel_accuracy(self.confusion)

    @property
    def class_accuracy(self) -> float:
        """Per-class recall averaged over the classes that occur."""
        return mean_class_accuracy(self.confusion)

    def per_class_accuracy(self) -> np.ndarray:
        """Recall of each class (NaN for a class absent from the split)."""
        cm = self.confusion.double()
        rows = cm.sum(dim=1)
        return torch.where(rows > 0, cm.diag() / rows.clamp_min(1), torch.nan).numpy()

    def metrics(self) -> dict[str, float]:
        return {"overall_acc": self.overall_accuracy, "class_acc": self.class_accuracy}


@torch.no_grad()
def evaluate_classifier(model: nn.Module, loader, num_classes: int, *, votes: int = 1, up_axis: int = 1,
                        device: torch.device | None = None, amp: bool = True, progress: bool = False,
                        transform: Callable[[torch.Tensor], torch.Tensor] | None = None) -> ClassificationResult:
    """Classify every cloud of ``loader`` and build the confusion matrix (summed over processes under torchrun).

    Args:
        model: returns ``(logits, aux)`` (or bare logits) for points ``[B, N, C]``.
        loader: yields ``(points [B, N, C], labels [B])``.
        num_classes: number of classes ``K``.
        votes: average the softmax over this many copies turned about ``up_axis`` by ``2 pi k / votes``.
        up_axis: the data's up axis (see :data:`course_lib.data.modelnet.UP_AXIS`).
        device: where to compute (default: the model's device).
        amp: bfloat16 autocast on CUDA.
        progress: show a progress bar.
        transform: applied to each batch of points before the model (e.g. extra noise for a robustness test).

    Example:
        >>> res = evaluate_classifier(model, DataLoader(test_set, 32), 40)  # doctest: +SKIP
        >>> res.overall_accuracy, res.class_accuracy  # doctest: +SKIP
    """
    from ..data.modelnet import rotation_about_axis

    if votes < 1:
        raise ValueError(f"votes must be at least 1, got {votes}")
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    preds, labels, probs = [], [], []
    dtype = torch.bfloat16 if amp and device.type == "cuda" else None
    for points, target in tqdm(loader, desc="evaluate", leave=False, disable=not progress):
        points = points.to(device)
        if transform is not None:
            points = transform(points)
        total = 0.0
        for k in range(votes):
            view = points
            if k:
                R = rotation_about_axis(2 * math.pi * k / votes, up_axis).to(device)
                view = points.clone()
                view[..., :3] = points[..., :3] @ R.T
                if points.shape[-1] >= 6:
                    view[..., 3:6] = points[..., 3:6] @ R.T
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                out = model(view)
            logits = out[0] if isinstance(out, tuple) else out
            total = total + logits.float().softmax(dim=1)
        total = total / votes
        probs.append(total.cpu())
        preds.append(total.argmax(dim=1).cpu())
        labels.append(target.cpu())
    model.train(was_training)
    predictions = torch.cat(preds) if preds else torch.zeros(0, dtype=torch.long)
    truth = torch.cat(labels) if labels else torch.zeros(0, dtype=torch.long)
    cm = confusion_matrix(predictions, truth, num_classes)
    if D.is_distributed():
        t = cm.to(device)
        torch.distributed.all_reduce(t)
        cm = t.cpu()
    probabilities = torch.cat(probs) if probs else torch.zeros(0, num_classes)
    return ClassificationResult(cm, predictions, truth, probabilities, votes)


@dataclass
class PointCloudClassificationRecipe(Recipe):
    """Shape classification on ModelNet with PointNet (``model_name="pointnet"``) or PointNet++ (``"pointnet2"``).

    The dataset fixes the class list: :meth:`build_dataset` records ``classes``, ``num_classes`` and ``up_axis`` in
    the hyper-parameters (so that they are saved in the checkpoint), and refuses data whose classes differ from
    those a checkpoint was trained on.
    """

    model_name: str = "pointnet"

    def resolve_data_root(self, data_root: str | Path) -> Path:
        from ..data.modelnet import find_root

        return find_root(data_root)

    # ------------------------------------------------------------------ data
    def build_dataset(self, data_root: Path, split: str, hp: dict[str, Any], train: bool) -> Dataset:
        from ..data.modelnet import ModelNet, PointAugment

        ds = ModelNet(data_root, split, variant=hp["variant"], form=hp["form"], num_points=hp["num_points"],
                      use_normals=hp["use_normals"], sampling=hp["sampling"], mesh_points=hp["mesh_points"],
                      val_fraction=hp["val_fraction"], cache_dir=hp.get("cache_dir") or "auto",
                      max_per_class=hp.get("max_per_class"), classes=hp.get("classes"), seed=hp.get("seed", 0),
                      verbose=D.is_main_process())
        if hp.get("classes") is None:
            hp["classes"] = list(ds.classes)
        hp["num_classes"] = len(ds.classes)
        hp["up_axis"] = ds.up_axis
        hp["data_form"] = ds.form
        if train:
            ds.augment = PointAugment(
                up_axis=ds.up_axis, rotate=hp["rotate"], scale=tuple(hp["scale_range"]) if hp["scale_range"] else None,
                shift=hp["shift"], jitter=tuple(hp["jitter"]) if hp["jitter"] else None, dropout=hp["point_dropout"])
        return ds

    # ------------------------------------------------------------------ model and loss
    def build_model(self, hp: dict[str, Any]) -> nn.Module:
        if not hp.get("num_classes"):
            raise ValueError(f"recipe {self.name!r}: num_classes is unknown; build a dataset first or "
                             "--set num_classes=K")
        in_channels = 6 if hp["use_normals"] else 3
        if self.model_name == "pointnet":
            from ..models.pointnet import pointnet_cls

            return pointnet_cls(num_classes=hp["num_classes"], in_channels=in_channels, width=hp["width"],
                                dropout=hp["dropout"], input_transform=hp["input_transform"],
                                feature_transform=hp["feature_transform"])
        from ..models.pointnet2 import pointnet2_cls

        return pointnet2_cls(num_classes=hp["num_classes"], in_channels=in_channels, variant=hp["grouping"],
                             width=hp["width"], npoints=tuple(hp["npoints"]), radii=tuple(hp["radii"]),
                             nsamples=tuple(hp["nsamples"]), dropout=hp["dropout"])

    def build_loss(self, hp: dict[str, Any], train_set: Dataset) -> Callable:
        from ..models.pointnet import orthogonality_loss

        reg, smoothing = hp.get("reg_weight", 0.0), hp.get("label_smoothing", 0.0)

        def loss(outputs, target: torch.Tensor) -> torch.Tensor:
            logits, aux = outputs
            value = F.cross_entropy(logits.float(), target, label_smoothing=smoothing)
            if reg and "feature_transform" in aux:
                value = value + reg * orthogonality_loss(aux["feature_transform"].float())
            return value

        return loss

    # ------------------------------------------------------------------ evaluation
    def classify(self, model: nn.Module, dataset: Dataset, hp: dict[str, Any], device: torch.device | None = None,
                 progress: bool = False, votes: int | None = None, transform=None) -> ClassificationResult:
        """Run the evaluation protocol on ``dataset`` and return the full result (confusion matrix, predictions)."""
        device = device or get_device()
        model.to(device)
        return evaluate_classifier(model, self.loader(dataset, hp, train=False), len(dataset.classes),
                                   votes=hp.get("votes", 1) if votes is None else votes,
                                   up_axis=getattr(dataset, "up_axis", hp.get("up_axis") or 1), device=device,
                                   amp=hp.get("amp", True), progress=progress and D.is_main_process(),
                                   transform=transform)

    def evaluate(self, model: nn.Module, dataset: Dataset, hp: dict[str, Any], device: torch.device | None = None,
                 progress: bool = True) -> dict[str, float]:
        return self.classify(model, dataset, hp, device, progress).metrics()

    def evaluate_splits(self, model: nn.Module, data_root: str | Path, split: str, hp: dict[str, Any],
                        device: torch.device | None = None, progress: bool = True) -> dict[str, Any]:
        """Evaluate one split, or every split with ``split="all"``; each result also holds the number of votes,
        the number of shapes and the confusion matrix (rows true class)."""
        if split != "all" and split not in self.splits:
            raise ValueError(f"recipe {self.name!r} has splits {self.splits}, not {split!r}")
        root = self.resolve_data_root(data_root)
        results: dict[str, Any] = {}
        for name in (self.splits if split == "all" else (split,)):
            try:
                ds = self.build_dataset(root, name, hp, train=False)
            except (FileNotFoundError, ValueError):
                if split == "all":
                    continue  # e.g. a partial copy without test shapes
                raise
            res = self.classify(model, ds, hp, device, progress)
            results[name] = {**res.metrics(), "votes": res.votes, "num_shapes": len(ds),
                             "classes": list(ds.classes), "confusion_matrix": res.confusion.tolist()}
        return results[split] if split != "all" else results


_COMMON = {
    "seed": 0, "variant": 40, "form": "auto", "classes": None, "num_classes": None, "up_axis": None,
    "data_form": None, "use_normals": False, "sampling": "uniform", "val_fraction": 0.1, "max_per_class": None,
    "cache_dir": None, "votes": 1, "label_smoothing": 0.0, "amp": True, "grad_clip": None, "val_every": 1,
    "num_workers": 0, "eval_batch_size": 32, "optimizer": "adam", "weight_decay": 1e-4, "schedule": "cosine",
    "rotate": True, "jitter": [0.01, 0.05],
}
_MODELS = {
    "pointnet": {
        "defaults": {"input_transform": True, "feature_transform": True, "reg_weight": 0.001, "dropout": 0.3,
                     "scale_range": None, "shift": 0.0, "point_dropout": 0.0},
        "full": {"width": 1.0, "num_points": 1024, "mesh_points": 2048, "batch_size": 32, "lr": 1e-3,
                 "epochs": 250, "num_workers": 4},
        "quick": {"width": 0.25, "num_points": 256, "mesh_points": 1024, "batch_size": 16, "lr": 2e-3,
                  "epochs": 12, "max_per_class": 20, "scale_range": [0.85, 1.15]},
        "title": "PointNet (Qi et al. 2017, arXiv:1612.00593)",
    },
    "pointnet2": {
        "defaults": {"grouping": "ssg", "npoints": [512, 128], "radii": [0.2, 0.4], "nsamples": [32, 64],
                     "dropout": 0.5, "reg_weight": 0.0, "scale_range": [0.8, 1.25], "shift": 0.1,
                     "point_dropout": 0.875},
        "full": {"width": 1.0, "num_points": 1024, "mesh_points": 2048, "batch_size": 16, "lr": 1e-3,
                 "epochs": 250, "num_workers": 4},
        # 256 points are 4x sparser than 1024: the balls grow so that a group still holds about 10 points
        "quick": {"width": 0.25, "num_points": 256, "mesh_points": 1024, "batch_size": 16, "lr": 3e-3,
                  "epochs": 10, "max_per_class": 20, "npoints": [128, 32], "radii": [0.4, 0.8],
                  "nsamples": [16, 16], "dropout": 0.3, "point_dropout": 0.3},
        "title": "PointNet++ SSG (Qi et al. 2017, arXiv:1706.02413)",
    },
}


def pointnet_recipes() -> list[PointCloudClassificationRecipe]:
    """The Chapter 6 recipes ``pointnet-modelnet40`` and ``pointnet2-modelnet40``."""
    recipes = []
    for model_name, cfg in _MODELS.items():
        recipes.append(PointCloudClassificationRecipe(
            name=f"{model_name}-modelnet40",
            description=f"{cfg['title']} on ModelNet40 (overall and class-average accuracy)",
            chapter="6",
            dataset="modelnet",
            defaults={**_COMMON, **cfg["defaults"]},
            profiles={"full": cfg["full"], "quick": cfg["quick"]},
            monitor="overall_acc",
            splits=("train", "val", "test"),
            model_name=model_name,
        ))
    return recipes
