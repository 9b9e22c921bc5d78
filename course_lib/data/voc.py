"""PASCAL VOC 2012 semantic segmentation: 20 object classes plus background, 255 = void.

Introduced in Chapter 3 (FCN deconvolution, Long, Shelhamer and Darrell, https://arxiv.org/abs/1411.4038).

Official layout (what ``VOCtrainval_11-May-2012.tar`` unpacks to)::

    VOCdevkit/VOC2012/
        JPEGImages/<id>.jpg                   RGB photographs, about 500x375, sizes vary
        SegmentationClass/<id>.png            palette ("P") PNGs: the pixel values are the class indices
        ImageSets/Segmentation/{train,val,trainval}.txt   one id per line (1464 / 1449 / 2913 ids)

Oddities the loader handles: the masks are palette PNGs whose *indices* are the labels (decode them directly,
never by colour); a 5-pixel band of 255 ("void") outlines every object and marks ambiguous regions, and is
ignored by the loss and the metrics; image sizes differ, so evaluation batches need
:func:`course_lib.data.collate.pad_collate`.

``root`` may be ``VOCdevkit/VOC2012``, ``VOCdevkit`` or a folder above ``VOCdevkit`` (up to three levels). Where to
download it, its licence and citation: ``course_lib.data.registry.get("voc")``; the synthetic sample:
:mod:`course_lib.synthetic.voc`.
"""

from __future__ import annotations

import os

from .common import PairedSegmentationDataset, dataset_folder
from .registry import VOC_CLASSES, VOC_PALETTE, get
from .splits import check_inside, read_id_list

__all__ = ["IGNORE_INDEX", "SPLITS", "VOCSegmentation", "VOC_CLASSES", "VOC_PALETTE"]

IGNORE_INDEX: int = get("voc").ignore_index  # 255
SPLITS = ("train", "val", "trainval")


class VOCSegmentation(PairedSegmentationDataset):
    """PASCAL VOC 2012 segmentation: ``(image float32 [3, H, W], mask int64 [H, W])`` pairs, 255 = void.

    Args:
        root: ``VOCdevkit/VOC2012``, ``VOCdevkit`` or a folder above them (up to three levels).
        split: ``"train"``, ``"val"`` or ``"trainval"`` (the list files of ``ImageSets/Segmentation``).
        transforms: a callable ``(tv_tensors.Image, tv_tensors.Mask) -> (image, mask)`` such as
            :class:`course_lib.data.transforms.SegmentationTransforms`; ``None`` only converts and normalises.
        max_items: keep only the first ``max_items`` ids of the list (quick runs).

    Example:
        >>> ds = VOCSegmentation(course_lib.synthetic.voc.write_sample(tmp), "train")  # doctest: +SKIP
        >>> image, mask = ds[0]; image.shape, mask.dtype  # doctest: +SKIP
        (torch.Size([3, 120, 160]), torch.int64)
    """

    classes = VOC_CLASSES
    palette = VOC_PALETTE
    ignore_index = IGNORE_INDEX
    label_modes = ("P", "L")

    def __init__(
        self, root: str | os.PathLike, split: str = "train", transforms=None, max_items: int | None = None
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown VOC split {split!r}; choose one of {SPLITS}")
        folder = dataset_folder("voc", root)
        list_file = folder / "ImageSets" / "Segmentation" / f"{split}.txt"
        if not list_file.is_file():
            present = sorted(p.name for p in list_file.parent.glob("*.txt"))
            raise FileNotFoundError(f"{list_file}: list file of split {split!r} is missing (present: {present})")
        ids = [check_inside(line.split()[0], f"{list_file}: id {line.split()[0]!r}")
               for line in read_id_list(list_file, f"list file of split {split!r}")]
        items = [(folder / "JPEGImages" / f"{i}.jpg", folder / "SegmentationClass" / f"{i}.png") for i in ids]
        self.ids = ids[:max_items] if max_items else ids
        super().__init__(folder, split, items, transforms, max_items)
