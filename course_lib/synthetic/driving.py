"""Synthetic samples of the driving datasets of Chapter 10, each in its official layout and file formats.

One street scene painter (:func:`course_lib.synthetic.camvid.street_scene`, CamVid's 11 classes) relabelled into
each dataset's own label set: Cityscapes label ids (``gtFine`` with labelIds, instanceIds, colour and polygons),
KITTI semantic (``data_semantics``: Cityscapes ids, instances ``id * 256 + n``), CamVid's 32 colour-coded labels
(``701_StillsRaw_full`` / ``LabeledApproved_full``) and Mapillary Vistas v1.2 (palette PNGs + ``config_v1.2.json``).
Instances are the connected regions of person, car and bicycle pixels. The registry entries name these writers;
the loaders (:mod:`course_lib.data.cityscapes`, ``kitti_semantic``, ``camvid32``, ``vistas``) read samples and real
files with the same code. Nothing here is real data: each folder holds ``COURSE_SAMPLE.txt``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ..data.driving_entries import CAMVID32_LABELS, VISTAS_V12_LABELS
from ..data.labels import CITYSCAPES_LABELS
from .camvid import street_scene
from .common import mark_sample, sample_is_current

__all__ = ["write_camvid32_sample", "write_cityscapes_sample", "write_kitti_semantic_sample", "write_vistas_sample"]

# CamVid 11 (sky, building, pole, road, pavement, tree, sign, fence, car, pedestrian, bicyclist, void) -> label sets
_TO_CITYSCAPES = np.array([23, 11, 17, 7, 8, 21, 20, 13, 26, 24, 33, 4], np.uint8)
_CAMVID32_NAMES = ("Sky", "Building", "Column_Pole", "Road", "Sidewalk", "Tree", "SignSymbol", "Fence", "Car",
                   "Pedestrian", "Bicyclist", "Void")
_VISTAS_NAMES = ("nature--sky", "construction--structure--building", "object--support--pole",
                 "construction--flat--road", "construction--flat--sidewalk", "nature--vegetation",
                 "object--traffic-sign--front", "construction--barrier--fence", "object--vehicle--car",
                 "human--person", "object--vehicle--bicycle", "void--unlabeled")
_THINGS = (8, 9, 10)  # car, pedestrian, bicyclist in CamVid 11
_CS_COLOURS = np.array([c for *_, c in CITYSCAPES_LABELS], np.uint8)
_CS_NAMES = tuple(name for name, *_ in CITYSCAPES_LABELS)
_EGO, _BORDER = 1, 2  # Cityscapes' "ego vehicle" and "rectification border"


def _scene(width: int, height: int, rng: np.random.Generator, ego: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A street scene: RGB, CamVid-11 labels, and instance numbers (0 = none, 1.. per thing region)."""
    image, labels = street_scene(width, height, rng)
    instances = np.zeros(labels.shape, np.int32)
    count = 0
    for thing in _THINGS:
        n, comp = cv2.connectedComponents((labels == thing).astype(np.uint8), connectivity=4)
        for k in range(1, n):
            count += 1
            instances[comp == k] = count
    if ego:  # the bonnet of the recording car at the bottom, as in Cityscapes
        rows = max(2, height // 14)
        image[-rows:] = (image[-rows:] * 0.3 + 30).astype(np.uint8)
        labels[-rows:] = 255  # a marker replaced below by each label set's ego label
        instances[-rows:] = 0
    return image, labels, instances


def _cityscapes_ids(labels: np.ndarray) -> np.ndarray:
    ids = _TO_CITYSCAPES[np.minimum(labels, 11)]
    ids[labels == 255] = _EGO
    return ids


def _instance_ids(ids: np.ndarray, instances: np.ndarray, base: int) -> np.ndarray:
    """Cityscapes ``id * 1000 + n`` (``base`` 1000, n from 0) or KITTI ``id * 256 + n`` (``base`` 256, n from 1)."""
    out = ids.astype(np.int64) * (1 if base == 1000 else base)  # KITTI: id * 256 + 0 where there is no instance
    start = 0 if base == 1000 else 1
    for cls in np.unique(ids[instances > 0]):
        for n, inst in enumerate(np.unique(instances[(ids == cls) & (instances > 0)])):
            out[instances == inst] = int(cls) * base + n + start
    return out.astype(np.uint16)


def _polygons(ids: np.ndarray, instances: np.ndarray) -> dict:
    """``*_gtFine_polygons.json``: one polygon per connected region, stuff first, objects last (drawn on top)."""
    objects = []
    order = sorted(np.unique(ids).tolist(), key=lambda i: (i in (24, 26, 33), i))
    for label_id in order:
        regions = [(ids == label_id) & (instances == k) for k in np.unique(instances[ids == label_id])]
        for region in regions:
            contours, _ = cv2.findContours(region.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            for contour in contours:
                if len(contour) >= 3:
                    objects.append({"label": _CS_NAMES[label_id], "polygon": contour[:, 0, :].tolist()})
    return {"imgHeight": int(ids.shape[0]), "imgWidth": int(ids.shape[1]), "objects": objects}


def write_cityscapes_sample(root: str | os.PathLike, n_train: int = 3, n_val: int = 2,
                            size: tuple[int, int] = (512, 256), seed: int = 0, overwrite: bool = False) -> Path:
    """Write a small synthetic Cityscapes (``leftImg8bit`` + ``gtFine``); returns ``root/cityscapes``.

    Per frame ``<city>_<seq>_<frame>``: ``leftImg8bit/<split>/<city>/*_leftImg8bit.png`` (RGB),
    ``gtFine/<split>/<city>/*_gtFine_labelIds.png`` (8-bit label ids 0..33, with "ego vehicle" at the bottom),
    ``*_gtFine_instanceIds.png`` (16-bit: ``id * 1000 + n`` on persons, cars and bicycles, else the label id),
    ``*_gtFine_color.png`` (RGBA, the label colours) and ``*_gtFine_polygons.json``. Real Cityscapes is 2048x1024.

    Args:
        root: the folder to write into.
        n_train, n_val: frames of the ``train`` (city "aachen") and ``val`` (city "frankfurt") splits.
        size: ``(width, height)``.
        seed: random seed (the sample is deterministic).
        overwrite: rewrite even when an identical sample is present.

    Example:
        >>> folder = write_cityscapes_sample(tmp_path, n_train=1, n_val=1, size=(128, 64))  # doctest: +SKIP
    """
    width, height = _check(size, n_train, n_val)
    folder = Path(root).expanduser() / "cityscapes"
    params = {"n_train": n_train, "n_val": n_val, "size": (width, height), "seed": seed}
    if not overwrite and sample_is_current(folder, params):
        return folder
    rng = np.random.default_rng(seed)
    for split, city, n in (("train", "aachen", n_train), ("val", "frankfurt", n_val)):
        for i in range(n):
            stem = f"{city}_{i:06d}_{19 * (i + 1):06d}"
            image, labels, instances = _scene(width, height, rng, ego=True)
            ids = _cityscapes_ids(labels)
            gt = folder / "gtFine" / split / city
            (folder / "leftImg8bit" / split / city).mkdir(parents=True, exist_ok=True)
            gt.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image, "RGB").save(folder / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png")
            Image.fromarray(ids, "L").save(gt / f"{stem}_gtFine_labelIds.png")
            Image.fromarray(_instance_ids(ids, instances, 1000)).save(gt / f"{stem}_gtFine_instanceIds.png")
            colour = np.concatenate([_CS_COLOURS[ids], np.full((*ids.shape, 1), 255, np.uint8)], axis=2)
            Image.fromarray(colour, "RGBA").save(gt / f"{stem}_gtFine_color.png")
            (gt / f"{stem}_gtFine_polygons.json").write_text(json.dumps(_polygons(ids, instances), indent=1))
    mark_sample(folder, params, "Synthetic Cityscapes (leftImg8bit/gtFine layout) written by "
                                "course_lib.synthetic.driving.write_cityscapes_sample; not real data.")
    return folder


def write_kitti_semantic_sample(root: str | os.PathLike, n_train: int = 3, n_test: int = 1, scale: float = 0.4,
                                seed: int = 0, overwrite: bool = False) -> Path:
    """Write a small synthetic KITTI semantic segmentation 2015 set; returns ``root/data_semantics``.

    ``training/image_2/NNNNNN_10.png`` (RGB, KITTI's 1242x375 times ``scale``), ``training/semantic/`` (8-bit
    Cityscapes label ids), ``training/semantic_rgb/`` (their colours), ``training/instance/`` (16-bit,
    ``label id * 256 + n``, n = 0 where there is no instance) and ``testing/image_2/``.

    Args:
        root: the folder to write into.
        n_train, n_test: frames with and without labels.
        scale: size relative to KITTI's 1242x375.
        seed: random seed.
        overwrite: rewrite even when an identical sample is present.
    """
    width, height = _check((round(1242 * scale), round(375 * scale)), n_train, max(1, n_test))
    folder = Path(root).expanduser() / "data_semantics"
    params = {"n_train": n_train, "n_test": n_test, "scale": scale, "seed": seed}
    if not overwrite and sample_is_current(folder, params):
        return folder
    rng = np.random.default_rng(seed)
    for split, n in (("training", n_train), ("testing", n_test)):
        for i in range(n):
            name = f"{i:06d}_10.png"
            image, labels, instances = _scene(width, height, rng, ego=False)
            (folder / split / "image_2").mkdir(parents=True, exist_ok=True)
            Image.fromarray(image, "RGB").save(folder / split / "image_2" / name)
            if split == "training":
                ids = _cityscapes_ids(labels)
                for sub in ("semantic", "semantic_rgb", "instance"):
                    (folder / split / sub).mkdir(parents=True, exist_ok=True)
                Image.fromarray(ids, "L").save(folder / split / "semantic" / name)
                Image.fromarray(_CS_COLOURS[ids], "RGB").save(folder / split / "semantic_rgb" / name)
                Image.fromarray(_instance_ids(ids, instances, 256)).save(folder / split / "instance" / name)
    mark_sample(folder, params, "Synthetic KITTI semantic 2015 (data_semantics layout) written by "
                                "course_lib.synthetic.driving.write_kitti_semantic_sample; not real data.")
    return folder


def write_camvid32_sample(root: str | os.PathLike, n: int = 6, size: tuple[int, int] = (480, 360), seed: int = 0,
                          overwrite: bool = False) -> Path:
    """Write a small synthetic CamVid with the original 32 colour-coded labels; returns ``root/camvid32``.

    ``701_StillsRaw_full/<seq>_<frame>.png`` (RGB; real frames are 960x720), ``LabeledApproved_full/<seq>_<frame>
    _L.png`` (RGB, each pixel the colour of its label) and ``label_colors.txt`` ("r g b<TAB>name", as the release).

    Args:
        root: the folder to write into.
        n: number of frames (named after the four CamVid sequences in turn).
        size: ``(width, height)``.
        seed: random seed.
        overwrite: rewrite even when an identical sample is present.
    """
    width, height = _check(size, n, 1)
    folder = Path(root).expanduser() / "camvid32"
    params = {"n": n, "size": (width, height), "seed": seed}
    if not overwrite and sample_is_current(folder, params):
        return folder
    colours = dict(CAMVID32_LABELS)
    lut = np.array([colours[name] for name in _CAMVID32_NAMES], np.uint8)
    rng = np.random.default_rng(seed)
    for sub in ("701_StillsRaw_full", "LabeledApproved_full"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        stem = ("0001TP_{:06d}", "0006R0_f{:05d}", "0016E5_{:05d}", "Seq05VD_f{:05d}")[i % 4].format(30 * (i + 1))
        image, labels, _ = _scene(width, height, rng, ego=False)
        Image.fromarray(image, "RGB").save(folder / "701_StillsRaw_full" / f"{stem}.png")
        Image.fromarray(lut[labels], "RGB").save(folder / "LabeledApproved_full" / f"{stem}_L.png")
    lines = [f"{r} {g} {b}\t{name}\n" for name, (r, g, b) in CAMVID32_LABELS]
    (folder / "label_colors.txt").write_text("".join(lines), encoding="utf-8")
    mark_sample(folder, params, "Synthetic CamVid, 32 colour-coded labels, written by "
                                "course_lib.synthetic.driving.write_camvid32_sample; not real data.")
    return folder


def vistas_config(labels=VISTAS_V12_LABELS) -> dict:
    """The ``config_v1.2.json`` content of a label table ``(name, readable, colour, instances, evaluate)``."""
    return {"labels": [{"color": list(c), "instances": inst, "readable": readable, "name": name, "evaluate": ev}
                       for name, readable, c, inst, ev in labels], "version": "1.2", "mapping": "public"}


def write_vistas_sample(root: str | os.PathLike, n_train: int = 3, n_val: int = 2, seed: int = 0,
                        overwrite: bool = False) -> Path:
    """Write a small synthetic Mapillary Vistas (v1.2 labels); returns ``root/vistas``.

    ``config_v1.2.json`` (the 66 labels), ``{training,validation}/images/<key>.jpg`` (pictures of different sizes
    and aspect ratios, as Vistas' many cameras give), ``<split>/v1.2/labels/<key>.png`` (palette PNGs: the index is
    the label, 65 = unlabeled) and ``<split>/v1.2/instances/<key>.png`` (16-bit, ``label * 256 + n``).

    Args:
        root: the folder to write into.
        n_train, n_val: pictures per split.
        seed: random seed.
        overwrite: rewrite even when an identical sample is present.
    """
    _check((64, 64), n_train, n_val)
    folder = Path(root).expanduser() / "vistas"
    params = {"n_train": n_train, "n_val": n_val, "seed": seed}
    if not overwrite and sample_is_current(folder, params):
        return folder
    index = {name: i for i, (name, *_) in enumerate(VISTAS_V12_LABELS)}
    lut = np.array([index[name] for name in _VISTAS_NAMES], np.uint8)
    palette = np.zeros((256, 3), np.uint8)
    palette[: len(VISTAS_V12_LABELS)] = [c for _, _, c, _, _ in VISTAS_V12_LABELS]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config_v1.2.json").write_text(json.dumps(vistas_config(), indent=1), encoding="utf-8")
    rng = np.random.default_rng(seed)
    alphabet = np.array(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"))
    for split, n in (("training", n_train), ("validation", n_val)):
        for sub in ("images", "v1.2/labels", "v1.2/instances"):
            (folder / split / sub).mkdir(parents=True, exist_ok=True)
        for _ in range(n):
            key = "".join(rng.choice(alphabet, 22))
            width, height = ((320, 240), (400, 225), (240, 320), (360, 270))[int(rng.integers(4))]
            image, labels, instances = _scene(width, height, rng, ego=False)
            values = lut[np.minimum(labels, 11)]
            Image.fromarray(image, "RGB").save(folder / split / "images" / f"{key}.jpg", quality=92)
            label_png = Image.fromarray(values, "P")
            label_png.putpalette(palette.ravel().tolist())
            label_png.save(folder / split / "v1.2" / "labels" / f"{key}.png")
            inst = values.astype(np.uint16) * 256
            inst[instances > 0] += instances[instances > 0].astype(np.uint16)
            Image.fromarray(inst).save(folder / split / "v1.2" / "instances" / f"{key}.png")
    mark_sample(folder, params, "Synthetic Mapillary Vistas (v1.2 layout) written by "
                                "course_lib.synthetic.driving.write_vistas_sample; not real data.")
    return folder


def _check(size, n_a: int, n_b: int) -> tuple[int, int]:
    width, height = int(size[0]), int(size[1])
    if min(width, height) < 48:
        raise ValueError(f"size must be at least 48x48, got {size}")
    if min(n_a, n_b) < 1:
        raise ValueError(f"each split needs at least one picture, got {n_a} and {n_b}")
    return width, height
