"""A small synthetic Kvasir-SEG in the official layout: colonoscopy-like frames, JPEG masks, boxes, split lists.

Introduced in Chapter 3 (U-Net). :func:`write_sample` is the ``sample_writer`` of the registry's ``kvasir`` entry;
:class:`course_lib.data.kvasir.KvasirSEG` reads the sample and the real data with the same code.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ..data.kvasir import BBOX_FILE
from .common import SampleCanvas, mark_sample, sample_is_current

__all__ = ["write_sample"]


def _blob(cx: float, cy: float, radius: float, rng: np.random.Generator, points: int = 72) -> list[tuple]:
    """A smooth random closed outline around ``(cx, cy)``: a circle with low-frequency wobbles, stretched."""
    theta = np.linspace(0, 2 * math.pi, points, endpoint=False)
    r = np.ones_like(theta)
    for k in (2, 3, 4, 5):
        r += rng.uniform(0, 0.22 / k) * np.cos(k * theta + rng.uniform(0, 2 * math.pi))
    stretch, angle = rng.uniform(0.7, 1.0), rng.uniform(0, math.pi)
    x, y = r * np.cos(theta), stretch * r * np.sin(theta)
    xr = x * math.cos(angle) - y * math.sin(angle)
    yr = x * math.sin(angle) + y * math.cos(angle)
    return list(zip(cx + radius * xr, cy + radius * yr, strict=True))


def _blur(mask: np.ndarray, radius: float) -> np.ndarray:
    img = Image.fromarray((mask * 255).astype(np.uint8), "L").filter(ImageFilter.GaussianBlur(radius))
    return np.asarray(img, np.float32) / 255.0


def _frame(width: int, height: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """One synthetic colonoscopy frame: ``uint8 [H, W, 3]``, the binary polyp mask and one box per polyp."""
    c = SampleCanvas(width, height, rng)
    xx, yy, unit = c.xx, c.yy, min(width, height)
    # Mucosa: pinkish-orange, large soft folds (shading) and fine granular texture.
    base = (rng.uniform(175, 215), rng.uniform(80, 120), rng.uniform(65, 95))
    folds = c.smooth_noise(max(8, unit // 4), 20.0)
    grain = c.smooth_noise(3, 5.0)
    c.paint(np.ones((height, width), bool), None, base, noise=3,
            texture=(folds + grain)[..., None] * np.array([1.0, 0.75, 0.65], np.float32))
    # Blood vessels: thin dark-red random walks.
    layer = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(layer)
    for _ in range(int(rng.integers(2, 7))):
        x, y, heading = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(0, 2 * math.pi)
        points = [(x, y)]
        for _ in range(int(rng.integers(6, 16))):
            heading += rng.normal(0, 0.5)
            x, y = x + math.cos(heading) * unit * 0.05, y + math.sin(heading) * unit * 0.05
            points.append((x, y))
        draw.line(points, fill=int(rng.integers(90, 200)), width=int(rng.integers(1, 3)))
    vessels = np.asarray(layer, np.float32)[..., None] / 255.0
    c.image -= vessels * np.array([45.0, 55.0, 35.0], np.float32)
    # The lumen: a dark, blurred hole that is not a polyp.
    if rng.random() < 0.7:
        lx, ly, lr = rng.uniform(0, width), rng.uniform(0, height), unit * rng.uniform(0.08, 0.2)
        hole = _blur(c.ellipse((lx - lr, ly - 0.8 * lr, lx + lr, ly + 0.8 * lr)), lr * 0.6)[..., None]
        c.image = c.image * (1 - 0.8 * hole) + hole * 0.8 * np.array([45.0, 18.0, 15.0], np.float32)
    # Polyps: a dome a little paler or redder than the mucosa, brighter at the top, with a soft shadowed rim.
    mask = np.zeros((height, width), bool)
    boxes = []
    for _ in range(2 if rng.random() < 0.15 else 1):
        radius = unit * rng.uniform(0.1, 0.3)
        cx = rng.uniform(0.2 * width + radius * 0.5, 0.8 * width - radius * 0.5)
        cy = rng.uniform(0.2 * height + radius * 0.5, 0.8 * height - radius * 0.5)
        shape = c.polygon(_blob(cx, cy, radius, rng))
        if not shape.any():
            continue
        tint = np.array([rng.uniform(-15, 30), rng.uniform(-10, 35), rng.uniform(-5, 30)], np.float32)
        dist = np.sqrt((xx - cx + 0.3 * radius) ** 2 + (yy - cy + 0.3 * radius) ** 2) / radius
        dome = np.clip(1 - dist**2, 0, 1)[..., None] * 40.0
        rim = (_blur(shape, max(1.0, radius * 0.08)) < 0.85)[..., None] & shape[..., None]
        soft = _blur(shape, 1.2)[..., None]
        texture = c.smooth_noise(4, 7.0)[..., None]
        polyp = c.image + tint + dome + texture - rim * 25.0
        c.image = soft * polyp + (1 - soft) * c.image
        mask |= shape
        ys, xs = np.nonzero(shape)
        boxes.append({"label": "polyp", "xmin": int(xs.min()), "ymin": int(ys.min()),
                      "xmax": int(xs.max()), "ymax": int(ys.max())})
    # Specular highlights of the light source, on polyps and mucosa alike.
    layer = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(layer)
    for _ in range(int(rng.integers(2, 8))):
        sx, sy, sr = rng.uniform(0, width), rng.uniform(0, height), unit * rng.uniform(0.005, 0.025)
        draw.ellipse((sx - sr, sy - sr * 0.6, sx + sr, sy + sr * 0.6), fill=255)
    spots = np.asarray(layer.filter(ImageFilter.GaussianBlur(max(0.6, unit * 0.004))), np.float32)[..., None] / 255
    c.image = c.image * (1 - spots) + spots * 250.0
    # Vignetting and the black corners of the endoscope's octagonal field of view.
    r2 = ((xx - width / 2) / (width / 2)) ** 2 + ((yy - height / 2) / (height / 2)) ** 2
    c.image *= (1 - 0.35 * np.clip(r2 / 2, 0, 1))[..., None]
    cut = rng.uniform(0.08, 0.15) * (width + height) / 2
    corners = (xx + yy < cut) | (width - xx + yy < cut) | (xx + height - yy < cut) | (width - xx + height - yy < cut)
    c.image[corners] = 4.0
    return c.to_uint8(noise=3.0), mask & ~corners, boxes


def write_sample(root: str | os.PathLike, n_train: int = 40, n_val: int = 12, size_range: tuple[int, int] = (160, 288),
                 seed: int = 0, overwrite: bool = False) -> Path:
    """Write a small synthetic Kvasir-SEG in the official layout and formats; returns ``root/Kvasir-SEG``.

    Colonoscopy-like frames: pinkish mucosa with folds, vessels, a dark lumen, specular highlights, vignetting and
    black corners, with one (sometimes two) blob-shaped polyps that are shaded domes of a slightly different
    colour. Images are RGB JPEGs of varying sizes (width and height drawn from ``size_range``, a few portrait);
    masks are white-on-black **3-channel JPEGs** like the real ones, so they carry JPEG ringing and must be
    thresholded. ``kavsir_bboxes.json`` holds one box per polyp and ``Data-split/{train,val}.txt`` (beside
    ``Kvasir-SEG``, as in the authors' repository) the split. ``COURSE_SAMPLE.txt`` marks the folder as synthetic.
    An existing sample written with the same arguments is kept.

    Args:
        root: the folder to write into.
        n_train, n_val: number of images per split.
        size_range: ``(min, max)`` side length in pixels.
        seed: random seed (the sample is deterministic).
        overwrite: rewrite even when an identical sample is present.

    Example:
        >>> folder = write_sample(tmp_path, n_train=4, n_val=2)  # doctest: +SKIP
        >>> len(course_lib.data.kvasir.KvasirSEG(folder, "val"))  # doctest: +SKIP
        2
    """
    if n_train < 1 or n_val < 1:
        raise ValueError(f"each split needs at least one image, got n_train={n_train}, n_val={n_val}")
    lo, hi = int(size_range[0]), int(size_range[1])
    if not 64 <= lo <= hi:
        raise ValueError(f"size_range must be (min, max) with 64 <= min <= max, got {size_range}")
    root = Path(root).expanduser()
    folder = root / "Kvasir-SEG"
    params = {"n_train": n_train, "n_val": n_val, "size_range": (lo, hi), "seed": seed}
    if not overwrite and sample_is_current(folder, params):
        return folder
    rng = np.random.default_rng(seed)
    for sub in ("images", "masks"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
        for old in (folder / sub).glob("*.jpg"):
            old.unlink()
    (root / "Data-split").mkdir(parents=True, exist_ok=True)
    boxes: dict[str, Any] = {}
    for split, n in (("train", n_train), ("val", n_val)):
        ids = []
        for i in range(n):
            name = f"synth_{split}_{i:04d}"
            width, height = (int(v) for v in rng.integers(lo, hi + 1, size=2))
            image, mask, bbox = _frame(width, height, rng)
            Image.fromarray(image, "RGB").save(folder / "images" / f"{name}.jpg", quality=90)
            rgb_mask = np.repeat((mask.astype(np.uint8) * 255)[..., None], 3, axis=2)
            Image.fromarray(rgb_mask, "RGB").save(folder / "masks" / f"{name}.jpg", quality=75)
            boxes[name] = {"height": height, "width": width, "bbox": bbox}
            ids.append(name)
        (root / "Data-split" / f"{split}.txt").write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")
    (folder / BBOX_FILE).write_text(json.dumps(boxes), encoding="utf-8")
    mark_sample(folder, params, "Synthetic Kvasir-SEG (official layout, JPEG masks) written by "
                "course_lib.synthetic.kvasir.write_sample; not real data.")
    return folder
