"""Matting recipes (Chapter 2): ``dim-composition1k`` (Deep Image Matting) and ``modnet-composition1k`` (MODNet).

Both train on Adobe Composition-1k (:class:`course_lib.data.matting.Composition1k`: training foregrounds composited
over their backgrounds on the fly, DIM's random crops centred on unknown pixels, trimaps made from the alpha with a
random width) through the shared loop (:meth:`Recipe.train`). A batch reaches the network as one tensor: the
image and trimap concatenated (4 channels) for DIM, the image alone for trimap-free MODNet
(:class:`MattingCollate`); the loss receives the alpha, the trimap, the image and, where the item has them, the
true foreground and background (:class:`course_lib.losses.DIMLoss`, :class:`course_lib.losses.MODNetLoss`).

Evaluation protocol (:meth:`MattingRecipe.evaluate`): every image at its native size, padded by reflection to a
multiple of 32 and the prediction cropped back (:func:`predict_alpha`); for DIM the trimap's known pixels are
copied into the prediction (0 in the background, 1 in the foreground), as the papers' evaluation does; the errors
SAD, MSE, Grad and Conn of :class:`course_lib.metrics.matting.MattingMeter` (the DIM MATLAB definitions over the
trimap's unknown region; SAD/1000, MSE, Grad/1000, Conn/1000 as the papers print them), averaged over the images.
``best.pt`` is the epoch with the lowest SAD (``monitor_mode="min"``). Split ``val`` holds out training
foregrounds; ``test`` is ``Composition-1k-testset`` (``python -m course_lib.evaluate ... --split test``). Under
``torchrun`` every process scores every image (the numbers are the same on all of them).

``full`` (the papers' settings; departures listed):

- DIM (arXiv 1703.03872, Sec. 4): the paper's network (VGG16 encoder from ImageNet weights through torchvision,
  trimap channel zero-initialised, fc6 7x7x4096, unpooling decoder, refinement; 130.6 M parameters), 320x320
  crops taken at 320/480/640 and resized, Adam at 1e-5, batch 16 (the paper gives no batch size). Departures: the
  paper trains the encoder-decoder first, then the refinement alone, then both; here both train together from the
  start (the refinement's last layer starts at zero, so it begins as the identity) with the refinement's
  alpha-prediction loss added to the encoder-decoder's loss; 20 epochs of the 43 100 composites (the paper states
  no iteration count).
- MODNet (arXiv 2011.11961; the official ``src/trainer.py``): SGD with momentum 0.9, learning rate 0.01 divided
  by 10 every 10 of 40 epochs (the ``step`` schedule), batch 16, loss weights 10 / 10 / 1, 512x512 inputs (the
  trainer's example rescales to 512), 6.5 M parameters. Departures:
  MODNet's MobileNetV2 starts from ImageNet weights (torchvision), not from the authors' human-segmentation
  weights; it trains on Composition-1k (all kinds of foregrounds) rather than on the authors' portrait set, on
  DIM-style random crops (512, 768 or 1024 pixels resized to 512) rather than whole rescaled pictures, and is
  scored with the Composition-1k trimaps.

``quick``: what a 2-core CPU affords on the synthetic sample in well under 20 s per recipe: 6 epochs of 48
composites (72 steps of 4) at 64x64, narrow networks trained from scratch (DIM: width 8 with BatchNorm, 0.5 M
parameters; MODNet: MobileNetV2 at width 0.25 with 8 high-resolution channels, 0.4 M), Adam at 3e-3 with the poly
schedule, validation on 8 held-out composites. It shows the pipeline working; the errors of a network trained
this little on seven synthetic foregrounds stay close to those of the trimap itself taken as the matte (0.5 in the
unknown band).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset, default_collate
from tqdm.auto import tqdm

from .. import distributed as D
from .. import inference
from ..config import get_device
from ..data.matting import Composition1k
from ..losses.matting import DIMLoss, MODNetLoss
from ..metrics.matting import MattingMeter
from ..models.dim import dim_vgg16
from ..models.modnet import modnet
from .base import Recipe
from .config import RecipeConfig
from .fcn import vgg16_weight_folders

__all__ = ["DIM_FULL", "DIM_QUICK", "MODNET_FULL", "MODNET_QUICK", "MattingCollate", "MattingConfig",
           "MattingRecipe", "matting_recipes", "predict_alpha"]

TARGET_KEYS = ("image", "trimap", "alpha", "fg", "bg")


@dataclass(frozen=True)
class MattingConfig(RecipeConfig):
    """The settings of the matting recipes (the shared ones are documented in :class:`RecipeConfig`).

    Args:
        width: DIM: channels of the first VGG16 stage (64 in the paper); every layer scales with ``width / 64``.
        fc6_channels: DIM: channels of the convolutional fc6 (4096 in the paper; ``None``: ``4096 * width / 64``).
        batch_norm: DIM: BatchNorm after every encoder-decoder convolution (not in the paper).
        refine: DIM: the refinement stage.
        width_mult: MODNet: MobileNetV2 width multiplier (1.0 in the paper).
        hr_channels: MODNet: channels of the high-resolution and fusion branches (32 in the official code).
        pretrained_backbone: start from ImageNet weights (DIM: VGG16, looked for in ``<data root>/weights`` and
            torch hub's cache, else fetched through torchvision's weight API; MODNet: MobileNetV2 through the API);
            offline the network starts from scratch and says so. Needs ``width=64`` / ``width_mult=1``.
        crop_size: side of the square training crops (DIM 320, MODNet 512).
        trimap_width: inclusive range of the trimap band width (pixels) drawn per training item and for the
            validation trimaps.
        max_val_items: validate on the first this many images only (``None``: all).
        alpha_weight: DIM's ``w_l`` between the alpha-prediction and the compositional loss (0.5).
        refine_weight: weight of the refinement stage's alpha-prediction loss (DIM).
        semantic_weight: MODNet's weight of the semantic loss (10 in the official code).
        detail_weight: MODNet's weight of the detail loss (10 in the official code).
        fusion_weight: MODNet's weight of the fusion loss (1 in the official code).
        composition: MODNet's compositional term: ``fg_bg`` (the true foreground and background), ``image`` (the
            official code's ``image * alpha``) or ``none``.
    """

    width: int = 64
    fc6_channels: int | None = None
    batch_norm: bool = False
    refine: bool = True
    width_mult: float = 1.0
    hr_channels: int = 32
    pretrained_backbone: bool = False
    crop_size: int = 320
    trimap_width: tuple[int, int] = (1, 30)
    max_val_items: int | None = None
    alpha_weight: float = 0.5
    refine_weight: float = 1.0
    semantic_weight: float = 10.0
    detail_weight: float = 10.0
    fusion_weight: float = 1.0
    composition: str = "fg_bg"


DIM_FULL = MattingConfig(
    profile="full", width=64, batch_norm=False, refine=True, pretrained_backbone=True, crop_size=320,
    trimap_width=(1, 30), batch_size=16, epochs=20, optimizer="adam", lr=1e-5, schedule="constant", num_workers=4)
DIM_QUICK = MattingConfig(
    profile="quick", width=8, fc6_channels=32, batch_norm=True, refine=True, crop_size=64, trimap_width=(2, 8),
    batch_size=4, epochs=6, max_items=48, optimizer="adam", lr=3e-3, schedule="poly", max_val_items=8)
MODNET_FULL = MattingConfig(
    profile="full", width_mult=1.0, hr_channels=32, pretrained_backbone=True, crop_size=512, trimap_width=(1, 30),
    batch_size=16, epochs=40, optimizer="sgd", lr=0.01, momentum=0.9, schedule="step", num_workers=4)
MODNET_QUICK = MattingConfig(
    profile="quick", width_mult=0.25, hr_channels=8, crop_size=64, trimap_width=(2, 8), batch_size=4, epochs=6,
    max_items=48, optimizer="adam", lr=3e-3, schedule="poly", max_val_items=8)


@dataclass(frozen=True)
class MattingCollate:
    """Batch matting items (dicts) into ``(inputs, targets)`` for the shared training loop.

    ``inputs``: ``cat(image, trimap)`` ``[N, 4, H, W]`` when ``trimap_input`` (DIM), else the image ``[N, 3, H, W]``
    (MODNet). ``targets``: a dict with ``image``, ``trimap``, ``alpha`` and ``fg``/``bg`` when every item has them.

    Example:
        >>> item = {"image": torch.zeros(3, 4, 4), "trimap": torch.ones(1, 4, 4), "alpha": torch.ones(1, 4, 4),
        ...         "name": "a"}
        >>> x, t = MattingCollate(trimap_input=True)([item, item])
        >>> tuple(x.shape), sorted(t)
        ((2, 4, 4, 4), ['alpha', 'image', 'trimap'])
    """

    trimap_input: bool = True

    def __call__(self, items: list[dict]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        keys = [k for k in TARGET_KEYS if all(k in item for item in items)]
        missing = {"image", "trimap", "alpha"} - set(keys)
        if missing:
            raise KeyError(f"matting items need image, trimap and alpha; missing {sorted(missing)}")
        if ("fg" in keys) != ("bg" in keys):
            keys = [k for k in keys if k not in ("fg", "bg")]
        targets = default_collate([{k: item[k] for k in keys} for item in items])
        inputs = torch.cat([targets["image"], targets["trimap"]], 1) if self.trimap_input else targets["image"]
        return inputs, targets


def _reflect_pad(x: torch.Tensor, multiple: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    ph, pw = -h % multiple, -w % multiple
    if not ph and not pw:
        return x
    mode = "reflect" if ph < h and pw < w else "replicate"  # reflection needs more pixels than it pads
    return F.pad(x, (0, pw, 0, ph), mode=mode)


def predict_alpha(model: nn.Module, image: torch.Tensor, trimap: torch.Tensor | None = None, *, multiple: int = 32,
                  amp: bool = True) -> torch.Tensor:
    """The alpha matte a matting network predicts for ``image`` at its native size.

    The image (and trimap) are padded on the right and bottom by reflection to a multiple of ``multiple`` (32: the
    networks' total stride), the prediction is cropped back, and for a trimap-based model (``model.uses_trimap``,
    DIM) the trimap's known pixels are copied into it: 0 where the trimap says background, 1 where it says
    foreground, as the papers' evaluation does (their errors count the unknown region only, so this changes the
    picture, not the scores). A trimap-free model (MODNet) ignores ``trimap``. The network runs under
    :func:`course_lib.inference.predict` (eval mode, no gradients).

    Args:
        model: returns a dict with ``"alpha"`` (DIM, MODNet) or an alpha tensor.
        image: ``[3, H, W]`` or ``[N, 3, H, W]`` in ``[0, 1]``.
        trimap: ``[1, H, W]``/``[H, W]`` (or ``[N, 1, H, W]``) with 0 / 0.5 / 1 (``uint8`` 0 / 128 / 255 accepted);
            required for a trimap-based model.
        multiple: pad to a multiple of this.
        amp: mixed precision on a GPU.

    Returns:
        ``[1, H, W]`` (or ``[N, 1, H, W]`` for a batch) float32 in ``[0, 1]``.

    Example:
        >>> from course_lib.models.modnet import modnet
        >>> predict_alpha(modnet(width_mult=0.25, hr_channels=8), torch.rand(3, 40, 50)).shape
        torch.Size([1, 40, 50])
    """
    single = image.dim() == 3
    images = image[None] if single else image
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"predict_alpha expects an image [3, H, W] or [N, 3, H, W], got {tuple(image.shape)}")
    uses_trimap = getattr(model, "uses_trimap", False)
    trimaps = None
    if trimap is not None:
        t = trimap.float() / 255.0 if trimap.dtype == torch.uint8 else trimap.float()
        t = t.reshape(images.shape[0], 1, *t.shape[-2:]) if t.dim() < 4 else t
        if t.shape[-2:] != images.shape[-2:] or t.shape[0] != images.shape[0]:
            raise ValueError(f"trimap {tuple(trimap.shape)} does not fit image {tuple(image.shape)}")
        trimaps = t.to(images.device)
    elif uses_trimap:
        raise ValueError(f"{type(model).__name__} needs a trimap")
    h, w = images.shape[-2:]
    padded = _reflect_pad(images.float(), multiple)
    if uses_trimap:
        out = inference.predict(model, padded, _reflect_pad(trimaps, multiple), amp=amp)
    else:
        out = inference.predict(model, padded, amp=amp)
    alpha = (out["alpha"] if isinstance(out, dict) else out)[..., :h, :w].clamp(0, 1)
    if uses_trimap:
        alpha = torch.where(trimaps > 0.75, torch.ones_like(alpha), torch.where(trimaps < 0.25, 0.0, alpha))
    return alpha[0] if single else alpha


@dataclass
class MattingRecipe(Recipe):
    """Recipes that train a matting network on Composition-1k (see the module docstring).

    Args (beyond :class:`Recipe`):
        arch: ``"dim"`` or ``"modnet"``.
    """

    arch: str = "dim"
    monitor: str = "sad"
    monitor_mode: str = "min"
    splits: tuple[str, ...] = ("train", "val", "test")

    def build_model(self, cfg: MattingConfig) -> nn.Module:
        if self.arch == "dim":
            return dim_vgg16(weights="imagenet" if cfg.pretrained_backbone else None, width=cfg.width,
                             refine=cfg.refine, fc6_channels=cfg.fc6_channels, batch_norm=cfg.batch_norm,
                             weight_folders=vgg16_weight_folders() if cfg.pretrained_backbone else ())
        if self.arch == "modnet":
            return modnet(weights="imagenet" if cfg.pretrained_backbone else None, width_mult=cfg.width_mult,
                          hr_channels=cfg.hr_channels)
        raise ValueError(f"recipe {self.name!r}: unknown arch {self.arch!r} (dim or modnet)")

    def build_dataset(self, data_root: Path, split: str, cfg: MattingConfig, train: bool) -> Dataset:
        limit = cfg.max_items if train else cfg.max_val_items
        return Composition1k(data_root, split, crop_size=cfg.crop_size, max_items=limit, seed=cfg.seed,
                             trimap_width=tuple(cfg.trimap_width), flip=train)

    def collate_fn(self, cfg: MattingConfig) -> Callable:
        return MattingCollate(trimap_input=self.arch == "dim")

    def build_loss(self, cfg: MattingConfig, train_set: Dataset) -> Callable:
        if self.arch == "dim":
            return DIMLoss(alpha_weight=cfg.alpha_weight, refine_weight=cfg.refine_weight if cfg.refine else 0.0)
        return MODNetLoss(cfg.semantic_weight, cfg.detail_weight, cfg.fusion_weight, composition=cfg.composition)

    def score(self, model: nn.Module, dataset: Dataset, cfg: MattingConfig, device: torch.device | None = None,
              progress: bool = True) -> MattingMeter:
        """Predict every image of ``dataset`` at native size (:func:`predict_alpha`) and return the meter (it keeps
        the per-image errors, named, in dataset order)."""
        device = device or get_device()
        model.to(device)
        meter = MattingMeter()
        for i in tqdm(range(len(dataset)), desc="evaluate", leave=False,
                      disable=not (progress and D.is_main_process())):
            item = dataset[i]
            pred = predict_alpha(model, item["image"].to(device), item["trimap"].to(device), amp=cfg.amp)
            meter.update(pred[0].cpu(), item["alpha"][0], item["trimap"][0], name=item.get("name", str(i)))
        return meter

    def evaluate(self, model: nn.Module, dataset: Dataset, cfg: MattingConfig, device: torch.device | None = None,
                 progress: bool = True) -> dict[str, float]:
        """Mean SAD/1000, MSE, Grad/1000 and Conn/1000 over the images (the DIM protocol, see the module docstring);
        ``images``: how many were scored."""
        return self.score(model, dataset, cfg, device, progress).compute()


def matting_recipes() -> list[MattingRecipe]:
    """The two matting recipes of Chapter 2."""
    return [
        MattingRecipe(
            name="dim-composition1k",
            description="Deep Image Matting (Xu et al. 2017): VGG16 encoder, unpooling decoder, refinement; "
                        "Composition-1k, SAD/MSE/Grad/Conn",
            chapter="2", dataset="composition1k", quick=DIM_QUICK, full=DIM_FULL, arch="dim"),
        MattingRecipe(
            name="modnet-composition1k",
            description="MODNet (Ke et al. 2022): trimap-free, semantic/detail/fusion branches; Composition-1k, "
                        "SAD/MSE/Grad/Conn",
            chapter="2", dataset="composition1k", quick=MODNET_QUICK, full=MODNET_FULL, arch="modnet"),
    ]
