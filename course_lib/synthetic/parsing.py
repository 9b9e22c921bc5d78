"""Small synthetic human-parsing datasets in the official layouts of LIP, CIHP, ATR and PASCAL-Person-Part.

Introduced in Chapter 4. :func:`write_lip_sample`, :func:`write_cihp_sample`, :func:`write_atr_sample` and
:func:`write_ppp_sample` are the ``sample_writer`` of the registry's ``lip``, ``cihp``, ``atr`` and ``ppp``
entries; :mod:`course_lib.data.parsing` reads the samples and the real releases with the same code.

Each picture shows people facing the camera, drawn from body segments (head, torso, upper and lower arms and legs,
feet) dressed with clothes (hair, a hat or sunglasses, upper clothes or a coat or a dress, short or long sleeves,
pants, shorts or a skirt, shoes). The person's left arm is on the right of the picture, as in the real data, so a
horizontal flip must swap left and right labels. One drawing gives every label set: LIP labels from the clothes,
PASCAL-Person-Part labels from the body segments under them, ATR labels by the LIP -> ATR table (the sample draws
only parts both sets have), CIHP labels with "torso skin" at an open neckline and one person id per pixel. Like the
real releases, some LIP pictures are grayscale JPEGs and a CIHP list ends without a newline.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from ..data.parsing_labels import LABEL_MAPPINGS
from .common import SampleCanvas, mark_sample, sample_is_current

__all__ = ["draw_people", "write_atr_sample", "write_cihp_sample", "write_lip_sample", "write_ppp_sample"]

# LIP / CIHP label values used by the drawing
HAT, HAIR, SUNGLASSES, UPPER, DRESS, COAT, PANTS, TORSO_SKIN, SCARF, SKIRT, FACE = 1, 2, 4, 5, 6, 7, 9, 10, 11, 12, 13
LEFT_ARM, RIGHT_ARM, LEFT_LEG, RIGHT_LEG, LEFT_SHOE, RIGHT_SHOE = 14, 15, 16, 17, 18, 19
# PASCAL-Person-Part values
HEAD, TORSO, UPPER_ARM, LOWER_ARM, UPPER_LEG, LOWER_LEG = 1, 2, 3, 4, 5, 6


def _limb(p0, p1, width: float) -> list[tuple[float, float]]:
    """A quadrilateral of ``width`` from ``p0`` to ``p1`` (a limb segment)."""
    (x0, y0), (x1, y1) = p0, p1
    dx, dy = x1 - x0, y1 - y0
    norm = max(1e-6, float(np.hypot(dx, dy)))
    nx, ny = -dy / norm * width / 2, dx / norm * width / 2
    return [(x0 + nx, y0 + ny), (x1 + nx, y1 + ny), (x1 - nx, y1 - ny), (x0 - nx, y0 - ny)]


def _colour(rng: np.random.Generator) -> tuple[float, float, float]:
    return tuple(float(v) for v in rng.uniform(20, 235, 3))


def _person(c: SampleCanvas, ppp: np.ndarray, cx: float, top: float, h: float, rng: np.random.Generator,
            torso_skin: bool) -> np.ndarray:
    """Draw one person ``h`` pixels tall centred at ``cx``; returns the boolean mask of its pixels."""
    mine = np.zeros(ppp.shape, bool)

    def put(where: np.ndarray, label: int, part: int, colour, texture=None) -> None:
        c.paint(where, label, colour, noise=5, texture=texture)
        ppp[where] = part
        mine[where] = True

    skin = tuple(float(v) for v in np.array([225, 185, 150]) * rng.uniform(0.45, 1.05))
    top_colour, bottom_colour = _colour(rng), _colour(rng)
    stripes = np.where((c.yy // max(2, int(h / 30))) % 2 == 0, 18.0, -18.0) if rng.random() < 0.4 else None
    y = lambda f: top + f * h  # noqa: E731 - heights as fractions of the person
    shoulder, hip, half = 0.11 * h, 0.08 * h, rng.uniform(0.8, 1.2)
    limb_w, leg_w = 0.055 * h, 0.075 * h
    upper = rng.choice([UPPER, UPPER, COAT, DRESS])
    long_sleeves, bottom = rng.random() < 0.5, rng.choice([PANTS, PANTS, SKIRT, "shorts"])
    knees = [(cx + s * hip * 0.55, y(0.72)) for s in (-1, 1)]
    # legs: image left is the person's right
    for side, (label, shoe) in zip((-1, 1), ((RIGHT_LEG, RIGHT_SHOE), (LEFT_LEG, LEFT_SHOE)), strict=True):
        hip_pt, knee = (cx + side * hip * 0.55, y(0.52)), knees[(side + 1) // 2]
        ankle = (cx + side * hip * 0.6, y(0.93))
        thigh, shin = c.polygon(_limb(hip_pt, knee, leg_w)), c.polygon(_limb(knee, ankle, leg_w * 0.85))
        if upper == DRESS:
            put(thigh, DRESS, UPPER_LEG, top_colour)
        elif bottom in (PANTS, "shorts"):
            put(thigh, PANTS, UPPER_LEG, bottom_colour)
        else:
            put(thigh, label, UPPER_LEG, skin)
        if bottom == PANTS:
            put(shin, PANTS, LOWER_LEG, bottom_colour)
        else:
            put(shin, label, LOWER_LEG, skin)
        foot = c.ellipse((ankle[0] - leg_w * 0.7 + side * leg_w * 0.3, y(0.91), ankle[0] + leg_w * 0.7
                          + side * leg_w * 0.3, y(0.99)))
        put(foot, shoe, LOWER_LEG, (40, 30, 30))
    if bottom == SKIRT or upper == DRESS:  # a skirt (or a dress) covers the gap between the thighs
        skirt = c.polygon([(cx - hip, y(0.5)), (cx + hip, y(0.5)), (cx + hip * 1.5, y(0.7)), (cx - hip * 1.5, y(0.7))])
        put(skirt, DRESS if upper == DRESS else SKIRT, UPPER_LEG, top_colour if upper == DRESS else bottom_colour)
    torso = c.polygon([(cx - shoulder, y(0.2)), (cx + shoulder, y(0.2)), (cx + hip, y(0.53)), (cx - hip, y(0.53))])
    put(torso, upper, TORSO, top_colour, stripes)
    if torso_skin and rng.random() < 0.6:
        put(c.polygon([(cx - 0.04 * h, y(0.2)), (cx + 0.04 * h, y(0.2)), (cx, y(0.27))]), TORSO_SKIN, TORSO, skin)
    elif rng.random() < 0.25:
        put(c.rectangle((cx - shoulder * 0.8, y(0.19), cx + shoulder * 0.8, y(0.23))), SCARF, TORSO, _colour(rng))
    spread = rng.uniform(0.02, 0.12) * h * half
    for side, label in ((-1, RIGHT_ARM), (1, LEFT_ARM)):
        s_pt = (cx + side * (shoulder + limb_w * 0.3), y(0.22))
        elbow = (s_pt[0] + side * spread * 0.6, y(0.37))
        wrist = (elbow[0] + side * spread * 0.6, y(0.5))
        arm, fore = c.polygon(_limb(s_pt, elbow, limb_w)), c.polygon(_limb(elbow, wrist, limb_w * 0.85))
        sleeve = upper if upper != DRESS else UPPER
        put(arm, sleeve, UPPER_ARM, top_colour, stripes)
        put(fore, sleeve if long_sleeves else label, LOWER_ARM, top_colour if long_sleeves else skin)
        put(c.ellipse((wrist[0] - limb_w * 0.5, wrist[1] - limb_w * 0.3, wrist[0] + limb_w * 0.5,
                       wrist[1] + limb_w * 0.8)), label, LOWER_ARM, skin)
    head_r = 0.085 * h
    put(c.ellipse((cx - head_r * 1.05, y(0.015), cx + head_r * 1.05, y(0.19))), HAIR, HEAD,
        tuple(np.array([40.0, 30.0, 20.0]) * rng.uniform(0.5, 3.0)))
    put(c.ellipse((cx - head_r * 0.85, y(0.05), cx + head_r * 0.85, y(0.2))), FACE, HEAD, skin)
    if rng.random() < 0.3:
        put(c.rectangle((cx - head_r * 0.7, y(0.1), cx + head_r * 0.7, y(0.125))), SUNGLASSES, HEAD, (15, 15, 20))
    if rng.random() < 0.3:
        put(c.rectangle((cx - head_r * 1.1, y(0.0), cx + head_r * 1.1, y(0.06))), HAT, HEAD, _colour(rng))
    return mine


def draw_people(width: int, height: int, rng: np.random.Generator, people: int = 1, torso_skin: bool = False
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One picture of ``people`` people: ``(image uint8 [H, W, 3], LIP labels, PPP labels, person ids)``.

    Args:
        width, height: size in pixels.
        rng: the random generator.
        people: how many people (side by side, later ones in front).
        torso_skin: draw CIHP's "torso skin" (label 10, LIP's "jumpsuits") at some necklines.

    Example:
        >>> image, lip, ppp, ids = draw_people(48, 64, np.random.default_rng(0))
        >>> image.shape, int(lip.max()) <= 19, int(ppp.max()) <= 6, int(ids.max())
        ((64, 48, 3), True, True, 1)
    """
    c = SampleCanvas(width, height, rng)
    c.paint(np.ones((height, width), bool), 0, _colour(rng), noise=4, texture=c.smooth_noise(8, 25.0)[..., None])
    ppp = np.zeros((height, width), np.uint8)
    ids = np.zeros((height, width), np.uint8)
    for k in range(people):
        h = height * (rng.uniform(0.82, 0.95) if people == 1 else rng.uniform(0.55, 0.85))
        cx = width * ((k + 0.5) / people + rng.uniform(-0.08, 0.08) / people)
        mine = _person(c, ppp, cx, rng.uniform(0.01, max(0.02, height - h - 1)), h, rng, torso_skin)
        ids[mine] = k + 1
    return c.to_uint8(noise=3.0), c.labels.copy(), ppp, ids


