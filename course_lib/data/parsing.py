"""Human parsing datasets (Chapter 4): LIP, CIHP, ATR and PASCAL-Person-Part, and left/right-aware flipping.

Papers: LIP (Gong et al., CVPR 2017, https://arxiv.org/abs/1703.05446), CIHP (Gong et al., ECCV 2018,
https://arxiv.org/abs/1808.00157), ATR (Liang et al., TPAMI 2015, https://arxiv.org/abs/1503.02391),
PASCAL-Person-Part (Chen et al., CVPR 2014, https://arxiv.org/abs/1406.2031). Label sets, left/right pairs and
mappings: :mod:`course_lib.data.parsing_labels`; where to get each release: ``registry.get(name).note``.

Official layouts (``root`` may be the named folder or up to three levels above it)::

    LIP:   TrainVal_images/{train,val}_images/<id>.jpg           some pictures are grayscale JPEGs
           TrainVal_images/{train,val}_id.txt                     one id per line
           TrainVal_parsing_annotations/{train,val}_segmentations/<id>.png     mode-L, 0..19, 255 ignored
           (some zips nest one more level: TrainVal_images/TrainVal_images/...; both are read)
    CIHP:  instance-level_human_parsing/{Training,Validation}/
               Images/<id>.jpg  Category_ids/<id>.png (0..19)  Human_ids/<id>.png  Instance_ids/<id>.png
               {train,val}_id.txt     (the release's lists; one of them ends without a newline)
    ATR:   humanparsing/JPEGImages/<name>.jpg  humanparsing/SegmentationClassAug/<name>.png (0..17)
           (no split lists in the release: optional humanparsing/{train,val}_id.txt, else a fixed hashed 4 % is val)
    PPP:   pascal_person_part/JPEGImages/<id>.jpg  SegmentationPart/<id>.png (0..6)  list/{train,val}_id.txt

**Instance-level parsing (CIHP).** A crowd picture has three label maps: ``Category_ids`` (the part class of each
pixel, what semantic parsing and ``score semantic --dataset cihp`` use), ``Human_ids`` (which person, 0 = none,
1..N) and ``Instance_ids`` (which part of which person). :meth:`CIHP.load_humans` reads the second.

**Left and right.** A horizontal flip turns the person's left arm into a right arm. :func:`swap_left_right` maps
the labels of a flipped map, :class:`ParsingTransforms` flips image and labels together and swaps, and
:func:`flip_logits` flips a network's output back for flip test-time augmentation (channels swapped too).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from .common import PairedSegmentationDataset, dataset_folder
from .parsing_labels import FLIP_PAIRS, LABEL_MAPPINGS, PARSING_CLASSES
from .registry import get
from .splits import hashed_holdout, read_id_list
from .transforms import SegmentationTransforms, to_tv_tensors

__all__ = ["ATR", "CIHP", "LIP", "MappedLabels", "NoisyLabels", "ParsingTransforms", "PascalPersonPart",
           "corrupt_labels", "flip_logits", "flip_permutation", "read_parsing_ids", "swap_left_right"]

_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


# ----------------------------------------------------------------------------------------------- left / right
def flip_permutation(num_classes: int, pairs) -> list[int]:
    """The class order after a horizontal flip: ``perm[c]`` is the class ``c`` becomes (pairs swapped).

    Example:
        >>> flip_permutation(5, ((1, 2),))
        [0, 2, 1, 3, 4]
    """
    perm = list(range(num_classes))
    for left, right in pairs:
        if not (0 <= left < num_classes and 0 <= right < num_classes) or left == right:
            raise ValueError(f"flip pair ({left}, {right}) is no pair of two classes 0..{num_classes - 1}")
        perm[left], perm[right] = right, left
    return perm


def swap_left_right(labels, pairs):
    """Swap the labels of each ``(left, right)`` pair in a label map (numpy array or tensor); other values stay.

    Use it on a label map that was flipped horizontally; the flip itself is not done here.

    Example:
        >>> swap_left_right(np.array([[0, 14, 15, 255]]), FLIP_PAIRS["lip"]).tolist()
        [[0, 15, 14, 255]]
    """
    if isinstance(labels, torch.Tensor):
        out = labels.clone()
    else:
        out = np.array(labels, copy=True)
    for left, right in pairs:
        out[labels == left] = right
        out[labels == right] = left
    return out


def flip_logits(logits: torch.Tensor, pairs) -> torch.Tensor:
    """The output for a flipped input, turned back: flip ``[..., K, H, W]`` along W and swap the pair channels.

    Flip test-time augmentation averages ``model(x)`` with ``flip_logits(model(flip(x)), pairs)``; without the
    channel swap, the flipped prediction calls every left arm a right arm.

    Example:
        >>> x = torch.arange(8.0).view(1, 4, 1, 2)
        >>> flip_logits(x, ((1, 2),))[0, :, 0].tolist()
        [[1.0, 0.0], [5.0, 4.0], [3.0, 2.0], [7.0, 6.0]]
    """
    if logits.ndim < 3:
        raise ValueError(f"logits must be [..., K, H, W], got shape {tuple(logits.shape)}")
    perm = flip_permutation(logits.shape[-3], pairs)
    return logits.flip(-1)[..., perm, :, :]


class ParsingTransforms:
    """:class:`course_lib.data.transforms.SegmentationTransforms` with a left/right-aware horizontal flip.

    Train: random scale, crop, colour jitter and normalisation as the segmentation chapters do them, then with
    probability ``flip_p`` the image and the labels are flipped **and the labels of each left/right pair swapped**
    (torchvision's ``RandomHorizontalFlip`` only mirrors the pixels). Eval: no flip.

    Args:
        train: random (training) or deterministic (evaluation) pipeline.
        flip_pairs: the dataset's ``(left, right)`` label pairs (:data:`course_lib.data.parsing_labels.FLIP_PAIRS`).
        size, scale, color_jitter, ignore_index: as in ``SegmentationTransforms``.
        flip_p: probability of a flip (train only).

    Example:
        >>> t = ParsingTransforms(train=True, flip_pairs=((1, 2),), size=None, scale=None, color_jitter=None,
        ...                       flip_p=1.0)
        >>> t(np.zeros((2, 3, 3), np.uint8), np.array([[1, 0, 2], [0, 0, 1]], np.uint8))[1].tolist()
        [[1, 0, 2], [2, 0, 0]]
    """

    def __init__(self, train: bool, flip_pairs, size: tuple[int, int] | None = None,
                 scale: tuple[float, float] | None = (0.75, 1.25),
                 color_jitter: tuple[float, float, float, float] | None = None, ignore_index: int = 255,
                 flip_p: float = 0.5) -> None:
        if not 0.0 <= flip_p <= 1.0:
            raise ValueError(f"flip_p must be a probability in [0, 1], got {flip_p}")
        self.train, self.flip_pairs, self.flip_p = train, tuple(tuple(p) for p in flip_pairs), flip_p
        self.base = SegmentationTransforms(train=train, size=size, scale=scale, hflip=False,
                                           color_jitter=color_jitter, ignore_index=ignore_index)

    def __call__(self, image, mask) -> tuple[torch.Tensor, torch.Tensor]:
        image, mask = self.base(image, mask)
        if self.train and self.flip_p > 0 and float(torch.rand(())) < self.flip_p:
            image, mask = image.flip(-1), swap_left_right(mask.flip(-1), self.flip_pairs)
        return image, mask

    def __repr__(self) -> str:
        return f"{type(self).__name__}(flip_pairs={self.flip_pairs}, flip_p={self.flip_p}, base={self.base})"


# ----------------------------------------------------------------------------------------------- list files
def read_parsing_ids(path: str | os.PathLike) -> list[str]:
    """Read a human-parsing split list (LIP ``train_id.txt``, CIHP ``val_id.txt``, ...): one picture id per line.

    A last line without a newline (as in CIHP's lists), blank lines and a BOM are fine.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: not UTF-8 text, empty, an id listed twice, an id with a space, a path separator or a file
            extension (``684_2150041.jpg`` instead of ``684_2150041``); the message names the file and line.

    Example:
        >>> read_parsing_ids("TrainVal_images/train_id.txt")[:1]  # doctest: +SKIP
        ['100034_483681']
    """
    ids = read_id_list(path, "split list")
    for number, name in enumerate(ids, start=1):
        if any(c.isspace() for c in name) or "/" in name or "\\" in name or name in (".", ".."):
            raise ValueError(f"{path}: id {number} ({name!r}) is no picture id (one id per line, no spaces or "
                             "folders)")
        if Path(name).suffix.lower() in (*_IMAGE_SUFFIXES, ".txt"):
            raise ValueError(f"{path}: id {number} ({name!r}) carries a file extension; the list holds ids only")
    return ids


def _nested(folder: Path, name: str) -> Path:
    """``folder/name``, or ``folder/name/name`` where an archive nests one more level (LIP's zips)."""
    inner = folder / name / name
    return inner if inner.is_dir() and not (folder / name / "train_images").is_dir() else folder / name


def _stems(folder: Path) -> list[str]:
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: folder of pictures is missing")
    return sorted(p.stem for p in folder.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES and p.is_file())


class _ParsingDataset(PairedSegmentationDataset):
    """Shared by the four readers: registry classes/palette, flip pairs, ``ids``."""

    name = ""
    flip_pairs: tuple[tuple[int, int], ...] = ()

    def _folder(self, root: str | os.PathLike, split: str, splits=("train", "val")) -> Path:
        """The dataset's folder at ``root`` after checking ``split`` (the test labels are private everywhere)."""
        if split not in splits:
            raise ValueError(f"unknown {self.name} split {split!r}; choose one of {splits} (test labels are private)")
        return dataset_folder(self.name, root)

    def _init(self, folder: Path, split: str, ids: list[str], image_dir: Path, label_dir: Path, transforms,
              max_items: int | None, suffix: str = ".jpg") -> None:
        if not ids:
            raise ValueError(f"{image_dir}: split {split!r} holds no pictures")
        self.ids = ids[:max_items] if max_items else ids
        items = [(image_dir / f"{i}{suffix}", label_dir / f"{i}.png") for i in ids]
        super().__init__(folder, split, items, transforms, max_items)


def _entry(name: str) -> tuple:
    """``(name, classes, palette, ignore_index, flip_pairs)`` of a registry entry, for the class attributes."""
    info = get(name)
    return name, info.classes, info.palette, info.ignore_index, FLIP_PAIRS[name]


# ----------------------------------------------------------------------------------------------- datasets
class LIP(_ParsingDataset):
    """LIP (Look Into Person): ``(image float32 [3, H, W], mask int64 [H, W])``, labels 0..19, 255 ignored.

    Args:
        root: the LIP folder (holding ``TrainVal_images/``) or up to three levels above it.
        split: ``"train"`` or ``"val"``.
        transforms: ``(image, mask) -> (image, mask)``, e.g. :class:`ParsingTransforms`; ``None`` normalises only.
        max_items: keep the first ``max_items`` ids of the list.

    The ids come from ``TrainVal_images/<split>_id.txt``; without the list, every picture of the split's folder.
    Grayscale pictures are converted to RGB (:func:`course_lib.io.images.read_rgb`).

    Example:
        >>> ds = LIP(course_lib.synthetic.parsing.write_lip_sample(tmp), "val")  # doctest: +SKIP
    """

    name, classes, palette, ignore_index, flip_pairs = _entry("lip")

    def __init__(self, root: str | os.PathLike, split: str = "train", transforms=None,
                 max_items: int | None = None) -> None:
        folder = self._folder(root, split)
        images, labels = _nested(folder, "TrainVal_images"), _nested(folder, "TrainVal_parsing_annotations")
        image_dir, label_dir = images / f"{split}_images", labels / f"{split}_segmentations"
        listing = images / f"{split}_id.txt"
        ids = read_parsing_ids(listing) if listing.is_file() else _stems(image_dir)
        self._init(folder, split, ids, image_dir, label_dir, transforms, max_items)


class CIHP(_ParsingDataset):
    """CIHP (Crowd Instance-level Human Parsing), read for semantic parsing: ``Category_ids`` 0..19, 255 ignored.

    Args:
        root: ``instance-level_human_parsing`` or up to three levels above it.
        split: ``"train"`` (``Training/``) or ``"val"`` (``Validation/``).
        transforms, max_items: as in :class:`LIP`.

    The ids come from ``<Split>/<split>_id.txt`` (a last line without newline is fine), else every picture.

    Example:
        >>> ds = CIHP(course_lib.synthetic.parsing.write_cihp_sample(tmp), "val")  # doctest: +SKIP
    """

    name, classes, palette, ignore_index, flip_pairs = _entry("cihp")
    FOLDERS = {"train": "Training", "val": "Validation"}

    def __init__(self, root: str | os.PathLike, split: str = "train", transforms=None,
                 max_items: int | None = None) -> None:
        folder = self._folder(root, split)
        base = folder / self.FOLDERS[split]
        listing = base / f"{split}_id.txt"
        ids = read_parsing_ids(listing) if listing.is_file() else _stems(base / "Images")
        self._init(folder, split, ids, base / "Images", base / "Category_ids", transforms, max_items)

    def load_humans(self, index: int) -> np.ndarray:
        """``Human_ids/<id>.png``: which person each pixel belongs to (0 = none, 1..N), ``uint8 [H, W]``.

        Raises:
            FileNotFoundError: the release (or copy) has no ``Human_ids`` for this picture.
            ValueError: a size that differs from the picture's.
        """
        from ..io.images import read_label

        image_path, label_path = self.items[index]
        path = label_path.parent.parent / "Human_ids" / label_path.name
        humans = read_label(path)
        categories = read_label(label_path)
        if humans.shape != categories.shape:
            raise ValueError(f"{path}: person map is {humans.shape[::-1]} (WxH), its categories {label_path} are "
                             f"{categories.shape[::-1]}")
        return humans


class ATR(_ParsingDataset):
    """ATR ("humanparsing"): ``(image, mask)`` with labels 0..17, 255 ignored.

    Args:
        root: ``humanparsing`` or up to three levels above it.
        split: ``"train"`` or ``"val"``: from ``humanparsing/<split>_id.txt`` when present, else the release is
            split by :func:`course_lib.data.splits.hashed_holdout` (4 % validation, seed 0: the same on every
            machine).
        transforms, max_items: as in :class:`LIP`.
    """

    name, classes, palette, ignore_index, flip_pairs = _entry("atr")
    VAL_FRACTION = 0.04

    def __init__(self, root: str | os.PathLike, split: str = "train", transforms=None,
                 max_items: int | None = None) -> None:
        folder = self._folder(root, split)
        listing = folder / f"{split}_id.txt"
        if listing.is_file():
            ids = read_parsing_ids(listing)
        else:
            every = _stems(folder / "JPEGImages")
            held = hashed_holdout(every, self.VAL_FRACTION, seed=0) if len(every) > 1 else set()
            ids = [i for i in every if (i in held) == (split == "val")]
        self._init(folder, split, ids, folder / "JPEGImages", folder / "SegmentationClassAug", transforms, max_items)


class PascalPersonPart(_ParsingDataset):
    """PASCAL-Person-Part: ``(image, mask)`` with the 7 parts 0..6, 255 ignored.

    Args:
        root: ``pascal_person_part`` or up to three levels above it.
        split: ``"train"`` or ``"val"`` (``list/<split>_id.txt``).
        transforms, max_items: as in :class:`LIP`.
    """

    name, classes, palette, ignore_index, flip_pairs = _entry("ppp")

    def __init__(self, root: str | os.PathLike, split: str = "train", transforms=None,
                 max_items: int | None = None) -> None:
        folder = self._folder(root, split)
        ids = read_parsing_ids(folder / "list" / f"{split}_id.txt")
        self._init(folder, split, ids, folder / "JPEGImages", folder / "SegmentationPart", transforms, max_items)


# ----------------------------------------------------------------------------------------------- label sets
class _Relabelled(torch.utils.data.Dataset):
    """A view of a reader with other labels: the subclass's ``load_raw`` changes them, the reader's transforms
    follow."""

    dataset: _ParsingDataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        image, mask = self.dataset.transforms(*to_tv_tensors(*self.load_raw(index)))
        return image.as_subclass(torch.Tensor), mask.as_subclass(torch.Tensor).long()


class MappedLabels(_Relabelled):
    """A reader of this module whose labels are mapped into another label set (:data:`LABEL_MAPPINGS`).

    Training on the coarse set (background, head, torso, arms, legs) or on PASCAL-Person-Part's parts from LIP or
    CIHP pictures; labels with no single target part become ``ignore_index``. ``classes`` and ``flip_pairs`` are the
    target set's; the reader's ``transforms`` run after the mapping, so build them with the target's flip pairs.

    Args:
        dataset: a reader of this module (``name``, ``load_raw``, ``transforms``, ``ignore_index``).
        target: the label set to map to, ``(dataset.name, target)`` must be a key of :data:`LABEL_MAPPINGS`.

    Raises:
        ValueError: no mapping from the reader's set to ``target``.

    Example:
        >>> MappedLabels.table("lip", "coarse")[[0, 2, 14, 255]].tolist()
        [0, 1, 3, 255]
    """

    def __init__(self, dataset: _ParsingDataset, target: str) -> None:
        self.dataset, self.target = dataset, target
        self.lut = self.table(dataset.name, target)
        self.classes = PARSING_CLASSES[target]
        self.flip_pairs = FLIP_PAIRS.get(target, ())
        self.ignore_index = dataset.ignore_index
        self.transforms = dataset.transforms

    @staticmethod
    def table(source: str, target: str) -> np.ndarray:
        """The ``uint8 [256]`` lookup table ``source label -> target label`` (255 where no part agrees)."""
        if (source, target) not in LABEL_MAPPINGS:
            known = sorted(t for s, t in LABEL_MAPPINGS if s == source)
            raise ValueError(f"no label mapping from {source!r} to {target!r}; {source} maps to {known}")
        return LABEL_MAPPINGS[source, target]

    def load_raw(self, index: int):
        """The picture and its labels in the target set (``uint8 [H, W]``)."""
        image, labels = self.dataset.load_raw(index)
        return image, self.lut[np.asarray(labels)]


# ----------------------------------------------------------------------------------------------- label noise
def corrupt_labels(labels: np.ndarray, rng: np.random.Generator, flip_pairs, ignore_index: int = 255,
                   grow: int = 5) -> np.ndarray:
    """Annotation noise of the kinds SCHP corrects: left and right swapped (half the time), one part missed
    (painted as background), one part drawn ``grow`` pixels too large.

    Example:
        >>> y = np.zeros((8, 8), np.uint8); y[2:6, 1:3] = 14; y[2:6, 5:7] = 15
        >>> noisy = corrupt_labels(y, np.random.default_rng(0), FLIP_PAIRS["lip"])
        >>> noisy.shape, bool((noisy != y).any())
        ((8, 8), True)
    """
    from PIL import Image, ImageFilter

    out = np.array(labels, copy=True)
    if rng.random() < 0.5:
        out = swap_left_right(out, flip_pairs)
    parts = [int(v) for v in np.unique(out) if v not in (0, ignore_index)]
    if parts:
        out[out == parts[int(rng.integers(len(parts)))]] = 0
    parts = [int(v) for v in np.unique(out) if v not in (0, ignore_index)]
    if parts and grow > 0:
        part = parts[int(rng.integers(len(parts)))]
        mask = Image.fromarray(((out == part) * 255).astype(np.uint8), "L")
        grown = np.asarray(mask.filter(ImageFilter.MaxFilter(2 * grow + 1))) > 0
        out[grown & (out != ignore_index)] = part
    return out


class NoisyLabels(_Relabelled):
    """A parsing dataset whose labels carry :func:`corrupt_labels` noise on a fixed share of its pictures.

    For the self-correction experiment: train on noisy labels, evaluate on the clean ones. The noise of each
    picture depends only on ``seed`` and its index (the same in every epoch and on every machine).

    Args:
        dataset: a reader of this module (``load_raw``, ``transforms``, ``flip_pairs``, ``ignore_index``).
        fraction: the share of pictures whose labels are corrupted.
        seed: the noise seed.
    """

    def __init__(self, dataset: _ParsingDataset | MappedLabels, fraction: float = 1.0, seed: int = 0) -> None:
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"fraction must be in [0, 1], got {fraction}")
        self.dataset, self.fraction, self.seed = dataset, fraction, seed
        chosen = np.random.default_rng(seed).permutation(len(dataset))[:round(fraction * len(dataset))]
        self.noisy = {int(i) for i in chosen}

    def load_raw(self, index: int):
        """The picture and its (corrupted, for the chosen pictures) labels, as the reader's ``load_raw``."""
        image, labels = self.dataset.load_raw(index)
        if index in self.noisy:
            rng = np.random.default_rng([self.seed, index])
            labels = corrupt_labels(labels, rng, self.dataset.flip_pairs, self.dataset.ignore_index)
        return image, labels
