"""A small synthetic MS COCO (instances) in the official layout: JPEG scenes, polygons, RLE crowds, empty images.

Introduced in Chapter 5. :func:`write_sample` is the ``sample_writer`` of the registry's ``coco`` entry;
:class:`course_lib.data.coco.CocoInstances` and ``python -m course_lib.score coco-segm`` read the sample and the real
data with the same code. Every form of the real files appears: polygon segmentations (several parts for some
objects), a crowd region as *uncompressed* RLE (``iscrowd=1``, as in the official JSON), one object as *compressed*
RLE (the results format), and one image per split without any annotation. The JSON keeps all 80 official
categories.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

from ..data.instance_entries import COCO_CATEGORY_IDS, COCO_CLASSES
from ..io.atomic import atomic_write_text
from ..io.rle import encode_rle
from .common import SampleCanvas, mark_sample, sample_is_current

__all__ = ["SAMPLE_CATEGORIES", "write_sample"]

#: the categories drawn in the sample: name -> (shape, colour)
SAMPLE_CATEGORIES = {"person": ("person", (200, 70, 60)), "car": ("box", (60, 90, 200)),
                     "dog": ("blob", (150, 110, 50)), "sports ball": ("disc", (230, 220, 60))}


def _outline(kind: str, box: tuple[float, float, float, float], rng: np.random.Generator) -> list[list[float]]:
    """Polygon parts (COCO ``[x1, y1, x2, y2, ...]`` lists) of one object drawn in ``box``."""
    x0, y0, x1, y1 = box
    cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0
    if kind == "box":
        body = [(x0, y0 + h * 0.35), (x1, y0 + h * 0.35), (x1, y1), (x0, y1)]
        roof = [(x0 + w * 0.2, y0), (x1 - w * 0.2, y0), (x1 - w * 0.1, y0 + h * 0.4), (x0 + w * 0.1, y0 + h * 0.4)]
        parts = [body, roof]
    elif kind == "person":
        head_r = w * 0.22
        theta = np.linspace(0, 2 * math.pi, 12, endpoint=False)
        head = list(zip(cx + head_r * np.cos(theta), y0 + head_r + head_r * np.sin(theta), strict=True))
        body = [(cx - w * 0.35, y0 + 2.2 * head_r), (cx + w * 0.35, y0 + 2.2 * head_r), (cx + w * 0.5, y1),
                (cx - w * 0.5, y1)]
        parts = [head, body]
    else:
        n = 24
        theta = np.linspace(0, 2 * math.pi, n, endpoint=False)
        wobble = 1 + (0.15 * np.cos(3 * theta + rng.uniform(0, 6)) if kind == "blob" else 0)
        parts = [list(zip(cx + w / 2 * wobble * np.cos(theta), cy + h / 2 * wobble * np.sin(theta), strict=True))]
    return [[round(float(v), 2) for xy in part for v in xy] for part in parts]


def _scene(image_id: int, width: int, height: int, rng: np.random.Generator, empty: bool, crowd: bool,
           compressed: bool, next_id: int) -> tuple[np.ndarray, list[dict]]:
    """One picture and its annotations (ids from ``next_id``)."""
    c = SampleCanvas(width, height, rng)
    c.paint(np.ones((height, width), bool), None, (120, 140, 110), texture=c.smooth_noise(16, 15.0))
    anns: list[dict] = []
    cat_id = {name: COCO_CATEGORY_IDS[COCO_CLASSES.index(name)] for name in SAMPLE_CATEGORIES}
    if not empty:
        cols = 3
        cell_w, cell_h = width / cols, height / 2
        cells = rng.permutation(cols * 2)[: int(rng.integers(2, 5))]
        for k, cell in enumerate(cells):
            name = list(SAMPLE_CATEGORIES)[int(rng.integers(len(SAMPLE_CATEGORIES)))]
            kind, colour = SAMPLE_CATEGORIES[name]
            gx, gy = (cell % cols) * cell_w, (cell // cols) * cell_h
            w, h = rng.uniform(0.45, 0.85) * cell_w, rng.uniform(0.5, 0.9) * cell_h
            if kind in ("disc",):
                w = h = min(w, h)
            x0, y0 = gx + rng.uniform(0, cell_w - w), gy + rng.uniform(0, cell_h - h)
            polys = _outline(kind, (x0, y0, x0 + w, y0 + h), rng)
            mask = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(polys, height, width))).astype(bool)
            c.paint(mask, None, colour, noise=10)
            seg: list | dict = polys
            if compressed and k == 0:
                rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
                seg = {"size": rle["size"], "counts": rle["counts"].decode("ascii")}
            ys, xs = np.nonzero(mask)
            anns.append({"segmentation": seg, "area": float(mask.sum()), "iscrowd": 0, "image_id": image_id,
                         "bbox": [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1),
                                  float(ys.max() - ys.min() + 1)],
                         "category_id": cat_id[name], "id": next_id + k})
        if crowd:  # a crowd of small people in the bottom strip, one region, uncompressed RLE as in the real files
            group = np.zeros((height, width), bool)
            for i in range(5):
                group |= c.ellipse((4 + i * 9, height - 14, 10 + i * 9, height - 2))
            c.paint(group, None, SAMPLE_CATEGORIES["person"][1], noise=10)
            ys, xs = np.nonzero(group)
            anns.append({"segmentation": encode_rle(group), "area": float(group.sum()), "iscrowd": 1,
                         "image_id": image_id, "bbox": [float(xs.min()), float(ys.min()),
                                                        float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)],
                         "category_id": cat_id["person"], "id": next_id + len(anns)})
    return c.to_uint8(), anns


def write_sample(root: str | os.PathLike, n_train: int = 12, n_val: int = 6, size: tuple[int, int] = (192, 144),
                 seed: int = 0, overwrite: bool = False) -> Path:
    """Write a small synthetic COCO 2017 instances set in the official layout; returns ``root/coco``.

    Scenes of people, cars, dogs and balls (one category each, in a 3x2 grid of cells) over a textured background:
    ``{train,val}2017/<12-digit id>.jpg`` and ``annotations/instances_{train,val}2017.json`` with all 80 official
    categories. The first image of each split has no annotation, every third image has a crowd region of small
    people (uncompressed RLE, ``iscrowd=1``), every fourth stores one object as compressed RLE; the rest are
    polygons. ``COURSE_SAMPLE.txt`` marks the folder as synthetic; an identical sample is kept.

    Args:
        root: the folder to write into.
        n_train, n_val: images per split (each at least 2).
        size: ``(width, height)`` of the pictures.
        seed: random seed (the sample is deterministic).
        overwrite: rewrite even when an identical sample is present.

    Example:
        >>> folder = write_sample(tmp_path, n_train=2, n_val=2)  # doctest: +SKIP
        >>> len(course_lib.data.coco.CocoInstances(folder, "val"))  # doctest: +SKIP
        2
    """
    if n_train < 2 or n_val < 2:
        raise ValueError(f"each split needs at least two images, got n_train={n_train}, n_val={n_val}")
    width, height = int(size[0]), int(size[1])
    if width < 96 or height < 64:
        raise ValueError(f"size must be at least (96, 64), got {size}")
    folder = Path(root).expanduser() / "coco"
    params = {"n_train": n_train, "n_val": n_val, "size": (width, height), "seed": seed}
    if not overwrite and sample_is_current(folder, params):
        return folder
    rng = np.random.default_rng(seed)
    categories = [{"supercategory": "sample", "id": i, "name": n}
                  for i, n in zip(COCO_CATEGORY_IDS[1:], COCO_CLASSES[1:], strict=True)]
    image_id, ann_id = 1, 1
    for split, n in (("train", n_train), ("val", n_val)):
        (folder / f"{split}2017").mkdir(parents=True, exist_ok=True)
        for old in (folder / f"{split}2017").glob("*.jpg"):
            old.unlink()
        images, annotations = [], []
        for i in range(n):
            picture, anns = _scene(image_id, width, height, rng, empty=i == 0, crowd=i % 3 == 1,
                                   compressed=i % 4 == 2, next_id=ann_id)
            name = f"{image_id:012d}.jpg"
            Image.fromarray(picture, "RGB").save(folder / f"{split}2017" / name, quality=90)
            images.append({"license": 1, "file_name": name, "height": height, "width": width, "id": image_id})
            annotations += anns
            image_id, ann_id = image_id + 1, ann_id + len(anns)
        data = {"info": {"description": "synthetic COCO-style sample (course_lib.synthetic.coco)", "year": 2017},
                "licenses": [{"id": 1, "name": "CC0 (synthetic)", "url": ""}],
                "images": images, "annotations": annotations, "categories": categories}
        atomic_write_text(folder / "annotations" / f"instances_{split}2017.json", json.dumps(data))
    mark_sample(folder, params, "Synthetic COCO instances (official layout: polygons, RLE crowds, an image without "
                "annotations per split) written by course_lib.synthetic.coco.write_sample; not real data.")
    return folder
