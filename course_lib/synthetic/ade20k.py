"""Small synthetic ADE20K samples in both official layouts: SceneParsing (``ADEChallengeData2016``) and the full
release (``ADE20K_2021_17_01``: ``_seg.png``, ``_parts_N.png``, amodal instance masks, JSON, ``index_ade20k.pkl``).

Introduced in Chapter 3. :func:`write_sample` is the ``sample_writer`` of the registry's ``ade20k`` entry,
:func:`write_full_sample` that of ``ade20k_full``; :mod:`course_lib.data.ade20k` and :mod:`course_lib.data.ade20k_full`
read the samples and the real data with the same code. Both draw the same street scenes for the same seed and names
(``ADE_train_00000001``, ...), so a SceneParsing annotation is its full-release twin mapped to the 150 classes, as
the benchmark made them. Objects are polygons (the JSON holds them exactly); a car has wheels and a door as parts
and the door a handle (a part of a part); a building has windows; an umbrella is a class SceneParsing lacks ("other").
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
from PIL import Image

from ..data.ade20k_full import to_sceneparsing
from ..data.labels import ADE20K_NAMES
from ..io.atomic import atomic_write_bytes
from .common import SampleCanvas, mark_sample, sample_is_current

__all__ = ["FULL_CLASSES", "write_full_sample", "write_sample"]

#: the full-release classes the sample draws: index -> (WordNet name, raw name), as in the release's JSON files
FULL_CLASSES = {
    2420: ("sky", "sky"), 312: ("building, edifice", "building"), 3050: ("window", "window"),
    2131: ("road, route", "road"), 2377: ("sidewalk, pavement", "sidewalk"), 2855: ("tree", "tree"),
    401: ("car, auto, automobile, machine, motorcar", "car"), 3035: ("wheel", "wheel"), 774: ("door", "door"),
    1180: ("handle", "handle"), 1831: ("person, individual, someone, somebody, mortal, soul", "person"),
    2901: ("umbrella", "umbrella"),
}  # fmt: skip
SKY, BUILDING, WINDOW, ROAD, SIDEWALK, TREE, CAR, WHEEL, DOOR, HANDLE, PERSON, UMBRELLA = FULL_CLASSES
_FOLDERS = {"train": "training", "val": "validation"}


def _ngon(cx: float, cy: float, rx: float, ry: float, n: int = 12) -> list[tuple[int, int]]:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return [(round(cx + rx * np.cos(a)), round(cy + ry * np.sin(a))) for a in t]


def _box(x0: float, y0: float, x1: float, y1: float) -> list[tuple[int, int]]:
    return [(round(x0), round(y0)), (round(x1), round(y0)), (round(x1), round(y1)), (round(x0), round(y1))]


def _scene(width: int, height: int, rng: np.random.Generator) -> tuple[np.ndarray, list[dict]]:
    """A street: returns the picture ``uint8 [H, W, 3]`` and its objects, far to near, parts after their owner.

    Each object: ``cls``, ``level``, ``owner`` (index of the object it is a part of, or ``None``), ``polygon``,
    ``amodal`` (the polygon rasterised) and ``visible`` (what is left after nearer objects and parts).
    """
    c = SampleCanvas(width, height, rng)
    objects: list[dict] = []
    horizon = height * rng.uniform(0.4, 0.5)

    def add(cls: int, polygon, colour, owner: int | None = None, texture=None) -> int:
        amodal = c.polygon(polygon)
        level = 0 if owner is None else objects[owner]["level"] + 1
        where = amodal if owner is None else amodal & objects[owner]["visible"]
        for other in objects:  # what is drawn later is nearer: it hides objects (and their parts) or parts
            if owner is None or other["level"] == level:
                other["visible"] &= ~where
        objects.append(dict(cls=cls, level=level, owner=owner, polygon=polygon, amodal=amodal, visible=where.copy()))
        c.paint(where, None, colour, noise=6, texture=texture)
        return len(objects) - 1

    add(SKY, _box(0, 0, width - 1, horizon + 2), (150, 185, 230), texture=c.smooth_noise(16, 8.0))
    for _ in range(int(rng.integers(1, 3))):
        x0 = rng.uniform(-0.1, 0.6) * width
        x1, top = x0 + rng.uniform(0.3, 0.5) * width, horizon * rng.uniform(0.15, 0.6)
        b = add(BUILDING, _box(x0, top, x1, horizon + 4), tuple(rng.uniform(110, 200, 3)))
        for wx in np.arange(x0 + 6, x1 - 10, max(16.0, width / 10)):
            for wy in np.arange(top + 6, horizon - 8, max(14.0, height / 8)):
                add(WINDOW, _box(wx, wy, wx + 6, wy + 7), (60, 70, 90), owner=b)
    vx = width * rng.uniform(0.35, 0.65)
    add(ROAD, [(round(vx - 4), round(horizon)), (round(vx + 4), round(horizon)), (width - 1, height - 1),
               (0, height - 1)], (90, 90, 95), texture=np.where(c.xx % 9 < 1, 12.0, 0.0))
    for side in (-1, 1):
        edge = 0 if side < 0 else width - 1
        add(SIDEWALK, [(round(vx + side * 4), round(horizon)), (edge, round(horizon)), (edge, height - 1),
                       (round(vx + side * width * 0.45), height - 1)], (170, 160, 150),
            texture=np.where((c.xx + c.yy) % 8 < 1, -30.0, 0.0))
    if rng.random() < 0.8:
        tx = rng.uniform(0.05, 0.95) * width
        add(TREE, _ngon(tx, horizon - 0.1 * height, 0.1 * width, 0.18 * height, 14), (60, 125, 50),
            texture=c.smooth_noise(4, 25.0))
    if rng.random() < 0.6:
        ux, uy, r = rng.uniform(0.1, 0.9) * width, horizon + 0.15 * height, 0.08 * width
        add(UMBRELLA, [(round(ux - r), round(uy)), (round(ux), round(uy - 0.7 * r)), (round(ux + r), round(uy))],
            (220, 60, 150))
    for _ in range(int(rng.integers(1, 3))):  # cars, with their parts
        cx, cy, w = rng.uniform(0.15, 0.85) * width, rng.uniform(0.7, 0.9) * height, rng.uniform(0.2, 0.3) * width
        car = add(CAR, [(round(cx - w / 2), round(cy)), (round(cx - w / 2), round(cy - 0.3 * w)),
                        (round(cx - w / 4), round(cy - 0.55 * w)), (round(cx + w / 4), round(cy - 0.55 * w)),
                        (round(cx + w / 2), round(cy - 0.3 * w)), (round(cx + w / 2), round(cy))],
                  tuple(rng.choice([(200, 30, 30), (30, 60, 170), (230, 230, 230), (220, 190, 30)])))
        for wx in (cx - 0.3 * w, cx + 0.3 * w):
            add(WHEEL, _ngon(wx, cy - 0.08 * w, 0.1 * w, 0.1 * w, 10), (25, 25, 25), owner=car)
        door = add(DOOR, _box(cx - 0.12 * w, cy - 0.45 * w, cx + 0.12 * w, cy - 0.12 * w), (150, 150, 160), owner=car)
        add(HANDLE, _box(cx + 0.03 * w, cy - 0.3 * w, cx + 0.1 * w, cy - 0.26 * w), (240, 240, 240), owner=door)
    for _ in range(int(rng.integers(1, 3))):
        px, py, h = rng.uniform(0.1, 0.9) * width, rng.uniform(0.75, 0.98) * height, rng.uniform(0.25, 0.35) * height
        add(PERSON, [(round(px - 0.12 * h), round(py)), (round(px - 0.12 * h), round(py - 0.7 * h)),
                     (round(px - 0.06 * h), round(py - h)), (round(px + 0.06 * h), round(py - h)),
                     (round(px + 0.12 * h), round(py - 0.7 * h)), (round(px + 0.12 * h), round(py))],
            tuple(rng.choice([(150, 40, 120), (30, 120, 120), (200, 120, 30)])),
            texture=np.where(c.yy % 6 < 3, 20.0, 0.0))
    return c.to_uint8(noise=4.0), objects


def _encode(objects: list[dict], level: int, shape: tuple[int, int]) -> np.ndarray:
    """The RGB PNG of one level: R = class // 256 * 10, G = class % 256, B = an instance code (1..250)."""
    rgb = np.zeros((*shape, 3), np.uint8)
    chosen = [o for o in objects if o["level"] == level]
    for k, obj in enumerate(chosen):
        rgb[obj["visible"]] = (obj["cls"] // 256 * 10, obj["cls"] % 256, round((k + 1) * 250 / (len(chosen) + 1)))
    return rgb


def _json_objects(objects: list[dict], stem: str, shape: tuple[int, int]) -> list[dict]:
    out = []
    for i, obj in enumerate(objects):
        name, raw = FULL_CLASSES[obj["cls"]]
        xs, ys = [x for x, _ in obj["polygon"]], [y for _, y in obj["polygon"]]
        hidden = bool((obj["amodal"] & ~obj["visible"]).any()) if obj["level"] == 0 else False
        cropped = min(xs) < 0 or min(ys) < 0 or max(xs) >= shape[1] or max(ys) >= shape[0]
        owner = obj["owner"]
        out.append({
            "id": i, "name": name, "name_ndx": obj["cls"], "hypernym": [], "raw_name": raw, "attributes": [],
            "depth_ordering_rank": i + 1, "occluded": "yes" if hidden else "no", "crop": "1" if cropped else "0",
            "parts": {"hasparts": [j for j, o in enumerate(objects) if o["owner"] == i],
                      "ispartof": [] if owner is None else owner, "part_level": obj["level"]},
            "instance_mask": f"{stem}/instance_{i:03d}_{stem}.png", "polygon": {"x": xs, "y": ys},
        })
    return out


def _write_full_picture(folder: Path, stem: str, split: str, image: np.ndarray, objects: list[dict]) -> None:
    shape = image.shape[:2]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / stem).mkdir(exist_ok=True)
    Image.fromarray(image, "RGB").save(folder / f"{stem}.jpg", quality=92)
    Image.fromarray(_encode(objects, 0, shape), "RGB").save(folder / f"{stem}_seg.png")
    for level in range(1, 1 + max(o["level"] for o in objects)):
        Image.fromarray(_encode(objects, level, shape), "RGB").save(folder / f"{stem}_parts_{level}.png")
    for i, obj in enumerate(objects):
        mask = np.where(obj["visible"], 255, np.where(obj["amodal"] & (obj["level"] == 0), 128, 0)).astype(np.uint8)
        Image.fromarray(mask, "L").save(folder / stem / f"instance_{i:03d}_{stem}.png")
    annotation = {"annotation": {
        "filename": f"{stem}.jpg", "folder": f"ADE20K_2021_17_01/images/ADE/{_FOLDERS[split]}/urban/street",
        "imsize": [shape[0], shape[1], 3], "scene": ["outdoor", "urban", "street"],
        "source": {"folder": "synthetic", "filename": f"{stem}.jpg",
                   "origin": "Synthetic sample written by course_lib.synthetic.ade20k; not real data."},
        "object": _json_objects(objects, stem, shape)}}
    (folder / f"{stem}.json").write_text(json.dumps(annotation, indent=1), encoding="utf-8")


