"""The 3D U-Net recipe on BraTS (Chapter 3): ``unet3d-brats``.

Model: :class:`course_lib.models.unet.UNet` with ``spatial_dims=3`` (Cicek et al., arXiv 1606.06650): the 2-D U-Net
of the Kvasir-SEG notebook with every 2-D layer replaced by its 3-D twin, instance normalisation (batches of
two volumes are too small for batch statistics) and three sigmoid outputs, one per *region* (WT, TC, ET), as in
the region-based training of Isensee et al. (nnU-Net, BraTS 2020, arXiv 2011.00848) and Myronenko (arXiv
1810.11654). The regions are nested, not exclusive, so each gets its own sigmoid instead of one softmax over labels.

Training: random patches (a share of them centred on tumour, see
:class:`course_lib.data.brats_datasets.BratsPatches`), flips and intensity augmentation, loss = BCE + soft Dice per
region (:func:`course_lib.losses.volume.region_loss`: batch Dice of each region, averaged over the three),
Adam/AdamW, mixed precision on a GPU.

Evaluation protocol (:meth:`BratsRecipe.evaluate`): every held-out case is predicted whole by sliding-window
inference (windows of the patch size, overlap 0.5, Gaussian blending; :mod:`course_lib.inference`), sigmoid >
0.5 per region, and compared with the ground truth **at the original 1 mm resolution** (a model that works on
downsampled volumes has its logits upsampled trilinearly first). Per case and region: Dice and the 95th
percentile Hausdorff distance (HD95, in mm, MONAI's ``compute_hausdorff_distance``), with the BraTS conventions for
empty regions (both empty: Dice 1, HD95 0; only one empty: Dice 0, HD95 373.13 mm, the diagonal of the BraTS
volume; :mod:`course_lib.metrics.volume`). Reported: the mean over cases per region and the mean of the three
regions. This is the BraTS protocol, but on a split of the public *training* cases, since the validation and test
labels are not public.

Profiles (:class:`BratsConfig`; ``BRATS_QUICK`` and ``BRATS_FULL``):

``quick``
    A narrow U-Net (width 8, depth 3) on volumes downsampled by 3 (3 mm voxels) with 32^3 patches (96 mm: a
    large part of the brain), so that a CPU can train it. Three training cases cannot show the variety of
    gliomas, so the quick profile augments more than the full one: intensity scale/shift 0.2, gamma 0.3, patches up
    to 1.5 times larger averaged down (smaller-looking tumours), 30 % of the tumour patches on the edema's outer rim.
    Leave-one-out numbers on the four shared cases are in ``course_lib/results/ch03.yaml``. HD95 is left out of the
    per-epoch validation (it costs seconds per case) but
    computed by ``python -m course_lib.evaluate``. The notebook trains on its synthetic sample at full resolution.
``full``
    The 3D U-Net at width 32, depth 4 (32..512 channels), 128^3 patches at 1 mm, batch 2, mixed precision,
    AdamW with a cosine schedule for 300 epochs of one patch per case, 1/3 of the patches on tumour (nnU-Net);
    validation every 10 epochs on 50 held-out cases (``python -m course_lib.evaluate`` scores all of them).
    Estimated peak GPU memory: about 10 GiB (activations counted under bfloat16 autocast and scaled from a 32^3
    probe, see :func:`training_memory_estimate`), plus the CUDA context and workspaces: a 16 GB GPU suffices.
"""

from __future__ import annotations

import dataclasses
import os
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
from ..config import get_device, work_dir
from ..data.brats import MODALITIES, REGIONS
from ..data.brats_datasets import BratsPatches, BratsVolumes
from ..inference import evaluating, sliding_window_inference
from ..losses.volume import region_loss
from ..metrics.volume import dice_per_region, hd95_per_region
from ..models.unet import UNet
from .base import Recipe
from .config import RecipeConfig

__all__ = ["BRATS_FULL", "BRATS_QUICK", "BratsConfig", "BratsRecipe", "brats_recipes", "check_patch",
           "predict_volume", "saved_activation_bytes", "training_memory_estimate"]


