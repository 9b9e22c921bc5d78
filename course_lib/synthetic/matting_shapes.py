"""Synthetic foregrounds with real soft edges, and backgrounds, for the matting samples of Chapter 2.

A foreground is built as layers composited with the "over" operator in premultiplied colour, so that its colour
``F`` and alpha ``a`` are exactly what ``I = a F + (1 - a) B`` needs: an opaque body with a wavy outline (drawn 4x
larger and box-filtered down: anti-aliased edges), hair-like strands (thin curved lines of fractional coverage
that leave the body), and by kind: many strands (``"hair"``), a motion blur of the whole object (``"motion"``, the
premultiplied colour and the alpha blurred by one line kernel), a glass-like disc at alpha 0.4 with a stronger rim
(``"glass"``), holes through the body (``"holes"``). Backgrounds are crops of real photographs discovered under a
data folder (MS COCO, ADE20K, CamVid, PASCAL VOC images), or procedural pictures when there are none.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

__all__ = ["KINDS", "background", "discover_photos", "foreground", "photo_crop"]

KINDS = ("hair", "motion", "glass", "holes")
_SS = 4  # supersampling factor of the drawings
_PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
_COCO = re.compile(r"^(train|val|test)20\d\d$")


# ----------------------------------------------------------------------------------------------- drawing helpers
def _coverage(width: int, height: int, draw) -> np.ndarray:
    """``float32 [H, W]`` coverage in ``[0, 1]`` of what ``draw(ImageDraw, scale)`` paints at 4x, box-filtered."""
    layer = Image.new("L", (width * _SS, height * _SS), 0)
    draw(ImageDraw.Draw(layer), _SS)
    return np.asarray(layer.reduce(_SS), dtype=np.float32) / 255.0


def _smooth(height: int, width: int, cell: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth random field ``[H, W]`` of standard deviation about 1, varying over ``cell`` pixels."""
    rows, cols = height // cell + 2, width // cell + 2
    grid = rng.normal(0.0, 1.0, (rows, cols)).astype(np.float32)
    field = np.asarray(Image.fromarray(grid, "F").resize((cols * cell, rows * cell), Image.Resampling.BICUBIC))
    return field[cell // 2:cell // 2 + height, cell // 2:cell // 2 + width]


def _textured(height: int, width: int, colour, rng: np.random.Generator, amount: float = 0.12) -> np.ndarray:
    base = np.asarray(colour, np.float32)[None, None, :] / 255.0
    shade = _smooth(height, width, max(4, min(height, width) // 6), rng)[..., None] * amount
    return np.clip(base + shade + rng.normal(0, 0.015, (height, width, 3)), 0.0, 1.0).astype(np.float32)


def _over(layers: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Composite ``(alpha [H, W], colour [H, W, 3])`` layers bottom to top; returns premultiplied colour, alpha."""
    height, width = layers[0][0].shape
    premult, alpha = np.zeros((height, width, 3), np.float32), np.zeros((height, width), np.float32)
    for a, colour in layers:
        premult = a[..., None] * colour + (1 - a[..., None]) * premult
        alpha = a + (1 - a) * alpha
    return premult, alpha


def _outline(cx: float, cy: float, radius: float, rng: np.random.Generator, n: int = 72) -> np.ndarray:
    """Points ``[n, 2]`` of a closed wavy outline around ``(cx, cy)``."""
    theta = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = np.ones(n)
    for k in (2, 3, 5):
        r += rng.uniform(0.0, 0.12) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    return np.stack([cx + radius * r * np.cos(theta), cy + radius * r * np.sin(theta)], axis=1)


def _strand_paths(outline: np.ndarray, centre, count: int, length: float, rng: np.random.Generator) -> list:
    """Curved polylines that start on the outline and grow outwards with a drifting direction."""
    paths = []
    for _ in range(count):
        x, y = outline[rng.integers(len(outline))]
        heading = np.arctan2(y - centre[1], x - centre[0]) + rng.normal(0, 0.5)
        bend = rng.normal(0, 0.12)
        points = [(x, y)]
        steps = int(rng.integers(6, 12))
        for _ in range(steps):
            heading += bend + rng.normal(0, 0.08)
            x, y = x + length / steps * np.cos(heading), y + length / steps * np.sin(heading)
            points.append((x, y))
        paths.append(points)
    return paths


def _motion_blur(premult: np.ndarray, alpha: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Blur the premultiplied colour and the alpha with one random line kernel (a moving object)."""
    import cv2

    length = int(rng.integers(5, 11))
    angle = rng.uniform(0, np.pi)
    kernel = _coverage(length + 2, length + 2, lambda d, s: d.line(
        [((length / 2 + 1 - np.cos(angle) * length / 2) * s, (length / 2 + 1 - np.sin(angle) * length / 2) * s),
         ((length / 2 + 1 + np.cos(angle) * length / 2) * s, (length / 2 + 1 + np.sin(angle) * length / 2) * s)],
        fill=255, width=s))
    kernel /= kernel.sum()
    blur = [cv2.filter2D(premult[..., c], -1, kernel, borderType=cv2.BORDER_CONSTANT) for c in range(3)]
    return np.stack(blur, axis=2), cv2.filter2D(alpha, -1, kernel, borderType=cv2.BORDER_CONSTANT)


# ----------------------------------------------------------------------------------------------- foregrounds
def foreground(height: int, width: int, kind: str, rng: np.random.Generator, *,
               portrait: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic foreground: ``uint8`` colour ``[H, W, 3]`` and ``uint8`` alpha ``[H, W]``.

    Args:
        height, width: size in pixels.
        kind: one of :data:`KINDS` (every kind has an opaque body, anti-aliased edges and a few strands).
        rng: the random generator.
        portrait: a head-and-shoulders body with strands on the head (the portrait sample).

    Example:
        >>> fg, alpha = foreground(64, 80, "hair", np.random.default_rng(0))
        >>> fg.shape, alpha.dtype, bool(((alpha > 0) & (alpha < 255)).any())
        ((64, 80, 3), dtype('uint8'), True)
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    side = min(height, width)
    if portrait:
        cx, cy, radius = width * rng.uniform(0.42, 0.58), height * rng.uniform(0.32, 0.42), side * 0.2
    else:
        cx, cy, radius = width * rng.uniform(0.4, 0.6), height * rng.uniform(0.4, 0.6), side * rng.uniform(0.2, 0.28)
    outline = _outline(cx, cy, radius, rng)
    body_colour = _textured(height, width, rng.integers(40, 230, 3), rng)

    def body(d: ImageDraw.ImageDraw, s: int) -> None:
        d.polygon([(x * s, y * s) for x, y in outline], fill=255)
        if portrait:  # shoulders below the head
            d.rounded_rectangle([(cx - 1.9 * radius) * s, (cy + 1.3 * radius) * s, (cx + 1.9 * radius) * s,
                                 (height + radius) * s], radius=radius * s, fill=255)
            d.rectangle([(cx - 0.45 * radius) * s, (cy + 0.5 * radius) * s, (cx + 0.45 * radius) * s,
                         (cy + 1.6 * radius) * s], fill=255)
        if kind == "holes" or (not portrait and rng.uniform() < 0.25):
            for _ in range(int(rng.integers(2, 5))):
                hx, hy = cx + rng.uniform(-0.5, 0.5) * radius, cy + rng.uniform(-0.5, 0.5) * radius
                hr = radius * rng.uniform(0.08, 0.18)
                d.ellipse([(hx - hr) * s, (hy - hr) * s, (hx + hr) * s, (hy + hr) * s], fill=0)

    layers = [(_coverage(width, height, body), body_colour)]
    if kind == "glass" or rng.uniform() < 0.25:
        gx, gy = cx + rng.choice([-1, 1]) * radius * rng.uniform(0.8, 1.1), cy - radius * rng.uniform(0.2, 0.6)
        gr = radius * rng.uniform(0.55, 0.8)
        box = [(gx - gr), (gy - gr), (gx + gr), (gy + gr)]
        disc = _coverage(width, height, lambda d, s: d.ellipse([v * s for v in box], fill=255))
        rim = _coverage(width, height, lambda d, s: d.ellipse([v * s for v in box], outline=255,
                                                                width=max(1, int(0.8 * s))))
        tint = _textured(height, width, (200, 230, 240), rng, amount=0.04)
        layers += [(0.4 * disc, tint), (0.85 * rim, tint * 0.9)]
        spot = _coverage(width, height, lambda d, s: d.ellipse(
            [(gx - 0.5 * gr) * s, (gy - 0.55 * gr) * s, (gx - 0.25 * gr) * s, (gy - 0.3 * gr) * s], fill=255))
        layers.append((0.95 * spot, np.ones((height, width, 3), np.float32)))
    count = int(rng.integers(40, 70)) if kind == "hair" or portrait else int(rng.integers(6, 14))
    top = outline[outline[:, 1] < cy] if portrait else outline
    paths = _strand_paths(top, (cx, cy), count, radius * rng.uniform(0.5, 0.9), rng)
    hair_colour = _textured(height, width, rng.integers(20, 200, 3), rng, amount=0.05)
    strands = _coverage(width, height, lambda d, s: [d.line([(x * s, y * s) for x, y in p], fill=255,
                                                            width=max(1, int(rng.uniform(0.3, 0.8) * s)))
                                                     for p in paths])
    layers.append((0.9 * strands, hair_colour))
    premult, alpha = _over(layers)
    if kind == "motion":
        premult, alpha = _motion_blur(premult, alpha, rng)
    colour = np.where(alpha[..., None] > 1e-4, premult / np.maximum(alpha[..., None], 1e-4), body_colour)
    return (np.clip(np.rint(colour * 255), 0, 255).astype(np.uint8),
            np.clip(np.rint(alpha * 255), 0, 255).astype(np.uint8))


# ----------------------------------------------------------------------------------------------- backgrounds
def discover_photos(root: str | os.PathLike | None, max_depth: int = 4) -> list[Path]:
    """Photographs of the scene datasets found under ``root``: MS COCO (``train2014``, ``val2017``, ...), ADE20K
    (``images/training``, ``images/validation``), CamVid (``CamVid/train|val|test``) and PASCAL VOC
    (``JPEGImages``) folders, at most ``max_depth`` levels down; sorted, at most 16 spread over each folder.

    Example:
        >>> photos = discover_photos(os.environ.get("COURSE_REAL_DATA"))  # doctest: +SKIP
    """
    if root is None or not Path(root).is_dir():
        return []
    root = Path(root)
    found: list[Path] = []
    for here, dirs, _ in os.walk(root):
        folder = Path(here)
        depth = len(folder.relative_to(root).parts)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if depth < max_depth else []
        name, parent = folder.name, folder.parent.name
        if (_COCO.match(name) or name == "JPEGImages" or (parent == "images" and name in ("training", "validation"))
                or (parent == "CamVid" and name in ("train", "val", "test"))):
            with os.scandir(folder) as entries:
                files = sorted(Path(e.path) for e in entries
                               if e.is_file() and Path(e.name).suffix.lower() in _PHOTO_SUFFIXES)
            found += [files[i] for i in np.linspace(0, len(files) - 1, min(16, len(files))).round().astype(int)] \
                if files else []
    return sorted(dict.fromkeys(found))


def photo_crop(path: Path, height: int, width: int, rng: np.random.Generator) -> np.ndarray | None:
    """A ``uint8 [H, W, 3]`` crop of the photograph ``path`` scaled so that it covers ``H x W``; ``None`` when the
    file cannot be read."""
    try:
        with Image.open(path) as img:
            img.draft("RGB", (width * 2, height * 2))  # JPEG: decode at a reduced size, much faster
            img = img.convert("RGB")
            scale = max(width / img.width, height / img.height)
            size = (max(width, round(img.width * scale)), max(height, round(img.height * scale)))
            img = img.resize(size, Image.Resampling.LANCZOS)
    except (OSError, ValueError, SyntaxError):
        return None
    y0, x0 = int(rng.integers(0, size[1] - height + 1)), int(rng.integers(0, size[0] - width + 1))
    return np.asarray(img, dtype=np.uint8)[y0:y0 + height, x0:x0 + width].copy()


def background(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A procedural background ``uint8 [H, W, 3]``: a colour gradient, soft blobs and a few hard-edged shapes."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    a, b = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
    t = (xx / width * rng.uniform(-1, 1) + yy / height * rng.uniform(-1, 1))[..., None]
    image = a + (b - a) * (t - t.min()) / max(float(np.ptp(t)), 1e-6)
    image = image + 0.15 * _smooth(height, width, max(4, min(height, width) // 5), rng)[..., None]
    canvas = Image.fromarray(np.clip(image * 255, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(3, 8))):
        x0, y0 = rng.uniform(0, width), rng.uniform(0, height)
        x1, y1 = x0 + rng.uniform(5, width / 2), y0 + rng.uniform(5, height / 2)
        shape = draw.rectangle if rng.uniform() < 0.5 else draw.ellipse
        shape([x0, y0, x1, y1], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    noise = rng.normal(0, 4, (height, width, 3))
    return np.clip(np.asarray(canvas, np.float32) + noise, 0, 255).astype(np.uint8)