def _pictures(n_train: int, n_val: int, size: tuple[int, int], seed: int):
    """``(split, stem, picture, objects)`` for every picture: the same for both layouts with the same arguments."""
    width, height = int(size[0]), int(size[1])
    if n_train < 1 or n_val < 1:
        raise ValueError(f"n_train and n_val must be at least 1, got {n_train}, {n_val}")
    if min(width, height) < 48:
        raise ValueError(f"size must be at least 48x48, got {size}")
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("val", n_val)):
        for i in range(1, n + 1):
            image, objects = _scene(width, height, rng)
            yield split, f"ADE_{split}_{i:08d}", image, objects


def _save_picture(image: np.ndarray, path: Path, number: int) -> None:
    """JPEG; the second and third training pictures are grayscale and CMYK, as a few of ADE20K's are."""
    mode = {2: "L", 3: "CMYK"}.get(number, "RGB") if path.stem.startswith("ADE_train") else "RGB"
    Image.fromarray(image, "RGB").convert(mode).save(path, quality=92)


def write_sample(root: str | os.PathLike, n_train: int = 12, n_val: int = 4, size: tuple[int, int] = (256, 192),
                 seed: int = 0, overwrite: bool = False) -> Path:
    """Write a small synthetic ADE20K SceneParsing in the official layout; returns ``root/ADEChallengeData2016``.

    Street scenes (sky, buildings, road, sidewalks, trees, cars, people, umbrellas) as JPEGs (the second and third
    training pictures grayscale and CMYK), annotations as mode-L PNGs with the benchmark's values (1..150, 0 =
    other: the umbrellas), ``objectInfo150.txt`` with the sample's own pixel ratios and picture counts, and
    ``sceneCategories.txt``. The annotations are :func:`write_full_sample`'s ``_seg.png`` mapped to the 150 classes.
    A file ``COURSE_SAMPLE.txt`` marks the folder as synthetic; a sample with the same arguments is kept.

    Args:
        root: the folder to write into.
        n_train, n_val: number of training and validation pictures.
        size: ``(width, height)``.
        seed: random seed (the sample is deterministic).
        overwrite: rewrite even when an identical sample is present.

    Example:
        >>> folder = write_sample(tmp_path, n_train=3, n_val=1, size=(96, 72))  # doctest: +SKIP
        >>> len(course_lib.data.ade20k.ADE20KSceneParsing(folder, "train"))  # doctest: +SKIP
        3
    """
    folder = Path(root).expanduser() / "ADEChallengeData2016"
    params = {"n_train": n_train, "n_val": n_val, "size": tuple(size), "seed": seed}
    if not overwrite and sample_is_current(folder, params):
        return folder
    counts = {"train": np.zeros(151, np.int64), "val": np.zeros(151, np.int64)}
    pixels, scenes = np.zeros(151, np.int64), []
    for split, stem, image, objects in _pictures(n_train, n_val, size, seed):
        for sub in ("images", "annotations"):
            (folder / sub / _FOLDERS[split]).mkdir(parents=True, exist_ok=True)
        classes = np.zeros(image.shape[:2], np.int32)
        for obj in objects:
            if obj["level"] == 0:
                classes[obj["visible"]] = obj["cls"]
        labels = to_sceneparsing(classes)
        _save_picture(image, folder / "images" / _FOLDERS[split] / f"{stem}.jpg", int(stem[-8:]))
        Image.fromarray(labels, "L").save(folder / "annotations" / _FOLDERS[split] / f"{stem}.png")
        present = np.bincount(labels.ravel(), minlength=151)
        pixels += present
        counts[split] += present > 0
        scenes.append(f"{stem} street\n")
    rows = ["Idx\tRatio\tTrain\tVal\tName\n"] + [
        f"{c}\t{pixels[c] / pixels.sum():.4f}\t{counts['train'][c]}\t{counts['val'][c]}\t{ADE20K_NAMES[c - 1]}\n"
        for c in range(1, 151)]
    (folder / "objectInfo150.txt").write_text("".join(rows), encoding="utf-8")
    (folder / "sceneCategories.txt").write_text("".join(scenes), encoding="utf-8")
    mark_sample(folder, params, "Synthetic ADE20K SceneParsing (ADEChallengeData2016 layout) written by "
                "course_lib.synthetic.ade20k.write_sample; not real data.")
    return folder


