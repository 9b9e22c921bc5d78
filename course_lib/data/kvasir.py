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
  the pixels hold values between 1 and 254 (ringing at the edges).
  :func:`course_lib.io.images.read_binary_mask` thresholds them at 128;
* the bounding-box file keeps its official misspelling ``kavsir_bboxes.json``; it is optional
  (read by :func:`course_lib.io.boxes.read_bboxes`);
* ``Data-split`` may sit next to ``Kvasir-SEG`` or inside it, or be absent: then a seeded 88/12 split of the files
  on disk is used (:func:`split_ids`), and the dataset says which protocol it used;
* an id named in a split list whose files are not on disk (a partial copy) is skipped and *counted*
  (``dataset.missing``), not an error; an image without its mask, or the reverse, is an error naming the file.

``root`` may be the ``Kvasir-SEG`` folder or a folder up to two levels above it. Where to download it, its
terms and citation: ``course_lib.data.registry.get("kvasir")``; the synthetic sample:
:mod:`course_lib.synthetic.kvasir`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..io.boxes import read_bboxes
from ..io.images import check_same_size, image_size, read_binary_mask, read_rgb
from .common import PairedSegmentationDataset, dataset_folder
from .registry import KVASIR_CLASSES, KVASIR_PALETTE, get
from .splits import check_inside, permuted_holdout, read_id_list
from .transforms import KvasirTransforms

__all__ = [
    "BBOX_FILE",
    "IGNORE_INDEX",
    "KVASIR_CLASSES",
    "KVASIR_PALETTE",
    "KvasirSEG",
    "SPLITS",
    "SplitInfo",
    "find_split_dir",
    "list_pairs",
    "split_ids",
]

IGNORE_INDEX: int = get("kvasir").ignore_index  # 255: no void pixels in Kvasir-SEG; only padding uses it
SPLITS = ("train", "val", "all")
BBOX_FILE = "kavsir_bboxes.json"  # sic: the official name
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
DEFAULT_VAL_FRACTION = 0.12  # 120 of 1000, as the official split


# ----------------------------------------------------------------------------------------------- layout
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
        >>> pairs = list_pairs(course_lib.synthetic.kvasir.write_sample(tmp_path))  # doctest: +SKIP
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
    """The ids of a split list (:func:`course_lib.data.splits.read_id_list`): one per line, ``#`` comments skipped,
    folders and image suffixes dropped (``images/x.jpg`` is the id ``x``)."""
    ids: list[str] = []
    seen: set[str] = set()
    for number, line in enumerate(read_id_list(path, "split list"), start=1):
        if line.startswith("#"):
            continue
        if len(line.split()) != 1:
            raise ValueError(f"{path}: entry {number} ({line!r}): expected one id per line")
        check_inside(line, f"{path}: entry {number}")
        name = Path(line.replace("\\", "/")).name
        stem = Path(name).stem if Path(name).suffix.lower() in IMAGE_SUFFIXES else name
        if stem in seen:
            raise ValueError(f"{path}: id {stem!r} is listed twice (entry {number})")
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
    on disk are shuffled with ``seed`` and the first ``round(val_fraction * n)`` (at least 1) form ``val``
    (:func:`course_lib.data.splits.permuted_holdout`).
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
    held = permuted_holdout(order, val_fraction, seed)
    n_val = len(held)
    chosen = sorted(held) if split == "val" else sorted(disk - held)
    protocol = (f"seeded random split (seed {seed}, {n_val} of {len(order)} images for val, no Data-split lists "
                f"found); {split}: {len(chosen)} images")
    return SplitInfo(chosen, [], protocol, len(chosen))


# ----------------------------------------------------------------------------------------------- dataset
class KvasirSEG(PairedSegmentationDataset):
    """Kvasir-SEG as ``(image float32 [3, H, W], mask int64 [H, W] in {0, 1})`` pairs.

    Args:
        root: the ``Kvasir-SEG`` folder or a folder up to two levels above it.
        split: ``"train"``, ``"val"`` or ``"all"``.
        transforms: a callable ``(tv_tensors.Image, tv_tensors.Mask) -> (image, mask)`` such as
            :class:`course_lib.data.transforms.KvasirTransforms`; ``None`` only converts and normalises.
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
        bboxes: the contents of ``kavsir_bboxes.json`` (see :func:`course_lib.io.boxes.read_bboxes`) or ``None``
            when absent.

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
        folder = dataset_folder("kvasir", root)
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
            stored = image_size(mask_path, "mask")  # compare the sizes as stored, before shrinking
            if stored != image.size:
                raise ValueError(f"{mask_path}: mask is {stored[0]}x{stored[1]} (WxH) but its image "
                                 f"{image_path} is {image.width}x{image.height}")
            image = image.reduce(factor)
        mask = read_binary_mask(mask_path, reduce=factor)
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
