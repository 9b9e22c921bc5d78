"""The 3D U-Net recipe on BraTS (Chapter 3): ``unet3d-brats``.

Model: :class:`course_lib.models.unet.UNet` with ``spatial_dims=3`` (Cicek et al., arXiv 1606.06650): the 2-D U-Net
of the Kvasir-SEG notebook with every 2-D layer replaced by its 3-D twin, instance normalisation (batches of
two volumes are too small for batch statistics) and three sigmoid outputs, one per *region* (WT, TC, ET), as in
the region-based training of Isensee et al. (nnU-Net, BraTS 2020, arXiv 2011.00848) and Myronenko (arXiv
1810.11654). The regions are nested, not exclusive, so each gets its own sigmoid instead of one softmax over labels.

Training: random patches (a share of them centred on tumour, see :class:`course_lib.data.brats.BratsPatches`),
flips and intensity augmentation, loss = BCE + soft Dice per region (batch Dice of each region, averaged over the
three), Adam/AdamW, mixed precision on a GPU.

Evaluation protocol (:meth:`BratsRecipe.evaluate`): every held-out case is predicted whole by sliding-window
inference (windows of the patch size, overlap 0.5, Gaussian blending; :mod:`course_lib.inference`), sigmoid >
0.5 per region, and compared with the ground truth **at the original 1 mm resolution** (a model that works on
downsampled volumes has its logits upsampled trilinearly first). Per case and region: Dice and the 95th
percentile Hausdorff distance (HD95, in mm, MONAI's ``compute_hausdorff_distance``) with the BraTS conventions for
empty regions (both empty: Dice 1, HD95 0; only one empty: Dice 0, HD95 373.13 mm, the diagonal of the BraTS
volume). Reported: the mean over cases per region and the mean of the three regions. This is the BraTS protocol,
but on a split of the public *training* cases, since the validation and test labels are not public.

Profiles:

``quick``
    A narrow U-Net (width 8, depth 3) on volumes downsampled by 3 (3 mm voxels) with 32^3 patches (96 mm: a
    large part of the brain), so that a CPU can train it: 15 minutes on 3 real cases of a 2-core CPU reach a WT Dice
    above 0.8 on a held-out case. HD95 is left out of the per-epoch validation (it costs seconds per case) but
    computed by ``python -m course_lib.evaluate``. The notebook trains on its synthetic sample at full resolution.
``full``
    The 3D U-Net at width 32, depth 4 (32..512 channels), 128^3 patches at 1 mm, batch 2, mixed precision,
    AdamW with a cosine schedule for 300 epochs of one patch per case, 1/3 of the patches on tumour (nnU-Net);
    validation every 10 epochs on 50 held-out cases (``python -m course_lib.evaluate`` scores all of them).
    Estimated peak GPU memory: about 10 GiB (activations counted under bfloat16 autocast and scaled from a 32^3
    probe, see :func:`training_memory_estimate`), plus the CUDA context and workspaces: a 16 GB GPU suffices.
"""

from __future__ import annotations

import os
import warnings
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
from ..config import data_root as default_data_root
from ..config import get_device
from ..data import brats
from ..inference import sliding_window_inference
from ..losses import bce_dice_loss
from ..models.unet import UNet
from .base import Recipe

__all__ = ["BRATS_MAX_DISTANCE", "BratsRecipe", "brats_recipes", "dice_per_region", "hd95_per_region",
           "predict_volume", "region_loss", "saved_activation_bytes", "training_memory_estimate"]

#: HD95 given to a region that is empty in exactly one of prediction and ground truth (BraTS convention, mm).
BRATS_MAX_DISTANCE = 373.13


