"""Small synthetic videos in the DAVIS layout: textured objects that move, turn and pass behind each other.

Introduced in Chapter 7. :func:`render_video` draws the clips (a textured background panning slowly, textured
blobs moving along smooth paths; a later object occludes an earlier one where they cross; an unlabelled distractor
passes in front of the objects), so that mask propagation, one-shot fine-tuning and online target models meet the
difficulties of the real sequences: occlusion, disocclusion, objects of the same look. :func:`write_sample` (2017:
palette PNGs, several objects, a void patch, ``ImageSets/2017``) and :func:`write_sample_2016` (grey 0/255 masks,
one object, ``ImageSets/480p`` lists) are the ``sample_writer`` of the registry's ``davis2017`` and ``davis2016``;
:class:`course_lib.data.davis.DAVIS` reads them and the real data with the same code. The YouTube-VOS, YouTube-VIS
and UVO samples (:mod:`course_lib.synthetic.youtube`) use the same clips.

Example:
    >>> frames, labels = render_video(np.random.default_rng(0), length=3, width=48, height=32, objects=2)
    >>> frames.shape, labels.shape, np.unique(labels).tolist()
    ((3, 32, 48, 3), (3, 32, 48), [0, 1, 2])
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from PIL import Image

from ..io.atomic import atomic_write
from ..io.images import voc_colormap
from .common import SampleCanvas, mark_sample, sample_is_current

__all__ = ["render_video", "write_sample", "write_sample_2016"]


def _outline(rng: np.random.Generator, radius: float, points: int = 48) -> np.ndarray:
    """A smooth random closed outline ``[P, 2]`` around the origin (a wobbly ellipse)."""
    theta = np.linspace(0, 2 * math.pi, points, endpoint=False)
    r = np.ones_like(theta)
    for k in (2, 3, 5):
        r += rng.uniform(0, 0.25 / k) * np.cos(k * theta + rng.uniform(0, 2 * math.pi))
    stretch = rng.uniform(0.6, 1.0)
    return radius * np.stack([r * np.cos(theta), stretch * r * np.sin(theta)], 1)


def _path(rng: np.random.Generator, length: int, width: int, height: int) -> np.ndarray:
    """Centres ``[T, 2]`` along a smooth path that crosses the frame (linear drift plus a slow wave)."""
    start = np.array([rng.uniform(0.15, 0.85) * width, rng.uniform(0.25, 0.75) * height])
    angle = rng.uniform(0, 2 * math.pi)
    speed = rng.uniform(0.6, 1.4) * min(width, height) / 32
    t = np.arange(length, dtype=np.float64)
    drift = np.outer(t, speed * np.array([math.cos(angle), math.sin(angle)]))
    wave = 0.08 * min(width, height) * np.stack([np.sin(t / 5 + rng.uniform(0, 6)), np.cos(t / 7)], 1)
    centre = start + drift + wave
    # bounce off the borders so the object stays mostly visible
    for axis, size in ((0, width), (1, height)):
        c = np.mod(centre[:, axis] - 0.1 * size, 2 * 0.8 * size)
        centre[:, axis] = 0.1 * size + np.where(c > 0.8 * size, 2 * 0.8 * size - c, c)
    return centre


def render_video(rng: np.random.Generator, *, length: int, width: int, height: int, objects: int,
                 appear: dict[int, int] | None = None, distractor: bool = True,
                 void_object: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Draw one clip: ``uint8 [T, H, W, 3]`` frames and ``uint8 [T, H, W]`` object ids (0 background, 255 void).

    Args:
        rng: the random generator.
        length, width, height: frames and size.
        objects: labelled objects (ids 1..objects; a higher id is drawn in front).
        appear: object id -> first frame it is in the picture (YouTube-VOS objects that enter mid-video).
        distractor: an unlabelled textured blob passing in front of everything (an occluder).
        void_object: this object holds a void patch (id 255), as DAVIS 2017 marks fine structures.
    """
    appear = appear or {}
    unit = min(width, height)
    shapes = [_outline(rng, rng.uniform(0.16, 0.26) * unit) for _ in range(objects + distractor)]
    paths = [_path(rng, length, width, height) for _ in shapes]
    spins = rng.uniform(-0.05, 0.05, len(shapes))
    looks = [(rng.uniform(40, 230, 3), rng.uniform(0.25, 0.7, 2), rng.uniform(0, 6.3)) for _ in shapes]
    bg_colour, pan = rng.uniform(60, 190, 3), rng.uniform(-0.6, 0.6, 2)
    frames = np.zeros((length, height, width, 3), np.uint8)
    labels = np.zeros((length, height, width), np.uint8)
    for t in range(length):
        c = SampleCanvas(width, height, rng)
        xx, yy = c.xx + pan[0] * t, c.yy + pan[1] * t
        c.paint(np.ones((height, width), bool), 0, bg_colour, noise=2,
                texture=(22 * np.sin(xx / 7.0) * np.cos(yy / 9.0) + 14 * np.sin((xx + 2 * yy) / 4.3))[..., None])
        for k, (shape, path) in enumerate(zip(shapes, paths, strict=True)):
            obj = k + 1
            if obj <= objects and t < appear.get(obj, 0):
                continue
            a = spins[k] * t
            rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
            where = c.polygon(shape @ rot.T + path[t])
            colour, freq, phase = looks[k]
            u, v = c.xx - path[t][0], c.yy - path[t][1]  # texture moves with the object
            tex = (35 * np.sin(freq[0] * u + phase) * np.cos(freq[1] * v))[..., None] * np.array([1.0, 0.6, 0.3])
            c.paint(where, obj if obj <= objects else 0, colour, noise=3, texture=tex)
            if obj == void_object:
                patch = c.ellipse((path[t][0] - 0.05 * unit, path[t][1] - 0.04 * unit,
                                   path[t][0] + 0.05 * unit, path[t][1] + 0.04 * unit)) & where
                c.labels[patch] = 255
        frames[t], labels[t] = c.to_uint8(noise=2), c.labels
    return frames, labels


