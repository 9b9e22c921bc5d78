"""Cityscapes (fine annotations) and KITTI semantic segmentation 2015: street scenes in Cityscapes' label ids.

Introduced in Chapter 10 (driving datasets). M. Cordts et al., *The Cityscapes Dataset for Semantic Urban Scene
Understanding*, CVPR 2016 (https://arxiv.org/abs/1604.01685); H. Alhaija et al., *Augmented Reality Meets Computer
Vision*, IJCV 2018 (KITTI semantic, https://arxiv.org/abs/1708.01566).

Official layouts::

    cityscapes/
        leftImg8bit/{train,val,test}/<city>/<city>_<seq>_<frame>_leftImg8bit.png      2048x1024 RGB
        gtFine/{train,val,test}/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png     8-bit label ids 0..33
                                    ..._gtFine_instanceIds.png                     16-bit: id * 1000 + n, else id
                                    ..._gtFine_color.png, ..._gtFine_polygons.json  colours; the annotators' polygons
    data_semantics/
        training/image_2/NNNNNN_10.png   training/semantic/ (label ids)   training/instance/ (16-bit: id * 256 + n)
        testing/image_2/

The pitfall this module exists for: the files hold the **34 label ids**, the benchmark scores **19 train ids**
(:data:`course_lib.data.labels.CITYSCAPES_LABELS`, the table of cityscapesScripts' ``labels.py``); the other 15
ids (``ignoreInEval``) become 255. Training on label ids wastes 15 outputs and scores the wrong classes; submissions
go back to label ids (:data:`~course_lib.data.labels.CITYSCAPES_TRAINID_TO_ID`). Instance ids: ``label id * 1000 +
n`` (n from 0) in Cityscapes, ``label id * 256 + n`` (n from 1, 0 = none) in KITTI. The test split's Cityscapes
labels are placeholders (the benchmark server holds the truth). Where to get both: the registry's ``cityscapes``
and ``kitti_semantic`` entries; samples: :mod:`course_lib.synthetic.driving`.

Example:
    >>> to_train_ids(np.array([[7, 26, 1]], np.uint8)).tolist()
    [[0, 13, 255]]
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..io.images import check_same_size, open_image, read_label, read_rgb
from ..io.jsonfile import read_json
from .cityscapes_panoptic import read_instance_ids
from .common import PairedSegmentationDataset, dataset_folder
from .labels import CITYSCAPES_LABELS
from .registry import get

__all__ = ["Cityscapes", "KittiSemantic", "polygons_to_label_ids", "read_instance_ids", "read_kitti_instances",
           "read_polygons", "to_train_ids"]

_INFO = get("cityscapes")
_LUT = _INFO.label_lut()  # label id -> train id (255 ignored), -1 for values that are no label id
_ID_OF = {name: label_id for name, label_id, *_ in CITYSCAPES_LABELS} | {"license plate": -1}
SPLITS = ("train", "val", "test")


def to_train_ids(label_ids: np.ndarray, path: str | os.PathLike | None = None) -> np.ndarray:
    """Cityscapes label ids (0..33) -> train ids (0..18, 255 = ignored in evaluation), ``uint8``.

    Raises:
        ValueError: a value above 33 (e.g. a train-id or instance-id file passed by mistake); names ``path``.

    Example:
        >>> to_train_ids(np.array([0, 7, 33])).tolist()
        [255, 0, 18]
    """
    label_ids = np.asarray(label_ids)
    if label_ids.size and (label_ids.min() < 0 or label_ids.max() > 33):
        bad = np.unique(label_ids[(label_ids < 0) | (label_ids > 33)]).tolist()
        raise ValueError(f"{path or 'labels'}: values {bad[:10]} are no Cityscapes label ids (0..33); is this a "
                         "trainIds or instanceIds file?")
    return _LUT[label_ids.astype(np.int64)].astype(np.uint8)


def read_polygons(path: str | os.PathLike) -> dict:
    """Read a ``*_gtFine_polygons.json``: ``{"imgHeight", "imgWidth", "objects": [{"label", "polygon"}, ...]}``.

    Checked: the sizes are positive integers; every object has a known label (a Cityscapes name, ``<name>group``
    or ``license plate``) and a polygon of at least one finite ``[x, y]`` pair.

    Raises:
        ValueError: not UTF-8 JSON, or any of the above broken; the message names the file.
    """
    data = read_json(path, "Cityscapes polygon file")
    if not isinstance(data, dict) or not isinstance(data.get("objects"), list):
        raise ValueError(f"{path}: expected an object with imgHeight, imgWidth and a list 'objects'")
    for key in ("imgHeight", "imgWidth"):
        if not isinstance(data.get(key), int) or isinstance(data.get(key), bool) or data[key] < 1:
            raise ValueError(f"{path}: {key} must be a positive integer, got {data.get(key)!r}")
    for k, obj in enumerate(data["objects"]):
        label = obj.get("label") if isinstance(obj, dict) else None
        if not isinstance(label, str) or _base_label(label) not in _ID_OF:
            raise ValueError(f"{path}: object {k} has label {label!r}, which is no Cityscapes label")
        poly = obj.get("polygon")
        if (not isinstance(poly, list) or not poly or not all(
                isinstance(p, list) and len(p) == 2 and all(_finite_number(v) for v in p) for p in poly)):
            raise ValueError(f"{path}: object {k} ({label}) has no polygon of finite [x, y] pairs")
    return data


def _finite_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _base_label(label: str) -> str:
    """``cargroup`` -> ``car``, as json2labelImg does it: only names that are no label themselves (``polegroup``
    is label 18)."""
    if label in _ID_OF or not label.endswith("group"):
        return label
    return label[: -len("group")]


def polygons_to_label_ids(polygons: dict) -> np.ndarray:
    """Rasterise a polygon file (as :func:`read_polygons` returns it) into label ids, ``uint8 [H, W]``.

    As cityscapesScripts' ``json2labelImg`` does it: start from "unlabeled" (0), draw the objects in file order
    (later ones on top), each filled (``ImageDraw.polygon``, no outline); ``<name>group`` draws as ``<name>`` unless
    it is a label itself; objects marked
    ``deleted`` and labels without an id (``license plate``) are skipped.

    Example:
        >>> road = {"label": "road", "polygon": [[0, 2], [5, 2], [5, 3], [0, 3]]}
        >>> p = {"imgHeight": 4, "imgWidth": 6, "objects": [road]}
        >>> polygons_to_label_ids(p)[:, 0].tolist()
        [0, 0, 7, 7]
    """
    canvas = Image.new("L", (polygons["imgWidth"], polygons["imgHeight"]), 0)
    draw = ImageDraw.Draw(canvas)
    for obj in polygons["objects"]:
        label_id = _ID_OF[_base_label(obj["label"])]
        if obj.get("deleted") or label_id < 0:
            continue
        points = [(float(x), float(y)) for x, y in obj["polygon"]]
        if len(points) >= 2:
            draw.polygon(points, fill=label_id)
        else:
            draw.point(points, fill=label_id)
    return np.asarray(canvas, np.uint8).copy()


def read_kitti_instances(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read a KITTI semantic ``instance/*.png`` (16-bit: label id * 256 + n) as (label ids, instance numbers).

    Returns:
        ``uint8 [H, W]`` label ids (the high byte) and ``int64 [H, W]`` instance numbers (the low byte; 0 = none).

    Raises:
        ValueError: not a 16-bit grey PNG, or a label id above 33; the message names the file.
    """
    img = open_image(path, "KITTI instance PNG")
    if img.mode not in ("I;16", "I"):
        raise ValueError(f"{path}: KITTI instance PNG has PIL mode {img.mode!r}, expected 16-bit grey "
                         "(label id * 256 + instance)")
    values = np.asarray(img, dtype=np.int64)
    if values.size and (values.min() < 0 or values.max() >= 34 * 256):
        raise ValueError(f"{path}: values up to {values.max()} hold label ids above 33 (value // 256)")
    return (values // 256).astype(np.uint8), values % 256


class _LabelIdDataset(PairedSegmentationDataset):
    """Label-id files turned into train ids in :meth:`load_raw` (the one place the mapping happens)."""

    classes = _INFO.classes
    palette = _INFO.palette
    ignore_index = 255
    label_modes = ("L", "P")

    def load_stored(self, index: int) -> tuple[Image.Image, np.ndarray]:
        """The picture (PIL RGB) and the label ids as stored (0..33)."""
        image_path, label_path = self.items[index]
        image, stored = read_rgb(image_path), read_label(label_path, self.label_modes)
        check_same_size(image, stored, image_path, label_path)
        return image, stored

    def load_raw(self, index: int) -> tuple[Image.Image, np.ndarray]:
        """The picture (PIL RGB) and its **train ids** (0..18, 255 ignored), ``uint8 [H, W]``."""
        image, stored = self.load_stored(index)
        return image, to_train_ids(stored, self.items[index][1])


class Cityscapes(_LabelIdDataset):
    """Cityscapes fine annotations: ``(image float32 [3, H, W], mask int64 [H, W])``, 19 train ids, 255 ignored.

    Args:
        root: the ``cityscapes`` folder (holding ``leftImg8bit/`` and ``gtFine/``) or a folder up to three above.
        split: ``"train"``, ``"val"`` or ``"test"`` (placeholder labels).
        transforms: ``(tv_tensors.Image, tv_tensors.Mask) -> (image, mask)``, e.g. ``SegmentationTransforms``.
        max_items: keep the first ``max_items`` frames (sorted by city and name).

    Example:
        >>> ds = Cityscapes(course_lib.synthetic.driving.write_cityscapes_sample(tmp), "val")  # doctest: +SKIP
        >>> ds.frame(0)  # doctest: +SKIP
        'frankfurt_000000_000019'
    """

    def __init__(self, root: str | os.PathLike, split: str = "train", transforms=None,
                 max_items: int | None = None) -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown Cityscapes split {split!r}; choose one of {SPLITS}")
        folder = dataset_folder("cityscapes", root)
        images = folder / "leftImg8bit" / split
        if not images.is_dir():
            raise FileNotFoundError(f"{images}: the pictures of split {split!r} are missing (root {folder})")
        items = []
        for picture in sorted(images.glob("*/*_leftImg8bit.png")):
            stem = picture.name[: -len("_leftImg8bit.png")]
            items.append((picture, folder / "gtFine" / split / picture.parent.name / f"{stem}_gtFine_labelIds.png"))
        if not items:
            raise ValueError(f"{images}: no <city>/*_leftImg8bit.png pictures")
        super().__init__(folder, split, items, transforms, max_items)

    def frame(self, index: int) -> str:
        """The frame's name ``<city>_<seq>_<frame>``."""
        return self.items[index][1].name[: -len("_gtFine_labelIds.png")]

    def _sibling(self, index: int, suffix: str) -> Path:
        return self.items[index][1].with_name(f"{self.frame(index)}_gtFine_{suffix}")

    def load_instances(self, index: int) -> np.ndarray:
        """``*_gtFine_instanceIds.png`` as ``int64 [H, W]`` (label id * 1000 + n on instances, else the label id)."""
        return read_instance_ids(self._sibling(index, "instanceIds.png"))

    def load_polygons(self, index: int) -> dict:
        """``*_gtFine_polygons.json`` (see :func:`read_polygons`)."""
        return read_polygons(self._sibling(index, "polygons.json"))


class KittiSemantic(_LabelIdDataset):
    """KITTI semantic segmentation 2015 (``data_semantics``): Cityscapes label ids turned into the 19 train ids.

    Args:
        root: the ``data_semantics`` folder, its ``training`` folder, or a folder up to three above.
        split: ``"train"`` (``training/``; the 200 labelled frames; ``testing/`` has no labels).
        transforms, max_items: as :class:`Cityscapes`.
    """

    def __init__(self, root: str | os.PathLike, split: str = "train", transforms=None,
                 max_items: int | None = None) -> None:
        if split != "train":
            raise ValueError(f"KITTI semantic has labels for split 'train' (training/) only, got {split!r}")
        folder = dataset_folder("kitti_semantic", root)
        images = folder / "training" / "image_2"
        items = [(p, folder / "training" / "semantic" / p.name) for p in sorted(images.glob("*.png"))]
        if not items:
            raise ValueError(f"{images}: no .png frames")
        super().__init__(folder, split, items, transforms, max_items)

    def load_instances(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """``training/instance/<name>`` as (label ids, instance numbers); see :func:`read_kitti_instances`."""
        return read_kitti_instances(self.items[index][1].parent.parent / "instance" / self.items[index][1].name)
