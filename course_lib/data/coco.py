"""MS COCO instance segmentation: the official ``instances_*.json`` layout through ``pycocotools``.

Introduced in Chapter 5 (Mask R-CNN, YOLACT; mask AP) and reused by Chapter 11. Lin et al., "Microsoft COCO: Common
Objects in Context", ECCV 2014, https://arxiv.org/abs/1405.0312. Needs ``pycocotools`` (the ``instance`` extra),
imported on first use.

Official layout (``annotations_trainval2017.zip``, ``{train,val}2017.zip`` from https://cocodataset.org)::

    <root>/
        annotations/instances_train2017.json   {"images", "annotations", "categories", "info", "licenses"}
        annotations/instances_val2017.json
        train2017/000000xxxxxx.jpg             118 287 images
        val2017/000000xxxxxx.jpg               5 000 images

Each annotation holds ``image_id``, ``category_id`` (1..90 with gaps), ``bbox`` ``[x, y, w, h]``, ``area``,
``iscrowd`` and a ``segmentation`` in one of three forms, all decoded by :func:`annotation_mask`:

* a list of polygons ``[[x1, y1, x2, y2, ...], ...]`` (single objects, ``iscrowd=0``);
* uncompressed RLE ``{"size": [h, w], "counts": [run, run, ...]}`` (crowds in the official files: runs of 0 then 1
  in column-major order, starting with a run of 0);
* compressed RLE ``{"size": [h, w], "counts": "string"}`` (the results format; pycocotools' own encoding).

What the loader does about the real data: crowd regions (``iscrowd=1``) are left out of training targets by default
(they are ignore regions of the metric, not objects); images without any annotation are kept and give an empty
target (``skip_empty=True`` drops them, as torchvision's reference scripts do); images named in the JSON but not on
disk (a partial copy) are skipped and counted in ``dataset.missing``. Bad JSON is an error naming the file and the
entry (:func:`read_instances`). Where to download, the terms and the citation: ``registry.get("coco")``; the
synthetic sample: :mod:`course_lib.synthetic.coco`.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision import tv_tensors

from ..io.images import read_rgb
from ..io.jsonfile import read_json
from ..io.rle import counts_from_string
from .common import dataset_folder
from .instances import InstanceTransforms, make_target
from .registry import is_sample_folder
from .splits import check_inside

if TYPE_CHECKING:
    from pycocotools.coco import COCO

__all__ = ["CocoInstances", "annotation_mask", "check_rle", "load_coco", "read_instances"]


# ----------------------------------------------------------------------------------------------- RLE
def check_rle(rle: Any, height: int | None = None, width: int | None = None) -> dict:
    """Check an RLE mask (compressed or not) and return it in pycocotools' compressed form.

    Args:
        rle: ``{"size": [h, w], "counts": str | list[int]}``.
        height, width: the image's size, when known: ``size`` must equal it.

    Raises:
        ValueError: not a dict with ``size`` and ``counts``, a size that is not two non-negative integers or differs
            from the image, counts with negative runs, foreign characters, or runs that do not add up to ``h * w``.

    Example:
        >>> check_rle({"size": [2, 3], "counts": [1, 4, 1]})["counts"]
        b'141'
        >>> check_rle({"size": [2, 3], "counts": [1, 4]})
        Traceback (most recent call last):
        ...
        ValueError: RLE runs add up to 5 pixels, but size [2, 3] has 6
    """
    if not isinstance(rle, dict) or "size" not in rle or "counts" not in rle:
        raise ValueError(f"RLE must be a dict with 'size' and 'counts', got {str(rle)[:60]}")
    size = rle["size"]
    if (not isinstance(size, list | tuple) or len(size) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in size)):
        raise ValueError(f"RLE size must be [height, width] of non-negative integers, got {size!r}")
    h, w = size
    if height is not None and (h, w) != (height, width):
        raise ValueError(f"RLE size [{h}, {w}] differs from the image's {height}x{width} (HxW)")
    counts = rle["counts"]
    if isinstance(counts, bytes):
        try:
            counts = counts.decode("ascii")
        except UnicodeDecodeError:
            raise ValueError("RLE counts bytes are not ASCII") from None
    if isinstance(counts, str):
        runs = counts_from_string(counts, "RLE counts")
    elif isinstance(counts, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in counts):
        runs = counts
    else:
        raise ValueError("RLE counts must be a string (compressed) or a list of integers (uncompressed)")
    if any(v < 0 for v in runs):
        raise ValueError("RLE counts hold a negative run length")
    if sum(runs) != h * w:
        raise ValueError(f"RLE runs add up to {sum(runs)} pixels, but size [{h}, {w}] has {h * w}")
    if isinstance(counts, str):
        return {"size": [h, w], "counts": counts.encode("ascii")}
    from pycocotools import mask as mask_utils  # imported on use: course_lib.data imports without pycocotools

    return mask_utils.frPyObjects({"size": [h, w], "counts": list(runs)}, h, w)


def annotation_mask(segmentation: Any, height: int, width: int) -> np.ndarray:
    """The ``uint8 [height, width]`` mask of a COCO segmentation: polygons, uncompressed or compressed RLE.

    Example:
        >>> annotation_mask({"size": [2, 3], "counts": [1, 4, 1]}, 2, 3).tolist()  # runs down the columns
        [[0, 1, 1], [1, 1, 0]]
    """
    from pycocotools import mask as mask_utils

    if isinstance(segmentation, list):
        if not segmentation:
            return np.zeros((height, width), np.uint8)
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    else:
        rle = check_rle(segmentation, height, width)
    return mask_utils.decode(rle).astype(np.uint8)


# ----------------------------------------------------------------------------------------------- the JSON
def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_annotation(ann: Any, images: dict[int, dict], categories: set[int]) -> str | None:
    """What is wrong with one annotation, or ``None``."""
    if not isinstance(ann, dict):
        return "is not an object"
    for key in ("image_id", "category_id"):
        if not _whole(ann.get(key)):
            return f"{key} must be an integer, got {ann.get(key)!r}"
    if ann["image_id"] not in images:
        return f"image_id {ann['image_id']} is not among the images"
    if ann["category_id"] not in categories:
        return f"category_id {ann['category_id']} is not among the categories"
    if ann.get("iscrowd", 0) not in (0, 1) or isinstance(ann.get("iscrowd", 0), bool):
        return f"iscrowd must be 0 or 1, got {ann.get('iscrowd')!r}"
    bbox = ann.get("bbox")
    if bbox is not None and (not isinstance(bbox, list) or len(bbox) != 4 or not all(map(_number, bbox))
                             or bbox[2] < 0 or bbox[3] < 0):
        return f"bbox must be [x, y, w, h] of finite numbers with w, h >= 0, got {bbox!r}"
    if "area" in ann and (not _number(ann["area"]) or ann["area"] < 0):
        return f"area must be a finite number >= 0, got {ann['area']!r}"
    seg = ann.get("segmentation")
    image = images[ann["image_id"]]
    if isinstance(seg, list):
        for poly in seg:
            try:  # one NumPy conversion per polygon: fast enough for the 860k annotations of train2017
                xy = np.asarray(poly, dtype=np.float64) if isinstance(poly, list) else None
            except (TypeError, ValueError):
                xy = None
            if xy is None or xy.ndim != 1 or len(xy) < 6 or len(xy) % 2 or not np.isfinite(xy).all():
                return "a polygon must be a list of at least 3 finite (x, y) pairs"
    else:
        try:
            check_rle(seg, image["height"], image["width"])
        except ValueError as err:
            return f"segmentation: {err}"
    return None


def read_instances(path: str | os.PathLike) -> dict:
    """Read and check a COCO instances JSON (``instances_*.json``); returns the parsed dict.

    Checks what later code relies on: the three lists, unique integer ids, image sizes and file names that stay
    inside the image folder, and for every annotation an existing image and category, a valid crowd flag, box,
    area and segmentation (polygons of at least three points; RLE whose size is the image's and whose runs cover
    it).

    Raises:
        ValueError: naming the file and the first bad entry (its list index and id).
        OSError: the file cannot be read.
    """
    path = Path(path)
    data = read_json(path, "COCO instances file")
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in ("images", "categories",
                                                                                       "annotations")):
        raise ValueError(f"{path}: not a COCO instances file (needs the lists 'images', 'annotations' and "
                         "'categories')")
    images: dict[int, dict] = {}
    for i, im in enumerate(data["images"]):
        if not isinstance(im, dict) or not _whole(im.get("id")):
            raise ValueError(f"{path}: images[{i}] has no integer id")
        if im["id"] in images:
            raise ValueError(f"{path}: images[{i}]: id {im['id']} appears twice")
        if not all(_whole(im.get(k)) and im[k] > 0 for k in ("height", "width")):
            raise ValueError(f"{path}: images[{i}] (id {im['id']}): height and width must be positive integers")
        name = im.get("file_name", "")
        if not isinstance(name, str):
            raise ValueError(f"{path}: images[{i}] (id {im['id']}): file_name must be text")
        try:
            check_inside(name, f"{path}: images[{i}] (id {im['id']})")
        except ValueError as err:
            raise ValueError(str(err)) from None
        images[im["id"]] = im
    categories: set[int] = set()
    for i, cat in enumerate(data["categories"]):
        if not isinstance(cat, dict) or not _whole(cat.get("id")) or not isinstance(cat.get("name"), str):
            raise ValueError(f"{path}: categories[{i}] needs an integer id and a name")
        if cat["id"] in categories:
            raise ValueError(f"{path}: categories[{i}]: id {cat['id']} appears twice")
        categories.add(cat["id"])
    ann_ids: set[int] = set()
    for i, ann in enumerate(data["annotations"]):
        problem = _check_annotation(ann, images, categories)
        if problem is None and _whole(ann.get("id")) and ann["id"] in ann_ids:
            problem = f"id {ann['id']} appears twice"
        if problem:
            ident = ann.get("id") if isinstance(ann, dict) else None
            raise ValueError(f"{path}: annotations[{i}] (id {ident}): {problem}")
        if _whole(ann.get("id")):
            ann_ids.add(ann["id"])
    return data


def load_coco(data: dict | str | os.PathLike) -> COCO:
    """A ``pycocotools.coco.COCO`` index over a checked dict or file (:func:`read_instances`), built silently."""
    data = read_instances(data) if not isinstance(data, dict) else data
    from pycocotools.coco import COCO

    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


# ----------------------------------------------------------------------------------------------- dataset
class CocoInstances(Dataset):
    """COCO instances as ``(image, target)`` pairs in torchvision's detection format (:mod:`.instances`).

    Args:
        root: the COCO folder (holding ``annotations/``) or a folder up to three levels above it.
        split: ``"train"`` or ``"val"`` (``annotations/instances_{split}{year}.json``, images in ``{split}{year}/``).
        transforms: ``(image, target) -> (image, target)``, e.g. :class:`~course_lib.data.instances.
            InstanceTransforms`; default: evaluation transforms at full size.
        categories: a category subset by name or id (e.g. ``("person",)``); labels become ``1..K`` in this order.
            ``None``: every category of the file, in id order (for COCO, the class index of
            :data:`course_lib.data.instance_entries.COCO_CLASSES`).
        include_crowd: keep crowd regions in the targets (flagged by ``iscrowd``); by default they are left out.
        skip_empty: drop images with no (kept) annotation; by default they give empty targets.
        max_items: keep only the first this many images (in id order).
        year: the release year of the file names.
        category_labels: labels are the category ids themselves (1..90 with gaps, unused ids named ``"N/A"``), as
            torchvision's COCO-trained detection models predict them; by default labels are ``1..K``.

    Attributes:
        ids: the image ids, in order. ``classes``: names with ``"background"`` first. ``category_ids``: the
        category id of each label (0 for the background). ``missing``: ids whose image file is absent (skipped).
        ``coco``: the ``pycocotools`` index. ``annotation_file``, ``image_dir``.

    Example:
        >>> ds = CocoInstances("/work/shared/data/coco2017_instances", "val", categories=("person",))  # doctest: +SKIP
        >>> image, target = ds[0]; target["masks"].shape  # doctest: +SKIP
        torch.Size([3, 480, 640])
    """

    def __init__(self, root: str | os.PathLike, split: str = "val", transforms=None, *,
                 categories: tuple[str | int, ...] | None = None, include_crowd: bool = False,
                 skip_empty: bool = False, max_items: int | None = None, year: str = "2017",
                 category_labels: bool = False) -> None:
        if split not in ("train", "val"):
            raise ValueError(f"unknown COCO split {split!r}; choose 'train' or 'val'")
        self.root = dataset_folder("coco", root)
        self.split, self.include_crowd = split, include_crowd
        self.annotation_file = self.root / "annotations" / f"instances_{split}{year}.json"
        self.image_dir = self.root / f"{split}{year}"
        if not self.annotation_file.is_file():
            raise FileNotFoundError(f"{self.annotation_file}: annotation file is missing (the {split} split of the "
                                    f"COCO folder {self.root})")
        self.coco = load_coco(self.annotation_file)
        by_id = {c["id"]: c["name"] for c in self.coco.dataset["categories"]}
        by_name = {name: i for i, name in by_id.items()}
        wanted = sorted(by_id) if categories is None else []
        for c in categories or ():
            cid = by_name.get(c, c if c in by_id else None)
            if cid is None:
                raise ValueError(f"{self.annotation_file}: no category {c!r} (known: {sorted(by_name)[:8]} ...)")
            wanted.append(cid)
        self.category_ids: tuple[int, ...] = (0, *wanted)
        self.classes: tuple[str, ...] = ("background", *(by_id[i] for i in wanted))
        self._label = {cid: k for k, cid in enumerate(self.category_ids) if k}
        if category_labels:  # torchvision's COCO models: label = category id, unused ids named "N/A"
            self.category_ids = tuple(range(max(by_id) + 1))
            self.classes = ("background", *(by_id[i] if i in wanted else "N/A" for i in self.category_ids[1:]))
            self._label = {cid: cid for cid in wanted}
        ids = sorted(self.coco.imgs)
        if skip_empty:
            ids = [i for i in ids if self._annotations(i)]
        on_disk = [i for i in ids if (self.image_dir / self.coco.imgs[i]["file_name"]).is_file()]
        self.missing = sorted(set(ids) - set(on_disk))
        self.ids = on_disk[:max_items] if max_items else on_disk
        if not self.ids:
            raise FileNotFoundError(f"{self.image_dir}: none of the {len(ids)} images of {self.annotation_file.name} "
                                    "is on disk")
        self.transforms = transforms or InstanceTransforms(train=False)
        self.is_sample = is_sample_folder(self.root)

    def _annotations(self, image_id: int) -> list[dict]:
        anns = self.coco.imgToAnns.get(image_id, [])
        return [a for a in anns if a["category_id"] in self._label and (self.include_crowd or not a.get("iscrowd"))]

    def __len__(self) -> int:
        return len(self.ids)

    def load_raw(self, index: int) -> tuple[Image.Image, dict[str, Any]]:
        """The ``index``-th image (PIL, RGB) and its untransformed target."""
        image_id = self.ids[index]
        info = self.coco.imgs[image_id]
        path = self.image_dir / info["file_name"]
        image = read_rgb(path)
        if (image.height, image.width) != (info["height"], info["width"]):
            raise ValueError(f"{path}: image is {image.width}x{image.height} (WxH) but {self.annotation_file.name} "
                             f"says {info['width']}x{info['height']}")
        anns = self._annotations(image_id)
        h, w = info["height"], info["width"]
        masks = np.stack([annotation_mask(a["segmentation"], h, w) for a in anns]) if anns else \
            np.zeros((0, h, w), np.uint8)
        target = make_target(masks, [self._label[a["category_id"]] for a in anns], image_id=image_id,
                             iscrowd=[a.get("iscrowd", 0) for a in anns])
        return image, target

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, Any]]:
        image, target = self.load_raw(index)
        return self.transforms(tv_tensors.Image(torch.from_numpy(np.asarray(image).transpose(2, 0, 1).copy())),
                               target)

    def ground_truth(self) -> dict:
        """The COCO dict of this dataset's images and categories (crowds included), for ``COCOeval``."""
        keep = set(self.ids)
        cats = set(self.category_ids[1:])
        return {"images": [self.coco.imgs[i] for i in self.ids],
                "annotations": [a for a in self.coco.dataset["annotations"]
                                if a["image_id"] in keep and a["category_id"] in cats],
                "categories": [c for c in self.coco.dataset["categories"] if c["id"] in cats]}

    def __repr__(self) -> str:
        kind = "synthetic sample" if self.is_sample else "real data"
        return (f"CocoInstances(root={str(self.root)!r}, split={self.split!r}, n={len(self)}, "
                f"classes={len(self.classes) - 1}, {kind}, missing={len(self.missing)})")