# ----------------------------------------------------------------------------------------------- loss and metrics
def region_loss(logits: torch.Tensor, target: torch.Tensor, bce_weight: float = 1.0,
                dice_weight: float = 1.0) -> torch.Tensor:
    """BCE + soft Dice for region outputs ``[N, R, *spatial]`` (one sigmoid per region).

    The Dice term is computed per region over the whole batch (a "batch Dice": a patch without enhancing tumour
    does not produce a meaningless 0/0 term) and averaged over the regions; the BCE is the mean over all voxels
    and regions. Targets may be soft (fractions from downsampling).

    Args:
        logits: ``[N, R, *spatial]`` raw scores.
        target: ``[N, R, *spatial]`` values in [0, 1].
        bce_weight, dice_weight: weights of the two terms.

    Example:
        >>> x = torch.full((2, 3, 4, 4, 4), -20.0); t = torch.zeros(2, 3, 4, 4, 4)
        >>> region_loss(x, t).item() < 1e-6  # confident and right: nothing predicted, nothing there
        True
    """
    if logits.shape != target.shape or logits.ndim < 3:
        raise ValueError(f"region_loss expects logits and target of the same shape [N, R, ...], got "
                         f"{tuple(logits.shape)} and {tuple(target.shape)}")
    # regions first: each region becomes one "image" whose Dice is computed over the whole batch
    return bce_dice_loss(logits.transpose(0, 1), target.transpose(0, 1), bce_weight=bce_weight,
                         dice_weight=dice_weight, per_image=True)


def dice_per_region(pred: torch.Tensor | np.ndarray, target: torch.Tensor | np.ndarray) -> list[float]:
    """Dice of each region of one case: ``2 |P & T| / (|P| + |T|)``, 1.0 when both are empty (BraTS convention).

    Args:
        pred: ``[R, *spatial]`` booleans (thresholded prediction).
        target: ``[R, *spatial]`` booleans.

    Example:
        >>> p = torch.tensor([[1, 1, 0, 0], [0, 0, 0, 0]]).bool(); t = torch.tensor([[1, 0, 0, 0], [0, 0, 0, 0]]).bool()
        >>> [round(d, 3) for d in dice_per_region(p, t)]
        [0.667, 1.0]
    """
    p, t = torch.as_tensor(pred).bool(), torch.as_tensor(target).bool()
    if p.shape != t.shape:
        raise ValueError(f"prediction {tuple(p.shape)} and target {tuple(t.shape)} differ in shape")
    out = []
    for r in range(p.shape[0]):
        inter = (p[r] & t[r]).sum().item()
        total = p[r].sum().item() + t[r].sum().item()
        out.append(1.0 if total == 0 else 2.0 * inter / total)
    return out


def hd95_per_region(pred: torch.Tensor | np.ndarray, target: torch.Tensor | np.ndarray,
                    spacing: tuple[float, ...] = (1.0, 1.0, 1.0)) -> list[float]:
    """95th percentile Hausdorff distance of each region (mm), computed by MONAI, with the BraTS conventions.

    Both empty: 0; exactly one empty: :data:`BRATS_MAX_DISTANCE`. Returns NaN for every region when MONAI is not
    installed (``pip install monai``).

    Args:
        pred: ``[R, *spatial]`` booleans.
        target: ``[R, *spatial]`` booleans.
        spacing: voxel size in mm per spatial axis.

    Example:
        >>> t = torch.zeros(1, 9, 9, 9, dtype=torch.bool); t[0, 2:5, 2:5, 2:5] = True
        >>> hd95_per_region(t.roll(2, dims=1), t)  # doctest: +SKIP
        [2.0]
    """
    p, t = torch.as_tensor(pred).bool().cpu(), torch.as_tensor(target).bool().cpu()
    if p.shape != t.shape:
        raise ValueError(f"prediction {tuple(p.shape)} and target {tuple(t.shape)} differ in shape")
    try:
        from monai.metrics import compute_hausdorff_distance
    except ImportError:
        return [float("nan")] * p.shape[0]
    out = []
    for r in range(p.shape[0]):
        has_p, has_t = bool(p[r].any()), bool(t[r].any())
        if not has_p and not has_t:
            out.append(0.0)
        elif has_p != has_t:
            out.append(BRATS_MAX_DISTANCE)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # MONAI's deprecation notices about its own internals
                d = compute_hausdorff_distance(p[r][None, None], t[r][None, None], include_background=True,
                                               percentile=95, spacing=list(spacing))
            out.append(float(d.reshape(-1)[0]))
    return out


