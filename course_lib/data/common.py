"""Pieces every segmentation dataset shares: root discovery, file reading, collation, class weights.

Introduced in Chapter 3 (FCN on PASCAL VOC) and used by every dataset module of ``course_lib.data``.

Datasets return ``(image, mask)`` tuples: ``image`` a ``torch.float32`` tensor ``[3, H, W]`` normalised with the
ImageNet mean and standard deviation, ``mask`` a ``torch.int64`` tensor ``[H, W]`` of class indices in which the
dataset's ``ignore_index`` marks void pixels.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter, UnidentifiedImageError
from torch.utils.data import Dataset

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

SAMPLE_MARKER = "COURSE_SAMPLE.txt"

__all__ = [
    "IMAGENET_MEAN",
    "SAMPLE_MARKER",
    "PairedSegmentationDataset",
    "SampleCanvas",
    "IMAGENET_STD",
    "check_labels",
    "check_same_size",
    "class_weights",
    "denormalize",
    "find_dataset_root",
    "label_counts",
    "normalize",
    "pad_collate",
    "read_label",
    "read_rgb",
]


# ----------------------------------------------------------------------------------------------- root discovery
def find_dataset_root(
    path: str | os.PathLike,
    is_root: Callable[[Path], bool],
    names: Sequence[str],
    max_depth: int = 2,
    *,
    what: str = "dataset",
    hint: str = "",
) -> Path:
    """Find a dataset's own folder at ``path`` or up to ``max_depth`` folder levels below it.

    Users unpack archives in different places, so ``--data-root`` may name the dataset's folder itself or a folder
    above it. The search is breadth first: nearer folders win, and at one depth the folders called one of ``names``
    are tried before the others (then alphabetical order). Hidden folders are skipped.

    Args:
        path: where to start.
        is_root: returns ``True`` for the dataset's own folder (it checks the dataset's marker files).
        names: usual names of the dataset folder (``("CamVid",)``), tried first at each depth.
        max_depth: how many folder levels below ``path`` to search.
        what: what is looked for, for the error message (``"CamVid folder with train/ and trainannot/"``).
        hint: how to get the data, appended to the error message.

    Returns:
        The dataset folder.

    Raises:
        FileNotFoundError: ``path`` does not exist or no folder below it passes ``is_root``.

    Example:
        >>> root = find_dataset_root("data", lambda p: (p / "trainannot").is_dir(), ["CamVid"])  # doctest: +SKIP
    """
    start = Path(path).expanduser()
    if not start.is_dir():
        raise FileNotFoundError(f"{start}: no such folder (looked for the {what}). {hint}".rstrip())
    if is_root(start):
        return start
    level = [start]
    for _ in range(max_depth):
        children: list[Path] = []
        for folder in level:
            children.extend(_subfolders(folder, names))
        for child in children:
            if is_root(child):
                return child
        level = children
    raise FileNotFoundError(
        f"{start}: found no {what} there or up to {max_depth} folder levels below it "
        f"(folder names tried first: {', '.join(names)}). {hint}".rstrip()
    )


def _subfolders(folder: Path, names: Sequence[str]) -> list[Path]:
    """Non-hidden sub-folders of ``folder``, those named in ``names`` first, then alphabetical."""
    try:
        with os.scandir(folder) as entries:
            found = [Path(e.path) for e in entries if not e.name.startswith(".") and e.is_dir()]
    except (PermissionError, NotADirectoryError):
        return []
    rank = {name: i for i, name in enumerate(names)}
    return sorted(found, key=lambda p: (rank.get(p.name, len(rank)), p.name))


# ----------------------------------------------------------------------------------------------- file reading
def read_rgb(path: str | os.PathLike) -> Image.Image:
    """Open an image file fully and return it as an RGB PIL image (grayscale and palette files are converted).

    Args:
        path: the image file.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: the file is empty, truncated or not an image; the message names the file.

    Example:
        >>> img = read_rgb("CamVid/train/0001TP_006690.png")  # doctest: +SKIP
    """
    return _open(path, "image").convert("RGB")


def read_label(path: str | os.PathLike, modes: Sequence[str] = ("L", "P")) -> np.ndarray:
    """Read a label PNG as a ``uint8`` array of class indices, never decoding colours.

    Palette (``P``) PNGs are read as their indices, as PASCAL VOC stores them; grayscale (``L``) PNGs as their values.

    Args:
        path: the label file.
        modes: the PIL modes accepted; any other mode (e.g. an RGB colour mask) is an error.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: the file is empty, truncated, not an image, or has a mode not in ``modes``.

    Example:
        >>> mask = read_label("CamVid/trainannot/0001TP_006690.png")  # doctest: +SKIP
    """
    img = _open(path, "label")
    if img.mode not in modes:
        raise ValueError(
            f"{path}: label image has PIL mode {img.mode!r}, expected one of {tuple(modes)} "
            "(class indices, not colours: convert colour masks to index PNGs first)"
        )
    return np.asarray(img, dtype=np.uint8).copy()


def _open(path: str | os.PathLike, kind: str) -> Image.Image:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: {kind} file is missing")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: {kind} file is empty (0 bytes)")
    try:
        img = Image.open(path)
        img.load()
    except UnidentifiedImageError as err:
        raise ValueError(f"{path}: {kind} file is not a readable image ({err})") from err
    except (OSError, SyntaxError, ValueError) as err:
        raise ValueError(f"{path}: {kind} file is truncated or corrupt ({err})") from err
    return img


def check_same_size(image: Image.Image, mask: np.ndarray, image_path: Path, mask_path: Path) -> None:
    """Raise ``ValueError`` naming both files when an image and its mask differ in size."""
    if mask.shape != (image.height, image.width):
        raise ValueError(
            f"{mask_path}: mask is {mask.shape[1]}x{mask.shape[0]} (WxH) but its image {image_path} is "
            f"{image.width}x{image.height}"
        )


def check_labels(mask: np.ndarray, num_classes: int, ignore_index: int, path: Path) -> None:
    """Raise ``ValueError`` naming the file when ``mask`` holds a value that is neither a class nor ``ignore_index``."""
    values = np.unique(mask)
    bad = values[(values >= num_classes) & (values != ignore_index)]
    if bad.size:
        raise ValueError(
            f"{path}: label values {bad.tolist()[:10]} out of range (classes 0..{num_classes - 1}, void {ignore_index})"
        )


# ----------------------------------------------------------------------------------------------- tensors
def normalize(image: torch.Tensor) -> torch.Tensor:
    """Normalise a float image in ``[0, 1]`` (``[3, H, W]`` or ``[B, 3, H, W]``) with the ImageNet statistics."""
    mean = torch.tensor(IMAGENET_MEAN, dtype=image.dtype, device=image.device).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=image.dtype, device=image.device).view(3, 1, 1)
    return (image - mean) / std


def denormalize(image: torch.Tensor) -> torch.Tensor:
    """Undo the ImageNet normalisation for display: returns values clamped to ``[0, 1]``.

    Args:
        image: a normalised tensor ``[3, H, W]`` or ``[B, 3, H, W]``.

    Example:
        >>> x = torch.zeros(3, 2, 2)  # the mean colour
        >>> denormalize(x)[:, 0, 0]
        tensor([0.4850, 0.4560, 0.4060])
    """
    if image.ndim not in (3, 4) or image.shape[-3] != 3:
        raise ValueError(f"denormalize expects [3, H, W] or [B, 3, H, W], got shape {tuple(image.shape)}")
    image = image.detach().float()
    mean = torch.tensor(IMAGENET_MEAN, device=image.device).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=image.device).view(3, 1, 1)
    return (image * std + mean).clamp(0.0, 1.0)


def pad_collate(
    batch: Sequence[tuple[torch.Tensor, torch.Tensor]], ignore_index: int, multiple: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack ``(image, mask)`` pairs of different sizes by padding them at the bottom and right.

    Images are padded with zeros (the mean colour after normalisation), masks with ``ignore_index`` so that the
    padding is left out of the loss and the metrics.

    Args:
        batch: ``(image [3, H, W], mask [H, W])`` pairs.
        ignore_index: the mask value of padded pixels.
        multiple: round the padded height and width up to a multiple of this (e.g. 32 for an encoder that
            halves the resolution five times).

    Returns:
        ``images [B, 3, Hmax, Wmax]`` and ``masks [B, Hmax, Wmax]`` (``int64``).

    Example:
        >>> from functools import partial
        >>> collate = partial(pad_collate, ignore_index=255)
        >>> x, y = collate([(torch.zeros(3, 4, 5), torch.zeros(4, 5, dtype=torch.long)),
        ...                 (torch.zeros(3, 6, 3), torch.zeros(6, 3, dtype=torch.long))])
        >>> tuple(x.shape), tuple(y.shape), int(y[0, 5, 0])
        ((2, 3, 6, 5), (2, 6, 5), 255)
    """
    if len(batch) == 0:
        raise ValueError("pad_collate got an empty batch")
    for i, item in enumerate(batch):
        if len(item) != 2:
            raise ValueError(f"pad_collate expects (image, mask) pairs; item {i} has {len(item)} elements")
        image, mask = item
        if image.ndim != 3 or mask.ndim != 2 or image.shape[-2:] != mask.shape:
            raise ValueError(
                f"pad_collate: item {i} has image {tuple(image.shape)} and mask {tuple(mask.shape)}; "
                "expected [C, H, W] and [H, W] of the same H, W"
            )
    height = max(image.shape[-2] for image, _ in batch)
    width = max(image.shape[-1] for image, _ in batch)
    height = -(-height // multiple) * multiple
    width = -(-width // multiple) * multiple
    first = batch[0][0]
    images = first.new_zeros((len(batch), first.shape[0], height, width))
    masks = torch.full((len(batch), height, width), ignore_index, dtype=torch.int64)
    for i, (image, mask) in enumerate(batch):
        h, w = mask.shape
        images[i, :, :h, :w] = image
        masks[i, :h, :w] = mask
    return images, masks


# ----------------------------------------------------------------------------------------------- class balance
def label_counts(dataset, num_classes: int, ignore_index: int) -> torch.Tensor:
    """Count the pixels of each class in each sample: an ``int64`` tensor ``[len(dataset), num_classes]``.

    Uses ``dataset.load_raw(i)`` (no augmentation) when the dataset has it, else ``dataset[i][1]``.
    Pixels equal to ``ignore_index`` are not counted; any other value outside ``0..num_classes-1`` is an error.

    Args:
        dataset: a dataset returning ``(image, mask)`` or having ``load_raw``.
        num_classes: the number of classes.
        ignore_index: the void label.

    Example:
        >>> counts = label_counts(CamVid(root, "train"), 11, 11)  # doctest: +SKIP
    """
    rows = []
    for i in range(len(dataset)):
        mask = dataset.load_raw(i)[1] if hasattr(dataset, "load_raw") else dataset[i][1]
        mask = torch.as_tensor(np.asarray(mask)).long().flatten()
        mask = mask[mask != ignore_index]
        if mask.numel() and (mask.min() < 0 or mask.max() >= num_classes):
            raise ValueError(f"sample {i}: label values outside 0..{num_classes - 1} (void {ignore_index})")
        rows.append(torch.bincount(mask, minlength=num_classes))
    return torch.stack(rows) if rows else torch.zeros(0, num_classes, dtype=torch.int64)


def class_weights(dataset_or_counts, num_classes: int, ignore_index: int) -> torch.Tensor:
    """Median-frequency balancing weights, as SegNet (after Eigen and Fergus, 2015) uses them.

    ``weight[c] = median(freq) / freq[c]`` where ``freq[c]`` is the number of pixels of class ``c`` divided by the
    number of (non-void) pixels of the images in which ``c`` appears. Classes that never appear get weight 0 and
    are left out of the median.

    Args:
        dataset_or_counts: a dataset (see :func:`label_counts`), per-image counts ``[N, num_classes]`` (the exact
            definition above), or total counts ``[num_classes]`` (then ``freq[c]`` is the share of all pixels).
        num_classes: the number of classes.
        ignore_index: the void label (only used when a dataset is given).

    Returns:
        ``float32`` weights ``[num_classes]`` for ``torch.nn.CrossEntropyLoss(weight=...)``.

    Example:
        >>> class_weights(torch.tensor([50, 25, 25]), 3, 255)
        tensor([0.5000, 1.0000, 1.0000])
    """
    if isinstance(dataset_or_counts, (torch.Tensor, np.ndarray, list, tuple)):
        counts = torch.as_tensor(np.asarray(dataset_or_counts), dtype=torch.float64)
    else:
        counts = label_counts(dataset_or_counts, num_classes, ignore_index).double()
    if counts.ndim not in (1, 2) or counts.shape[-1] != num_classes:
        raise ValueError(
            f"counts must be [num_classes] or [N, num_classes] with num_classes={num_classes}, "
            f"got shape {tuple(counts.shape)}"
        )
    if (counts < 0).any():
        raise ValueError("counts must be non-negative")
    if counts.ndim == 1:
        total = counts.sum()
        freq = counts / total if total > 0 else torch.zeros_like(counts)
    else:
        per_image_total = counts.sum(dim=1, keepdim=True)
        present_total = (per_image_total * (counts > 0)).sum(dim=0)
        freq = torch.where(present_total > 0, counts.sum(dim=0) / present_total.clamp(min=1), 0.0)
    present = freq > 0
    if not present.any():
        raise ValueError("class_weights: no labelled pixels at all")
    median = freq[present].quantile(0.5)  # the average of the two middle values for an even count
    weights = torch.zeros(num_classes, dtype=torch.float64)
    weights[present] = median / freq[present]
    return weights.float()


def iter_nonempty_lines(path: Path) -> Iterable[tuple[int, str]]:
    """``(line number, stripped text)`` of the non-blank lines of a text file (for list files)."""
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            line = line.strip()
            if line:
                yield number, line


# ----------------------------------------------------------------------------------------------- datasets
class PairedSegmentationDataset(Dataset):
    """Base class of the image/label-file datasets: subclasses fill ``self.items`` with ``(image, label)`` paths.

    Subclasses set the class attributes ``classes``, ``palette``, ``ignore_index`` and ``label_modes``.
    ``__getitem__`` returns ``(image float32 [3, H, W] normalised, mask int64 [H, W])``; ``load_raw`` returns the
    files as read (a PIL RGB image and a ``uint8`` array) for plotting.
    """

    classes: tuple[str, ...] = ()
    palette: np.ndarray = np.zeros((0, 3), np.uint8)
    ignore_index: int = 255
    label_modes: tuple[str, ...] = ("L", "P")

    def __init__(
        self, root: Path, split: str, items: list[tuple[Path, Path]], transforms=None, max_items: int | None = None
    ) -> None:
        if max_items is not None:
            if max_items < 1:
                raise ValueError(f"max_items must be positive or None, got {max_items}")
            items = items[:max_items]
        for image_path, label_path in items:
            for path, kind in ((image_path, "image"), (label_path, "label")):
                if not path.is_file():
                    raise FileNotFoundError(f"{path}: {kind} file of split {split!r} is missing (root {root})")
        self.root = root
        self.split = split
        self.items = items
        if transforms is None:
            from .transforms import SegmentationTransforms

            transforms = SegmentationTransforms(train=False, size=None, ignore_index=self.ignore_index)
        self.transforms = transforms

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def is_sample(self) -> bool:
        """``True`` when the folder was written by ``write_sample`` (synthetic data), not the real dataset."""
        return (self.root / SAMPLE_MARKER).is_file()

    def __len__(self) -> int:
        return len(self.items)

    def load_raw(self, index: int) -> tuple[Image.Image, np.ndarray]:
        """The ``index``-th image (PIL, RGB) and mask (``uint8`` ``[H, W]``) as stored, checked for size and labels."""
        image_path, label_path = self.items[index]
        image = read_rgb(image_path)
        mask = read_label(label_path, self.label_modes)
        check_same_size(image, mask, image_path, label_path)
        check_labels(mask, self.num_classes, self.ignore_index, label_path)
        return image, mask

    def __getitem__(self, index: int):
        from .transforms import to_tv_tensors

        image, mask = self.transforms(*to_tv_tensors(*self.load_raw(index)))
        if isinstance(image, torch.Tensor):
            image = image.as_subclass(torch.Tensor)
        if isinstance(mask, torch.Tensor):
            mask = mask.as_subclass(torch.Tensor).long()
        return image, mask

    def __repr__(self) -> str:
        kind = "synthetic sample" if self.is_sample else "real data"
        return f"{type(self).__name__}(root={str(self.root)!r}, split={self.split!r}, n={len(self)}, {kind})"


# ----------------------------------------------------------------------------------------------- sample writers
class SampleCanvas:
    """An RGB picture and its label map painted together, for the synthetic samples of the dataset modules.

    Args:
        width, height: size in pixels.
        rng: the random generator (textures and noise).

    Example:
        >>> c = SampleCanvas(32, 24, np.random.default_rng(0))
        >>> c.paint(c.ellipse((4, 4, 20, 16)), label=3, colour=(200, 40, 40))
        >>> int(c.labels[10, 12])
        3
    """

    def __init__(self, width: int, height: int, rng: np.random.Generator, background: int = 0) -> None:
        self.width, self.height, self.rng = width, height, rng
        self.image = np.zeros((height, width, 3), np.float32)
        self.labels = np.full((height, width), background, np.uint8)
        self.yy, self.xx = np.mgrid[0:height, 0:width]

    def _draw(self, fn: str, *args, **kwargs) -> np.ndarray:
        layer = Image.new("L", (self.width, self.height), 0)
        getattr(ImageDraw.Draw(layer), fn)(*args, fill=255, **kwargs)
        return np.asarray(layer) > 0

    def ellipse(self, box) -> np.ndarray:
        """Boolean mask of the ellipse inside ``box = (x0, y0, x1, y1)``."""
        return self._draw("ellipse", [float(v) for v in box])

    def rectangle(self, box) -> np.ndarray:
        """Boolean mask of the rectangle ``box = (x0, y0, x1, y1)``."""
        return self._draw("rectangle", [float(v) for v in box])

    def polygon(self, points) -> np.ndarray:
        """Boolean mask of the polygon through ``points = [(x, y), ...]``."""
        return self._draw("polygon", [(float(x), float(y)) for x, y in points])

    def paint(
        self, where: np.ndarray, label: int | None, colour, noise: float = 8.0, texture: np.ndarray | None = None
    ) -> None:
        """Colour the pixels of ``where`` (plus optional ``texture`` ``[H, W]`` or ``[H, W, 3]`` and noise) and
        set their label (``None`` keeps the labels: a marking drawn on a surface of the same class)."""
        count = int(where.sum())
        if count == 0:
            return
        value = np.broadcast_to(np.asarray(colour, np.float32), (count, 3)).copy()
        if texture is not None:
            texture = np.asarray(texture, np.float32)[where]
            value += texture[:, None] if texture.ndim == 1 else texture
        if noise:
            value += self.rng.normal(0.0, noise, value.shape).astype(np.float32)
        self.image[where] = value
        if label is not None:
            self.labels[where] = label

    def smooth_noise(self, cell: int, sigma: float) -> np.ndarray:
        """A smooth random field ``[H, W]`` (standard deviation about ``sigma``) varying over ``cell`` pixels."""
        rows, cols = self.height // cell + 2, self.width // cell + 2
        grid = self.rng.normal(0.0, sigma, (rows, cols)).astype(np.float32)
        field = np.asarray(Image.fromarray(grid, mode="F").resize((cols * cell, rows * cell), Image.Resampling.BICUBIC))
        return field[cell // 2 : cell // 2 + self.height, cell // 2 : cell // 2 + self.width]

    def to_uint8(self, noise: float = 4.0) -> np.ndarray:
        """The picture with a last layer of sensor-like noise, as ``uint8 [H, W, 3]``."""
        image = self.image + self.rng.normal(0.0, noise, self.image.shape).astype(np.float32)
        return np.clip(image, 0, 255).astype(np.uint8)


def boundary_band(labels: np.ndarray, width: int = 3) -> np.ndarray:
    """Boolean mask of the pixels within ``width // 2`` of a pixel with another label (the label edges).

    Args:
        labels: ``uint8`` label map ``[H, W]``.
        width: the odd window size; 3 gives a band about 2 pixels wide straddling each edge.

    Example:
        >>> lab = np.zeros((5, 6), np.uint8); lab[:, 3:] = 1
        >>> boundary_band(lab)[0].astype(int).tolist()
        [0, 0, 1, 1, 0, 0]
    """
    img = Image.fromarray(np.ascontiguousarray(labels, dtype=np.uint8), mode="L")
    high = np.asarray(img.filter(ImageFilter.MaxFilter(width)))
    low = np.asarray(img.filter(ImageFilter.MinFilter(width)))
    return high != low


def sample_is_current(folder: Path, params: dict) -> bool:
    """Whether ``folder`` holds a complete sample written with the same parameters (``write_sample`` skips it)."""
    marker = folder / SAMPLE_MARKER
    return marker.is_file() and marker.read_text(encoding="utf-8").splitlines()[-1:] == [_params_line(params)]


def mark_sample(folder: Path, params: dict, description: str) -> None:
    """Write the marker that tells loaders and readers that ``folder`` is a synthetic sample (written last)."""
    text = f"{description.strip()}\n{_params_line(params)}\n"
    (folder / SAMPLE_MARKER).write_text(text, encoding="utf-8")


def _params_line(params: dict) -> str:
    return "params: " + ", ".join(f"{k}={params[k]!r}" for k in sorted(params))


def locate_dataset(name: str, module, data_root: str | os.PathLike, profile: str = "quick",
                   verbose: bool = True, folders: Sequence[str] = ()) -> tuple[Path, bool]:
    """Find a dataset under ``data_root`` or fall back to its generated sample (quick profile only).

    ``module`` is the dataset's module (it has ``find_root``, ``write_sample`` and ``DOWNLOAD_NOTE``). Looks in
    ``data_root/<name>``, ``data_root/<folder>`` for each of ``folders``, and ``data_root`` itself, skipping
    folders written by a sample writer. If no real data is found, the quick profile writes (once) and uses the
    sample in ``data_root/samples/<name>``; the full profile raises ``FileNotFoundError`` with the download note.

    Returns:
        ``(dataset folder, is_sample)``.
    """
    data_root = Path(data_root).expanduser()
    for candidate in (data_root / name, *(data_root / f for f in folders), data_root):
        if not candidate.is_dir():
            continue
        try:
            root = module.find_root(candidate)
        except FileNotFoundError:
            continue
        if any((p / SAMPLE_MARKER).is_file() for p in (root, *root.parents[:2])):
            continue
        if verbose:
            print(f"Using the REAL {name} dataset at {root}")
        return root, False
    from ..download import DATASET_MODULES

    how = (f"python data_scripts/download.py {name} --root {data_root}" if name in DATASET_MODULES
           else f"see course_lib.data.{module.__name__.rsplit('.', 1)[-1]}.DOWNLOAD_NOTE")
    if profile == "full":
        raise FileNotFoundError(f"the full profile needs the real {name} dataset under {data_root}/{name}; "
                                f"get it with: {how}\n{module.DOWNLOAD_NOTE}")
    root = module.write_sample(data_root / "samples" / name)
    if verbose:
        print(f"Using the SYNTHETIC {name} sample at {root} (the real dataset was not found under {data_root}).\n"
              f"For the real data: {how}")
    return root, True
