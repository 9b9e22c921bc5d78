"""Synthetic driving pictures with YOLOP's three targets: vehicle boxes, drivable area and lane lines.

Introduced in Chapter 11 (YOLOP, arXiv:2108.11250). A road seen from the car narrows to a horizon; its edges and a
dashed centre line are the lane lines; one to three vehicles (dark boxes with a windscreen) stand on it and hide the
drivable area under them, as BDD100K's drivable-area masks do. Small, fast, and in memory: a scene generator for the
chapter's joint-training demonstration, not a dataset layout.

Example:
    >>> images, targets = driving_batch(2, height=64, width=96, rng=np.random.default_rng(0))
    >>> tuple(images.shape), tuple(targets["drivable"].shape), targets["boxes"][0].shape[1]
    ((2, 3, 64, 96), (2, 64, 96), 5)
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw

__all__ = ["driving_batch", "driving_scene"]


def driving_scene(height: int, width: int, rng: np.random.Generator):
    """One picture ``uint8 [H, W, 3]``, drivable-area and lane masks ``uint8 [H, W]`` and boxes ``[N, 5]`` (class 0,
    centre x, centre y, width, height in pixels)."""
    horizon = int(height * rng.uniform(0.3, 0.45))
    centre = width * rng.uniform(0.4, 0.6)
    half_bottom, half_top = width * rng.uniform(0.45, 0.7), width * rng.uniform(0.03, 0.08)
    road = [(centre - half_top, horizon), (centre + half_top, horizon), (centre + half_bottom, height),
            (centre - half_bottom, height)]
    picture = Image.new("RGB", (width, height), tuple(int(v) for v in rng.integers(120, 200, 3)))
    draw = ImageDraw.Draw(picture)
    draw.rectangle((0, horizon, width, height), fill=tuple(int(v) for v in rng.integers(40, 110, 3)))  # verge
    draw.polygon(road, fill=(95, 95, 100))
    area, lanes = Image.new("L", (width, height)), Image.new("L", (width, height))
    ImageDraw.Draw(area).polygon(road, fill=1)
    lane_draw = ImageDraw.Draw(lanes)
    line = max(1, width // 64)
    for a, b in ((road[0], road[3]), (road[1], road[2])):
        lane_draw.line([a, b], fill=1, width=line)
        draw.line([a, b], fill=(235, 235, 235), width=line)
    for k in range(6):  # the dashed centre line
        t0, t1 = k / 6, (k + 0.5) / 6
        p0 = (centre, horizon + (height - horizon) * t0 ** 1.5)
        p1 = (centre, horizon + (height - horizon) * t1 ** 1.5)
        lane_draw.line([p0, p1], fill=1, width=line)
        draw.line([p0, p1], fill=(230, 200, 60), width=line)
    boxes, drivable = [], np.asarray(area).copy()
    for _ in range(int(rng.integers(1, 4))):
        y1 = rng.uniform(horizon + (height - horizon) * 0.3, height)
        depth = (y1 - horizon) / (height - horizon)
        w = width * rng.uniform(0.12, 0.2) * depth + 3
        h = w * rng.uniform(0.7, 1.0)
        x0 = centre + rng.uniform(-0.8, 0.8) * (half_top + (half_bottom - half_top) * depth) - w / 2
        x0 = float(np.clip(x0, 0, width - w))
        draw.rectangle((x0, y1 - h, x0 + w, y1), fill=tuple(int(v) for v in rng.integers(10, 70, 3)))
        draw.rectangle((x0 + w * 0.15, y1 - h * 0.85, x0 + w * 0.85, y1 - h * 0.55), fill=(150, 180, 200))
        drivable[int(y1 - h):int(np.ceil(y1)), int(x0):int(np.ceil(x0 + w))] = 0
        boxes.append([0, x0 + w / 2, y1 - h / 2, w, h])
    image = np.asarray(picture, np.float32) + rng.normal(0, 4, (height, width, 3))
    return np.clip(image, 0, 255).astype(np.uint8), drivable, np.asarray(lanes), np.asarray(boxes, np.float32)


def driving_batch(n: int, height: int = 96, width: int = 160, rng: np.random.Generator | None = None):
    """``n`` scenes as a batch: ``images float [n, 3, H, W]`` in 0..1 and ``{"boxes": [n tensors [N, 5]],
    "drivable": long [n, H, W], "lane": long [n, H, W]}`` (what :class:`course_lib.losses.yolop.YOLOPLoss` reads)."""
    rng = rng or np.random.default_rng(0)
    scenes = [driving_scene(height, width, rng) for _ in range(n)]
    images = torch.from_numpy(np.stack([s[0] for s in scenes])).permute(0, 3, 1, 2).float() / 255
    return images, {"boxes": [torch.from_numpy(s[3]).reshape(-1, 5) for s in scenes],
                    "drivable": torch.from_numpy(np.stack([s[1] for s in scenes])).long(),
                    "lane": torch.from_numpy(np.stack([s[2] for s in scenes])).long()}