def _save_frame(path: Path, frame: np.ndarray) -> None:
    """A video frame as its suffix says: ``.png`` lossless, else JPEG at quality 92 (as the releases' frames)."""
    with atomic_write(path) as f:
        if path.suffix.lower() == ".png":
            Image.fromarray(frame).save(f, format="PNG")
        else:
            Image.fromarray(frame).save(f, format="JPEG", quality=92)


def save_annotation(path: Path, labels: np.ndarray, *, binary: bool = False) -> None:
    """Write object ids as DAVIS does: a palette PNG (VOC colour map), or for 2016 a grey 0/255 PNG."""
    if binary:
        img = Image.fromarray(np.where(labels > 0, 255, 0).astype(np.uint8), mode="L")
    else:
        img = Image.fromarray(labels.astype(np.uint8), mode="P")
        img.putpalette(voc_colormap(256).reshape(-1).tolist())
    with atomic_write(path) as f:
        img.save(f, format="PNG")


def _write(root: str | os.PathLike, year: str, sequences: int, length: tuple[int, int], width: int, height: int,
           seed: int) -> Path:
    folder = Path(root) / "DAVIS"
    params = dict(year=year, sequences=sequences, length=length, width=width, height=height, seed=seed)
    if sample_is_current(folder, params):
        return folder
    rng = np.random.default_rng(seed)
    names, splits = [], {"train": [], "val": []}
    for i in range(sequences):
        name = f"synth-{'val' if i % 2 else 'train'}-{i:02d}"
        n = int(rng.integers(length[0], length[1] + 1))
        objects = 1 if year == "2016" else int(rng.integers(2, 4))
        frames, labels = render_video(rng, length=n, width=width, height=height, objects=objects,
                                      void_object=None if year == "2016" else 1)
        for t in range(n):
            _save_frame(folder / "JPEGImages" / "480p" / name / f"{t:05d}.jpg", frames[t])
            save_annotation(folder / "Annotations" / "480p" / name / f"{t:05d}.png", labels[t],
                            binary=year == "2016")
        names.append(name)
        splits["val" if i % 2 else "train"].append((name, n))
    for split, items in splits.items():
        if year == "2017":
            text = "".join(f"{name}\n" for name, _ in items)
            target = folder / "ImageSets" / "2017" / f"{split}.txt"
        else:
            text = "".join(f"/JPEGImages/480p/{name}/{t:05d}.jpg /Annotations/480p/{name}/{t:05d}.png\n"
                           for name, n in items for t in range(n))
            target = folder / "ImageSets" / "480p" / f"{split}.txt"
        with atomic_write(target, "w", encoding="utf-8") as f:
            f.write(text)
    mark_sample(folder, params, f"SYNTHETIC DAVIS {year} sample written by course_lib.synthetic.davis "
                                f"({len(names)} sequences of moving textured objects; not the real dataset).")
    return folder


def write_sample(root: str | os.PathLike, *, sequences: int = 4, length: tuple[int, int] = (10, 16),
                 width: int = 96, height: int = 64, seed: int = 0) -> Path:
    """Write (once) a synthetic DAVIS 2017 sample under ``root/DAVIS``; returns that folder.

    Sequences alternate between train and val (``ImageSets/2017``), have 2 or 3 objects and a void patch, and
    ``length[0]..length[1]`` frames each (real ones: 25 to 104 at 854 x 480).
    """
    return _write(root, "2017", sequences, tuple(length), width, height, seed)


def write_sample_2016(root: str | os.PathLike, *, sequences: int = 4, length: tuple[int, int] = (10, 16),
                      width: int = 96, height: int = 64, seed: int = 0) -> Path:
    """Write (once) a synthetic DAVIS 2016 sample under ``root/DAVIS``: one object per sequence, grey 0/255 masks
    and 2016-style ``ImageSets/480p/{train,val}.txt`` (frame and annotation paths)."""
    return _write(root, "2016", sequences, tuple(length), width, height, seed)