def _fresh(folder: Path, params: dict, overwrite: bool) -> bool:
    """Whether to (re)write: ``False`` when an identical sample is there; else the old sample is removed."""
    if not overwrite and sample_is_current(folder, params):
        return False
    if folder.exists():
        shutil.rmtree(folder)
    return True


def _begin(root: str | os.PathLike, name: str, params: dict, overwrite: bool
           ) -> tuple[Path, np.random.Generator | None]:
    """The sample's folder and a generator seeded with ``params["seed"]``; ``None`` when the sample is current."""
    folder = Path(root).expanduser() / name
    return folder, (np.random.default_rng(params["seed"]) if _fresh(folder, params, overwrite) else None)


def _save(image: np.ndarray, labels: np.ndarray, image_path: Path, label_path: Path, grey: bool = False) -> None:
    image_path.parent.mkdir(parents=True, exist_ok=True)
    label_path.parent.mkdir(parents=True, exist_ok=True)
    picture = Image.fromarray(image, "RGB")
    (picture.convert("L") if grey else picture).save(image_path, quality=92)
    Image.fromarray(labels, "L").save(label_path)


def _check(n_train: int, n_val: int, size: tuple[int, int]) -> tuple[int, int]:
    if n_train < 1 or n_val < 1:
        raise ValueError(f"each split needs at least one picture, got n_train={n_train}, n_val={n_val}")
    if len(size) != 2 or min(size) < 32:
        raise ValueError(f"size must be (height, width) with both >= 32, got {size}")
    return int(size[0]), int(size[1])


