"""Penn-Fudan pedestrians: 170 street photographs with 345 pedestrians as instance masks (torchvision's tutorial set).

Introduced in Chapter 5 (fine-tuning Mask R-CNN). Wang, Shi, Song, Shen, "Object Detection Combining Recognition and
Segmentation", ACCV 2007; https://www.cis.upenn.edu/~jshi/ped_html/.

Official layout (``PennFudanPed.zip``)::

    PennFudanPed/
        PNGImages/FudanPed00001.png ...        RGB photographs (96 PennPed*, 74 FudanPed*)
        PedMasks/FudanPed00001_mask.png ...    8-bit masks: 0 background, k = pixels of pedestrian k (1, 2, ...)
        Annotation/FudanPed00001.txt ...       "PASCAL Annotation Version 1.00" text, CRLF line endings
        added-object-list.txt                  pedestrians added to the masks in the second release

Oddities the loader handles: the text boxes count pixels from ``(1, 1)`` and include both corners
(``(Xmin, Ymin) - (Xmax, Ymax)``), so the XYXY box with exclusive right/bottom edges used everywhere else is
``(Xmin - 1, Ymin - 1, Xmax, Ymax)`` (:meth:`PennFudanAnnotation.boxes_xyxy`); the lines end in CRLF; the masks of the
second release hold pedestrians that the text files do not list, so the targets take instances and boxes from the
masks (as torchvision's tutorial does) and the text is read only to check them. There is no official split:
torchvision's tutorial holds out 50 images; here a seeded hold-out of the same share
(:func:`course_lib.data.splits.permuted_holdout`). Registry entry: ``registry.get("pennfudan")``; the synthetic sample:
:mod:`course_lib.synthetic.pennfudan`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision import tv_tensors

from ..io.images import check_same_size, read_label, read_rgb
from .common import dataset_folder
from .instances import InstanceTransforms, make_target
from .registry import is_sample_folder
from .splits import permuted_holdout

__all__ = ["PennFudan", "PennFudanAnnotation", "parse_annotation"]

#: torchvision's tutorial keeps 50 of the 170 images for testing
VAL_FRACTION = 50 / 170
_SIZE = re.compile(r"^Image size \(X x Y x C\)\s*:\s*(\d+)\s*x\s*(\d+)\s*x\s*(\d+)\s*$")
_NAME = re.compile(r'^Image filename\s*:\s*"([^"]*)"\s*$')
_COUNT = re.compile(r"^Objects with ground truth\s*:\s*(\d+)")
_BOX = re.compile(r'^Bounding box for object (\d+) "[^"]*" \(Xmin, Ymin\) - \(Xmax, Ymax\)\s*:\s*'
                  r"\((-?\d+),\s*(-?\d+)\)\s*-\s*\((-?\d+),\s*(-?\d+)\)\s*$")


@dataclass(frozen=True)
class PennFudanAnnotation:
    """One Penn-Fudan annotation file.

    Attributes:
        filename: the image's path as written (``PennFudanPed/PNGImages/<name>.png``).
        size: ``(width, height, channels)``.
        boxes: ``(Xmin, Ymin, Xmax, Ymax)`` per object, as written: 1-based, both corners inside the box.
    """

    filename: str
    size: tuple[int, int, int]
    boxes: tuple[tuple[int, int, int, int], ...]

    def boxes_xyxy(self) -> np.ndarray:
        """``float32 [N, 4]`` boxes, 0-based with exclusive right/bottom edges: ``(Xmin-1, Ymin-1, Xmax, Ymax)``.

        Example:
            >>> PennFudanAnnotation("a.png", (9, 9, 3), ((1, 1, 3, 2),)).boxes_xyxy().tolist()
            [[0.0, 0.0, 3.0, 2.0]]
        """
        b = np.asarray(self.boxes, np.float32).reshape(-1, 4)
        return b - np.array([1, 1, 0, 0], np.float32)


def parse_annotation(path: str | os.PathLike) -> PennFudanAnnotation:
    """Read a Penn-Fudan ``Annotation/*.txt`` file (CRLF or LF lines).

    Raises:
        ValueError: naming the file: not UTF-8, no image size or file name, an object count that differs from the
            boxes listed, objects not numbered 1..N, or a box outside the image or with its corners swapped.
        OSError: the file cannot be read.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"{path}: is a folder, expected a Penn-Fudan annotation file") from None
    size = name = count = None
    boxes: dict[int, tuple[int, int, int, int]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if (m := _SIZE.match(line)) is not None:
            size = tuple(int(v) for v in m.groups())
        elif (m := _NAME.match(line)) is not None:
            name = m.group(1)
        elif (m := _COUNT.match(line)) is not None:
            count = int(m.group(1))
        elif (m := _BOX.match(line)) is not None:
            k, *box = (int(v) for v in m.groups())
            if k in boxes:
                raise ValueError(f"{path}: line {number}: object {k} has a second bounding box")
            boxes[k] = tuple(box)
        elif line.startswith("Bounding box"):
            raise ValueError(f"{path}: line {number}: cannot read the bounding box {line!r}")
    if size is None or name is None or count is None:
        missing = [w for w, v in (("image size", size), ("image filename", name), ("object count", count)) if v is None]
        raise ValueError(f"{path}: not a Penn-Fudan annotation (no {', '.join(missing)} line)")
    if sorted(boxes) != list(range(1, count + 1)):
        raise ValueError(f"{path}: says {count} objects but has boxes for objects {sorted(boxes)}")
    width, height, _ = size
    if width < 1 or height < 1:
        raise ValueError(f"{path}: image size {width}x{height} is empty")
    for k, (x0, y0, x1, y1) in boxes.items():
        if not (1 <= x0 <= x1 <= width and 1 <= y0 <= y1 <= height):
            raise ValueError(f"{path}: box of object {k} ({x0}, {y0}) - ({x1}, {y1}) is not inside the "
                             f"{width}x{height} image counted from (1, 1)")
    return PennFudanAnnotation(name, size, tuple(boxes[k] for k in sorted(boxes)))


class PennFudan(Dataset):
    """Penn-Fudan as ``(image, target)`` pairs in torchvision's detection format (:mod:`.instances`).

    Args:
        root: the ``PennFudanPed`` folder or a folder up to two levels above it.
        split: ``"train"``, ``"val"`` (the seeded hold-out of :data:`VAL_FRACTION`) or ``"all"``.
        transforms: ``(image, target) -> (image, target)``; default: evaluation transforms at full size.
        max_items: keep only the first this many images of the split.
        seed: seed of the hold-out.

    Attributes:
        ids: image names (without ``.png``) of the split. ``classes``: ``("background", "pedestrian")``.
        protocol: how the split was chosen.

    Example:
        >>> ds = PennFudan("/work/shared/data/pennfudan", "all")  # doctest: +SKIP
        >>> image, target = ds[0]; target["boxes"].tolist()  # doctest: +SKIP
        [[96.0, 134.0, 182.0, 418.0], [286.0, 113.0, 358.0, 332.0], [363.0, 120.0, 437.0, 329.0]]
    """

    classes = ("background", "pedestrian")

    def __init__(self, root: str | os.PathLike, split: str = "train", transforms=None, *,
                 max_items: int | None = None, seed: int = 0) -> None:
        if split not in ("train", "val", "all"):
            raise ValueError(f"unknown Penn-Fudan split {split!r}; choose 'train', 'val' or 'all'")
        self.root = dataset_folder("pennfudan", root)
        images = {p.stem: p for p in sorted((self.root / "PNGImages").glob("*.png")) if not p.name.startswith(".")}
        masks = {p.name[: -len("_mask.png")]: p for p in sorted((self.root / "PedMasks").glob("*_mask.png"))}
        lonely = sorted(set(images) ^ set(masks))
        if lonely:
            k = lonely[0]
            raise ValueError(f"{images[k] if k in images else masks[k]}: has no "
                             f"{'mask in PedMasks/' if k in images else 'image in PNGImages/'} ({len(lonely)} "
                             "unpaired files)")
        if not images:
            raise FileNotFoundError(f"{self.root / 'PNGImages'}: no PNG images")
        names = sorted(images)
        if split == "all":
            chosen, self.protocol = names, f"all {len(names)} images"
        else:
            if len(names) < 2:
                raise ValueError(f"{self.root}: a train/val split needs at least 2 images, found {len(names)}")
            held = permuted_holdout(names, VAL_FRACTION, seed)
            chosen = [n for n in names if (n in held) == (split == "val")]
            self.protocol = (f"seeded hold-out (seed {seed}): {len(held)} of {len(names)} images for val, as the "
                             f"50 of 170 of torchvision's tutorial; {split}: {len(chosen)} images")
        self.ids = chosen[:max_items] if max_items else chosen
        self.split, self.seed = split, seed
        self._files = {k: (images[k], masks[k]) for k in self.ids}
        self.transforms = transforms or InstanceTransforms(train=False)
        self.is_sample = is_sample_folder(self.root)

    def __len__(self) -> int:
        return len(self.ids)

    def annotation(self, index: int) -> PennFudanAnnotation | None:
        """The parsed ``Annotation/<name>.txt`` of the ``index``-th image, or ``None`` when there is none."""
        path = self.root / "Annotation" / f"{self.ids[index]}.txt"
        return parse_annotation(path) if path.is_file() else None

    def load_raw(self, index: int) -> tuple[Image.Image, dict[str, Any]]:
        """The ``index``-th image (PIL, RGB) and its untransformed target (instances from the mask's ids)."""
        image_path, mask_path = self._files[self.ids[index]]
        image = read_rgb(image_path)
        ids_map = read_label(mask_path)
        check_same_size(image, ids_map, image_path, mask_path)
        values = [int(v) for v in np.unique(ids_map) if v != 0]
        masks = (ids_map[None] == np.asarray(values, np.uint8)[:, None, None]).astype(np.uint8) if values else \
            np.zeros((0, *ids_map.shape), np.uint8)
        return image, make_target(masks, [1] * len(values), image_id=index)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, Any]]:
        image, target = self.load_raw(index)
        return self.transforms(tv_tensors.Image(torch.from_numpy(np.asarray(image).transpose(2, 0, 1).copy())),
                               target)

    def __repr__(self) -> str:
        kind = "synthetic sample" if self.is_sample else "real data"
        return f"PennFudan(root={str(self.root)!r}, split={self.split!r}, n={len(self)}, {kind})"
