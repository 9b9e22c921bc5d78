"""Joint image/mask augmentation for semantic segmentation, built on ``torchvision.transforms.v2``.

Introduced in Chapter 3 (FCN on PASCAL VOC, U-Net on Kvasir-SEG). The image and its mask travel together as
``tv_tensors.Image`` and ``tv_tensors.Mask``, so every geometric step (scale, crop, flip) draws its random parameters
once and applies them to both; torchvision resizes masks with nearest-neighbour interpolation, so no new label values
appear. Photometric steps (colour jitter, normalisation) touch the image only.

- :class:`SegmentationTransforms`: random scale, crop (padding marked void), flip (FCN, SegNet: many classes).
- :class:`KvasirTransforms`: random resized crop and both flips, masks kept binary and, for evaluation, at their
  native resolution (U-Net on polyps).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PIL import Image
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "KvasirTransforms", "RandomScale", "SegmentationTransforms",
           "to_tv_tensors"]

#: ImageNet statistics: every pretrained backbone of the book expects inputs normalised with them.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def to_tv_tensors(image: Any, mask: Any) -> tuple[tv_tensors.Image, tv_tensors.Mask]:
    """Wrap a PIL image / ``uint8`` array / tensor and a mask array / tensor as ``tv_tensors``.

    Args:
        image: a PIL image, an ``[H, W, 3]`` ``uint8`` array, or a ``[3, H, W]`` tensor.
        mask: a PIL ``L``/``P`` image, an ``[H, W]`` integer array or tensor.

    Example:
        >>> img, msk = to_tv_tensors(np.zeros((4, 5, 3), np.uint8), np.zeros((4, 5), np.uint8))
        >>> tuple(img.shape), tuple(msk.shape)
        ((3, 4, 5), (4, 5))
    """
    if not isinstance(image, tv_tensors.Image):
        if isinstance(image, Image.Image):
            image = F.pil_to_tensor(image.convert("RGB"))
        elif isinstance(image, np.ndarray):
            image = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))
        image = tv_tensors.Image(image)
    if not isinstance(mask, tv_tensors.Mask):
        mask = tv_tensors.Mask(torch.as_tensor(np.asarray(mask)))
    return image, mask


class RandomScale(v2.Transform):
    """Resize by a random factor drawn uniformly from ``scale`` (masks with nearest neighbour).

    Unlike ``v2.RandomResize``, the factor is relative to each input's own size, as in the FCN/DeepLab recipes.

    Args:
        scale: ``(min, max)`` factor.

    Example:
        >>> scale = RandomScale((2.0, 2.0))
        >>> img, msk = scale(tv_tensors.Image(torch.zeros(3, 4, 5)), tv_tensors.Mask(torch.zeros(4, 5)))
        >>> tuple(msk.shape)
        (8, 10)
    """

    def __init__(self, scale: tuple[float, float] = (0.5, 2.0)) -> None:
        super().__init__()
        if not 0 < scale[0] <= scale[1]:
            raise ValueError(f"scale must be (min, max) with 0 < min <= max, got {scale}")
        self.scale = tuple(scale)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        height, width = v2.query_size(flat_inputs)
        factor = float(torch.empty(1).uniform_(self.scale[0], self.scale[1]))
        return {"size": [max(1, round(height * factor)), max(1, round(width * factor))]}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        return F.resize(inpt, params["size"], antialias=True)


class SegmentationTransforms:
    """The training or evaluation pipeline of the segmentation chapters, for ``(image, mask)`` pairs.

    Train: random scale, random crop to ``size`` (the image padded with 0, the mask with ``ignore_index`` where the
    scaled image is smaller), horizontal flip, colour jitter (image only), float conversion and ImageNet
    normalisation. Eval: an optional resize to ``size`` (nearest neighbour for the mask) and the same normalisation.

    Args:
        train: training (random) or evaluation (deterministic) pipeline.
        size: ``(height, width)`` of the crop (train) or of the resize (eval); ``None`` keeps the size
            (train: scale and flip only; eval: no resize).
        scale: ``(min, max)`` random scale factor (train only); ``None`` for no scaling.
        hflip: random horizontal flips (train only).
        color_jitter: ``(brightness, contrast, saturation, hue)`` for ``v2.ColorJitter`` (train only), or ``None``.
        ignore_index: the mask value of padded pixels.
        mean, std: normalisation statistics (ImageNet by default).

    Returns (when called with ``image, mask``):
        ``image`` ``float32 [3, H, W]`` normalised and ``mask`` ``int64 [H, W]``, plain tensors.

    Example:
        >>> t = SegmentationTransforms(train=True, size=(64, 64), ignore_index=255)
        >>> x, y = t(np.zeros((50, 80, 3), np.uint8), np.zeros((50, 80), np.uint8))
        >>> x.dtype, tuple(x.shape), y.dtype, tuple(y.shape)
        (torch.float32, (3, 64, 64), torch.int64, (64, 64))
    """

    def __init__(
        self,
        train: bool,
        size: tuple[int, int] | None = None,
        scale: tuple[float, float] | None = (0.5, 2.0),
        hflip: bool = True,
        color_jitter: tuple[float, float, float, float] | None = (0.3, 0.3, 0.3, 0.0),
        ignore_index: int = 255,
        mean: tuple[float, float, float] = IMAGENET_MEAN,
        std: tuple[float, float, float] = IMAGENET_STD,
    ) -> None:
        if size is not None and (len(size) != 2 or min(size) < 1):
            raise ValueError(f"size must be (height, width) of positive ints or None, got {size}")
        self.train = train
        self.size = None if size is None else (int(size[0]), int(size[1]))
        self.ignore_index = ignore_index
        steps: list[v2.Transform] = []
        if train:
            if scale is not None:
                steps.append(RandomScale(scale))
            if self.size is not None:
                fill = {tv_tensors.Image: 0, tv_tensors.Mask: ignore_index}
                steps.append(v2.RandomCrop(self.size, pad_if_needed=True, fill=fill))
            if hflip:
                steps.append(v2.RandomHorizontalFlip(0.5))
            if color_jitter is not None:
                steps.append(v2.ColorJitter(*color_jitter))
        elif self.size is not None:
            steps.append(v2.Resize(self.size, antialias=True))
        steps += [
            v2.ToDtype({tv_tensors.Image: torch.float32, tv_tensors.Mask: torch.int64, "others": None}, scale=True),
            v2.Normalize(mean=list(mean), std=list(std)),
        ]
        self.pipeline = v2.Compose(steps)

    def __call__(self, image: Any, mask: Any) -> tuple[torch.Tensor, torch.Tensor]:
        image, mask = to_tv_tensors(image, mask)
        if image.shape[-2:] != mask.shape[-2:]:
            raise ValueError(f"image {tuple(image.shape)} and mask {tuple(mask.shape)} differ in size")
        image, mask = self.pipeline(image, mask)
        return image.as_subclass(torch.Tensor), mask.as_subclass(torch.Tensor)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(train={self.train}, size={self.size}, pipeline={self.pipeline})"


class KvasirTransforms:
    """Joint image/mask transforms for binary polyp segmentation (``torchvision.transforms.v2``).

    Train: a random resized crop to ``size`` (area ``scale``, aspect ``ratio``), horizontal and vertical flips
    (an endoscope has no "up"), colour jitter on the image. The mask travels as a ``tv_tensors.Mask``, so every
    geometric step uses the same random parameters for both and resizes the mask with nearest-neighbour
    interpolation: it stays binary. Eval: the image is resized to ``size`` (the aspect ratio is not kept, as in
    PraNet, HarDNet-MSEG and TGANet); the mask is resized too, or with ``resize_mask=False`` kept at its native
    resolution so that the predictions are scored at the size the annotators drew (the papers' protocol).

    Args:
        train: random (training) or deterministic (evaluation) pipeline.
        size: ``(height, width)`` given to the network; ``None`` keeps the size (eval only).
        scale: ``(min, max)`` share of the image area kept by the random crop.
        ratio: ``(min, max)`` aspect ratio (width / height) of the random crop.
        hflip, vflip: random flips.
        color_jitter: ``(brightness, contrast, saturation, hue)`` or ``None``.
        resize_mask: eval only: resize the mask with the image (``True``) or keep it native (``False``).
        mean, std: normalisation statistics (ImageNet by default).

    Returns (when called with ``image, mask``):
        ``image`` ``float32 [3, h, w]`` normalised, ``mask`` ``int64 [h, w]`` (or ``[H, W]`` native) in ``{0, 1}``.

    Example:
        >>> t = KvasirTransforms(train=True, size=(64, 64))
        >>> x, y = t(np.zeros((50, 80, 3), np.uint8), np.ones((50, 80), np.uint8))
        >>> tuple(x.shape), tuple(y.shape), y.unique().tolist()
        ((3, 64, 64), (64, 64), [1])
    """

    def __init__(self, train: bool, size: tuple[int, int] | None = (352, 352),
                 scale: tuple[float, float] = (0.5, 1.0), ratio: tuple[float, float] = (0.75, 1.5),
                 hflip: bool = True, vflip: bool = True,
                 color_jitter: tuple[float, float, float, float] | None = (0.2, 0.2, 0.1, 0.02),
                 resize_mask: bool = True, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> None:
        if size is not None and (len(size) != 2 or min(size) < 1):
            raise ValueError(f"size must be (height, width) of positive ints or None, got {size}")
        if train and size is None:
            raise ValueError("the training pipeline needs a size (the random crop is resized to it)")
        self.train, self.resize_mask = train, resize_mask
        self.size = None if size is None else (int(size[0]), int(size[1]))
        geometric: list[v2.Transform] = []
        photometric: list[v2.Transform] = []
        if train:
            geometric.append(v2.RandomResizedCrop(self.size, scale=tuple(scale), ratio=tuple(ratio), antialias=True))
            if hflip:
                geometric.append(v2.RandomHorizontalFlip(0.5))
            if vflip:
                geometric.append(v2.RandomVerticalFlip(0.5))
            if color_jitter is not None:
                photometric.append(v2.ColorJitter(*color_jitter))
        elif self.size is not None:
            geometric.append(v2.Resize(self.size, antialias=True))
        self.geometric = v2.Compose(geometric) if geometric else None
        self.finish = v2.Compose([
            *photometric,
            v2.ToDtype({tv_tensors.Image: torch.float32, tv_tensors.Mask: torch.int64, "others": None}, scale=True),
            v2.Normalize(mean=list(mean), std=list(std)),
        ])

    def __call__(self, image: Any, mask: Any) -> tuple[torch.Tensor, torch.Tensor]:
        image, mask = to_tv_tensors(image, mask)
        if image.shape[-2:] != mask.shape[-2:]:
            raise ValueError(f"image {tuple(image.shape)} and mask {tuple(mask.shape)} differ in size")
        if self.geometric is not None:
            if self.train or self.resize_mask:
                image, mask = self.geometric(image, mask)
            else:
                image = self.geometric(image)
        image, mask = self.finish(image, mask)
        return image.as_subclass(torch.Tensor), mask.as_subclass(torch.Tensor)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(train={self.train}, size={self.size}, resize_mask={self.resize_mask}, "
                f"geometric={self.geometric}, finish={self.finish})")
