"""CamVid with its original 32 labels: 701 frames (960x720) whose labels are colours, decoded by ``label_colors.txt``.

Introduced in Chapter 10 (driving datasets), next to the SegNet 11-class version of Chapter 3
(:mod:`course_lib.data.camvid`). G. J. Brostow, J. Fauqueur, R. Cipolla, *Semantic object classes in video: A
high-definition ground truth database*, Pattern Recognition Letters 30(2), 2009.

Official layout::

    camvid32/
        701_StillsRaw_full/<seq>_<frame>.png          RGB frames of the sequences 0001TP, 0006R0, 0016E5, Seq05VD
        LabeledApproved_full/<seq>_<frame>_L.png      RGB: each pixel the colour of its label
        label_colors.txt                              "r g b<TAB>name", 32 lines (31 classes and Void)

Unlike the SegNet version, labels are **decoded by colour**: class index = the label's position in
``label_colors.txt`` without ``Void`` (:data:`course_lib.data.driving_entries.CAMVID32_CLASSES`), ``Void`` -> 255.
A colour that is in no table line is an error naming the file (JPEG-compressed or resized labels show up this
way: their colours are blends). The release has no train/val/test lists; the SegNet lists name the frames of its
split (``names=`` keeps those).

Example:
    >>> table = [("Sky", (128, 128, 128)), ("Void", (0, 0, 0))]
    >>> decode_colours(np.array([[[128, 128, 128], [0, 0, 0]]], np.uint8), table).tolist()
    [[0, 255]]
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from ..io.images import check_same_size, open_image, read_rgb
from .common import PairedSegmentationDataset, dataset_folder
from .driving_entries import CAMVID32_CLASSES, CAMVID32_LABELS, CAMVID32_PALETTE, CAMVID32_VOID
from .splits import read_list_lines

__all__ = ["CamVid32", "decode_colours", "encode_colours", "parse_label_colors"]


def parse_label_colors(path: str | os.PathLike) -> list[tuple[str, tuple[int, int, int]]]:
    """Read ``label_colors.txt``: lines ``r g b<TAB>name`` (tabs or spaces between) -> ``[(name, (r, g, b)), ...]``.

    Raises:
        ValueError: not UTF-8, a line without three 0..255 integers and a name, a repeated colour or name;
            the message names the file and the line.
    """
    rows: list[tuple[str, tuple[int, int, int]]] = []
    for number, line in read_list_lines(path, "CamVid label_colors.txt"):
        fields = line.split()
        try:
            colour = tuple(int(v) for v in fields[:3])
        except ValueError:
            colour = ()
        if len(fields) != 4 or len(colour) != 3 or not all(0 <= v <= 255 for v in colour):
            raise ValueError(f"{path}:{number}: expected 'r g b<TAB>name' with 0..255 values, got {line!r}")
        if any(colour == c or fields[3] == n for n, c in rows):
            raise ValueError(f"{path}:{number}: colour {colour} or name {fields[3]!r} is listed twice")
        rows.append((fields[3], colour))  # type: ignore[arg-type]
    return rows


def _codes(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.int64)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def decode_colours(rgb: np.ndarray, table: Sequence[tuple[str, tuple[int, int, int]]] = CAMVID32_LABELS,
                   path: str | os.PathLike | None = None) -> np.ndarray:
    """Colour labels ``uint8 [H, W, 3]`` -> class indices ``uint8 [H, W]`` (table order without Void; Void 255).

    Raises:
        ValueError: a colour that no table line has (the message names ``path`` and the first such colours).
    """
    names = [n for n, _ in table if n != CAMVID32_VOID]
    lut_codes = np.array([_codes(np.array(c)) for _, c in table], np.int64)
    lut_values = np.array([255 if n == CAMVID32_VOID else names.index(n) for n, _ in table], np.uint8)
    order = np.argsort(lut_codes)
    codes = _codes(np.asarray(rgb))
    pos = np.clip(np.searchsorted(lut_codes[order], codes), 0, len(order) - 1)
    found = lut_codes[order][pos] == codes
    if not found.all():
        bad = sorted({(int(c) >> 16, (int(c) >> 8) & 255, int(c) & 255) for c in np.unique(codes[~found])[:5]})
        raise ValueError(f"{path or 'labels'}: colours {bad} are no CamVid labels (label_colors.txt); "
                         f"{int((~found).sum())} pixels")
    return lut_values[order][pos]


def encode_colours(classes: np.ndarray) -> np.ndarray:
    """Class indices (0..30, 255 Void) -> CamVid colour labels ``uint8 [H, W, 3]`` (the inverse of decoding)."""
    classes = np.asarray(classes)
    out = np.zeros((*classes.shape, 3), np.uint8)  # Void is black
    valid = classes < len(CAMVID32_CLASSES)
    out[valid] = CAMVID32_PALETTE[classes[valid]]
    return out


def read_colour_label(path: str | os.PathLike, table=CAMVID32_LABELS) -> np.ndarray:
    """Read a ``*_L.png`` colour label and decode it (:func:`decode_colours`); RGB or RGBA files only."""
    img = open_image(path, "CamVid colour label")
    if img.mode not in ("RGB", "RGBA"):
        raise ValueError(f"{path}: CamVid colour label has PIL mode {img.mode!r}, expected RGB colours")
    return decode_colours(np.asarray(img.convert("RGB")), table, path)


class CamVid32(PairedSegmentationDataset):
    """CamVid, 32 labels: ``(image float32 [3, H, W], mask int64 [H, W])``, classes 0..30, Void 255.

    Args:
        root: the folder holding ``701_StillsRaw_full`` and ``LabeledApproved_full`` (or up to three above it).
        names: keep only these frames (stems such as ``0001TP_006690``, e.g. from the SegNet lists); ``None``: all.
        transforms: ``(tv_tensors.Image, tv_tensors.Mask) -> (image, mask)``; ``None`` converts and normalises.
        max_items: keep the first ``max_items`` frames.

    Raises:
        ValueError: the folder's ``label_colors.txt`` differs from the release's 32 labels.

    Example:
        >>> ds = CamVid32(course_lib.synthetic.driving.write_camvid32_sample(tmp))  # doctest: +SKIP
    """

    classes = CAMVID32_CLASSES
    palette = CAMVID32_PALETTE
    ignore_index = 255

    def __init__(self, root: str | os.PathLike, names: Iterable[str] | None = None, transforms=None,
                 max_items: int | None = None) -> None:
        folder = dataset_folder("camvid32", root)
        table_file = folder / "label_colors.txt"
        if table_file.is_file() and parse_label_colors(table_file) != list(CAMVID32_LABELS):
            raise ValueError(f"{table_file}: differs from CamVid's 32 labels (course_lib.data.driving_entries."
                             "CAMVID32_LABELS); is this another label set?")
        frames = sorted((folder / "701_StillsRaw_full").glob("*.png"))
        if names is not None:
            wanted = {Path(n).stem for n in names}
            frames = [p for p in frames if p.stem in wanted]
        items = [(p, folder / "LabeledApproved_full" / f"{p.stem}_L.png") for p in frames]
        if not items:
            raise ValueError(f"{folder / '701_StillsRaw_full'}: no frames" + (" of the given names" if names else ""))
        super().__init__(folder, "all", items, transforms, max_items)

    def load_raw(self, index: int) -> tuple[Image.Image, np.ndarray]:
        """The frame (PIL RGB) and its decoded classes (``uint8 [H, W]``, Void 255)."""
        image_path, label_path = self.items[index]
        image, mask = read_rgb(image_path), read_colour_label(label_path)
        check_same_size(image, mask, image_path, label_path)
        return image, mask
