"""Optical flow recipes (Chapter 9): ``flownets-chairs``, ``raft-small-chairs``, ``flow-zero``, ``flow-farneback``.

Training: the two learned models train on FlyingChairs (the real release when it is found under ``--data-root``,
else, in the quick profile, on the synthetic chairs-like set of :func:`course_lib.synthetic.chairs.write_sample`,
written once into the work folder by :func:`course_lib.datasets.locate`), with random crops, flips and photometric
jitter; ``flownets-chairs`` with FlowNet's multi-scale EPE loss, ``raft-small-chairs`` with RAFT's sequence loss (L1,
``gamma = 0.8``). ``flow-zero`` (predicts no motion) and ``flow-farneback`` (OpenCV's dense Farnebäck flow) need no
training.

Evaluation protocol (``python -m course_lib.evaluate RECIPE [--checkpoint F] --data-root DIR --split all``): when a
KITTI flow folder (2015 ``data_scene_flow`` or 2012 ``data_stereo_flow``) is found under ``DIR`` the pairs of its
``training/`` split are evaluated, else the chairs validation split. Each pair is predicted at full resolution
(or at ``eval_scale``, the flow then resized back and rescaled), padded at the bottom and right to the model's
multiple by edge replication. Metrics (:class:`course_lib.metrics.FlowMetrics`) are computed at full resolution over
the ground truth's valid pixels: ``noc_*`` on ``flow_noc`` (pixels visible in both frames), ``occ_*`` on
``flow_occ`` ("all pixels", occluded ones too), each with ``epe`` (pixel-averaged), ``epe_per_image``, ``fl_all``
(KITTI 2015 outliers, %), ``px3`` (% of pixels within 3 px) and ``pixels``; the unprefixed keys (with ``px1`` and
``px5`` too) are computed on each pair's ``flow_occ`` where it has one, else on its ``flow_noc``. ``px3`` selects
``best.pt`` during training.

Settings (:class:`FlowConfig`): ``full`` follows the papers (FlowNetS: Adam, lr 1e-4, batch 8, 320x448 crops;
RAFT-small: AdamW, lr 4e-4, weight decay 1e-4, batch 10, 368x496 crops, 12 updates in training, 24 on KITTI);
``quick`` trains narrower networks on small crops of the synthetic set for about a minute on a 2-core CPU (320 steps).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from .. import distributed as D
from ..classical.optical_flow import FarnebackFlow, ZeroFlow
from ..config import get_device, get_profile
from ..data import registry
from ..data.chairs import FlyingChairs
from ..data.flow import FlowAugment, flow_collate
from ..data.kitti_flow import KittiFlow
from ..datasets import locate
from ..inference import predict
from ..losses.flow import multiscale_epe_loss, sequence_loss
from ..metrics.flow import FlowMetrics
from ..models.flow_ops import pad_to_multiple, unpad
from .base import Recipe, TrainResult
from .config import RecipeConfig

__all__ = ["FARNEBACK_PARAMS", "FlowConfig", "FlowRecipe", "flow_recipes", "predict_flow"]

#: the keyword arguments of :func:`course_lib.classical.farneback_flow` used by ``flow-farneback``
FARNEBACK_PARAMS = {"pyr_scale": 0.5, "levels": 5, "winsize": 15, "iterations": 3, "poly_n": 5, "poly_sigma": 1.2,
                    "gaussian": False}


@dataclass(frozen=True)
class FlowConfig(RecipeConfig):
    """Settings of the flow recipes (the shared ones are :class:`course_lib.recipes.config.RecipeConfig`'s).

    Args:
        width: channel multiplier of FlowNetS / RAFT (1.0 = the paper's network).
        batch_norm: FlowNetS-BN (BatchNorm after every encoder convolution).
        corr_levels: RAFT's correlation pyramid levels.
        corr_radius: RAFT's lookup radius (a window of ``(2r + 1)^2`` per level).
        upsample: RAFT's upsampling to full resolution, ``convex`` (learned) or ``bilinear``.
        iters: RAFT's GRU updates in training.
        eval_iters: RAFT's GRU updates in evaluation (``None``: as in training).
        gamma: the weight decay towards earlier updates in RAFT's sequence loss.
        init_weights: a RAFT state dict to start from (e.g. torchvision's RAFT-small file), ``"torchvision"`` for
            ``Raft_Small_Weights.C_T_V2`` through torchvision's weight API (offline: random, with a message; the
            checkpoint's ``backbone_source`` says which happened); ``None``: random.
        crop_size: ``(height, width)`` of the random training crops.
        hflip: probability of a horizontal flip in training (the flow's ``u`` is negated).
        vflip: probability of a vertical flip in training (``v`` is negated).
        max_eval_items: evaluate only the first this many chairs pairs (``None``: all).
        eval_scale: the input scale for the model at evaluation (the flow is resized back and rescaled).
        kitti_eval_scale: ``eval_scale`` on KITTI (its pictures are larger than the training pictures).
        eval_dataset: ``auto`` (KITTI when found under the data root, else chairs), ``kitti`` or ``chairs``.
        farneback: the keyword arguments of :func:`course_lib.classical.farneback_flow` (``flow-farneback``).
    """

    grad_clip: float | None = 1.0
    width: float = 1.0
    batch_norm: bool = False
    corr_levels: int = 4
    corr_radius: int = 3
    upsample: str = "convex"
    iters: int = 12
    eval_iters: int | None = None
    gamma: float = 0.8
    init_weights: str | None = None
    crop_size: tuple[int, int] = (320, 448)
    hflip: float = 0.5
    vflip: float = 0.1
    max_eval_items: int | None = None
    eval_scale: float = 1.0
    kitti_eval_scale: float = 1.0
    eval_dataset: str = "auto"
    farneback: dict[str, Any] = field(default_factory=lambda: dict(FARNEBACK_PARAMS))


# ----------------------------------------------------------------------------------------------- models
def _build_flownets(cfg: FlowConfig) -> nn.Module:
    from ..models.flownet import FlowNetS

    return FlowNetS(width=cfg.width, batch_norm=cfg.batch_norm)


def _build_raft(cfg: FlowConfig) -> nn.Module:
    from ..models.raft import RAFT, load_raft_weights

    w = cfg.width

    def s(*dims):
        return tuple(max(4, int(round(d * w / 4)) * 4) for d in dims)  # multiples of 4 (bottlenecks divide by 4)

    hidden = s(96)[0]
    model = RAFT(feature_dims=s(32, 32, 64, 96, 128), context_dims=s(32, 32, 64, 96) + (hidden + s(64)[0],),
                 hidden_dim=hidden, corr_levels=cfg.corr_levels, corr_radius=cfg.corr_radius,
                 motion_corr_dims=s(96), motion_flow_dims=s(64, 32), motion_dim=s(80)[0] + 2,
                 flow_head_dim=s(128)[0], upsample=cfg.upsample, iters=cfg.iters, mask_dim=s(256)[0])
    if cfg.init_weights:
        load_raft_weights(model, cfg.init_weights)
    return model


def _build_farneback(cfg: FlowConfig) -> nn.Module:
    return FarnebackFlow(**cfg.farneback)


def _build_zero(cfg: FlowConfig) -> nn.Module:
    return ZeroFlow()


# ----------------------------------------------------------------------------------------------- prediction
def predict_flow(model: nn.Module, images: torch.Tensor, scale: float = 1.0, iters: int | None = None,
                 amp: bool = True) -> torch.Tensor:
    """Flow ``[B, 2, H, W]`` of frames ``images [B, 6, H, W]`` at their full size, whatever the model needs.

    The frames are optionally resized by ``scale`` (the flow is resized back and its values divided by ``scale``;
    the scale is raised where the picture would become smaller than the model's ``min_size``), padded at the bottom
    and right by edge replication to the model's ``size_multiple``, and the padding is cut off. The model runs
    through :func:`course_lib.inference.predict` (eval mode, no gradients, autocast on a GPU, mode restored).

    Args:
        model: a flow network (FlowNetS, RAFT, :class:`~course_lib.classical.ZeroFlow`,
            :class:`~course_lib.classical.FarnebackFlow`).
        images: two frames in ``[0, 1]``, stacked on the channels.
        scale: input scale for the model.
        iters: RAFT's number of updates (ignored by other models).
        amp: mixed precision on a GPU.

    Example:
        >>> predict_flow(ZeroFlow(), torch.rand(1, 6, 10, 12)).shape
        torch.Size([1, 2, 10, 12])
    """
    h, w = images.shape[-2:]
    x = images
    smallest = getattr(model, "min_size", 1)
    if scale != 1.0 and min(h, w) * scale < smallest:  # never below the smallest input the model accepts
        scale = min(1.0, smallest / min(h, w))
    if scale != 1.0:
        x = F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False, antialias=True)
    x, pads = pad_to_multiple(x, getattr(model, "size_multiple", 1))
    kwargs = {"iters": iters} if iters is not None and "iters" in model.forward.__code__.co_varnames else {}
    flow = unpad(predict(model, x, amp=amp, **kwargs), pads)
    if tuple(flow.shape[-2:]) != (h, w):
        sx, sy = w / flow.shape[-1], h / flow.shape[-2]
        flow = F.interpolate(flow, size=(h, w), mode="bilinear", align_corners=False)
        flow = flow * torch.tensor([sx, sy], device=flow.device).view(1, 2, 1, 1)
    return flow


# ----------------------------------------------------------------------------------------------- the recipe
@dataclass
class FlowRecipe(Recipe):
    """A flow recipe: trains on FlyingChairs (or its synthetic stand-in), evaluates on KITTI or chairs.

    Args (besides :class:`Recipe`'s):
        build_model_fn: ``FlowConfig -> nn.Module``.
        loss: ``"multiscale"`` (FlowNet), ``"sequence"`` (RAFT) or ``None`` (no training).
    """

    build_model_fn: Callable[[FlowConfig], nn.Module] | None = None
    loss: str | None = None

    @property
    def trainable(self) -> bool:
        return self.loss is not None

    @property
    def requires_checkpoint(self) -> bool:
        """Whether ``python -m course_lib.evaluate`` needs ``--checkpoint`` (not for the untrained baselines)."""
        return self.trainable

    # -------------------------------------------------------------------- data
    def resolve_data_root(self, data_root: str | Path, profile: str | None = None) -> Path:
        """The FlyingChairs folder at or below ``data_root``; absent, the synthetic set in the quick profile.

        The sample is written once into the work folder (:func:`course_lib.datasets.locate`); the full profile
        raises ``FileNotFoundError`` with the download note instead.
        """
        try:
            return registry.find_root(self.dataset, data_root)
        except FileNotFoundError:
            if get_profile(profile) == "full":
                raise FileNotFoundError(f"{data_root}: the full profile of {self.name} trains on FlyingChairs, "
                                        f"which is not there.\n{self.info.note}") from None
        return locate(self.dataset, data_root, "quick")[0]

    def check_data_root(self, data_root: str | Path, purpose: str = "train") -> Path:
        """A named folder must hold FlyingChairs (or, to evaluate with ``eval_dataset`` auto/kitti, KITTI)."""
        if purpose == "evaluate" and self.quick.eval_dataset in ("auto", "kitti"):
            try:
                return registry.find_root("kitti", data_root)
            except FileNotFoundError:
                if self.quick.eval_dataset == "kitti":
                    raise
        return registry.find_root(self.dataset, data_root)

    def build_model(self, cfg: FlowConfig) -> nn.Module:
        return self.build_model_fn(cfg)

    def build_dataset(self, data_root: Path, split: str, cfg: FlowConfig, train: bool) -> Dataset:
        if split.startswith("kitti:"):
            return KittiFlow(data_root, split.split(":", 1)[1], max_items=cfg.max_items)
        tf = FlowAugment(crop=tuple(cfg.crop_size), hflip=cfg.hflip, vflip=cfg.vflip, seed=cfg.seed) if train else None
        ds = FlyingChairs(data_root, split, transforms=tf, max_items=cfg.max_items if train else cfg.max_eval_items)
        if train:
            kind = "SYNTHETIC chairs-like" if ds.is_sample else "REAL FlyingChairs"
            print(f"{self.name}: training on the {kind} set at {ds.root} ({len(ds)} pairs)")
        return ds

    def collate_fn(self, cfg: FlowConfig) -> Callable:
        return partial(flow_collate, multiple=1)

    def build_loss(self, cfg: FlowConfig, train_set: Dataset) -> Callable:
        if self.loss == "multiscale":
            return lambda out, target: multiscale_epe_loss(out, target["flow"], target["valid"])
        if self.loss == "sequence":
            return lambda out, target: sequence_loss(out, target["flow"], target["valid"], gamma=cfg.gamma)
        raise ValueError(f"recipe {self.name!r} is not trained")

    # -------------------------------------------------------------------- train / load
    def train(self, data_root: str | Path, *, profile: str | None = None, **kwargs) -> TrainResult:
        if not self.trainable:
            raise ValueError(f"recipe {self.name!r} has nothing to train; evaluate it directly with "
                             f"python -m course_lib.evaluate {self.name} --data-root DIR --split all")
        return super().train(self.resolve_data_root(data_root, profile), profile=profile, **kwargs)

    def config_from_checkpoint(self, checkpoint: str | Path, meta: dict[str, Any]) -> FlowConfig:
        """The checkpoint's settings, without ``init_weights`` (its weights replace them; the file may be gone)."""
        return dataclasses.replace(super().config_from_checkpoint(checkpoint, meta), init_weights=None)

    def load_model(self, checkpoint: str | Path | None, device: torch.device | None = None
                   ) -> tuple[nn.Module, FlowConfig]:
        """The trained model of ``checkpoint``; for the untrained baselines ``checkpoint`` may be ``None``."""
        if checkpoint is None:
            if self.trainable:
                raise ValueError(f"recipe {self.name!r} needs --checkpoint (a last.pt/best.pt of course_lib.train)")
            cfg = self.config()
            return self.build_model(cfg).to(device or get_device()).eval(), cfg
        return super().load_model(checkpoint, device)

    # -------------------------------------------------------------------- evaluation
    def evaluate(self, model: nn.Module, dataset: Dataset, cfg: FlowConfig, device: torch.device | None = None,
                 progress: bool = True) -> dict[str, float]:
        device = device or get_device()
        model.to(device)
        regions = {"noc": FlowMetrics(), "occ": FlowMetrics(), "main": FlowMetrics()}
        seen = {"noc": False, "occ": False}
        loader = self.loader(dataset, cfg, train=False)
        seconds, pairs = 0.0, 0
        bar = tqdm(loader, desc="evaluate", leave=False, disable=not (progress and D.is_main_process()))
        for images, target in bar:
            images = images.to(device)
            start = time.perf_counter()
            pred = predict_flow(model, images, cfg.eval_scale, cfg.eval_iters, amp=cfg.amp).cpu()
            seconds += time.perf_counter() - start
            pairs += images.shape[0]
            flow = target["flow"]
            regions["main"].update(pred, flow, target["valid"] > 0)
            for region in ("noc", "occ"):
                has = target[f"has_{region}"]
                if has.any():
                    seen[region] = True
                    regions[region].update(pred[has], flow[has], target[f"valid_{region}"][has])
        result: dict[str, float] = {}
        for name, m in regions.items():
            m.all_reduce()
            if name == "main":
                result.update(m.compute())
            elif seen[name]:
                kept = ("epe", "epe_per_image", "fl_all", "px3", "pixels")
                result.update({f"{name}_{k}": v for k, v in m.compute().items() if k in kept})
        result["seconds_per_pair"] = seconds / max(1, pairs)
        return result

    def evaluate_splits(self, model: nn.Module, data_root: str | Path, split: str, cfg: FlowConfig,
                        device: torch.device | None = None, progress: bool = True) -> dict[str, Any]:
        """KITTI ``training/`` when a KITTI folder is under ``data_root`` (``eval_dataset="auto"``), else chairs.

        KITTI's split names are ``train`` (``training/``, with ground truth) and ``all`` (the same here, since the
        test split has none). Each result also names the data it was computed on.
        """
        choice = cfg.eval_dataset
        kitti_root = None
        if choice in ("auto", "kitti"):
            try:
                kitti_root = registry.find_root("kitti", data_root)
            except FileNotFoundError:
                if choice == "kitti":
                    raise
        if kitti_root is None:
            if choice not in ("auto", "chairs"):
                raise ValueError(f"eval_dataset must be 'auto', 'kitti' or 'chairs', got {choice!r}")
            root = self.resolve_data_root(data_root, cfg.profile)
            return super().evaluate_splits(model, root, split, cfg, device, progress)
        if split not in ("train", "all"):
            raise ValueError(f"{kitti_root}: KITTI is evaluated on its training split (the test split has no ground "
                             f"truth); use --split train or --split all, not {split!r}")
        ds = self.build_dataset(kitti_root, "kitti:train", cfg, train=False)
        cfg = dataclasses.replace(cfg, eval_scale=cfg.kitti_eval_scale)
        metrics = self.evaluate(model, ds, cfg, device=device, progress=progress)
        name = f"KITTI {ds.version} training ({ds.camera}, {'synthetic sample' if ds.is_sample else 'real'})"
        metrics = {"dataset": name, "data_root": str(kitti_root), "eval_scale": cfg.eval_scale, **metrics}
        return {"train": metrics} if split == "all" else metrics


# ----------------------------------------------------------------------------------------------- the four recipes
_QUICK = {"batch_size": 8, "lr": 1e-3, "epochs": 20, "schedule": "cosine", "max_eval_items": 8, "val_every": 5,
          "kitti_eval_scale": 0.25}

FLOWNETS_FULL = FlowConfig(profile="full", optimizer="adam", weight_decay=4e-4, width=1.0, batch_norm=False, lr=1e-4,
                           batch_size=8, crop_size=(320, 448), epochs=100, schedule="poly", num_workers=4)
FLOWNETS_QUICK = FlowConfig(profile="quick", optimizer="adam", weight_decay=4e-4, width=0.25, batch_norm=True,
                            crop_size=(64, 128), **_QUICK)
RAFT_FULL = FlowConfig(profile="full", optimizer="adamw", weight_decay=1e-4, width=1.0, corr_levels=4, corr_radius=3,
                       upsample="convex", iters=12, eval_iters=24, lr=4e-4, batch_size=10, crop_size=(368, 496),
                       epochs=45, schedule="cosine", num_workers=4)
RAFT_QUICK = FlowConfig(profile="quick", optimizer="adamw", weight_decay=1e-4, width=0.5, corr_levels=3,
                        corr_radius=3, upsample="convex", iters=4, eval_iters=8, crop_size=(64, 96), **_QUICK)
BASELINE = FlowConfig()  # zero flow and Farneback: nothing to train, the same settings in both profiles


def flow_recipes() -> list[FlowRecipe]:
    """The four flow recipes of Chapter 9."""
    common = {"chapter": "9", "dataset": "chairs", "monitor": "px3", "splits": ("train", "val")}
    return [
        FlowRecipe(name="flownets-chairs", description="FlowNetS on FlyingChairs (synthetic chairs-like set in quick)",
                   quick=FLOWNETS_QUICK, full=FLOWNETS_FULL, build_model_fn=_build_flownets, loss="multiscale",
                   **common),
        FlowRecipe(name="raft-small-chairs",
                   description="RAFT-small on FlyingChairs (synthetic chairs-like set in quick)",
                   quick=RAFT_QUICK, full=RAFT_FULL, build_model_fn=_build_raft, loss="sequence", **common),
        FlowRecipe(name="flow-zero", description="zero flow (no motion) baseline, no training",
                   quick=BASELINE, full=BASELINE, build_model_fn=_build_zero, **common),
        FlowRecipe(name="flow-farneback", description="Farneback dense flow (OpenCV), no training",
                   quick=BASELINE, full=BASELINE, build_model_fn=_build_farneback, **common),
    ]