def write_lip_sample(root: str | os.PathLike, n_train: int = 32, n_val: int = 96, size: tuple[int, int] = (96, 64),
                     seed: int = 0, overwrite: bool = False) -> Path:
    """Write a synthetic LIP in the official layout; returns ``root/LIP``. Every fifth picture is grayscale.

    Args:
        root: the folder to write into.
        n_train, n_val: pictures per split. Many validation pictures by default: Chapter 4's self-correction
            experiment compares two runs that differ by about a point, which a dozen pictures cannot resolve.
        size: ``(height, width)`` of the pictures (one person each, as LIP's crops).
        seed: random seed (the sample is deterministic).
        overwrite: rewrite even when an identical sample is present.

    Example:
        >>> folder = write_lip_sample(tmp, n_train=2, n_val=1)  # doctest: +SKIP
    """
    height, width = _check(n_train, n_val, size)
    params = {"n_train": n_train, "n_val": n_val, "size": (height, width), "seed": seed}
    folder, rng = _begin(root, "LIP", params, overwrite)
    if rng is None:
        return folder
    for split, count in (("train", n_train), ("val", n_val)):
        ids = [f"{1000 + i}_{seed}{i:05d}" for i in range(count)]
        for i, name in enumerate(ids):
            image, lip, _, _ = draw_people(width, height, rng)
            _save(image, lip, folder / "TrainVal_images" / f"{split}_images" / f"{name}.jpg",
                  folder / "TrainVal_parsing_annotations" / f"{split}_segmentations" / f"{name}.png", grey=i % 5 == 4)
        (folder / "TrainVal_images" / f"{split}_id.txt").write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")
    mark_sample(folder, params, "Synthetic LIP sample (course_lib.synthetic.parsing.write_lip_sample): people drawn "
                "from body parts and clothes, LIP's 20 labels; not the real LIP.")
    return folder


