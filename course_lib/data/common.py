"""Pieces every segmentation dataset shares: the paired image/label dataset, normalisation, class weights.

Introduced in Chapter 3 (FCN on PASCAL VOC) and used by every dataset module of ``course_lib.data``.

Datasets return ``(image, mask)`` tuples: ``image`` a ``torch.float32`` tensor ``[3, H, W]`` normalised with the
ImageNet mean and standard deviation, ``mask`` a ``torch.int64`` tensor ``[H, W]`` of class indices in which the
dataset's ``ignore_index`` marks void pixels.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from ..io.images import check_labels, check_same_size, read_label, read_rgb
from .registry import find_root, get, is_sample_folder
from .transforms import IMAGENET_MEAN, IMAGENET_STD, SegmentationTransforms, to_tv_tensors

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "PairedSegmentationDataset",
    "class_weights",
    "dataset_folder",
    "denormalize",
    "label_counts",
    "normalize",
]


def dataset_folder(name: str, root: str | os.PathLike) -> Path:
    """Dataset ``name``'s own folder at ``root`` or below it (:func:`course_lib.data.registry.find_root`).

    Raises:
        FileNotFoundError: no such folder; the message says what was looked for, how to download the data and how
            to get the synthetic sample instead.

    Example:
        >>> dataset_folder("camvid", "data")  # doctest: +SKIP
        PosixPath('data/camvid/CamVid')
    """
    try:
        return find_root(name, root)
    except FileNotFoundError as err:
        writer = get(name).sample_writer.replace(":", ".")
        raise FileNotFoundError(f"{err} Without the real data, course_lib.datasets.locate({name!r}) writes and "
                                f"uses the synthetic sample ({writer}).") from None


# ----------------------------------------------------------------------------------------------- tensors
def normalize(image: torch.Tensor) -> torch.Tensor:
    """Normalise a float image in ``[0, 1]`` (``[3, H, W]`` or ``[B, 3, H, W]``) with the ImageNet statistics."""
    mean = torch.tensor(IMAGENET_MEAN, dtype=image.dtype, device=image.device).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=image.dtype, device=image.device).view(3, 1, 1)
    return (image - mean) / std


def denormalize(image: torch.Tensor) -> torch.Tensor:
    """Undo the ImageNet normalisation for display: returns values clamped to ``[0, 1]``.

    Args:
        image: a normalised tensor ``[3, H, W]`` or ``[B, 3, H, W]``.

    Example:
        >>> x = torch.zeros(3, 2, 2)  # the mean colour
        >>> denormalize(x)[:, 0, 0]
        tensor([0.4850, 0.4560, 0.4060])
    """
    if image.ndim not in (3, 4) or image.shape[-3] != 3:
        raise ValueError(f"denormalize expects [3, H, W] or [B, 3, H, W], got shape {tuple(image.shape)}")
    image = image.detach().float()
    mean = torch.tensor(IMAGENET_MEAN, device=image.device).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=image.device).view(3, 1, 1)
    return (image * std + mean).clamp(0.0, 1.0)


# ----------------------------------------------------------------------------------------------- class balance
def label_counts(dataset, num_classes: int, ignore_index: int) -> torch.Tensor:
    """Count the pixels of each class in each sample: an ``int64`` tensor ``[len(dataset), num_classes]``.

    Uses ``dataset.load_raw(i)`` (no augmentation) when the dataset has it, else ``dataset[i][1]``.
    Pixels equal to ``ignore_index`` are not counted; any other value outside ``0..num_classes-1`` is an error.

    Args:
        dataset: a dataset returning ``(image, mask)`` or having ``load_raw``.
        num_classes: the number of classes.
        ignore_index: the void label.

    Example:
        >>> counts = label_counts(CamVid(root, "train"), 11, 11)  # doctest: +SKIP
    """
    rows = []
    for i in range(len(dataset)):
        mask = dataset.load_raw(i)[1] if hasattr(dataset, "load_raw") else dataset[i][1]
        mask = torch.as_tensor(np.asarray(mask)).long().flatten()
        mask = mask[mask != ignore_index]
        if mask.numel() and (mask.min() < 0 or mask.max() >= num_classes):
            raise ValueError(f"sample {i}: label values outside 0..{num_classes - 1} (void {ignore_index})")
        rows.append(torch.bincount(mask, minlength=num_classes))
    return torch.stack(rows) if rows else torch.zeros(0, num_classes, dtype=torch.int64)


def class_weights(dataset_or_counts, num_classes: int, ignore_index: int) -> torch.Tensor:
    """Median-frequency balancing weights, as SegNet (after Eigen and Fergus, 2015) uses them.

    ``weight[c] = median(freq) / freq[c]`` where ``freq[c]`` is the number of pixels of class ``c`` divided by the
    number of (non-void) pixels of the images in which ``c`` appears. Classes that never appear get weight 0 and
    are left out of the median.

    Args:
        dataset_or_counts: a dataset (see :func:`label_counts`), per-image counts ``[N, num_classes]`` (the exact
            definition above), or total counts ``[num_classes]`` (then ``freq[c]`` is the share of all pixels).
        num_classes: the number of classes.
        ignore_index: the void label (only used when a dataset is given).

    Returns:
        ``float32`` weights ``[num_classes]`` for ``torch.nn.CrossEntropyLoss(weight=...)``.

    Example:
        >>> class_weights(torch.tensor([50, 25, 25]), 3, 255)
        tensor([0.5000, 1.0000, 1.0000])
    """
    if isinstance(dataset_or_counts, (torch.Tensor, np.ndarray, list, tuple)):
        counts = torch.as_tensor(np.asarray(dataset_or_counts), dtype=torch.float64)
    else:
        counts = label_counts(dataset_or_counts, num_classes, ignore_index).double()
    if counts.ndim not in (1, 2) or counts.shape[-1] != num_classes:
        raise ValueError(
            f"counts must be [num_classes] or [N, num_classes] with num_classes={num_classes}, "
            f"got shape {tuple(counts.shape)}"
        )
    if (counts < 0).any():
        raise ValueError("counts must be non-negative")
    if counts.ndim == 1:
        total = counts.sum()
        freq = counts / total if total > 0 else torch.zeros_like(counts)
    else:
        per_image_total = counts.sum(dim=1, keepdim=True)
        present_total = (per_image_total * (counts > 0)).sum(dim=0)
        freq = torch.where(present_total > 0, counts.sum(dim=0) / present_total.clamp(min=1), 0.0)
    present = freq > 0
    if not present.any():
        raise ValueError("class_weights: no labelled pixels at all")
    median = freq[present].quantile(0.5)  # the average of the two middle values for an even count
    weights = torch.zeros(num_classes, dtype=torch.float64)
    weights[present] = median / freq[present]
    return weights.float()


# ----------------------------------------------------------------------------------------------- datasets
class PairedSegmentationDataset(Dataset):
    """Base class of the image/label-file datasets: subclasses fill ``self.items`` with ``(image, label)`` paths.

    Subclasses set the class attributes ``classes``, ``palette``, ``ignore_index`` (from the dataset's entry in
    :mod:`course_lib.data.registry`) and ``label_modes``.
    ``__getitem__`` returns ``(image float32 [3, H, W] normalised, mask int64 [H, W])``; ``load_raw`` returns the
    files as read (a PIL RGB image and a ``uint8`` array) for plotting.
    """

    classes: tuple[str, ...] = ()
    palette: np.ndarray = np.zeros((0, 3), np.uint8)
    ignore_index: int = 255
    label_modes: tuple[str, ...] = ("L", "P")

    def __init__(
        self, root: Path, split: str, items: list[tuple[Path, Path]], transforms=None, max_items: int | None = None
    ) -> None:
        if max_items is not None:
            if max_items < 1:
                raise ValueError(f"max_items must be positive or None, got {max_items}")
            items = items[:max_items]
        for image_path, label_path in items:
            for path, kind in ((image_path, "image"), (label_path, "label")):
                if not path.is_file():
                    raise FileNotFoundError(f"{path}: {kind} file of split {split!r} is missing (root {root})")
        self.root = root
        self.split = split
        self.items = items
        if transforms is None:
            transforms = SegmentationTransforms(train=False, size=None, ignore_index=self.ignore_index)
        self.transforms = transforms

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def is_sample(self) -> bool:
        """``True`` when the folder holds a synthetic sample (:mod:`course_lib.synthetic`), not the real dataset."""
        return is_sample_folder(self.root)

    def __len__(self) -> int:
        return len(self.items)

    def load_raw(self, index: int) -> tuple[Image.Image, np.ndarray]:
        """The ``index``-th image (PIL, RGB) and mask (``uint8`` ``[H, W]``) as stored, checked for size and labels."""
        image_path, label_path = self.items[index]
        image = read_rgb(image_path)
        mask = read_label(label_path, self.label_modes)
        check_same_size(image, mask, image_path, label_path)
        check_labels(mask, self.num_classes, self.ignore_index, label_path)
        return image, mask

    def __getitem__(self, index: int):
        image, mask = self.transforms(*to_tv_tensors(*self.load_raw(index)))
        if isinstance(image, torch.Tensor):
            image = image.as_subclass(torch.Tensor)
        if isinstance(mask, torch.Tensor):
            mask = mask.as_subclass(torch.Tensor).long()
        return image, mask

    def __repr__(self) -> str:
        kind = "synthetic sample" if self.is_sample else "real data"
        return f"{type(self).__name__}(root={str(self.root)!r}, split={self.split!r}, n={len(self)}, {kind})"
