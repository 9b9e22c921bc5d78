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
    >>> r.config("quick").num_points
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
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from .. import distributed as D
from ..config import get_device
from ..data.modelnet import ModelNet, read_classes
from ..data.point_transforms import PointAugment, rotation_about_axis
from ..inference import predict
from ..losses.points import pointnet_classification_loss
from ..metrics import confusion_matrix, mean_class_accuracy, pixel_accuracy
from .base import Recipe, TrainResult
from .config import RecipeConfig

__all__ = ["ClassificationResult", "PointCloudClassificationRecipe", "PointNetConfig", "evaluate_classifier",
           "pointnet_recipes"]


@dataclass(frozen=True)
class PointNetConfig(RecipeConfig):
    """Settings of the point cloud classification recipes (PointNet and PointNet++ on ModelNet).

    Besides :class:`course_lib.recipes.config.RecipeConfig`'s settings (here: Adam, weight decay 1e-4, a cosine
    schedule, evaluation batches of 32):

    Args:
        variant: 40 (ModelNet40) or 10 (ModelNet10).
        form: ``"off"`` (meshes), ``"resampled"``, ``"h5"`` or ``"auto"`` (the first found).
        classes: the class names in label order that the model is trained on. ``None``: the data's own list, read
            when training starts and then stored in the checkpoint; data of other classes is refused.
        use_normals: feed ``[N, 6]`` points with unit normals instead of ``[N, 3]``.
        sampling: ``"uniform"`` or ``"poisson"`` sampling of the meshes.
        num_points: points per cloud fed to the network.
        mesh_points: points sampled (and cached) per mesh; ``num_points`` are drawn from them.
        val_fraction: share of each class's training shapes held out for validation.
        max_per_class: keep at most this many shapes per class (``None``: all).
        cache_dir: where sampled and parsed clouds are cached (``None``: ``<work dir>/cache/modelnet``).
        votes: softmax averaged over this many copies turned about the up axis at evaluation (1 = no voting).
        label_smoothing: of the cross-entropy.
        width: width multiplier of the network (1.0 = the paper's).
        dropout: dropout rate before the last layer.
        reg_weight: weight of the feature-transform regulariser (PointNet: 0.001; 0 = none).
        input_transform: PointNet's 3x3 input T-Net.
        feature_transform: PointNet's feature T-Net.
        grouping: PointNet++'s ``"ssg"`` (single-scale) or ``"msg"`` (multi-scale) grouping.
        npoints: PointNet++'s centroids per set abstraction level.
        radii: PointNet++'s ball-query radius per level.
        nsamples: PointNet++'s points per group per level.
        rotate: augmentation: random rotation about the up axis.
        scale_range: augmentation: random scale ``(low, high)``, or ``None``.
        shift: augmentation: largest random translation per axis (0 = none).
        jitter: augmentation: Gaussian noise ``(sigma, clip)``, or ``None``.
        point_dropout: augmentation: largest share of points dropped (PointNet++'s input dropout; 0 = none).
    """

    eval_batch_size: int = 32
    optimizer: str = "adam"
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    variant: int = 40
    form: str = "auto"
    classes: tuple[str, ...] | None = None
    use_normals: bool = False
    sampling: str = "uniform"
    num_points: int = 1024
    mesh_points: int = 2048
    val_fraction: float = 0.1
    max_per_class: int | None = None
    cache_dir: str | None = None
    votes: int = 1
    label_smoothing: float = 0.0
    width: float = 1.0
    dropout: float = 0.5
    reg_weight: float = 0.0
    input_transform: bool = True
    feature_transform: bool = True
    grouping: str = "ssg"
    npoints: tuple[int, ...] = (512, 128)
    radii: tuple[float, ...] = (0.2, 0.4)
    nsamples: tuple[int, ...] = (32, 64)
    rotate: bool = True
    scale_range: tuple[float, float] | None = (0.8, 1.25)
    shift: float = 0.1
    jitter: tuple[float, float] | None = (0.01, 0.05)
    point_dropout: float = 0.875


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

    The model runs through :func:`course_lib.inference.predict` (eval mode, no gradients, the training loop's
    autocast dtype on a GPU; the model's mode is restored).

    Args:
        model: returns ``(logits, aux)`` (or bare logits) for points ``[B, N, C]``.
        loader: yields ``(points [B, N, C], labels [B])``.
        num_classes: number of classes ``K``.
        votes: average the softmax over this many copies turned about ``up_axis`` by ``2 pi k / votes``.
        up_axis: the data's up axis (see :data:`course_lib.data.modelnet.UP_AXIS`).
        device: where to compute (default: the model's device).
        amp: mixed precision on a GPU.
        progress: show a progress bar.
        transform: applied to each batch of points before the model (e.g. extra noise for a robustness test).

    Example:
        >>> res = evaluate_classifier(model, DataLoader(test_set, 32), 40)  # doctest: +SKIP
        >>> res.overall_accuracy, res.class_accuracy  # doctest: +SKIP
    """
    if votes < 1:
        raise ValueError(f"votes must be at least 1, got {votes}")
    device = device or next(model.parameters()).device
    preds, labels, probs = [], [], []
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
            out = predict(model, view, amp=amp)
            logits = out[0] if isinstance(out, tuple) else out
            total = total + logits.float().softmax(dim=1)
        total = total / votes
        probs.append(total.cpu())
        preds.append(total.argmax(dim=1).cpu())
        labels.append(target.cpu())
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

    The data fixes the class list: :meth:`train` reads it before training when ``classes`` is not set, so that it
    is saved in the checkpoint (and the number of classes follows from it); :meth:`build_dataset` refuses data whose
    classes differ from those a model was trained on.
    """

    model_name: str = "pointnet"

    def train(self, data_root: str | Path, *, profile: str | None = None, overrides: dict[str, Any] | None = None,
              **kwargs: Any) -> TrainResult:
        """:meth:`course_lib.recipes.base.Recipe.train`, with ``classes`` read from the data when unset."""
        cfg = self.config(profile, overrides)
        if cfg.classes is None:
            classes = read_classes(self.resolve_data_root(data_root), cfg.variant, cfg.form)
            overrides = {**(overrides or {}), "classes": list(classes)}
        return super().train(data_root, profile=profile, overrides=overrides, **kwargs)

    # ------------------------------------------------------------------ data
    def build_dataset(self, data_root: Path, split: str, cfg: PointNetConfig, train: bool) -> Dataset:
        ds = ModelNet(data_root, split, variant=cfg.variant, form=cfg.form, num_points=cfg.num_points,
                      use_normals=cfg.use_normals, sampling=cfg.sampling, mesh_points=cfg.mesh_points,
                      val_fraction=cfg.val_fraction, cache_dir=cfg.cache_dir or "auto",
                      max_per_class=cfg.max_per_class, classes=cfg.classes, seed=cfg.seed,
                      verbose=D.is_main_process())
        if train:
            ds.augment = PointAugment(up_axis=ds.up_axis, rotate=cfg.rotate, scale=cfg.scale_range or None,
                                      shift=cfg.shift, jitter=cfg.jitter or None, dropout=cfg.point_dropout)
            if cfg.max_items is not None:
                ds.items = ds.items[:cfg.max_items]
        return ds

    # ------------------------------------------------------------------ model and loss
    def build_model(self, cfg: PointNetConfig) -> nn.Module:
        if not cfg.classes:
            raise ValueError(f"recipe {self.name!r}: the class list is unknown; train (which reads it from the data) "
                             "or --set classes='[\"airplane\", ...]'")
        num_classes, in_channels = len(cfg.classes), 6 if cfg.use_normals else 3
        if self.model_name == "pointnet":
            from ..models.pointnet import pointnet_cls

            return pointnet_cls(num_classes=num_classes, in_channels=in_channels, width=cfg.width,
                                dropout=cfg.dropout, input_transform=cfg.input_transform,
                                feature_transform=cfg.feature_transform)
        from ..models.pointnet2 import pointnet2_cls

        return pointnet2_cls(num_classes=num_classes, in_channels=in_channels, variant=cfg.grouping,
                             width=cfg.width, npoints=cfg.npoints, radii=cfg.radii, nsamples=cfg.nsamples,
                             dropout=cfg.dropout)

    def build_loss(self, cfg: PointNetConfig, train_set: Dataset) -> Callable:
        return pointnet_classification_loss(cfg.reg_weight, cfg.label_smoothing)

    # ------------------------------------------------------------------ evaluation
    def classify(self, model: nn.Module, dataset: Dataset, cfg: PointNetConfig, device: torch.device | None = None,
                 progress: bool = False, votes: int | None = None, transform=None) -> ClassificationResult:
        """Run the evaluation protocol on ``dataset`` and return the full result (confusion matrix, predictions)."""
        device = device or get_device()
        model.to(device)
        return evaluate_classifier(model, self.loader(dataset, cfg, train=False), len(dataset.classes),
                                   votes=cfg.votes if votes is None else votes, up_axis=getattr(dataset, "up_axis", 1),
                                   device=device, amp=cfg.amp, progress=progress and D.is_main_process(),
                                   transform=transform)

    def evaluate(self, model: nn.Module, dataset: Dataset, cfg: PointNetConfig, device: torch.device | None = None,
                 progress: bool = True) -> dict[str, float]:
        return self.classify(model, dataset, cfg, device, progress).metrics()

    def evaluate_splits(self, model: nn.Module, data_root: str | Path, split: str, cfg: PointNetConfig,
                        device: torch.device | None = None, progress: bool = True) -> dict[str, Any]:
        """Evaluate one split, or every split with ``split="all"``; each result also holds the number of votes,
        the number of shapes and the confusion matrix (rows true class)."""
        if split != "all" and split not in self.splits:
            raise ValueError(f"recipe {self.name!r} has splits {self.splits}, not {split!r}")
        root = self.resolve_data_root(data_root)
        results: dict[str, Any] = {}
        for name in (self.splits if split == "all" else (split,)):
            try:
                ds = self.build_dataset(root, name, cfg, train=False)
            except (FileNotFoundError, ValueError):
                if split == "all":
                    continue  # e.g. a partial copy without test shapes
                raise
            res = self.classify(model, ds, cfg, device, progress)
            results[name] = {**res.metrics(), "votes": res.votes, "num_shapes": len(ds),
                             "classes": list(ds.classes), "confusion_matrix": res.confusion.tolist()}
        return results[split] if split != "all" else results


# Profiles: full = the papers' settings; quick = a quarter-width network on 256 points for a CPU.
_PAPER = dict(width=1.0, num_points=1024, mesh_points=2048, lr=1e-3, epochs=250, num_workers=4)
_SMALL = dict(width=0.25, num_points=256, mesh_points=1024, batch_size=16, max_per_class=20)
_POINTNET = dict(reg_weight=0.001, dropout=0.3, scale_range=None, shift=0.0, point_dropout=0.0)
_PROFILES = {
    "pointnet": ("PointNet (Qi et al. 2017, arXiv:1612.00593)",
                 PointNetConfig(**_PAPER, **_POINTNET, batch_size=32),
                 PointNetConfig(**_SMALL, **{**_POINTNET, "scale_range": (0.85, 1.15)}, lr=2e-3, epochs=12)),
    # 256 points are 4x sparser than 1024: the balls grow so that a group still holds about 10 points
    "pointnet2": ("PointNet++ SSG (Qi et al. 2017, arXiv:1706.02413)",
                  PointNetConfig(**_PAPER, batch_size=16),
                  PointNetConfig(**_SMALL, lr=3e-3, epochs=10, npoints=(128, 32), radii=(0.4, 0.8), nsamples=(16, 16),
                                 dropout=0.3, point_dropout=0.3)),
}


def pointnet_recipes() -> list[PointCloudClassificationRecipe]:
    """The Chapter 6 recipes ``pointnet-modelnet40`` and ``pointnet2-modelnet40``."""
    return [PointCloudClassificationRecipe(
        name=f"{model_name}-modelnet40",
        description=f"{title} on ModelNet40 (overall and class-average accuracy)",
        chapter="6", dataset="modelnet", full=full, quick=quick, monitor="overall_acc",
        splits=("train", "val", "test"), model_name=model_name,
    ) for model_name, (title, full, quick) in _PROFILES.items()]
