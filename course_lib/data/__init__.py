"""Datasets of the course book: loaders of the official layouts, downloads, synthetic samples, augmentation.

Introduced in Chapter 3 (FCN on PASCAL VOC, SegNet on CamVid). Each dataset module documents its official layout,
exposes ``RESOURCES``, ``DOWNLOAD_NOTE``, ``download(root)``, ``find_root(root)`` and ``write_sample(root)``, and
reads the real data and the sample with the same code. ``DATASETS`` names them for scripts and notebooks.

Example:
    >>> from course_lib.data import DATASETS
    >>> spec = DATASETS["camvid"]
    >>> spec.num_classes, spec.ignore_index
    (11, 11)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from . import brats, camvid, common, kvasir, modelnet, transforms, voc
from .camvid import CAMVID_CLASSES, CAMVID_PALETTE, CamVid
from .common import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    class_weights,
    denormalize,
    find_dataset_root,
    label_counts,
    pad_collate,
)
from .kvasir import KVASIR_CLASSES, KVASIR_PALETTE, KvasirSEG
from .modelnet import MODELNET40_CLASSES, ModelNet
from .transforms import SegmentationTransforms
from .voc import VOC_CLASSES, VOC_PALETTE, VOCSegmentation


@dataclass(frozen=True)
class DatasetSpec:
    """What a script needs to know about one dataset: its class, label set and data functions."""

    name: str
    dataset: type
    module: ModuleType
    classes: tuple[str, ...]
    palette: np.ndarray
    ignore_index: int
    folder: str  # its sub-folder of the data root, as ``python data_scripts/download.py`` names it

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def download(self) -> Callable[..., Path]:
        return self.module.download

    @property
    def write_sample(self) -> Callable[..., Path]:
        return self.module.write_sample

    @property
    def find_root(self) -> Callable[..., Path]:
        return self.module.find_root

    @property
    def download_note(self) -> str:
        return self.module.DOWNLOAD_NOTE


DATASETS: dict[str, DatasetSpec] = {
    # ModelNet: shape classification (one label per cloud); no void label
    "modelnet": DatasetSpec("modelnet", ModelNet, modelnet, MODELNET40_CLASSES, modelnet.MODELNET40_PALETTE,
                            modelnet.IGNORE_INDEX, "modelnet"),
    "voc": DatasetSpec("voc", VOCSegmentation, voc, VOC_CLASSES, VOC_PALETTE, voc.IGNORE_INDEX, "voc"),
    "camvid": DatasetSpec("camvid", CamVid, camvid, CAMVID_CLASSES, CAMVID_PALETTE, camvid.IGNORE_INDEX, "camvid"),
    # BraTS: the "classes" are the three evaluated regions (one sigmoid each); there is no void label (-1)
    "brats": DatasetSpec("brats", brats.BratsVolumes, brats, brats.REGIONS, brats.REGION_PALETTE, -1, "brats"),
    # Kvasir-SEG: binary masks (0 background, 1 polyp); no void label, 255 is only used to pad
    "kvasir": DatasetSpec("kvasir", KvasirSEG, kvasir, KVASIR_CLASSES, KVASIR_PALETTE, kvasir.IGNORE_INDEX, "kvasir"),
}

def locate(name: str, data_root: str | Path, profile: str = "quick", verbose: bool = True) -> tuple[Path, bool]:
    """Find dataset ``name`` under ``data_root``, or fall back to its generated sample in the quick profile.

    Looks for the real dataset in ``data_root/<name>`` (where ``data_scripts/download.py`` puts it) and in
    ``data_root`` itself. If it is absent, the quick profile writes (once) and uses the synthetic sample in
    ``data_root/samples/<name>``; the full profile raises ``FileNotFoundError`` with the download instructions.

    Args:
        name: a key of :data:`DATASETS`.
        data_root: the book's data root (``course_lib.setup().data_root``).
        profile: ``"quick"`` or ``"full"``.
        verbose: print loudly which data is used.

    Returns:
        ``(dataset folder, is_sample)``.
    """
    spec = DATASETS[name]
    return common.locate_dataset(name, spec.module, data_root, profile, verbose, folders=(spec.folder,))


__all__ = [
    "locate",
    "MODELNET40_CLASSES",
    "ModelNet",
    "modelnet",
    "brats",
    "CAMVID_CLASSES",
    "CAMVID_PALETTE",
    "DATASETS",
    "DatasetSpec",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "CamVid",
    "SegmentationTransforms",
    "VOCSegmentation",
    "VOC_CLASSES",
    "VOC_PALETTE",
    "camvid",
    "KVASIR_CLASSES",
    "KVASIR_PALETTE",
    "KvasirSEG",
    "kvasir",
    "class_weights",
    "common",
    "denormalize",
    "find_dataset_root",
    "label_counts",
    "pad_collate",
    "transforms",
    "voc",
]