# ----------------------------------------------------------------------------------------------- inference
@torch.no_grad()
def predict_volume(model: nn.Module, image: torch.Tensor, hp: dict[str, Any], device: torch.device | None = None
                   ) -> torch.Tensor:
    """Region probabilities of one whole (cropped) case at its own resolution.

    The image is downsampled by ``hp["downsample"]`` (area averaging) when the model was trained on downsampled
    volumes, predicted by sliding windows of ``hp["patch_size"]`` with ``hp["overlap"]`` and ``hp["blend"]``
    blending, and the blended logits are upsampled back (trilinear) before the sigmoid.

    Args:
        model: a network mapping ``[B, 4, P, P, P]`` to ``[B, 3, P, P, P]`` logits.
        image: ``[4, X, Y, Z]`` normalised image (as :class:`course_lib.data.brats.BratsVolumes` returns it).
        hp: the recipe's hyper-parameters (``downsample``, ``patch_size``, ``overlap``, ``blend``,
            ``sw_batch_size``, ``amp``).
        device: where the network runs (default: the model's device).

    Returns:
        ``[3, X, Y, Z]`` float32 probabilities (WT, TC, ET) on the CPU.

    Example:
        >>> probs = predict_volume(model, image, recipe.hparams("quick"))  # doctest: +SKIP
    """
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    f = int(hp.get("downsample", 1))
    x = image[None].to(device, torch.float32)
    size = x.shape[2:]
    if f > 1:
        pad = [(-s) % f for s in size]
        x = F.pad(x, [p for q in reversed(pad) for p in (0, q)])
        x = F.avg_pool3d(x, f)
    dtype = torch.bfloat16 if hp.get("amp", True) and device.type == "cuda" else None

    def predictor(windows: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            return model(windows).float()

    patch = hp["patch_size"]
    logits = sliding_window_inference(x, patch, predictor, overlap=hp.get("overlap", 0.5),
                                      mode=hp.get("blend", "gaussian"), sw_batch_size=hp.get("sw_batch_size", 2))
    if f > 1:
        logits = F.interpolate(logits, scale_factor=f, mode="trilinear", align_corners=False)
        logits = logits[(slice(None), slice(None)) + tuple(slice(0, s) for s in size)]
    model.train(was_training)
    return torch.sigmoid(logits[0]).cpu()


# ----------------------------------------------------------------------------------------------- memory
def saved_activation_bytes(model: nn.Module, input_shape: tuple[int, ...], dtype: torch.dtype | None = None
                           ) -> int:
    """Bytes of the tensors a forward pass keeps for the backward pass (counted once per storage).

    This is the activation memory of training: the feature maps autograd saves. Run it on a small input and
    scale by the voxel count (activations grow linearly with it) to estimate a large one.

    Args:
        model: the network (left in its training mode).
        input_shape: ``[N, C, *spatial]``.
        dtype: ``torch.bfloat16`` to count under autocast (mixed precision), ``None`` for float32.

    Example:
        >>> m = nn.Sequential(nn.Conv3d(1, 2, 3, padding=1), nn.ReLU())
        >>> saved_activation_bytes(m, (1, 1, 8, 8, 8)) > 0
        True
    """
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        if not isinstance(t, nn.Parameter):
            storage = t.untyped_storage()
            seen[storage.data_ptr()] = storage.nbytes()
        return t

    x = torch.randn(*input_shape)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            out = model(x)
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    del out
    return sum(n for ptr, n in seen.items() if ptr not in params)


def training_memory_estimate(model: nn.Module, patch: int, batch: int, amp: bool = True, probe: int = 32,
                             in_channels: int = 4) -> dict[str, float]:
    """Estimate the peak GPU memory (GiB) of one training step with Adam at a patch size too large to try here.

    Activations are counted at a ``probe``-sized patch with :func:`saved_activation_bytes` (under bfloat16
    autocast when ``amp``) and scaled by ``(patch / probe) ** 3``; weights, gradients and the two Adam moments
    are four float32 copies of the parameters. Not counted: the CUDA context (~0.5 GiB), cuDNN workspaces and
    allocator fragmentation, so allow about 20 % on top.

    Args:
        model: the network.
        patch: patch edge in voxels (cubic patches).
        batch: patches per step.
        amp: mixed precision.
        probe: edge of the probe patch (must suit the network's depth).
        in_channels: input channels.

    Returns:
        ``{"activations": GiB, "parameters": GiB, "total": GiB}``.

    Example:
        >>> est = training_memory_estimate(UNet(4, 3, spatial_dims=3, width=4, depth=2), patch=64, batch=2, probe=16)
        >>> est["total"] > est["activations"] > 0
        True
    """
    was_training = model.training
    model.train()
    probe_bytes = saved_activation_bytes(model, (1, in_channels, probe, probe, probe),
                                         torch.bfloat16 if amp else None)
    model.train(was_training)
    gib = 1024**3
    activations = probe_bytes * (patch / probe) ** 3 * batch / gib
    parameters = 4 * 4 * sum(p.numel() for p in model.parameters()) / gib
    return {"activations": activations, "parameters": parameters, "total": activations + parameters}


# ----------------------------------------------------------------------------------------------- the recipe
def _build_unet3d(hp: dict[str, Any]) -> nn.Module:
    return UNet(len(brats.MODALITIES), len(brats.REGIONS), spatial_dims=3, width=hp["width"], depth=hp["depth"],
                norm=hp["norm"], upsample=hp["upsample"], dropout=hp["dropout"])


@dataclass
class BratsRecipe(Recipe):
    """Region-based 3-D segmentation of BraTS (see the module docstring for model, training and protocol)."""

    build_model_fn: Callable[[dict[str, Any]], nn.Module] | None = None

    def resolve_data_root(self, data_root: str | Path) -> Path:
        return brats.find_root(data_root)

    def build_model(self, hp: dict[str, Any]) -> nn.Module:
        return self.build_model_fn(hp)

    def cache_dir(self, hp: dict[str, Any]) -> Path | None:
        """The :class:`course_lib.data.brats.BratsCache` folder: ``hp["cache_dir"]``, ``"auto"`` =
        ``<COURSE_DATA_ROOT>/cache/brats``, ``None`` = no cache."""
        value = hp.get("cache_dir", "auto")
        if value in (None, "", "none", "null"):
            return None
        if value == "auto":
            return default_data_root() / "cache" / "brats"
        return Path(os.path.expanduser(str(value)))

    def build_dataset(self, data_root: Path, split: str, hp: dict[str, Any], train: bool) -> Dataset:
        common = {"val_fraction": hp["val_fraction"], "seed": hp["split_seed"], "val_cases": hp.get("val_cases"),
                  "cache_dir": self.cache_dir(hp), "margin": hp["margin"]}
        if train:
            check_patch(hp)
            return brats.BratsPatches(
                data_root, split, patch_size=hp["patch_size"], downsample=hp["downsample"],
                foreground_ratio=hp["foreground_ratio"], samples_per_case=hp["samples_per_case"], augment=True,
                intensity=hp["intensity_aug"], max_cases=hp.get("max_cases"), **common)
        return brats.BratsVolumes(data_root, split, max_cases=hp.get("max_eval_cases"), **common)

    def build_loss(self, hp: dict[str, Any], train_set: Dataset) -> Callable:
        bce, dice = hp["bce_weight"], hp["dice_weight"]
        return lambda logits, target: region_loss(logits.float(), target, bce, dice)

    def evaluate_cases(self, model: nn.Module, dataset: Dataset, hp: dict[str, Any],
                       device: torch.device | None = None, progress: bool = True,
                       hd95: bool | None = None) -> list[dict[str, Any]]:
        """Per-case Dice (and HD95) of each region: one dict per case (see the module docstring's protocol)."""
        device = device or get_device()
        model.to(device)
        hd95 = hp.get("hd95", True) if hd95 is None else hd95
        ids = getattr(dataset, "case_ids", None) or [f"case {i}" for i in range(len(dataset))]
        rows = []
        for i in tqdm(range(len(dataset)), desc="evaluate", leave=False,
                      disable=not (progress and D.is_main_process())):
            image, target = dataset[i]
            pred = predict_volume(model, image, hp, device) > hp.get("threshold", 0.5)
            target = target.bool()
            row: dict[str, Any] = {"case": ids[i]}
            for name, d in zip(brats.REGIONS, dice_per_region(pred, target), strict=True):
                row[f"dice_{name.lower()}"] = d
            if hd95:
                for name, d in zip(brats.REGIONS, hd95_per_region(pred, target), strict=True):
                    row[f"hd95_{name.lower()}"] = d
            rows.append(row)
        return rows

    def evaluate_splits(self, model: nn.Module, data_root: str | Path, split: str, hp: dict[str, Any],
                        device: torch.device | None = None, progress: bool = True) -> dict[str, Any]:
        """The final evaluation (``python -m course_lib.evaluate``): every case of the split, always with HD95.

        (The per-epoch validation of :meth:`train` may use a subset, ``max_eval_cases``, and skip HD95.)
        """
        final = {**hp, "hd95": True, "max_eval_cases": None}
        return super().evaluate_splits(model, data_root, split, final, device, progress)

    def evaluate(self, model: nn.Module, dataset: Dataset, hp: dict[str, Any], device: torch.device | None = None,
                 progress: bool = True) -> dict[str, float]:
        rows = self.evaluate_cases(model, dataset, hp, device, progress)
        keys = [k for k in rows[0] if k != "case"]
        out = {k: float(np.mean([r[k] for r in rows])) for k in keys}
        out["dice"] = float(np.mean([out[f"dice_{n.lower()}"] for n in brats.REGIONS]))
        if "hd95_wt" in out:
            out["hd95"] = float(np.mean([out[f"hd95_{n.lower()}"] for n in brats.REGIONS]))
        return out


_DEFAULTS = {
    "seed": 0, "split_seed": 0, "val_fraction": 0.2, "val_cases": None, "max_cases": None, "max_eval_cases": None,
    "cache_dir": "auto", "margin": 2, "norm": "instance", "upsample": "transpose", "dropout": 0.0,
    "foreground_ratio": 0.5, "intensity_aug": 0.1, "bce_weight": 1.0, "dice_weight": 1.0,
    "overlap": 0.5, "blend": "gaussian", "threshold": 0.5, "hd95": True, "amp": True, "grad_clip": 12.0,
    "val_every": 1, "weight_decay": 1e-5, "eval_batch_size": 1,
}

_QUICK = {
    "width": 8, "depth": 3, "patch_size": 32, "downsample": 3, "batch_size": 2, "samples_per_case": 8,
    "epochs": 6, "optimizer": "adam", "lr": 3e-3, "schedule": "poly", "sw_batch_size": 2, "num_workers": 0,
    "max_cases": 16, "max_eval_cases": 4, "hd95": False,
}

_FULL = {
    "width": 32, "depth": 4, "patch_size": 128, "downsample": 1, "batch_size": 2, "samples_per_case": 1,
    "epochs": 300, "optimizer": "adamw", "lr": 3e-4, "schedule": "cosine", "sw_batch_size": 4, "num_workers": 8,
    "foreground_ratio": 0.33, "val_every": 10, "max_eval_cases": 50,
}


def brats_recipes() -> list[BratsRecipe]:
    """The BraTS recipes of Chapter 3."""
    return [BratsRecipe(
        name="unet3d-brats",
        description="3D U-Net (Cicek et al. 2016), region-based WT/TC/ET, on BraTS 2020/2021",
        chapter="3",
        dataset="brats",
        defaults=dict(_DEFAULTS),
        profiles={"quick": dict(_QUICK), "full": dict(_FULL)},
        monitor="dice",
        splits=("train", "val"),
        build_model_fn=_build_unet3d,
    )]


def check_patch(hp: dict[str, Any]) -> None:
    """Raise when the patch size does not suit the network depth (it must be divisible by ``2 ** depth``)."""
    step = 2 ** hp["depth"]
    if hp["patch_size"] % step:
        raise ValueError(f"patch_size {hp['patch_size']} must be divisible by 2**depth = {step}")