# ----------------------------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class BratsConfig(RecipeConfig):
    """The settings of ``unet3d-brats`` (the shared ones are documented in :class:`RecipeConfig`).

    Args:
        width: channels of the first level (doubled at each level down).
        depth: number of downsampling steps; ``patch_size`` must be divisible by ``2 ** depth``.
        norm: normalisation layer of the U-Net (``instance``, ``batch``, ``group``, or ``None``).
        upsample: ``transpose`` (learned up-convolution) or ``interpolate``.
        dropout: dropout probability in the U-Net's blocks.
        patch_size: edge of the cubic training patch and of the sliding window, in (downsampled) voxels.
        downsample: integer factor the volumes are averaged down by (3: 3 mm voxels); 1 = the original 1 mm.
        samples_per_case: training patches per case and epoch.
        foreground_ratio: share of the patches centred on a tumour voxel.
        intensity_aug: per-channel random intensity scale and shift ``U(-s, s)`` of the training patches.
        gamma_aug: per-channel random gamma ``exp(U(-g, g))`` of the brain intensities (0: off).
        zoom_out: scale augmentation: cut patches up to ``1 + zoom_out`` times larger and average them down (0: off).
        rim_ratio: share of the tumour-centred patches placed on the edema's outer rim (edema-only regions, see
            :class:`course_lib.data.brats_datasets.BratsPatches`).
        split_seed: seed of the hashed train/val split of the cases (the ``seed`` field seeds training).
        val_fraction: share of the cases held out for validation.
        val_cases: explicit held-out case ids (overrides ``val_fraction``).
        max_items: train on only the first this many training *cases* (``None``: all).
        max_eval_items: validate on only the first this many held-out cases (``None``: all; the final evaluation of
            ``python -m course_lib.evaluate`` always uses all).
        cache_dir: the preprocessed-case cache: ``auto`` = ``<work dir>/cache/brats``, a folder, or ``None`` for no
            cache (decode the NIfTI files on every access).
        margin: voxels of background kept around the brain's bounding box.
        bce_weight: weight of the BCE term of the region loss.
        dice_weight: weight of the soft Dice term of the region loss.
        overlap: fraction of a sliding window shared with its neighbour.
        blend: ``gaussian`` or ``constant`` blending of the overlapping windows.
        sw_batch_size: windows per forward pass of the sliding-window inference.
        threshold: sigmoid threshold of every region.
        hd95: compute HD95 in the per-epoch validation (seconds per case; the final evaluation always does).
    """

    epochs: int = 300
    batch_size: int = 2
    weight_decay: float = 1e-5
    grad_clip: float | None = 12.0
    width: int = 32
    depth: int = 4
    norm: str | None = "instance"
    upsample: str = "transpose"
    dropout: float = 0.0
    patch_size: int = 128
    downsample: int = 1
    samples_per_case: int = 1
    foreground_ratio: float = 0.5
    intensity_aug: float = 0.1
    gamma_aug: float = 0.0
    zoom_out: float = 0.0
    rim_ratio: float = 0.0
    split_seed: int = 0
    val_fraction: float = 0.2
    val_cases: tuple[str, ...] | None = None
    max_eval_items: int | None = None
    cache_dir: str | None = "auto"
    margin: int = 2
    bce_weight: float = 1.0
    dice_weight: float = 1.0
    overlap: float = 0.5
    blend: str = "gaussian"
    sw_batch_size: int = 2
    threshold: float = 0.5
    hd95: bool = True


BRATS_QUICK = BratsConfig(
    profile="quick", width=8, depth=3, patch_size=32, downsample=3, batch_size=2, samples_per_case=8, epochs=6,
    optimizer="adam", lr=3e-3, schedule="poly", sw_batch_size=2, num_workers=0, max_items=16, max_eval_items=4,
    hd95=False, intensity_aug=0.2, gamma_aug=0.3, zoom_out=0.5, rim_ratio=0.3)