def write_full_sample(root: str | os.PathLike, n_train: int = 4, n_val: int = 2, size: tuple[int, int] = (256, 192),
                      seed: int = 0, overwrite: bool = False) -> Path:
    """Write a small synthetic full ADE20K release in its official layout; returns ``root/ADE20K_2021_17_01``.

    Per picture (``images/ADE/{training,validation}/urban/street/``): the JPEG, ``_seg.png`` (class in R and G,
    instance code in B), ``_parts_1.png`` (windows, wheels, doors) and ``_parts_2.png`` (door handles), one amodal
    instance mask per object and part (255 visible, 128 hidden), and the JSON with the polygons. At the top, an
    ``index_ade20k.pkl`` with ``objectnames``, ``filename``, ``folder``, ``scene`` and ``objectPresence``. The same
    scenes as :func:`write_sample` with the same arguments. A file ``COURSE_SAMPLE.txt`` marks the folder.

    Args:
        root, n_train, n_val, size, seed, overwrite: as :func:`write_sample`.
    """
    folder = Path(root).expanduser() / "ADE20K_2021_17_01"
    params = {"n_train": n_train, "n_val": n_val, "size": tuple(size), "seed": seed}
    if not overwrite and sample_is_current(folder, params):
        return folder
    names, folders, presence = [], [], []
    for split, stem, image, objects in _pictures(n_train, n_val, size, seed):
        where = folder / "images" / "ADE" / _FOLDERS[split] / "urban" / "street"
        _write_full_picture(where, stem, split, image, objects)
        names.append(f"{stem}.jpg")
        folders.append(str(where.relative_to(folder.parent)))
        presence.append(np.bincount([o["cls"] - 1 for o in objects], minlength=max(FULL_CLASSES)))
    objectnames = np.array([FULL_CLASSES.get(k, ("", ""))[0] for k in range(1, max(FULL_CLASSES) + 1)], object)
    index = {"filename": np.array(names, object), "folder": np.array(folders, object),
             "scene": np.array(["street"] * len(names), object), "objectnames": objectnames,
             "objectPresence": np.stack(presence, axis=1).astype(np.int64),
             "description": {"objectnames": "array of length C with the object class names (synthetic sample)"}}
    atomic_write_bytes(folder / "index_ade20k.pkl", pickle.dumps(index, protocol=4))
    mark_sample(folder, params, "Synthetic ADE20K full release (ADE20K_2021_17_01 layout) written by "
                "course_lib.synthetic.ade20k.write_full_sample; not real data.")
    return folder
