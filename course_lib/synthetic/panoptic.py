"""Synthetic panoptic samples in the official layouts: COCO 2017 panoptic and Cityscapes panoptic.

Introduced in Chapter 11. :func:`write_coco_sample` and :func:`write_cityscapes_sample` are the ``sample_writer``
of the registry's ``coco_panoptic`` and ``cityscapes_panoptic`` entries; :mod:`course_lib.data.coco_panoptic` and
:mod:`course_lib.data.cityscapes_panoptic` read samples and real data with the same code. :func:`panoptic_scene`
paints one street-like picture with stuff bands, thing instances, a crowd region and void boundaries;
:func:`moving_scene_video` a short video of moving instances (tubes keep their ids) for VPQ; :func:`lidar_sweep` one
bird's-eye lidar sweep labelled like Panoptic nuScenes (points instead of pixels).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

from ..data.cityscapes_panoptic import (
    CITYSCAPES_PANOPTIC_CATEGORIES,
    cityscapes_instances_to_panoptic,
    panoptic_from_semantic_and_instances,
)
from ..data.coco_panoptic import PanopticCategory, write_panoptic
from ..io.atomic import atomic_write_text
from .common import SampleCanvas, boundary_band, mark_sample, sample_is_current

__all__ = ["COCO_SAMPLE_CATEGORIES", "LIDAR_CATEGORIES", "lidar_sweep", "moving_scene_video", "noisy_prediction",
           "panoptic_scene",
           "write_cityscapes_sample", "write_coco_sample"]

#: the COCO panoptic categories the sample uses (ids, names, colours of panoptic_coco_categories.json)
COCO_SAMPLE_CATEGORIES: tuple[PanopticCategory, ...] = (
    PanopticCategory(1, "person", True, (220, 20, 60), "person"),
    PanopticCategory(3, "car", True, (0, 0, 142), "vehicle"),
    PanopticCategory(18, "dog", True, (0, 226, 252), "animal"),
    PanopticCategory(149, "road", False, (128, 64, 128), "ground"),
    PanopticCategory(184, "tree-merged", False, (107, 142, 35), "plant"),
    PanopticCategory(187, "sky-other-merged", False, (70, 130, 180), "sky"),
    PanopticCategory(193, "grass-merged", False, (152, 251, 152), "plant"),
)


def panoptic_scene(width: int, height: int, rng: np.random.Generator, sky: int, middle: int, ground: tuple[int, ...],
                   things: tuple[int, ...], colours: dict[int, tuple], crowd: bool = True):
    """Paint one picture: sky, a middle band, a ground class, then 1..4 thing instances and maybe a crowd region.

    Returns:
        ``(image uint8 [H, W, 3], semantic int64 [H, W], instances int64 [H, W] (0 = none))``; thing pixels
        without an instance are a crowd region.
    """
    c = SampleCanvas(width, height, rng)
    semantic = np.zeros((height, width), np.int64)
    instances = np.zeros((height, width), np.int64)
    horizon = int(height * rng.uniform(0.3, 0.45))
    band = horizon + int(height * rng.uniform(0.15, 0.25))
    for label, where in ((sky, c.yy < horizon), (middle, (c.yy >= horizon) & (c.yy < band)),
                         (int(rng.choice(ground)), c.yy >= band)):
        c.paint(where, None, colours[label], noise=6, texture=c.smooth_noise(max(4, width // 8), 10.0))
        semantic[where] = label
    for n in range(1, int(rng.integers(2, 5)) + 1):
        label = int(rng.choice(things))
        w, h = rng.uniform(0.12, 0.3) * width, rng.uniform(0.2, 0.4) * height
        x, y = rng.uniform(0, width - w), rng.uniform(band - h * 0.8, height - h)
        mask = c.ellipse((x, y, x + w, y + h)) if label != things[-1] else c.rectangle((x, y, x + w, y + h))
        c.paint(mask, None, colours[label], noise=10)
        semantic[mask], instances[mask] = label, n
    if crowd and rng.random() < 0.5:  # a crowd of small people: one region, no instances
        label = things[0]
        x = rng.uniform(0, width * 0.7)
        mask = c.rectangle((x, band - height * 0.1, x + width * 0.25, band + height * 0.05)) & (instances == 0)
        c.paint(mask, None, np.asarray(colours[label]) * 0.8, noise=14)
        semantic[mask], instances[mask] = label, 0
    return c.to_uint8(), semantic, instances


def _coco_categories_json(categories) -> list[dict]:
    return [c.to_json() for c in categories]


def write_coco_sample(root: str | os.PathLike, n_train: int = 6, n_val: int = 4, size: tuple[int, int] = (128, 96),
                      seed: int = 0, overwrite: bool = False) -> Path:
    """Write a synthetic COCO 2017 panoptic set under ``root/coco2017_panoptic`` in the official layout:
    ``annotations/panoptic_{train,val}2017.json`` + PNG folders, ``{train,val}2017/*.jpg`` and
    ``panoptic_coco_categories.json``; segment ids are random 24-bit values, object boundaries are void.

    Args:
        root: the folder to write into.
        n_train, n_val: images per split.
        size: ``(width, height)``.
        seed: random seed (the sample is deterministic).
        overwrite: rewrite even when an identical sample is present.

    Example:
        >>> folder = write_coco_sample(tmp_path, n_train=2, n_val=2)  # doctest: +SKIP
        >>> len(course_lib.data.coco_panoptic.coco_panoptic(folder, "val"))  # doctest: +SKIP
        2
    """
    if n_train < 1 or n_val < 1:
        raise ValueError(f"each split needs at least one image, got n_train={n_train}, n_val={n_val}")
    width, height = (int(v) for v in size)
    folder = Path(root).expanduser() / "coco2017_panoptic"
    params = {"n_train": n_train, "n_val": n_val, "size": (width, height), "seed": seed}
    if not overwrite and sample_is_current(folder, params):
        return folder
    rng = np.random.default_rng(seed)
    colours = {c.id: c.color for c in COCO_SAMPLE_CATEGORIES}
    image_id = 1000
    for split, n in (("train", n_train), ("val", n_val)):
        records = []
        for _ in range(n):
            image_id += 1
            image, semantic, instances = panoptic_scene(width, height, rng, 187, 184, (149, 193), (1, 3, 18), colours)
            ids, segs = panoptic_from_semantic_and_instances(semantic, instances, (1, 3, 18))
            ids[boundary_band(instances.astype(np.uint8), 3) & (instances > 0)] = 0  # void object borders
            present = [int(v) for v in np.unique(ids) if v]
            new = rng.choice(np.arange(1, 256**3), len(present), replace=False)
            lut = dict(zip(present, new.tolist(), strict=True))
            table = np.zeros(int(ids.max()) + 1, np.int64)
            table[present] = new
            ids = table[ids]
            name = f"{image_id:012d}"
            (folder / f"{split}2017").mkdir(parents=True, exist_ok=True)
            Image.fromarray(image, "RGB").save(folder / f"{split}2017" / f"{name}.jpg", quality=92)
            record = {"id": image_id, "file_name": f"{name}.jpg", "width": width, "height": height, "license": 0}
            records.append((record, ids, {lut[s["id"]]: s["category_id"] for s in segs if s["id"] in lut},
                            {lut[s["id"]]: s["iscrowd"] for s in segs if s["id"] in lut}))
        ann = folder / "annotations" / f"panoptic_{split}2017.json"
        write_panoptic(ann, ann.with_suffix(""), records, COCO_SAMPLE_CATEGORIES,
                       info={"description": "SYNTHETIC COCO panoptic sample (course_lib)"}, licenses=[])
    atomic_write_text(folder / "panoptic_coco_categories.json", json.dumps(_coco_categories_json(
        COCO_SAMPLE_CATEGORIES)))
    mark_sample(folder, params, "Synthetic COCO 2017 panoptic (official layout, RGB-encoded segment ids) written by "
                "course_lib.synthetic.panoptic.write_coco_sample; not real data.")
    return folder


def write_cityscapes_sample(root: str | os.PathLike, n_images: int = 4, split: str = "val",
                            size: tuple[int, int] = (128, 64), seed: int = 0, overwrite: bool = False) -> Path:
    """Write a synthetic Cityscapes under ``root/cityscapes``: ``leftImg8bit/{split}/<city>/*_leftImg8bit.png``,
    ``gtFine/{split}/<city>/*_gtFine_{labelIds,instanceIds}.png`` (instance ids label id * 1000 + n, 16-bit) and
    the panoptic files cityscapesScripts makes of them, ``gtFine/cityscapes_panoptic_{split}.json`` + PNG folder.

    Example:
        >>> folder = write_cityscapes_sample(tmp_path, n_images=2)  # doctest: +SKIP
    """
    if n_images < 1:
        raise ValueError(f"n_images must be at least 1, got {n_images}")
    width, height = (int(v) for v in size)
    folder = Path(root).expanduser() / "cityscapes"
    params = {"n_images": n_images, "split": split, "size": (width, height), "seed": seed}
    if not overwrite and sample_is_current(folder, params):
        return folder
    rng = np.random.default_rng(seed)
    colours = {c.id: c.color for c in CITYSCAPES_PANOPTIC_CATEGORIES}
    city, records = "synthcity", []
    for i in range(n_images):
        image, semantic, instances = panoptic_scene(width, height, rng, 23, int(rng.choice((11, 21))), (7, 8),
                                                    (24, 26), colours)
        semantic[-max(2, height // 16):] = 1  # the ego vehicle: an ignored label, void in panoptic
        instances[semantic == 1] = 0
        instance_ids = np.where(instances > 0, semantic * 1000 + instances, semantic)
        stem = f"{city}_000000_{i:06d}"
        (folder / "leftImg8bit" / split / city).mkdir(parents=True, exist_ok=True)
        (folder / "gtFine" / split / city).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image, "RGB").save(folder / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png")
        gt = folder / "gtFine" / split / city
        Image.fromarray(semantic.astype(np.uint8), "L").save(gt / f"{stem}_gtFine_labelIds.png")
        Image.fromarray(instance_ids.astype(np.uint16)).save(gt / f"{stem}_gtFine_instanceIds.png")
        ids, segs = cityscapes_instances_to_panoptic(instance_ids)
        records.append(({"id": stem, "file_name": f"{stem}_leftImg8bit.png", "width": width, "height": height},
                        ids, {s["id"]: s["category_id"] for s in segs}, {s["id"]: s["iscrowd"] for s in segs}))
    ann = folder / "gtFine" / f"cityscapes_panoptic_{split}.json"
    write_panoptic(ann, ann.with_suffix(""), records, CITYSCAPES_PANOPTIC_CATEGORIES,
                   png_name=lambda r: f"{r['id']}_gtFine_panoptic.png")
    mark_sample(folder, params, "Synthetic Cityscapes (fine label and instance ids, panoptic files) written by "
                "course_lib.synthetic.panoptic.write_cityscapes_sample; not real data.")
    return folder


def moving_scene_video(frames: int = 6, width: int = 64, height: int = 48, seed: int = 0):
    """A short synthetic video for VPQ: a sky/road background (stuff) and 2..3 objects moving at constant speed,
    each a tube whose segment id stays the same in every frame.

    Returns:
        ``(ids list of int64 [H, W], segments list of segments_info, categories [(id, isthing)])``.

    Example:
        >>> ids, segs, cats = moving_scene_video(frames=3)
        >>> len(ids), ids[0].shape, cats[0]
        (3, (48, 64), (1, True))
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    objects = [(1000 + k, int(rng.choice((1, 3))), rng.uniform(0, width * 0.6),
                rng.uniform(height * 0.45, height * 0.7), rng.uniform(-3, 3), rng.uniform(8, 14), rng.uniform(6, 10))
               for k in range(int(rng.integers(2, 4)))]
    out_ids, out_segs = [], []
    for t in range(frames):
        ids = np.where(yy < height // 2, 187, 149).astype(np.int64)
        category = {187: 187, 149: 149}
        for sid, cat, x, y, vx, w, h in objects:
            cx = (x + vx * t) % width
            mask = ((xx - cx) / (w / 2)) ** 2 + ((yy - y) / (h / 2)) ** 2 <= 1
            ids[mask], category[sid] = sid, cat
        present = np.unique(ids).tolist()
        out_ids.append(ids)
        out_segs.append([{"id": s, "category_id": category[s], "iscrowd": 0} for s in present])
    return out_ids, out_segs, [(1, True), (3, True), (149, False), (187, False)]


def noisy_prediction(ids: np.ndarray, segments: list[dict], category_ids, rng: np.random.Generator,
                     p_drop: float = 0.15, p_relabel: float = 0.1, p_split: float = 0.1, max_shift: int = 3,
                     n_spurious: int = 2) -> tuple[np.ndarray, list[dict]]:
    """A simulated panoptic prediction from ground truth: segments shifted by a few pixels, some dropped (to
    void), relabelled or split in two, void filled by a neighbour, and a few spurious boxes; new random ids.

    Returns:
        ``(ids int64 [H, W], segments_info)`` with area and box.
    """
    from ..data.coco_panoptic import segments_info

    ids = np.asarray(ids, np.int64)
    h, w = ids.shape
    out = np.zeros_like(ids)
    category_of, next_id = {}, 1
    for s in segments:
        mask = ids == s["id"]
        dy, dx = (int(v) for v in rng.integers(-max_shift, max_shift + 1, 2))
        mask = np.roll(mask, (dy, dx), axis=(0, 1))
        if rng.random() < p_drop:
            continue
        cat = int(rng.choice(category_ids)) if rng.random() < p_relabel else s["category_id"]
        if rng.random() < p_split and mask.any():
            cols = np.nonzero(mask.any(0))[0]
            left = mask & (np.arange(w)[None, :] < (cols[0] + cols[-1] + 1) // 2)
            out[left], category_of[next_id] = next_id, cat
            mask, next_id = mask & ~left, next_id + 1
        out[mask], category_of[next_id] = next_id, cat
        next_id += 1
    if rng.random() < 0.5:  # fill void from the left neighbour, as a network that never predicts void
        for _ in range(4):
            hole = out == 0
            out[:, 1:][hole[:, 1:]] = out[:, :-1][hole[:, 1:]]
    for _ in range(n_spurious):
        y, x = int(rng.integers(0, h - 4)), int(rng.integers(0, w - 4))
        out[y:y + int(rng.integers(3, h // 3 + 4)), x:x + int(rng.integers(3, w // 3 + 4))] = next_id
        category_of[next_id] = int(rng.choice(category_ids))
        next_id += 1
    present = set(np.unique(out).tolist()) - {0}
    return out, segments_info(out, {k: v for k, v in category_of.items() if k in present})


#: ``(category id, name, isthing)`` of :func:`lidar_sweep`, a subset of Panoptic nuScenes' 16 classes
LIDAR_CATEGORIES = ((1, "car", True), (2, "pedestrian", True), (11, "driveable_surface", False),
                    (13, "sidewalk", False), (15, "manmade", False), (16, "vegetation", False))


def lidar_sweep(seed: int = 0, rings: int = 24, per_ring: int = 360) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """One synthetic lidar sweep seen from above, labelled the Panoptic nuScenes way: every point has a segment id.

    A spinning lidar's rings hit the road (``|y| < 4 m``), the sidewalks, the buildings behind them (``manmade``),
    some vegetation, parked cars (4.5 x 1.8 m boxes) and pedestrians (0.6 m discs); a point takes the first
    surface its ray meets. Stuff classes get one segment each (id = category), things one per instance
    (id = 1000 * category + n), as in the panoptic PNGs.

    Returns:
        ``(xy [N, 2] metres, ids [N] int64, segments_info)`` with ``id``, ``category_id`` and ``iscrowd``.

    Example:
        >>> xy, ids, segs = lidar_sweep(0)
        >>> xy.shape[1], sorted({s["category_id"] for s in segs}) == [1, 2, 11, 13, 15, 16]
        (2, True)
    """
    rng = np.random.default_rng(seed)
    radius = np.repeat(np.geomspace(3.0, 40.0, rings), per_ring) * rng.uniform(0.98, 1.02, rings * per_ring)
    angle = np.tile(np.linspace(-np.pi, np.pi, per_ring, endpoint=False), rings)
    xy = np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1)
    x, y = xy.T
    ids = np.where(np.abs(y) < 4.0, 11, np.where(np.abs(y) < 6.5, 13, 15)).astype(np.int64)
    ids[(np.abs(y) >= 6.5) & (np.sin(x / 3.0) > 0.6)] = 16
    cars = [(-22 + 9.0 * k + rng.uniform(-1, 1), side * 2.5) for k, side in enumerate([1, -1, 1, -1, 1])]
    for n, (cx, cy) in enumerate(cars, start=1):
        ids[(np.abs(x - cx) < 2.25) & (np.abs(y - cy) < 0.9)] = 1000 + n
    walkers = [(rng.uniform(-30, 30), side * rng.uniform(4.5, 6.0)) for side in (1, -1, 1, -1)]
    for n, (px, py) in enumerate(walkers, start=1):
        ids[(x - px) ** 2 + (y - py) ** 2 < 0.6 ** 2] = 2000 + n
    keep = np.hypot(x, y) < 40.0
    xy, ids = xy[keep], ids[keep]
    segments = [{"id": int(i), "category_id": int(i) // 1000 if i >= 1000 else int(i), "iscrowd": 0}
                for i in np.unique(ids)]
    return xy, ids, segments
