"""Cityscapes panoptic: ``gtFine/cityscapes_panoptic_{split}.json`` + PNG folder, and the conversion to it.

Introduced in Chapter 11. cityscapesScripts' ``preparation/createPanopticImgs.py`` turns the fine annotations into
COCO panoptic format (read by :mod:`course_lib.data.coco_panoptic`); this module does the same, by the same rule:

- ``*_gtFine_instanceIds.png`` (16-bit) holds, per pixel, ``label id * 1000 + n`` for the n-th instance of a class
  with instances, and the plain label id (< 1000) elsewhere, including "group" regions of instance classes;
- each distinct value of an evaluated label (``ignoreInEval`` False: the 19 classes) is one segment whose id *is*
  that value, written as ``[id % 256, id // 256, id // 65536]``; a value < 1000 of a class with instances is a
  crowd segment (``iscrowd`` 1); the ignored labels become void (0);
- categories are the 19 label ids with ``isthing`` = the class has instances (person .. bicycle);
- the files: ``gtFine/cityscapes_panoptic_{split}.json`` and ``gtFine/cityscapes_panoptic_{split}/
  <city>_<seq>_<frame>_gtFine_panoptic.png``; image ids ``<city>_<seq>_<frame>``, pictures
  ``leftImg8bit/{split}/<city>/<image id>_leftImg8bit.png``.

:func:`panoptic_from_semantic_and_instances` is the general form (a semantic map plus an instance map, as many
datasets ship them). The converter writes to a folder you name (never inside the data root).

Example:
    >>> inst = np.array([[7, 7, 26001], [26001, 26, 24002]], np.int64)
    >>> ids, segs = cityscapes_instances_to_panoptic(inst)
    >>> [(s["id"], s["category_id"], s["iscrowd"]) for s in segs]
    [(7, 7, 0), (26, 26, 1), (24002, 24, 0), (26001, 26, 0)]
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..io.images import open_image
from .coco_panoptic import PanopticCategory, PanopticDataset, segments_info, write_panoptic
from .labels import CITYSCAPES_LABELS

__all__ = ["CITYSCAPES_PANOPTIC_CATEGORIES", "cityscapes_instances_to_panoptic", "cityscapes_panoptic",
           "convert_cityscapes_split", "panoptic_from_semantic_and_instances", "read_instance_ids"]

#: label ids with instances: person, rider, car, truck, bus, caravan, trailer, train, motorcycle, bicycle
_HAS_INSTANCES = frozenset(range(24, 34))
_CATEGORY = {**dict.fromkeys(range(0, 7), "void"), **dict.fromkeys(range(7, 11), "flat"),
             **dict.fromkeys(range(11, 17), "construction"), **dict.fromkeys(range(17, 21), "object"),
             21: "nature", 22: "nature", 23: "sky", 24: "human", 25: "human",
             **dict.fromkeys(range(26, 34), "vehicle")}
#: the 19 evaluated Cityscapes classes as panoptic categories (ids = label ids), as createPanopticImgs.py writes them
CITYSCAPES_PANOPTIC_CATEGORIES: tuple[PanopticCategory, ...] = tuple(
    PanopticCategory(i, name, i in _HAS_INSTANCES, colour, _CATEGORY[i])
    for name, i, _, ignored, colour in CITYSCAPES_LABELS if not ignored)


def read_instance_ids(path: str | os.PathLike) -> np.ndarray:
    """Read a Cityscapes ``*_gtFine_instanceIds.png`` (16-bit grey) as ``int64 [H, W]``.

    Raises:
        ValueError: empty, truncated, not an image, not a grey image, or values that are no label id (< 34) nor
            an instance ``label id * 1000 + n`` of a class with instances; the message names the file.
    """
    img = open_image(path, "instance id PNG")
    if img.mode not in ("I;16", "I", "L"):
        raise ValueError(f"{path}: instance id PNG has PIL mode {img.mode!r}, expected a 16-bit grey PNG "
                         "(label id * 1000 + n)")
    values = np.asarray(img, dtype=np.int64)
    present = np.unique(values)
    bad = present[((present >= 34) & (present < 1000)) | (present < 0)
                  | ((present >= 1000) & ~np.isin(present // 1000, sorted(_HAS_INSTANCES)))]
    if bad.size:
        raise ValueError(f"{path}: values {bad.tolist()[:5]} are neither label ids 0..33 nor instance ids "
                         "label id * 1000 + n of a class with instances (24..33)")
    return values


def cityscapes_instances_to_panoptic(instance_ids: np.ndarray) -> tuple[np.ndarray, list[dict]]:
    """Segment ids ``int64 [H, W]`` and ``segments_info`` from a Cityscapes instance-id map, as
    cityscapesScripts' ``createPanopticImgs.py`` (label ids as categories; ignored labels become void 0)."""
    instance_ids = np.asarray(instance_ids, np.int64)
    label = np.where(instance_ids < 1000, instance_ids, instance_ids // 1000)
    evaluated = np.zeros(max(int(label.max(initial=0)) + 1, 34), bool)
    evaluated[[c.id for c in CITYSCAPES_PANOPTIC_CATEGORIES]] = True
    ids = np.where(evaluated[label], instance_ids, 0)
    present = [int(v) for v in np.unique(ids) if v]
    category_of = {v: v if v < 1000 else v // 1000 for v in present}
    crowd = {v: int(v < 1000 and v in _HAS_INSTANCES) for v in present}
    return ids, segments_info(ids, category_of, crowd)


def panoptic_from_semantic_and_instances(semantic: np.ndarray, instances: np.ndarray, thing_classes,
                                         void: int | None = None) -> tuple[np.ndarray, list[dict]]:
    """Segment ids and ``segments_info`` from a semantic map and an instance map (0 = no instance).

    Stuff classes become one segment per class (id = class + 1); each (thing class, instance) pair one segment
    (ids after the stuff ids); thing pixels without an instance become a crowd segment of their class; ``void``
    pixels stay 0. Category ids are the semantic classes.

    Args:
        semantic: class per pixel ``[H, W]``.
        instances: instance number per pixel ``[H, W]`` (0 = none).
        thing_classes: the classes with instances.
        void: the semantic void value, or ``None``.
    """
    semantic, instances = np.asarray(semantic, np.int64), np.asarray(instances, np.int64)
    if semantic.shape != instances.shape:
        raise ValueError(f"semantic map {semantic.shape} and instance map {instances.shape} differ in size")
    things = np.isin(semantic, list(thing_classes))
    valid = np.ones(semantic.shape, bool) if void is None else semantic != void
    key = np.where(things & (instances > 0), semantic * (int(instances.max(initial=0)) + 1) + instances, -1)
    stuff_or_crowd = valid & (key < 0)
    ids = np.where(stuff_or_crowd, semantic + 1, 0)
    offset = int(semantic.max(initial=0)) + 2
    pairs, inverse = np.unique(key[key >= 0], return_inverse=True)
    ids[key >= 0] = offset + inverse
    category_of = {int(c) + 1: int(c) for c in np.unique(semantic[stuff_or_crowd])}
    crowd = {int(c) + 1: 1 for c in np.unique(semantic[stuff_or_crowd & things])}
    base = int(instances.max(initial=0)) + 1
    category_of.update({offset + j: int(p // base) for j, p in enumerate(pairs.tolist())})
    return ids, segments_info(ids, category_of, crowd)


def convert_cityscapes_split(root: str | os.PathLike, split: str, out: str | os.PathLike,
                             limit: int | None = None) -> Path:
    """Write ``out/gtFine/cityscapes_panoptic_{split}.json`` and its PNG folder from ``root/gtFine/{split}``'s
    ``*_gtFine_instanceIds.png`` (as ``createPanopticImgs.py``); returns the JSON path.

    Args:
        root: the Cityscapes folder (holding ``gtFine/``).
        split: ``train``, ``val`` or ``test``.
        out: where to write (a work folder; refused when it is ``root`` or inside it).
        limit: convert only the first ``limit`` images (sorted by name).
    """
    root, out = Path(root).resolve(), Path(out).resolve()
    if out == root or root in out.parents:
        raise ValueError(f"{out}: refusing to write inside the data root {root}; pass a work folder")
    files = sorted((root / "gtFine" / split).glob("*/*_gtFine_instanceIds.png"))[:limit]
    if not files:
        raise FileNotFoundError(f"{root / 'gtFine' / split}: no <city>/*_gtFine_instanceIds.png files")
    records = []
    for path in files:
        ids, segs = cityscapes_instances_to_panoptic(read_instance_ids(path))
        image_id = path.name[: -len("_gtFine_instanceIds.png")]
        image = {"id": image_id, "file_name": f"{image_id}_leftImg8bit.png", "width": ids.shape[1],
                 "height": ids.shape[0]}
        records.append((image, ids, {s["id"]: s["category_id"] for s in segs},
                        {s["id"]: s["iscrowd"] for s in segs}))
    target = out / "gtFine" / f"cityscapes_panoptic_{split}.json"
    write_panoptic(target, target.with_suffix(""), records, CITYSCAPES_PANOPTIC_CATEGORIES,
                   png_name=lambda image: f"{image['id']}_gtFine_panoptic.png")
    return target


def cityscapes_panoptic(root: str | os.PathLike, split: str = "val", limit: int | None = None) -> PanopticDataset:
    """Cityscapes panoptic ``split`` under ``root`` (``gtFine/cityscapes_panoptic_{split}.json``, its PNG folder,
    and ``leftImg8bit/{split}/<city>/``)."""
    root = Path(root)
    gt = root / "gtFine" / f"cityscapes_panoptic_{split}.json"
    return PanopticDataset(gt, gt.with_suffix(""),
                           lambda r: root / "leftImg8bit" / split / r["file_name"].split("_")[0] / r["file_name"],
                           limit)