def write_cihp_sample(root: str | os.PathLike, n_train: int = 12, n_val: int = 6, size: tuple[int, int] = (96, 128),
                      seed: int = 0, overwrite: bool = False) -> Path:
    """Write a synthetic CIHP (2 or 3 people a picture); returns ``root/instance-level_human_parsing``.

    ``Category_ids`` (CIHP's labels, torso skin included), ``Human_ids`` (person 1..N) and ``Instance_ids`` (one
    value per part of one person) for each picture; ``val_id.txt`` ends without a newline, as one real list does.
    Arguments as in :func:`write_lip_sample`.
    """
    height, width = _check(n_train, n_val, size)
    params = {"n_train": n_train, "n_val": n_val, "size": (height, width), "seed": seed}
    folder, rng = _begin(root, "instance-level_human_parsing", params, overwrite)
    if rng is None:
        return folder
    for split, sub, count in (("train", "Training", n_train), ("val", "Validation", n_val)):
        ids = [f"{(0 if split == 'train' else 5) * 10**5 + i:07d}" for i in range(count)]
        for name in ids:
            image, labels, _, humans = draw_people(width, height, rng, people=int(rng.integers(2, 4)), torso_skin=True)
            _save(image, labels, folder / sub / "Images" / f"{name}.jpg", folder / sub / "Category_ids" / f"{name}.png")
            (folder / sub / "Human_ids").mkdir(exist_ok=True)
            Image.fromarray(humans, "L").save(folder / sub / "Human_ids" / f"{name}.png")
            pairs = humans.astype(np.int32) * 32 + labels
            _, instances = np.unique(np.where(labels > 0, pairs, 0), return_inverse=True)
            (folder / sub / "Instance_ids").mkdir(exist_ok=True)
            Image.fromarray(instances.reshape(labels.shape).astype(np.uint8), "L").save(
                folder / sub / "Instance_ids" / f"{name}.png")
        text = "\n".join(ids) + ("\n" if split == "train" else "")  # the val list lacks its final newline
        (folder / sub / f"{split}_id.txt").write_text(text, encoding="utf-8")
    mark_sample(folder, params, "Synthetic CIHP sample (course_lib.synthetic.parsing.write_cihp_sample): groups of "
                "drawn people, CIHP's 20 labels and person ids; not the real CIHP.")
    return folder


def write_atr_sample(root: str | os.PathLike, n: int = 40, size: tuple[int, int] = (96, 64), seed: int = 0,
                     overwrite: bool = False) -> Path:
    """Write a synthetic ATR (``humanparsing/``, no split lists, labels 0..17); returns ``root/humanparsing``.

    Args:
        root, size, seed, overwrite: as in :func:`write_lip_sample`.
        n: pictures in all (the loader holds out 4 %, at least one, for validation).
    """
    height, width = _check(n, 1, size)
    params = {"n": n, "size": (height, width), "seed": seed}
    folder, rng = _begin(root, "humanparsing", params, overwrite)
    if rng is None:
        return folder
    to_atr = LABEL_MAPPINGS["lip", "atr"]
    for i in range(n):
        image, lip, _, _ = draw_people(width, height, rng)
        _save(image, to_atr[lip], folder / "JPEGImages" / f"{i + 1}_sample.jpg",
              folder / "SegmentationClassAug" / f"{i + 1}_sample.png")
    mark_sample(folder, params, "Synthetic ATR sample (course_lib.synthetic.parsing.write_atr_sample): drawn people, "
                "ATR's 18 labels; not the real ATR.")
    return folder


def write_ppp_sample(root: str | os.PathLike, n_train: int = 16, n_val: int = 8, size: tuple[int, int] = (96, 128),
                     seed: int = 0, overwrite: bool = False) -> Path:
    """Write a synthetic PASCAL-Person-Part (1 or 2 people, 7 parts); returns ``root/pascal_person_part``.

    Arguments as in :func:`write_lip_sample`.
    """
    height, width = _check(n_train, n_val, size)
    params = {"n_train": n_train, "n_val": n_val, "size": (height, width), "seed": seed}
    folder, rng = _begin(root, "pascal_person_part", params, overwrite)
    if rng is None:
        return folder
    (folder / "list").mkdir(parents=True, exist_ok=True)
    for split, count in (("train", n_train), ("val", n_val)):
        ids = [f"20{8 + (split == 'val')}_{i:06d}" for i in range(count)]
        for name in ids:
            image, _, ppp, _ = draw_people(width, height, rng, people=int(rng.integers(1, 3)))
            _save(image, ppp, folder / "JPEGImages" / f"{name}.jpg", folder / "SegmentationPart" / f"{name}.png")
        (folder / "list" / f"{split}_id.txt").write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")
    mark_sample(folder, params, "Synthetic PASCAL-Person-Part sample (course_lib.synthetic.parsing.write_ppp_sample): "
                "drawn people, the 7 body parts; not the real PASCAL-Person-Part.")
    return folder
