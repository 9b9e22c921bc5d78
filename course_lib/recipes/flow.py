"""Optical flow recipes (Chapter 9): ``flownets-chairs``, ``raft-small-chairs``, ``flow-zero``, ``flow-farneback``.

Training: the two learned models train on FlyingChairs (the real release when it is found under ``--data-root``,
else, in the quick profile, on the synthetic chairs-like set of :func:`course_lib.data.flow_chairs.write_sample`),
with random crops, flips and photometric jitter; ``flownets-chairs`` with FlowNet's multi-scale EPE loss,
``raft-small-chairs`` with RAFT's sequence loss (L1, ``gamma = 0.8``). ``flow-zero`` (predicts no motion) and
``flow-farneback`` (OpenCV's dense Farnebäck flow) need no training.

Evaluation protocol (``python -m course_lib.evaluate RECIPE [--checkpoint F] --data-root DIR --split all``): when a
KITTI flow folder (2015 ``data_scene_flow`` or 2012 ``data_stereo_flow``) is found under ``DIR`` the pairs of its
``training/`` split are evaluated, else the chairs validation split. Each pair is predicted at full resolution
(or at ``eval_scale``, the flow then resized back and rescaled), padded at the bottom and right to the model's
multiple by edge replication. Metrics (:class:`course_lib.flow.FlowMetrics`) are computed at full resolution over
the ground truth's valid pixels: ``noc_*`` on ``flow_noc`` (pixels visible in both frames), ``occ_*`` on
``flow_occ`` ("all pixels", occluded ones too), each with ``epe`` (pixel-averaged), ``epe_per_image``, ``fl_all``
(KITTI 2015 outliers, %), ``px3`` (% of pixels within 3 px) and ``pixels``; the unprefixed keys (with ``px1`` and
``px5`` too) are computed on each pair's ``flow_occ`` where it has one, else on its ``flow_noc``. ``px3`` selects
``best.pt`` during training.

Hyper-parameters: ``full`` follows the papers (FlowNetS: Adam, lr 1e-4, batch 8, 320x448 crops; RAFT-small: AdamW,
lr 4e-4, weight decay 1e-4, batch 10, 368x496 crops, 12 updates in training, 24 on KITTI); ``quick`` trains narrower
networks on small crops of the synthetic set for about a minute on a 2-core CPU (320 steps).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from .. import distributed as D
from ..config import get_device, get_profile
from ..data import flow_chairs, kitti_flow
from ..data.flow_common import FlowAugment, flow_collate
from ..flow import FlowMetrics, farneback_flow, pad_to_multiple, unpad
from .base import Recipe, TrainResult

__all__ = ["FarnebackFlow", "FlowRecipe", "ZeroFlow", "flow_recipes", "predict_flow"]


# ----------------------------------------------------------------------------------------------- baselines
class ZeroFlow(nn.Module):
    """The "no motion" baseline: predicts zero flow everywhere (its EPE is the mean true flow length)."""

    size_multiple = 1

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images.new_zeros((images.shape[0], 2) + tuple(images.shape[-2:]))


class FarnebackFlow(nn.Module):
    """OpenCV's dense Farnebäck flow as a module: ``[B, 6, H, W]`` frames in ``[0, 1]`` -> ``[B, 2, H, W]``.

    Args:
        **params: keyword arguments of :func:`course_lib.flow.farneback_flow` (``levels``, ``winsize``, ...).
    """

    size_multiple = 1

    def __init__(self, **params) -> None:
        super().__init__()
        self.params = params

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        flows = [torch.from_numpy(farneback_flow(x[:3], x[3:], **self.params)).permute(2, 0, 1) for x in images]
        return torch.stack(flows).to(images.device)


# ----------------------------------------------------------------------------------------------- models
def _build_flownets(hp: dict[str, Any]) -> nn.Module:
    from ..models.flownet import FlowNetS

    return FlowNetS(width=hp["width"], batch_norm=hp["batch_norm"])


def _build_raft(hp: dict[str, Any]) -> nn.Module:
    from ..models.raft import RAFT, load_raft_weights

    w = hp["width"]

    def s(*dims):
        return tuple(max(4, int(round(d * w / 4)) * 4) for d in dims)  # multiples of 4 (bottlenecks divide by 4)

    hidden = s(96)[0]
    model = RAFT(feature_dims=s(32, 32, 64, 96, 128), context_dims=s(32, 32, 64, 96) + (hidden + s(64)[0],),
                 hidden_dim=hidden, corr_levels=hp["corr_levels"], corr_radius=hp["corr_radius"],
                 motion_corr_dims=s(96), motion_flow_dims=s(64, 32), motion_dim=s(80)[0] + 2,
                 flow_head_dim=s(128)[0], upsample=hp["upsample"], iters=hp["iters"], mask_dim=s(256)[0])
    if hp.get("init_weights"):
        load_raft_weights(model, hp["init_weights"])
    return model


def _build_farneback(hp: dict[str, Any]) -> nn.Module:
    return FarnebackFlow(**hp["farneback"])


def _build_zero(hp: dict[str, Any]) -> nn.Module:
    return ZeroFlow()


# ----------------------------------------------------------------------------------------------- prediction
@torch.no_grad()
def predict_flow(model: nn.Module, images: torch.Tensor, scale: float = 1.0, iters: int | None = None) -> torch.Tensor:
    """Flow ``[B, 2, H, W]`` of frames ``images [B, 6, H, W]`` at their full size, whatever the model needs.

    The frames are optionally resized by ``scale`` (the flow is resized back and its values divided by ``scale``;
    the scale is raised where the picture would become smaller than the model's ``min_size``), padded at the bottom
    and right by edge replication to the model's ``size_multiple``, and the padding is cut off.

    Args:
        model: a flow network (FlowNetS, RAFT, :class:`ZeroFlow`, :class:`FarnebackFlow`), put in eval mode here.
        images: two frames in ``[0, 1]``, stacked on the channels.
        scale: input scale for the model.
        iters: RAFT's number of updates (ignored by other models).

    Example:
        >>> predict_flow(ZeroFlow(), torch.rand(1, 6, 10, 12)).shape
        torch.Size([1, 2, 10, 12])
    """
    model.eval()
    h, w = images.shape[-2:]
    x = images
    smallest = getattr(model, "min_size", 1)
    if scale != 1.0 and min(h, w) * scale < smallest:  # never below the smallest input the model accepts
        scale = min(1.0, smallest / min(h, w))
    if scale != 1.0:
        x = F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False, antialias=True)
    x, pads = pad_to_multiple(x, getattr(model, "size_multiple", 1))
    kwargs = {"iters": iters} if iters is not None and "iters" in model.forward.__code__.co_varnames else {}
    flow = unpad(model(x, **kwargs).float(), pads)
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
        build_model_fn: ``hp -> nn.Module``.
        loss: ``"multiscale"`` (FlowNet), ``"sequence"`` (RAFT) or ``None`` (no training).
    """

    build_model_fn: Callable[[dict[str, Any]], nn.Module] | None = None
    loss: str | None = None

    @property
    def trainable(self) -> bool:
        return self.loss is not None

    @property
    def requires_checkpoint(self) -> bool:
        """Whether ``python -m course_lib.evaluate`` needs ``--checkpoint`` (not for the untrained baselines)."""
        return self.trainable

    # -------------------------------------------------------------------- data
    def resolve_data_root(self, data_root: str | Path) -> Path:
        """The FlyingChairs folder under ``data_root``; absent, the synthetic set (written once, quick profile)."""
        try:
            root = flow_chairs.find_root(data_root)
        except FileNotFoundError:
            if getattr(self, "_profile", "quick") == "full":
                raise FileNotFoundError(f"{data_root}: the full profile of {self.name} trains on FlyingChairs, "
                                        f"which is not there.\n{flow_chairs.DOWNLOAD_NOTE}") from None
            root = flow_chairs.write_sample(Path(data_root) / "samples" / "chairs")
        return root

    def build_model(self, hp: dict[str, Any]) -> nn.Module:
        return self.build_model_fn(hp)

    def build_dataset(self, data_root: Path, split: str, hp: dict[str, Any], train: bool) -> Dataset:
        if split.startswith("kitti:"):
            return kitti_flow.KittiFlow(data_root, split.split(":", 1)[1], max_items=hp.get("max_items"))
        tf = FlowAugment(crop=tuple(hp["crop_size"]), hflip=hp["hflip"], vflip=hp["vflip"],
                         seed=hp.get("seed", 0)) if train else None
        ds = flow_chairs.FlyingChairs(data_root, split, transforms=tf,
                                      max_items=hp.get("max_items") if train else hp.get("max_eval_items"))
        if train:
            kind = "SYNTHETIC chairs-like" if ds.is_sample else "REAL FlyingChairs"
            print(f"{self.name}: training on the {kind} set at {ds.root} ({len(ds)} pairs)")
        return ds

    def collate_fn(self, hp: dict[str, Any]) -> Callable:
        return partial(flow_collate, multiple=1)

    def build_loss(self, hp: dict[str, Any], train_set: Dataset) -> Callable:
        if self.loss == "multiscale":
            from ..models.flownet import multiscale_epe_loss

            return lambda out, target: multiscale_epe_loss(out, target["flow"], target["valid"])
        if self.loss == "sequence":
            from ..models.raft import sequence_loss

            return lambda out, target: sequence_loss(out, target["flow"], target["valid"], gamma=hp["gamma"])
        raise ValueError(f"recipe {self.name!r} is not trained")

    # -------------------------------------------------------------------- train / load
    def train(self, data_root: str | Path, *, profile: str | None = None, **kwargs) -> TrainResult:
        if not self.trainable:
            raise ValueError(f"recipe {self.name!r} has nothing to train; evaluate it directly with "
                             f"python -m course_lib.evaluate {self.name} --data-root DIR --split all")
        self._profile = get_profile(profile)
        return super().train(data_root, profile=profile, **kwargs)

    def load_model(self, checkpoint: str | Path | None, device: torch.device | None = None) -> tuple[nn.Module, dict]:
        """The trained model of ``checkpoint``; for the untrained baselines ``checkpoint`` may be ``None``."""
        if checkpoint is None:
            if self.trainable:
                raise ValueError(f"recipe {self.name!r} needs --checkpoint (a last.pt/best.pt of course_lib.train)")
            hp = self.hparams()
            return self.build_model(hp).to(device or get_device()).eval(), hp
        model, hp = super().load_model(checkpoint, device)
        hp.pop("init_weights", None)
        return model, hp

    # -------------------------------------------------------------------- evaluation
    def evaluate(self, model: nn.Module, dataset: Dataset, hp: dict[str, Any], device: torch.device | None = None,
                 progress: bool = True) -> dict[str, float]:
        device = device or get_device()
        was_training = model.training
        model.to(device).eval()
        regions = {"noc": FlowMetrics(), "occ": FlowMetrics(), "main": FlowMetrics()}
        seen = {"noc": False, "occ": False}
        loader = self.loader(dataset, hp, train=False)
        seconds, pairs = 0.0, 0
        bar = tqdm(loader, desc="evaluate", leave=False, disable=not (progress and D.is_main_process()))
        for images, target in bar:
            images = images.to(device)
            start = time.perf_counter()
            pred = predict_flow(model, images, hp.get("eval_scale", 1.0), hp.get("eval_iters")).cpu()
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
        model.train(was_training)
        return result

    def evaluate_splits(self, model: nn.Module, data_root: str | Path, split: str, hp: dict[str, Any],
                        device: torch.device | None = None, progress: bool = True) -> dict[str, Any]:
        """KITTI ``training/`` when a KITTI folder is under ``data_root`` (``eval_dataset="auto"``), else chairs.

        KITTI's split names are ``train`` (``training/``, with ground truth) and ``all`` (the same here, since the
        test split has none). Each result also names the data it was computed on.
        """
        choice = hp.get("eval_dataset", "auto")
        kitti_root = None
        if choice in ("auto", "kitti"):
            try:
                kitti_root = kitti_flow.find_root(data_root)
            except FileNotFoundError:
                if choice == "kitti":
                    raise
        if kitti_root is None:
            if choice not in ("auto", "chairs"):
                raise ValueError(f"eval_dataset must be 'auto', 'kitti' or 'chairs', got {choice!r}")
            self._profile = hp.get("profile", getattr(self, "_profile", "quick"))
            results = super().evaluate_splits(model, data_root, split, hp, device, progress)
            return results
        if split not in ("train", "all"):
            raise ValueError(f"{kitti_root}: KITTI is evaluated on its training split (the test split has no ground "
                             f"truth); use --split train or --split all, not {split!r}")
        ds = self.build_dataset(kitti_root, "kitti:train", hp, train=False)
        hp = {**hp, "eval_scale": hp.get("kitti_eval_scale", hp.get("eval_scale", 1.0))}
        metrics = self.evaluate(model, ds, hp, device=device, progress=progress)
        name = f"KITTI {ds.version} training ({ds.camera}, {'synthetic sample' if ds.is_sample else 'real'})"
        metrics = {"dataset": name, "data_root": str(kitti_root), "eval_scale": hp["eval_scale"], **metrics}
        return {"train": metrics} if split == "all" else metrics


# ----------------------------------------------------------------------------------------------- the four recipes
_COMMON = {
    "seed": 0, "max_items": None, "max_eval_items": None, "amp": True, "grad_clip": 1.0, "val_every": 1,
    "eval_scale": 1.0, "kitti_eval_scale": 1.0, "eval_dataset": "auto", "eval_batch_size": 1, "num_workers": 0,
    "hflip": 0.5, "vflip": 0.1,
}

_FARNEBACK = {"pyr_scale": 0.5, "levels": 5, "winsize": 15, "iterations": 3, "poly_n": 5, "poly_sigma": 1.2,
              "gaussian": False}


def flow_recipes() -> list[FlowRecipe]:
    """The four flow recipes of Chapter 9."""
    flownets = FlowRecipe(
        name="flownets-chairs", description="FlowNetS on FlyingChairs (synthetic chairs-like set in quick)",
        chapter="9", dataset="chairs", monitor="px3", splits=("train", "val"), build_model_fn=_build_flownets,
        loss="multiscale",
        defaults={**_COMMON, "optimizer": "adam", "weight_decay": 4e-4},
        profiles={
            "full": {"width": 1.0, "batch_norm": False, "lr": 1e-4, "batch_size": 8, "crop_size": [320, 448],
                     "epochs": 100, "schedule": "poly", "num_workers": 4},
            "quick": {"width": 0.25, "batch_norm": True, "lr": 1e-3, "batch_size": 8, "crop_size": [64, 128],
                      "epochs": 20, "schedule": "cosine", "max_eval_items": 8, "val_every": 5,
                      "kitti_eval_scale": 0.25},
        })
    raft = FlowRecipe(
        name="raft-small-chairs", description="RAFT-small on FlyingChairs (synthetic chairs-like set in quick)",
        chapter="9", dataset="chairs", monitor="px3", splits=("train", "val"), build_model_fn=_build_raft,
        loss="sequence",
        defaults={**_COMMON, "optimizer": "adamw", "weight_decay": 1e-4, "gamma": 0.8, "init_weights": None},
        profiles={
            "full": {"width": 1.0, "corr_levels": 4, "corr_radius": 3, "upsample": "convex", "iters": 12,
                     "eval_iters": 24, "lr": 4e-4, "batch_size": 10, "crop_size": [368, 496], "epochs": 45,
                     "schedule": "cosine", "num_workers": 4},
            "quick": {"width": 0.5, "corr_levels": 3, "corr_radius": 3, "upsample": "convex", "iters": 4,
                      "eval_iters": 8, "lr": 1e-3, "batch_size": 8, "crop_size": [64, 96], "epochs": 20,
                      "schedule": "cosine", "max_eval_items": 8, "val_every": 5, "kitti_eval_scale": 0.25},
        })
    zero = FlowRecipe(name="flow-zero", description="zero flow (no motion) baseline, no training", chapter="9",
                      dataset="chairs", monitor="px3", splits=("train", "val"), build_model_fn=_build_zero,
                      defaults=dict(_COMMON), profiles={})
    farneback = FlowRecipe(name="flow-farneback", description="Farneback dense flow (OpenCV), no training",
                           chapter="9", dataset="chairs", monitor="px3", splits=("train", "val"),
                           build_model_fn=_build_farneback, defaults={**_COMMON, "farneback": dict(_FARNEBACK)},
                           profiles={})
    return [flownets, raft, zero, farneback]
