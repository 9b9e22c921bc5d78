"""Kvasir-SEG: 1000 colonoscopy frames with a hand-drawn polyp mask each (binary segmentation).

Introduced in Chapter 3 (U-Net on Kvasir-SEG). Jha et al., "Kvasir-SEG: A Segmented Polyp Dataset", MMM 2020,
https://arxiv.org/abs/1911.07069.

Official layout (``kvasir-seg.zip`` from https://datasets.simula.no/kvasir-seg/) plus the split lists of the
authors' GitHub repository (``DebeshJha/Kvasir-SEG``, folder ``Data-split``), which are not in the zip::

    <root>/
        Kvasir-SEG/
            images/<id>.jpg         1000 RGB JPEGs, sizes from 332x487 to 1920x1072
            masks/<id>.jpg          same names; white polyp on black, stored as 3-channel JPEG
            kavsir_bboxes.json      {"<id>": {"height", "width", "bbox": [{"label", "xmin", "ymin", "xmax", "ymax"}]}}
        Data-split/
            train.txt  val.txt      880 / 120 ids, one per line (the MediaEval 2020 Medico split, used by
                                    HarDNet-MSEG and TGANet)

Oddities the loader handles:

* masks are JPEGs, so they are neither binary nor single-channel: the three channels are equal and about 0.7 % of
  the pixels hold values between 1 and 254 (ringing at the edges). :func:`read_mask` thresholds at 128;
* the bounding-box file keeps its official misspelling ``kavsir_bboxes.json``; it is optional;
* ``Data-split`` may sit next to ``Kvasir-SEG`` or inside it, or be absent: then a seeded 88/12 split of the files
  on disk is used (:func:`split_ids`), and the dataset says which protocol it used;
* an id named in a split list whose files are not on disk (a partial copy) is skipped and *counted*
  (``dataset.missing``), not an error; an image without its mask, or the reverse, is an error naming the file.

``root`` may be the ``Kvasir-SEG`` folder or a folder up to two levels above it.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter
from torchvision import tv_tensors
from torchvision.transforms import v2

from .common import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    PairedSegmentationDataset,
    SampleCanvas,
    _open,
    check_same_size,
    find_dataset_root,
    iter_nonempty_lines,
    mark_sample,
    read_rgb,
    sample_is_current,
)
from .transforms import to_tv_tensors

__all__ = [
    "BBOX_FILE",
    "DOWNLOAD_NOTE",
    "IGNORE_INDEX",
    "KVASIR_CLASSES",
    "KVASIR_PALETTE",
    "KvasirSEG",
    "KvasirTransforms",
    "SPLITS",
    "SplitInfo",
    "binary_collate",
    "download",
    "find_root",
    "find_split_dir",
    "list_pairs",
    "read_bboxes",
    "read_mask",
    "split_ids",
    "write_sample",
]

KVASIR_CLASSES = ("background", "polyp")
KVASIR_PALETTE = np.array([(0, 0, 0), (40, 230, 120)], dtype=np.uint8)  # green: visible on pink mucosa
IGNORE_INDEX = 255  # no void pixels in Kvasir-SEG; used only for padding by generic collate functions
SPLITS = ("train", "val", "all")
MASK_THRESHOLD = 128
BBOX_FILE = "kavsir_bboxes.json"  # sic: the official name
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
DEFAULT_VAL_FRACTION = 0.12  # 120 of 1000, as the official split

ZIP_URL = "https://datasets.simula.no/downloads/kvasir-seg.zip"
SPLIT_COMMIT = "6f375457209b27b1da42dbc5734ab271060b15dc"
SPLIT_URL = f"https://raw.githubusercontent.com/DebeshJha/Kvasir-SEG/{SPLIT_COMMIT}/Data-split/{{name}}"
# The split lists are small text files from the authors' repository at a pinned commit; their hashes were taken
# from that commit's files, so they are checked like a published checksum.
SPLIT_FILES = {
    "train.txt": ("49992c7c6c80abf02032050d4ae754236da3ba1041f609659ad0043ff6d1795c", 22880),
    "val.txt": ("d9b48bd3d980324edb39df97764fdbb5489b2583f088fb49c659b76f6d20876b", 3120),
}

DOWNLOAD_NOTE = f"""\
Kvasir-SEG (1000 colonoscopy images with polyp masks, 46 MB) from Simula: {ZIP_URL}
(page https://datasets.simula.no/kvasir-seg/). Simula publishes no checksum for the zip, so the hash of the first
download is trusted and recorded (trust on first use). The official 880/120 train/val lists come from the authors'
repository https://github.com/DebeshJha/Kvasir-SEG (folder Data-split, commit {SPLIT_COMMIT[:12]}), checked
against pinned SHA-256 sums. By hand: unzip kvasir-seg.zip into a folder and put Data-split/ beside Kvasir-SEG/.
Terms: research and educational use only; commercial use needs the authors' written permission; cite D. Jha et al.,
"Kvasir-SEG: A Segmented Polyp Dataset", MultiMedia Modeling (MMM) 2020, arXiv:1911.07069."""


# ----------------------------------------------------------------------------------------------- discovery
def _has_images(folder: Path) -> bool:
    try:
        return any(p.suffix.lower() in IMAGE_SUFFIXES for p in folder.iterdir())
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return False


def _is_kvasir_root(path: Path) -> bool:
    return (path / "images").is_dir() and (path / "masks").is_dir() and _has_images(path / "images")


def find_root(root: str | os.PathLike) -> Path:
    """Resolve ``root`` (``Kvasir-SEG`` or a folder up to two levels above it) to the ``Kvasir-SEG`` folder.

    Example:
        >>> find_root("/work/shared/data/kvasir-seg")  # doctest: +SKIP
        PosixPath('/work/shared/data/kvasir-seg/Kvasir-SEG')
    """
    return find_dataset_root(
        root,
        _is_kvasir_root,
        names=("Kvasir-SEG", "kvasir-seg", "kvasir", "kvasir_seg"),
        max_depth=2,
        what="Kvasir-SEG folder (with images/ and masks/)",
        hint="Get it with course_lib.data.kvasir.download(root) or write the synthetic sample with "
        "course_lib.data.kvasir.write_sample(root).",
    )


def find_split_dir(folder: str | os.PathLike) -> Path | None:
    """The ``Data-split`` folder holding ``train.txt``/``val.txt``: inside ``folder`` (the ``Kvasir-SEG`` folder)
    or beside it; ``None`` when there is none.

    Example:
        >>> find_split_dir("/work/shared/data/kvasir-seg/Kvasir-SEG")  # doctest: +SKIP
        PosixPath('/work/shared/data/kvasir-seg/Data-split')
    """
    folder = Path(folder)
    for candidate in (folder / "Data-split", folder.parent / "Data-split"):
        if (candidate / "train.txt").is_file() or (candidate / "val.txt").is_file():
            return candidate
    return None


def list_pairs(folder: str | os.PathLike) -> dict[str, tuple[Path, Path]]:
    """Map every id to its ``(image, mask)`` files in ``folder/images`` and ``folder/masks``.

    Args:
        folder: the ``Kvasir-SEG`` folder.

    Raises:
        FileNotFoundError: ``images/`` or ``masks/`` is missing.
        ValueError: an image has no mask or a mask has no image (the message names the files).

    Example:
        >>> pairs = list_pairs(write_sample(tmp_path))  # doctest: +SKIP
        >>> image, mask = pairs["synth_train_0000"]  # doctest: +SKIP
    """
    folder = Path(folder)
    found: dict[str, dict[str, Path]] = {"images": {}, "masks": {}}
    for kind in found:
        sub = folder / kind
        if not sub.is_dir():
            raise FileNotFoundError(f"{sub}: folder is missing (Kvasir-SEG needs images/ and masks/)")
        for path in sorted(sub.iterdir()):
            if path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith("."):
                if path.stem in found[kind]:
                    raise ValueError(f"{path}: two files share the id {path.stem!r} ({found[kind][path.stem].name})")
                found[kind][path.stem] = path
    images, masks = found["images"], found["masks"]
    lonely = sorted(set(images) ^ set(masks))
    if lonely:
        shown = [str(images[i]) + " has no mask" if i in images else str(masks[i]) + " has no image"
                 for i in lonely[:5]]
        raise ValueError(f"{folder}: {len(lonely)} unpaired file(s): " + "; ".join(shown)
                         + (" ..." if len(lonely) > 5 else ""))
    return {i: (images[i], masks[i]) for i in sorted(images)}


@dataclass(frozen=True)
class SplitInfo:
    """Which ids a split holds and how they were chosen.

    Attributes:
        ids: the ids of the split that are on disk, in list order.
        missing: ids the split list names but whose files are not on disk (skipped).
        protocol: a sentence naming the protocol, e.g. for the notebook's results table.
        listed: how many ids the list names (``len(ids) + len(missing)``); for a seeded split the ids chosen.
    """

    ids: list[str]
    missing: list[str] = field(default_factory=list)
    protocol: str = ""
    listed: int = 0


def _read_id_list(path: Path) -> list[str]:
    ids: list[str] = []
    seen: set[str] = set()
    for number, line in iter_nonempty_lines(path):
        if line.startswith("#"):
            continue
        if len(line.split()) != 1:
            raise ValueError(f"{path}:{number}: expected one id per line, got {line!r}")
        name = Path(line.replace("\\", "/")).name
        stem = Path(name).stem if Path(name).suffix.lower() in IMAGE_SUFFIXES else name
        if stem in seen:
            raise ValueError(f"{path}:{number}: id {stem!r} is listed twice")
        seen.add(stem)
        ids.append(stem)
    if not ids:
        raise ValueError(f"{path}: split list holds no ids")
    return ids


def split_ids(on_disk: list[str], split: str, split_dir: str | os.PathLike | None = None,
              val_fraction: float = DEFAULT_VAL_FRACTION, seed: int = 0) -> SplitInfo:
    """Choose the ids of ``split`` among the ids ``on_disk``.

    With a ``split_dir`` holding ``train.txt`` and ``val.txt`` (the official 880/120 lists) the lists decide;
    ids they name that are not on disk are skipped and reported in ``SplitInfo.missing``. Without one, the ids
    on disk are shuffled with ``seed`` and the first ``round(val_fraction * n)`` (at least 1) form ``val``.
    ``split="all"`` takes every id on disk.

    Args:
        on_disk: the ids with both files present (e.g. ``list(list_pairs(folder))``).
        split: ``"train"``, ``"val"`` or ``"all"``.
        split_dir: the ``Data-split`` folder, or ``None`` for the seeded split.
        val_fraction: share of the validation set in the seeded split.
        seed: seed of the seeded split.

    Raises:
        ValueError: an unknown split, a list that names an id twice or in both lists (train/val leakage), or a
            split without a single id on disk.

    Example:
        >>> info = split_ids([f"im{i}" for i in range(10)], "val", val_fraction=0.2)
        >>> len(info.ids), info.protocol.startswith("seeded")
        (2, True)
    """
    if split not in SPLITS:
        raise ValueError(f"unknown Kvasir-SEG split {split!r}; choose one of {SPLITS}")
    disk = set(on_disk)
    if not on_disk:
        raise ValueError("no Kvasir-SEG image/mask pairs on disk")
    if split == "all":
        return SplitInfo(sorted(disk), [], f"all {len(disk)} image/mask pairs on disk", len(disk))
    if split_dir is not None:
        split_dir = Path(split_dir)
        lists = {}
        for name in ("train", "val"):
            path = split_dir / f"{name}.txt"
            if not path.is_file():
                raise FileNotFoundError(f"{path}: split list is missing ({split_dir} must hold train.txt and val.txt)")
            lists[name] = _read_id_list(path)
        both = set(lists["train"]) & set(lists["val"])
        if both:
            raise ValueError(f"{split_dir}: {len(both)} id(s) are in both train.txt and val.txt, e.g. "
                             f"{sorted(both)[:3]} (train/val leakage)")
        listed = lists[split]
        ids = [i for i in listed if i in disk]
        missing = [i for i in listed if i not in disk]
        if not ids:
            raise ValueError(f"{split_dir / f'{split}.txt'}: none of its {len(listed)} ids has files on disk")
        protocol = (f"official Kvasir-SEG split ({split_dir.name}/train.txt {len(lists['train'])} ids, val.txt "
                    f"{len(lists['val'])} ids); {split}: {len(ids)} of {len(listed)} listed images on disk")
        if missing:
            protocol += f", {len(missing)} missing ones skipped"
        return SplitInfo(ids, missing, protocol, len(listed))
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    if len(disk) < 2:
        raise ValueError(f"a seeded train/val split needs at least 2 image/mask pairs, found {len(disk)}")
    order = sorted(disk)
    perm = np.random.default_rng(seed).permutation(len(order))
    n_val = min(len(order) - 1, max(1, round(val_fraction * len(order))))
    chosen = sorted(order[i] for i in (perm[:n_val] if split == "val" else perm[n_val:]))
    protocol = (f"seeded random split (seed {seed}, {n_val} of {len(order)} images for val, no Data-split lists "
                f"found); {split}: {len(chosen)} images")
    return SplitInfo(chosen, [], protocol, len(chosen))


# ----------------------------------------------------------------------------------------------- files
def read_mask(path: str | os.PathLike, threshold: int = MASK_THRESHOLD, reduce: int = 1) -> np.ndarray:
    """Read a Kvasir-SEG mask JPEG as a binary ``uint8`` array (1 = polyp).

    The masks are 3-channel JPEGs with JPEG ringing at the edges; the grey value (the channels are equal) is
    thresholded: ``value >= threshold`` is polyp.

    Args:
        path: the mask file.
        threshold: grey level from which a pixel is polyp (128: halfway between black and white).
        reduce: shrink by this integer factor (box averaging of the grey values) before thresholding.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: the file is empty, truncated, not an image or of an unexpected mode; the message names it.

    Example:
        >>> mask = read_mask("Kvasir-SEG/masks/cju0qkwl35piu0993l0dewei2.jpg")  # doctest: +SKIP
        >>> sorted(np.unique(mask))  # doctest: +SKIP
        [0, 1]
    """
    img = _open(path, "mask")
    if img.mode not in ("RGB", "L", "RGBA", "P", "1", "LA"):
        raise ValueError(f"{path}: mask has PIL mode {img.mode!r}; expected an 8-bit grey or RGB image")
    if not 0 < threshold <= 255:
        raise ValueError(f"threshold must be in 1..255, got {threshold}")
    grey = img.convert("L")
    if reduce > 1:
        grey = grey.reduce(int(reduce))
    return (np.asarray(grey, dtype=np.uint8) >= threshold).astype(np.uint8)


def read_bboxes(path: str | os.PathLike) -> dict[str, list[dict[str, Any]]]:
    """Read ``kavsir_bboxes.json``: ``{id: [{"label", "xmin", "ymin", "xmax", "ymax"}, ...]}`` plus the size.

    Each entry keeps its boxes under ``"bbox"`` and the image size under ``"height"``/``"width"``; this returns
    ``{id: {"height": h, "width": w, "bbox": [...]}}`` after checking every field.

    Args:
        path: the JSON file.

    Raises:
        ValueError: not JSON, or an entry lacks a field or holds an impossible box (the message names the id).

    Example:
        >>> boxes = read_bboxes("Kvasir-SEG/kavsir_bboxes.json")  # doctest: +SKIP
        >>> boxes["cju0qkwl35piu0993l0dewei2"]["bbox"][0]["xmin"]  # doctest: +SKIP
        38
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object keyed by image id, got {type(data).__name__}")
    out = {}
    for key, entry in data.items():
        try:
            height, width = int(entry["height"]), int(entry["width"])
            boxes = []
            for box in entry["bbox"]:
                b = {"label": str(box.get("label", "polyp")),
                     **{k: int(box[k]) for k in ("xmin", "ymin", "xmax", "ymax")}}
                if not (0 <= b["xmin"] <= b["xmax"] <= width and 0 <= b["ymin"] <= b["ymax"] <= height):
                    raise ValueError(f"box {b} outside the {width}x{height} image")
                boxes.append(b)
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{path}: entry {key!r} is malformed ({type(err).__name__}: {err})") from None
        out[str(key)] = {"height": height, "width": width, "bbox": boxes}
    return out


# ----------------------------------------------------------------------------------------------- transforms
class KvasirTransforms:
    """Joint image/mask transforms for binary polyp segmentation (``torchvision.transforms.v2``).

    Train: a random resized crop to ``size`` (area ``scale``, aspect ``ratio``), horizontal and vertical flips
    (an endoscope has no "up"), colour jitter on the image. The mask travels as a ``tv_tensors.Mask``, so every
    geometric step uses the same random parameters for both and resizes the mask with nearest-neighbour
    interpolation: it stays binary. Eval: the image is resized to ``size`` (the aspect ratio is not kept, as in
    PraNet, HarDNet-MSEG and TGANet); the mask is resized too, or with ``resize_mask=False`` kept at its native
    resolution so that the predictions are scored at the size the annotators drew (the papers' protocol).

    Args:
        train: random (training) or deterministic (evaluation) pipeline.
        size: ``(height, width)`` given to the network; ``None`` keeps the size (eval only).
        scale: ``(min, max)`` share of the image area kept by the random crop.
        ratio: ``(min, max)`` aspect ratio (width / height) of the random crop.
        hflip, vflip: random flips.
        color_jitter: ``(brightness, contrast, saturation, hue)`` or ``None``.
        resize_mask: eval only: resize the mask with the image (``True``) or keep it native (``False``).
        mean, std: normalisation statistics (ImageNet by default).

    Returns (when called with ``image, mask``):
        ``image`` ``float32 [3, h, w]`` normalised, ``mask`` ``int64 [h, w]`` (or ``[H, W]`` native) in ``{0, 1}``.

    Example:
        >>> t = KvasirTransforms(train=True, size=(64, 64))
        >>> x, y = t(np.zeros((50, 80, 3), np.uint8), np.ones((50, 80), np.uint8))
        >>> tuple(x.shape), tuple(y.shape), y.unique().tolist()
        ((3, 64, 64), (64, 64), [1])
    """

    def __init__(self, train: bool, size: tuple[int, int] | None = (352, 352),
                 scale: tuple[float, float] = (0.5, 1.0), ratio: tuple[float, float] = (0.75, 1.5),
                 hflip: bool = True, vflip: bool = True,
                 color_jitter: tuple[float, float, float, float] | None = (0.2, 0.2, 0.1, 0.02),
                 resize_mask: bool = True, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> None:
        if size is not None and (len(size) != 2 or min(size) < 1):
            raise ValueError(f"size must be (height, width) of positive ints or None, got {size}")
        if train and size is None:
            raise ValueError("the training pipeline needs a size (the random crop is resized to it)")
        self.train, self.resize_mask = train, resize_mask
        self.size = None if size is None else (int(size[0]), int(size[1]))
        geometric: list[v2.Transform] = []
        photometric: list[v2.Transform] = []
        if train:
            geometric.append(v2.RandomResizedCrop(self.size, scale=tuple(scale), ratio=tuple(ratio), antialias=True))
            if hflip:
                geometric.append(v2.RandomHorizontalFlip(0.5))
            if vflip:
                geometric.append(v2.RandomVerticalFlip(0.5))
            if color_jitter is not None:
                photometric.append(v2.ColorJitter(*color_jitter))
        elif self.size is not None:
            geometric.append(v2.Resize(self.size, antialias=True))
        self.geometric = v2.Compose(geometric) if geometric else None
        self.finish = v2.Compose([
            *photometric,
            v2.ToDtype({tv_tensors.Image: torch.float32, tv_tensors.Mask: torch.int64, "others": None}, scale=True),
            v2.Normalize(mean=list(mean), std=list(std)),
        ])

    def __call__(self, image: Any, mask: Any) -> tuple[torch.Tensor, torch.Tensor]:
        image, mask = to_tv_tensors(image, mask)
        if image.shape[-2:] != mask.shape[-2:]:
            raise ValueError(f"image {tuple(image.shape)} and mask {tuple(mask.shape)} differ in size")
        if self.geometric is not None:
            if self.train or self.resize_mask:
                image, mask = self.geometric(image, mask)
            else:
                image = self.geometric(image)
        image, mask = self.finish(image, mask)
        return image.as_subclass(torch.Tensor), mask.as_subclass(torch.Tensor)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(train={self.train}, size={self.size}, resize_mask={self.resize_mask}, "
                f"geometric={self.geometric}, finish={self.finish})")


def binary_collate(batch: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor | list]:
    """Stack ``(image, mask)`` pairs; masks of different sizes (native resolution) stay a list.

    Example:
        >>> batch = [(torch.zeros(3, 8, 8), torch.zeros(5, 6)), (torch.zeros(3, 8, 8), torch.zeros(7, 4))]
        >>> x, y = binary_collate(batch)
        >>> tuple(x.shape), [tuple(m.shape) for m in y]
        ((2, 3, 8, 8), [(5, 6), (7, 4)])
    """
    if not batch:
        raise ValueError("binary_collate got an empty batch")
    images = [b[0] for b in batch]
    if len({tuple(i.shape) for i in images}) != 1:
        raise ValueError(f"images of one batch must share a size, got {sorted({tuple(i.shape) for i in images})}; "
                         "resize them in the transforms")
    masks = [b[1] for b in batch]
    same = len({tuple(m.shape) for m in masks}) == 1
    return torch.stack(images), (torch.stack(masks) if same else masks)


# ----------------------------------------------------------------------------------------------- dataset
class KvasirSEG(PairedSegmentationDataset):
    """Kvasir-SEG as ``(image float32 [3, H, W], mask int64 [H, W] in {0, 1})`` pairs.

    Args:
        root: the ``Kvasir-SEG`` folder or a folder up to two levels above it.
        split: ``"train"``, ``"val"`` or ``"all"``.
        transforms: a callable ``(tv_tensors.Image, tv_tensors.Mask) -> (image, mask)`` such as
            :class:`KvasirTransforms`; ``None`` only converts and normalises.
        max_items: keep only the first ``max_items`` pairs (quick runs).
        split_dir: the ``Data-split`` folder; default: found next to or inside the ``Kvasir-SEG`` folder; ``False``
            forces the seeded split.
        val_fraction, seed: the seeded split used when there are no split lists (see :func:`split_ids`).
        decode_size: when set, shrink each image and mask right after decoding by the largest integer factor that
            keeps the shorter side at least ``decode_size`` (box averaging, the mask thresholded afterwards). The
            training transforms then resize a small picture instead of a 1920x1072 one: several times faster on a
            CPU. ``None`` keeps the native resolution (evaluation needs it for the masks).
        cache: keep every decoded (and shrunk) image and mask in memory after its first use, so that later epochs
            skip the JPEG decoding; meant for small CPU runs with ``decode_size`` and ``num_workers=0`` (each
            DataLoader worker would hold its own copy).
        verbose: print the protocol and the number of skipped ids.

    Attributes:
        ids: the image ids of the split, in order.
        missing: ids named by the split list whose files are absent (skipped).
        protocol: a sentence saying how the split was chosen.
        bboxes: the contents of ``kavsir_bboxes.json`` (see :func:`read_bboxes`) or ``None`` when absent.

    Example:
        >>> ds = KvasirSEG("/work/shared/data/kvasir-seg", "val")  # doctest: +SKIP
        >>> image, mask = ds[0]; image.shape, mask.unique().tolist()  # doctest: +SKIP
        (torch.Size([3, 529, 622]), [0, 1])
    """

    classes = KVASIR_CLASSES
    palette = KVASIR_PALETTE
    ignore_index = IGNORE_INDEX

    def __init__(self, root: str | os.PathLike, split: str = "train", transforms=None, max_items: int | None = None,
                 *, split_dir: str | os.PathLike | bool | None = None, val_fraction: float = DEFAULT_VAL_FRACTION,
                 seed: int = 0, decode_size: int | None = None, cache: bool = False, verbose: bool = False) -> None:
        if decode_size is not None and decode_size < 1:
            raise ValueError(f"decode_size must be a positive number of pixels or None, got {decode_size}")
        self.decode_size = decode_size
        self._cache: dict[int, tuple[Image.Image, np.ndarray]] | None = {} if cache else None
        folder = find_root(root)
        pairs = list_pairs(folder)
        if split_dir is None or split_dir is True:
            split_dir = find_split_dir(folder)
        elif split_dir is False:
            split_dir = None
        info = split_ids(list(pairs), split, split_dir, val_fraction, seed)
        self.split_info = info
        self.protocol = info.protocol
        self.missing = info.missing
        ids = info.ids[:max_items] if max_items else info.ids
        self.ids = ids
        bbox_path = folder / BBOX_FILE
        self.bboxes = read_bboxes(bbox_path) if bbox_path.is_file() else None
        if transforms is None:
            transforms = KvasirTransforms(train=False, size=None)
        super().__init__(folder, split, [pairs[i] for i in info.ids], transforms, max_items)
        if verbose:
            print(f"Kvasir-SEG {split}: {len(self)} images; {self.protocol}")

    def load_raw(self, index: int) -> tuple[Image.Image, np.ndarray]:
        """The ``index``-th image (PIL, RGB) and mask (``uint8 [H, W]`` in ``{0, 1}``), checked for size.

        Both are shrunk by the same integer factor when ``decode_size`` is set.
        """
        if self._cache is not None and index in self._cache:
            image, mask = self._cache[index]
            return image.copy(), mask.copy()
        image_path, mask_path = self.items[index]
        image = read_rgb(image_path)
        factor = max(1, min(image.size) // self.decode_size) if self.decode_size else 1
        if factor > 1:
            with Image.open(mask_path) as header:  # compare the sizes as stored, before shrinking
                if header.size != image.size:
                    raise ValueError(f"{mask_path}: mask is {header.width}x{header.height} (WxH) but its image "
                                     f"{image_path} is {image.width}x{image.height}")
            image = image.reduce(factor)
        mask = read_mask(mask_path, reduce=factor)
        check_same_size(image, mask, image_path, mask_path)
        if self._cache is not None:
            self._cache[index] = (image.copy(), mask.copy())
        return image, mask

    def boxes(self, index: int) -> list[dict[str, Any]]:
        """The bounding boxes of the ``index``-th image from ``kavsir_bboxes.json`` (empty when absent)."""
        if self.bboxes is None:
            return []
        return self.bboxes.get(self.ids[index], {}).get("bbox", [])

    def __repr__(self) -> str:
        kind = "synthetic sample" if self.is_sample else "real data"
        return (f"KvasirSEG(root={str(self.root)!r}, split={self.split!r}, n={len(self)}, {kind}, "
                f"missing={len(self.missing)})")


# ----------------------------------------------------------------------------------------------- download
def __getattr__(name: str):
    # RESOURCES is built on first access, so that this module imports without course_lib.download.
    if name == "RESOURCES":
        return _resources()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _resources() -> list:
    from course_lib.download import Resource

    resources = [Resource(
        url=ZIP_URL, filename="kvasir-seg.zip", extract=True,
        note="Simula publishes no checksum for kvasir-seg.zip (the md5 on its page could not be checked offline), so "
        "the hash of the first download is trusted and saved beside it (trust on first use).")]
    for name, (sha256, size) in SPLIT_FILES.items():
        resources.append(Resource(url=SPLIT_URL.format(name=name), filename=f"Data-split-{name}", sha256=sha256,
                                  size=size, extract=False,
                                  note=f"official {name} of DebeshJha/Kvasir-SEG at commit {SPLIT_COMMIT[:12]}"))
    return resources


def download(root: str | os.PathLike) -> Path:
    """Download ``kvasir-seg.zip`` and the official split lists under ``root``; returns the ``Kvasir-SEG`` folder.

    The zip unpacks to ``root/Kvasir-SEG``; the lists go to ``root/Data-split/{train,val}.txt``.

    Args:
        root: the folder to download into.

    Example:
        >>> folder = download("data/kvasir")  # doctest: +SKIP
    """
    import shutil

    from course_lib.download import fetch

    root = Path(root).expanduser()
    for resource in _resources():
        path = fetch(resource, root)
        if not resource.extract:
            target = root / "Data-split" / resource.filename.removeprefix("Data-split-")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    return find_root(root)


# ----------------------------------------------------------------------------------------------- sample
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
        >>> len(KvasirSEG(folder, "val"))  # doctest: +SKIP
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
                "course_lib.data.kvasir.write_sample; not real data.")
    return folder