BRATS_FULL = BratsConfig(
    profile="full", width=32, depth=4, patch_size=128, downsample=1, batch_size=2, samples_per_case=1, epochs=300,
    optimizer="adamw", lr=3e-4, schedule="cosine", sw_batch_size=4, num_workers=8, foreground_ratio=0.33,
    val_every=10, max_eval_items=50)


def check_patch(cfg: BratsConfig) -> None:
    """Raise when the patch size does not suit the network depth (it must be divisible by ``2 ** depth``)."""
    step = 2 ** cfg.depth
    if cfg.patch_size % step:
        raise ValueError(f"patch_size {cfg.patch_size} must be divisible by 2**depth = {step}")


# ----------------------------------------------------------------------------------------------- inference
def predict_volume(model: nn.Module, image: torch.Tensor, cfg: BratsConfig, device: torch.device | None = None
                   ) -> torch.Tensor:
    """Region probabilities of one whole (cropped) case at its own resolution.

    The image is downsampled by ``cfg.downsample`` (area averaging) when the model was trained on downsampled
    volumes, predicted by sliding windows of ``cfg.patch_size`` with ``cfg.overlap`` and ``cfg.blend`` blending
    (under :func:`course_lib.inference.evaluating`: eval mode, no gradients, the training loop's autocast on a GPU
    when ``cfg.amp``), and the blended logits are upsampled back (trilinear) before the sigmoid.

    Args:
        model: a network mapping ``[B, 4, P, P, P]`` to ``[B, 3, P, P, P]`` logits.
        image: ``[4, X, Y, Z]`` normalised image (as :class:`course_lib.data.brats_datasets.BratsVolumes` returns
            it).
        cfg: the recipe's settings (``downsample``, ``patch_size``, ``overlap``, ``blend``, ``sw_batch_size``,
            ``amp``).
        device: where the network runs (default: the model's device).

    Returns:
        ``[3, X, Y, Z]`` float32 probabilities (WT, TC, ET) on the CPU.

    Example:
        >>> probs = predict_volume(model, image, recipe.config("quick"))  # doctest: +SKIP
    """
    device = device or next(model.parameters()).device
    f = int(cfg.downsample)
    x = image[None].to(device, torch.float32)
    size = x.shape[2:]
    if f > 1:
        pad = [(-s) % f for s in size]
        x = F.pad(x, [p for q in reversed(pad) for p in (0, q)])
        x = F.avg_pool3d(x, f)
    with evaluating(model, cfg.amp, device):
        logits = sliding_window_inference(x, cfg.patch_size, lambda windows: model(windows).float(),
                                          overlap=cfg.overlap, mode=cfg.blend, sw_batch_size=cfg.sw_batch_size)
    if f > 1:
        logits = F.interpolate(logits, scale_factor=f, mode="trilinear", align_corners=False)
        logits = logits[(slice(None), slice(None)) + tuple(slice(0, s) for s in size)]
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
@dataclass
class BratsRecipe(Recipe):
    """Region-based 3-D segmentation of BraTS (see the module docstring for model, training and protocol)."""

    def build_model(self, cfg: BratsConfig) -> nn.Module:
        """The 3D U-Net: one input channel per modality, one output (a sigmoid) per region of the registry entry."""
        return UNet(len(MODALITIES), len(self.info.classes), spatial_dims=3, width=cfg.width, depth=cfg.depth,
                    norm=cfg.norm, upsample=cfg.upsample, dropout=cfg.dropout)

    def cache_dir(self, cfg: BratsConfig) -> Path | None:
        """The folder of the preprocessed-case cache (:func:`course_lib.data.brats_datasets.load_cached`):
        ``cfg.cache_dir``; ``"auto"`` = ``<work dir>/cache/brats``; ``None`` = no cache."""
        value = cfg.cache_dir
        if value in (None, "", "none", "null"):
            return None
        if value == "auto":
            return work_dir() / "cache" / "brats"
        return Path(os.path.expanduser(str(value)))

    def build_dataset(self, data_root: Path, split: str, cfg: BratsConfig, train: bool) -> Dataset:
        common = {"val_fraction": cfg.val_fraction, "seed": cfg.split_seed, "val_cases": cfg.val_cases,
                  "cache_dir": self.cache_dir(cfg), "margin": cfg.margin}
        if train:
            check_patch(cfg)
            return BratsPatches(
                data_root, split, patch_size=cfg.patch_size, downsample=cfg.downsample,
                foreground_ratio=cfg.foreground_ratio, samples_per_case=cfg.samples_per_case, augment=True,
                intensity=cfg.intensity_aug, gamma=cfg.gamma_aug, zoom_out=cfg.zoom_out, rim_ratio=cfg.rim_ratio,
                max_cases=cfg.max_items, **common)
        return BratsVolumes(data_root, split, max_cases=cfg.max_eval_items, **common)

    def build_loss(self, cfg: BratsConfig, train_set: Dataset) -> Callable:
        bce, dice = cfg.bce_weight, cfg.dice_weight
        return lambda logits, target: region_loss(logits.float(), target, bce, dice)

    def evaluate_cases(self, model: nn.Module, dataset: Dataset, cfg: BratsConfig,
                       device: torch.device | None = None, progress: bool = True,
                       hd95: bool | None = None) -> list[dict[str, Any]]:
        """Per-case Dice (and HD95) of each region: one dict per case (see the module docstring's protocol).

        Args:
            model: the network.
            dataset: whole cases (:class:`course_lib.data.brats_datasets.BratsVolumes`).
            cfg: the settings (sliding windows, threshold, ``hd95``).
            device: where the network runs (default: :func:`course_lib.config.get_device`).
            progress: show a progress bar.
            hd95: compute HD95 (default: ``cfg.hd95``).
        """
        device = device or get_device()
        model.to(device)
        hd95 = cfg.hd95 if hd95 is None else hd95
        ids = getattr(dataset, "case_ids", None) or [f"case {i}" for i in range(len(dataset))]
        rows = []
        for i in tqdm(range(len(dataset)), desc="evaluate", leave=False,
                      disable=not (progress and D.is_main_process())):
            image, target = dataset[i]
            pred = predict_volume(model, image, cfg, device) > cfg.threshold
            target = target.bool()
            row: dict[str, Any] = {"case": ids[i]}
            for name, d in zip(REGIONS, dice_per_region(pred, target), strict=True):
                row[f"dice_{name.lower()}"] = d
            if hd95:
                for name, d in zip(REGIONS, hd95_per_region(pred, target), strict=True):
                    row[f"hd95_{name.lower()}"] = d
            rows.append(row)
        return rows

    def evaluate_splits(self, model: nn.Module, data_root: str | Path, split: str, cfg: BratsConfig,
                        device: torch.device | None = None, progress: bool = True) -> dict[str, Any]:
        """The final evaluation (``python -m course_lib.evaluate``): every case of the split, always with HD95.

        (The per-epoch validation of :meth:`train` may use a subset, ``max_eval_items``, and skip HD95.)
        """
        final = dataclasses.replace(cfg, hd95=True, max_eval_items=None)
        return super().evaluate_splits(model, data_root, split, final, device, progress)

    def evaluate(self, model: nn.Module, dataset: Dataset, cfg: BratsConfig, device: torch.device | None = None,
                 progress: bool = True) -> dict[str, float]:
        rows = self.evaluate_cases(model, dataset, cfg, device, progress)
        keys = [k for k in rows[0] if k != "case"]
        out = {k: float(np.mean([r[k] for r in rows])) for k in keys}
        out["dice"] = float(np.mean([out[f"dice_{n.lower()}"] for n in REGIONS]))
        if "hd95_wt" in out:
            out["hd95"] = float(np.mean([out[f"hd95_{n.lower()}"] for n in REGIONS]))
        return out


def brats_recipes() -> list[BratsRecipe]:
    """The BraTS recipes of Chapter 3."""
    return [BratsRecipe(
        name="unet3d-brats",
        description="3D U-Net (Cicek et al. 2016), region-based WT/TC/ET, on BraTS 2020/2021",
        chapter="3",
        dataset="brats",
        quick=BRATS_QUICK,
        full=BRATS_FULL,
        monitor="dice",
        splits=("train", "val"),
    )]
