"""A small synthetic PASCAL VOC 2012 in the official layout and formats (JPEG pictures, palette PNG masks).

Introduced in Chapter 3 (FCN). :func:`write_sample` is the ``sample_writer`` of the registry's ``voc`` entry;
:class:`course_lib.data.voc.VOCSegmentation` reads the sample and the real data with the same code.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from ..data.registry import VOC_PALETTE, get
from .common import SampleCanvas, boundary_band, mark_sample, sample_is_current

__all__ = ["SAMPLE_CLASSES", "write_sample"]

VOID: int = get("voc").ignore_index  # 255

# The classes drawn in the sample, each with its own shape, colour and texture (a small FCN can tell them apart).
SAMPLE_CLASSES = {1: "aeroplane", 7: "car", 8: "cat", 15: "person"}


def _draw_object(canvas: SampleCanvas, label: int, cx: float, cy: float, r: float) -> None:
    xx, yy = canvas.xx, canvas.yy
    if label == 1:  # aeroplane: a wide arrow-shaped polygon, white-red with diagonal stripes
        pts = [(cx - r, cy), (cx + r, cy - 0.15 * r), (cx + 1.05 * r, cy), (cx + r, cy + 0.15 * r)]
        wing = [(cx - 0.1 * r, cy), (cx + 0.35 * r, cy - 0.8 * r), (cx + 0.5 * r, cy), (cx + 0.35 * r, cy + 0.8 * r)]
        where = canvas.polygon(pts) | canvas.polygon(wing)
        stripes = np.where((xx + yy) % 10 < 4, -120.0, 0.0)[..., None] * [0, 1, 1]  # red diagonal stripes
        canvas.paint(where, label, (225, 225, 230), texture=stripes)
    elif label == 7:  # car: a box with two wheels, blue with horizontal stripes
        body = canvas.rectangle((cx - r, cy - 0.45 * r, cx + r, cy + 0.3 * r))
        roof = canvas.rectangle((cx - 0.55 * r, cy - 0.8 * r, cx + 0.45 * r, cy - 0.45 * r))
        wheels = canvas.ellipse((cx - 0.8 * r, cy + 0.05 * r, cx - 0.3 * r, cy + 0.55 * r)) | canvas.ellipse(
            (cx + 0.3 * r, cy + 0.05 * r, cx + 0.8 * r, cy + 0.55 * r)
        )
        canvas.paint(body | roof, label, (40, 70, 200), texture=np.where(yy % 6 < 2, 40.0, 0.0))
        canvas.paint(wheels, label, (25, 25, 25))
    elif label == 8:  # cat: an ellipse with ears, orange with dark spots
        body = canvas.ellipse((cx - r, cy - 0.6 * r, cx + r, cy + 0.6 * r))
        ears = canvas.polygon([(cx + 0.3 * r, cy - 0.4 * r), (cx + 0.45 * r, cy - r), (cx + 0.65 * r, cy - 0.35 * r)])
        spots = canvas.smooth_noise(5, 1.0) > 0.7
        canvas.paint(body | ears, label, (235, 150, 40), texture=np.where(spots, -90.0, 0.0))
    elif label == 15:  # person: a tall ellipse with a round head, green checker
        body = canvas.ellipse((cx - 0.35 * r, cy - 0.55 * r, cx + 0.35 * r, cy + r))
        head = canvas.ellipse((cx - 0.22 * r, cy - r, cx + 0.22 * r, cy - 0.56 * r))
        checker = ((xx // 4 + yy // 4) % 2) * 60.0
        canvas.paint(body | head, label, (30, 150, 60), texture=checker)
    else:
        raise ValueError(f"no sample drawing for VOC class {label}")


def _scene(width: int, height: int, rng: np.random.Generator, first_label: int) -> tuple[np.ndarray, np.ndarray]:
    canvas = SampleCanvas(width, height, rng)
    # Background: a smooth, muted two-colour gradient with blotchy texture.
    top, bottom = rng.uniform(70, 170, 3), rng.uniform(60, 150, 3)
    ramp = (canvas.yy / max(height - 1, 1))[..., None]
    blotches = canvas.smooth_noise(12, 14.0)
    canvas.image[:] = top * (1 - ramp) + bottom * ramp + blotches[..., None]
    labels = list(SAMPLE_CLASSES)
    n_objects = int(rng.integers(1, 4))
    chosen = [first_label] + [int(rng.choice(labels)) for _ in range(n_objects - 1)]
    for label in chosen:
        r = rng.uniform(0.18, 0.32) * min(width, height) * (1.4 if label in (1, 7) else 1.0)
        cx, cy = rng.uniform(r, width - r), rng.uniform(r, height - r)
        _draw_object(canvas, label, cx, cy, r)
    mask = canvas.labels.copy()
    mask[boundary_band(mask, 3)] = VOID  # VOC outlines objects with a void band
    return canvas.to_uint8(noise=5.0), mask


def write_sample(
    root: str | os.PathLike,
    n_train: int = 12,
    n_val: int = 6,
    size: tuple[int, int] = (160, 120),
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Write a small synthetic VOC 2012 in the official layout and formats; returns ``root/VOCdevkit/VOC2012``.

    Each picture holds one to three objects of the classes ``SAMPLE_CLASSES`` (aeroplane, car, cat, person), each
    with its own shape, colour and texture, on a textured background. Images are JPEGs whose size varies between
    75 % and 100 % of ``size`` (as VOC's sizes vary); masks are palette PNGs with the VOC palette and a void band
    (255) around every object; the split lists are in ``ImageSets/Segmentation``. A file ``COURSE_SAMPLE.txt``
    marks the folder as synthetic. An existing sample written with the same arguments is kept.

    Args:
        root: the folder to write into.
        n_train, n_val: number of training and validation pictures.
        size: the largest ``(width, height)`` in pixels.
        seed: random seed (the sample is deterministic).
        overwrite: rewrite even when an identical sample is present.

    Example:
        >>> folder = write_sample(tmp_path)  # doctest: +SKIP
        >>> len(course_lib.data.voc.VOCSegmentation(folder, "val"))  # doctest: +SKIP
        6
    """
    if n_train < 1 or n_val < 1:
        raise ValueError(f"n_train and n_val must be at least 1, got {n_train}, {n_val}")
    width, height = int(size[0]), int(size[1])
    if min(width, height) < 32:
        raise ValueError(f"size must be at least 32x32, got {size}")
    folder = Path(root).expanduser() / "VOCdevkit" / "VOC2012"
    params = {"n_train": n_train, "n_val": n_val, "size": (width, height), "seed": seed}
    if not overwrite and sample_is_current(folder, params):
        return folder
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    labels = list(SAMPLE_CLASSES)
    ids = {"train": [], "val": []}
    for i in range(n_train + n_val):
        split = "train" if i < n_train else "val"
        image_id = f"2012_{900000 + i:06d}"
        w = int(rng.integers(int(0.75 * width), width + 1)) // 2 * 2
        h = int(rng.integers(int(0.75 * height), height + 1)) // 2 * 2
        image, mask = _scene(w, h, rng, first_label=labels[i % len(labels)])
        Image.fromarray(image, "RGB").save(folder / "JPEGImages" / f"{image_id}.jpg", quality=92)
        png = Image.fromarray(mask, "P")
        png.putpalette(VOC_PALETTE.tobytes())
        png.save(folder / "SegmentationClass" / f"{image_id}.png")
        ids[split].append(image_id)
    lists = folder / "ImageSets" / "Segmentation"
    for split, names in (("train", ids["train"]), ("val", ids["val"]), ("trainval", ids["train"] + ids["val"])):
        (lists / f"{split}.txt").write_text("".join(f"{n}\n" for n in names), encoding="utf-8")
    mark_sample(
        folder,
        params,
        "Synthetic PASCAL VOC 2012 sample written by course_lib.synthetic.voc.write_sample; "
        "not real data. Classes drawn: " + ", ".join(SAMPLE_CLASSES.values()) + ".",
    )
    return folder
