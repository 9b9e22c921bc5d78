"""A small synthetic Penn-Fudan in the official layout: street-like PNGs, instance-id masks, CRLF annotation text.

Introduced in Chapter 5. :func:`write_sample` is the ``sample_writer`` of the registry's ``pennfudan`` entry;
:class:`course_lib.data.pennfudan.PennFudan` reads the sample and the real data with the same code.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from ..io.atomic import atomic_write_bytes
from .common import SampleCanvas, mark_sample, sample_is_current

__all__ = ["annotation_text", "write_sample"]


def annotation_text(name: str, width: int, height: int, boxes: list[tuple[int, int, int, int]]) -> bytes:
    """A "PASCAL Annotation Version 1.00" file as Penn-Fudan writes it: CRLF lines, 1-based inclusive boxes.

    Example:
        >>> annotation_text("FudanPed00001", 10, 8, [(1, 2, 4, 8)]).count(b"\\r\\n") > 5
        True
    """
    lines = ["# Compatible with PASCAL Annotation Version 1.00",
             f'Image filename : "PennFudanPed/PNGImages/{name}.png"',
             f"Image size (X x Y x C) : {width} x {height} x 3",
             'Database : "The Penn-Fudan-Pedestrian Database"',
             f"Objects with ground truth : {len(boxes)} {{ " + " ".join('"PASpersonWalking"' for _ in boxes) + " }",
             "# Note there may be some objects not included in the ground truth list for they are severe-occluded",
             "# or have very small size.",
             "# Top left pixel co-ordinates : (1, 1)"]
    for k, (x0, y0, x1, y1) in enumerate(boxes, start=1):
        lines += [f'# Details for pedestrian {k} ("PASpersonWalking")',
                  f'Original label for object {k} "PASpersonWalking" : "PennFudanPed"',
                  f'Bounding box for object {k} "PASpersonWalking" (Xmin, Ymin) - (Xmax, Ymax) : '
                  f"({x0}, {y0}) - ({x1}, {y1})",
                  f'Pixel mask for object {k} "PASpersonWalking" : "PennFudanPed/PedMasks/{name}_mask.png"', ""]
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def _street(width: int, height: int, people: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A picture with ``people`` pedestrians side by side and its instance-id mask (1..people)."""
    c = SampleCanvas(width, height, rng)
    c.paint(np.ones((height, width), bool), None, (150, 150, 155), texture=c.smooth_noise(12, 12.0))
    c.paint(c.rectangle((0, height * 0.75, width, height)), None, (90, 90, 95), noise=6)
    ids = np.zeros((height, width), np.uint8)
    slot = width / people
    for k in range(people):
        h = rng.uniform(0.6, 0.9) * height
        w = h * rng.uniform(0.28, 0.36)
        cx = slot * (k + 0.5) + rng.uniform(-0.1, 0.1) * slot
        top = rng.uniform(0.02, 0.98 * height - h)
        head = c.ellipse((cx - w * 0.2, top, cx + w * 0.2, top + w * 0.4))
        body = c.polygon([(cx - w * 0.4, top + w * 0.45), (cx + w * 0.4, top + w * 0.45), (cx + w * 0.5, top + h * 0.6),
                          (cx + w * 0.2, top + h), (cx - w * 0.2, top + h), (cx - w * 0.5, top + h * 0.6)])
        person = head | body
        colour = rng.uniform(30, 220, 3)
        c.paint(person, None, colour, noise=12)
        ids[person] = k + 1
    return c.to_uint8(), ids


def write_sample(root: str | os.PathLike, n_images: int = 12, size: tuple[int, int] = (160, 128), seed: int = 0,
                 overwrite: bool = False) -> Path:
    """Write a small synthetic Penn-Fudan in the official layout and formats; returns ``root/PennFudanPed``.

    Images alternate between ``FudanPed`` and ``PennPed`` names, with 1 to 3 pedestrians each;
    ``PedMasks/<name>_mask.png`` holds their instance ids, ``Annotation/<name>.txt`` their 1-based inclusive boxes
    with CRLF line endings. As in the second release of the real data, the last pedestrian of every fourth image is
    in the mask but not in the text; ``added-object-list.txt`` lists it. ``COURSE_SAMPLE.txt`` marks the folder as
    synthetic; an identical sample is kept.

    Args:
        root: the folder to write into.
        n_images: number of images (at least 2).
        size: ``(width, height)``.
        seed: random seed (the sample is deterministic).
        overwrite: rewrite even when an identical sample is present.
    """
    if n_images < 2:
        raise ValueError(f"n_images must be at least 2, got {n_images}")
    width, height = int(size[0]), int(size[1])
    if width < 64 or height < 64:
        raise ValueError(f"size must be at least (64, 64), got {size}")
    folder = Path(root).expanduser() / "PennFudanPed"
    params = {"n_images": n_images, "size": (width, height), "seed": seed}
    if not overwrite and sample_is_current(folder, params):
        return folder
    rng = np.random.default_rng(seed)
    for sub in ("PNGImages", "PedMasks", "Annotation"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
        for old in (folder / sub).iterdir():
            old.unlink()
    added = ["# image name (\\t) object index"]
    for i in range(n_images):
        name = f"{'FudanPed' if i % 2 == 0 else 'PennPed'}{i + 1:05d}"
        people = int(rng.integers(1, 4))
        picture, ids = _street(width, height, people, rng)
        Image.fromarray(picture, "RGB").save(folder / "PNGImages" / f"{name}.png")
        Image.fromarray(ids, "L").save(folder / "PedMasks" / f"{name}_mask.png")
        boxes = []
        for k in range(1, people + 1):
            ys, xs = np.nonzero(ids == k)
            boxes.append((int(xs.min()) + 1, int(ys.min()) + 1, int(xs.max()) + 1, int(ys.max()) + 1))
        if i % 4 == 3 and people > 1:
            added.append(f"{name}.png\t{people}")
            boxes = boxes[:-1]
        atomic_write_bytes(folder / "Annotation" / f"{name}.txt", annotation_text(name, width, height, boxes))
    atomic_write_bytes(folder / "added-object-list.txt", ("\r\n".join(added) + "\r\n").encode("ascii"))
    mark_sample(folder, params, "Synthetic Penn-Fudan (official layout: PNG images, instance-id masks, CRLF "
                "annotations) written by course_lib.synthetic.pennfudan.write_sample; not real data.")
    return folder
