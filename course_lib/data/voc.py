"""PASCAL VOC 2012 semantic segmentation: 20 object classes plus background, 255 = void.

Introduced in Chapter 3 (FCN deconvolution, Long, Shelhamer and Darrell, https://arxiv.org/abs/1411.4038).

Official layout (what ``VOCtrainval_11-May-2012.tar`` unpacks to)::

    VOCdevkit/VOC2012/
        JPEGImages/<id>.jpg                   RGB photographs, about 500x375, sizes vary
        SegmentationClass/<id>.png            palette ("P") PNGs: the pixel values are the class indices
        ImageSets/Segmentation/{train,val,trainval}.txt   one id per line (1464 / 1449 / 2913 ids)

``RESOURCES`` (the list of :class:`course_lib.download.Resource`) is built on first access, so this module imports
without :mod:`course_lib.download`.

Oddities the loader handles: the masks are palette PNGs whose *indices* are the labels (decode them directly,
never by colour); a 5-pixel band of 255 ("void") outlines every object and marks ambiguous regions, and is
ignored by the loss and the metrics; image sizes differ, so evaluation batches need :func:`pad_collate`.

``root`` may be ``VOCdevkit/VOC2012``, ``VOCdevkit`` or a folder above ``VOCdevkit`` (up to three levels).
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
    "DOWNLOAD_NOTE",
    "IGNORE_INDEX",
    "SPLITS",
    "VOCSegmentation",
    "VOC_CLASSES",
    "VOC_PALETTE",
    "download",
    "find_root",
    "voc_colormap",
    "write_sample",
]

VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip
IGNORE_INDEX = 255
SPLITS = ("train", "val", "trainval")

VOC_URL = "http://host.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar"
VOC_MIRROR_URL = "https://thor.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar"
VOC_MD5 = "6cd6e144f989b92b3379bac3b3de84fd"

DOWNLOAD_NOTE = f"""\
PASCAL VOC 2012 (segmentation part of the trainval release).
Get it: course_lib.data.voc.download(root) fetches {VOC_URL}
(about 2 GB, md5 {VOC_MD5}; if the Oxford host is down, the same file is at {VOC_MIRROR_URL})
and unpacks VOCdevkit/VOC2012 under root. Or download the tar by hand and unpack it: pass the folder holding
VOCdevkit, VOCdevkit itself or VOCdevkit/VOC2012.
Licence: the images come from Flickr and are subject to Flickr's terms of use; the annotations are provided by the
PASCAL VOC organisers for research (see http://host.robots.ox.ac.uk/pascal/VOC/voc2012/).
Cite: M. Everingham, L. Van Gool, C. K. I. Williams, J. Winn, A. Zisserman, "The PASCAL Visual Object Classes (VOC)
Challenge", IJCV 88(2), 2010.
FCN trained on the extra SBD annotations (Hariharan et al., ICCV 2011); they are not part of this release."""


def voc_colormap(n: int = 256) -> np.ndarray:
    """The PASCAL VOC colour map: the bits of each label index are spread over the high bits of R, G and B.

    Bit 0 of the index goes to the top bit of red, bit 1 to the top bit of green, bit 2 to the top bit of blue,
    bit 3 to the second bit of red, and so on.

    Args:
        n: number of entries.

    Returns:
        ``uint8`` array ``[n, 3]``.

    Example:
        >>> voc_colormap(3).tolist()
        [[0, 0, 0], [128, 0, 0], [0, 128, 0]]
    """
    index = np.arange(n)
    cmap = np.zeros((n, 3), np.int64)
    for level in range(8):  # 8 groups of 3 bits cover indices up to 2**24
        for channel in range(3):
            bit = (index >> (3 * level + channel)) & 1
            cmap[:, channel] |= bit << (7 - level)
    return cmap.astype(np.uint8)


VOC_PALETTE = voc_colormap(256)


def _is_voc_root(path: Path) -> bool:
    return (
        (path / "ImageSets" / "Segmentation").is_dir()
        and (path / "JPEGImages").is_dir()
        and (path / "SegmentationClass").is_dir()
    )


def find_root(root: str | os.PathLike) -> Path:
    """Resolve ``root`` (``VOCdevkit/VOC2012``, ``VOCdevkit`` or a folder above) to the ``VOC2012`` folder.

    Example:
        >>> find_root("data/voc")  # doctest: +SKIP
        PosixPath('data/voc/VOCdevkit/VOC2012')
    """
    return find_dataset_root(
        root,
        _is_voc_root,
        names=("VOC2012", "VOCdevkit"),
        max_depth=3,
        what="PASCAL VOC 2012 folder (with JPEGImages/, SegmentationClass/, ImageSets/Segmentation/)",
        hint="Get it with course_lib.data.voc.download(root) or write the synthetic sample with "
        "course_lib.data.voc.write_sample(root).",
    )


class VOCSegmentation(PairedSegmentationDataset):
    """PASCAL VOC 2012 segmentation: ``(image float32 [3, H, W], mask int64 [H, W])`` pairs, 255 = void.

    Args:
        root: ``VOCdevkit/VOC2012``, ``VOCdevkit`` or a folder above them.
        split: ``"train"``, ``"val"`` or ``"trainval"`` (the list files of ``ImageSets/Segmentation``).
        transforms: a callable ``(tv_tensors.Image, tv_tensors.Mask) -> (image, mask)`` such as
            :class:`course_lib.data.transforms.SegmentationTransforms`; ``None`` only converts and normalises.
        max_items: keep only the first ``max_items`` ids of the list (quick runs).

    Example:
        >>> ds = VOCSegmentation(write_sample(tmp), "train")  # doctest: +SKIP
        >>> image, mask = ds[0]; image.shape, mask.dtype  # doctest: +SKIP
        (torch.Size([3, 120, 160]), torch.int64)
    """

    classes = VOC_CLASSES
    palette = VOC_PALETTE
    ignore_index = IGNORE_INDEX
    label_modes = ("P", "L")

    def __init__(
        self, root: str | os.PathLike, split: str = "train", transforms=None, max_items: int | None = None
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown VOC split {split!r}; choose one of {SPLITS}")
        folder = find_root(root)
        list_file = folder / "ImageSets" / "Segmentation" / f"{split}.txt"
        if not list_file.is_file():
            present = sorted(p.name for p in list_file.parent.glob("*.txt"))
            raise FileNotFoundError(f"{list_file}: list file of split {split!r} is missing (present: {present})")
        ids = [line.split()[0] for _, line in iter_nonempty_lines(list_file)]
        if not ids:
            raise ValueError(f"{list_file}: list file holds no ids")
        items = [(folder / "JPEGImages" / f"{i}.jpg", folder / "SegmentationClass" / f"{i}.png") for i in ids]
        self.ids = ids[:max_items] if max_items else ids
        super().__init__(folder, split, items, transforms, max_items)


# ----------------------------------------------------------------------------------------------- download
def __getattr__(name: str):
    # RESOURCES is built on first access, so that this module imports without course_lib.download.
    if name == "RESOURCES":
        return _resources()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _resources(url: str = VOC_URL) -> list:
    from course_lib.download import Resource

    return [
        Resource(
            url=url,
            filename="VOCtrainval_11-May-2012.tar",
            md5=VOC_MD5,
            extract=True,
            note="PASCAL VOC 2012 trainval (about 2 GB); md5 as published with torchvision's VOC dataset.",
        )
    ]


def download(root: str | os.PathLike) -> Path:
    """Download and unpack VOC 2012 trainval under ``root``; returns the ``VOCdevkit/VOC2012`` folder.

    Tries the Oxford host first and its mirror second (the md5 is checked either way).

    Args:
        root: the folder to download into (the tar unpacks to ``root/VOCdevkit/VOC2012``).

    Example:
        >>> folder = download("data/voc")  # doctest: +SKIP
    """
    from course_lib.download import fetch

    root = Path(root).expanduser()
    errors = []
    for url in (VOC_URL, VOC_MIRROR_URL):
        try:
            for resource in _resources(url):
                fetch(resource, root)
            break
        except Exception as err:  # noqa: BLE001 - a network or checksum failure: try the mirror, report both
            errors.append(f"{url}: {err}")
    else:
        raise RuntimeError("could not download PASCAL VOC 2012:\n  " + "\n  ".join(errors) + "\n" + DOWNLOAD_NOTE)
    return find_root(root)


# ----------------------------------------------------------------------------------------------- sample
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
    mask[boundary_band(mask, 3)] = IGNORE_INDEX  # VOC outlines objects with a void band
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
        >>> len(VOCSegmentation(folder, "val"))  # doctest: +SKIP
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
        "Synthetic PASCAL VOC 2012 sample written by course_lib.data.voc.write_sample; "
        "not real data. Classes drawn: " + ", ".join(SAMPLE_CLASSES.values()) + ".",
    )
    return folder
