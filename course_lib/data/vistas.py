"""Mapillary Vistas: street-level pictures from six continents, many cameras and sizes; v1.2 and v2.0 labels.

Introduced in Chapter 10 (driving datasets). G. Neuhold, T. Ollmann, S. Rota Bulò, P. Kontschieder, *The Mapillary
Vistas Dataset for Semantic Understanding of Street Scenes*, ICCV 2017.

Official layout (research edition)::

    vistas/
        config_v1.2.json  config_v2.0.json     {"labels": [{"name", "readable", "color", "instances", "evaluate"}]}
        {training,validation}/images/<key>.jpg
        {training,validation}/v1.2/labels/<key>.png      palette PNG: index = position in config_v1.2.json (0..65)
        {training,validation}/v1.2/instances/<key>.png   16-bit: label * 256 + instance
        {training,validation}/v2.0/labels/<key>.png      the same with config_v2.0.json (124 labels)
        testing/images/<key>.jpg

Labels are read as palette indices, never by colour. Classes are the labels with ``"evaluate": true`` in file order
(v1.2: 65 classes, ``void--unlabeled`` = 65 -> 255); the others become 255. Pictures differ in size (from about
800x600 to 4000x3000 and portrait ones), so training crops or resizes and batches are padded.

Example:
    >>> cfg = VistasConfig.from_labels([("nature--sky", "Sky", (70, 130, 180), False, True),
    ...                                 ("void--unlabeled", "Unlabeled", (0, 0, 0), False, False)])
    >>> cfg.classes, cfg.lut[:2].tolist()
    (('Sky',), [0, 255])
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..io.images import check_same_size, read_label, read_rgb
from ..io.jsonfile import read_json
from .common import PairedSegmentationDataset, dataset_folder
from .driving_entries import VISTAS_V12_LABELS

__all__ = ["FOLDERS", "VERSIONS", "Vistas", "VistasConfig", "read_config"]

FOLDERS = {"train": "training", "val": "validation"}
VERSIONS = ("v1.2", "v2.0")


@dataclass(frozen=True)
class VistasConfig:
    """A Vistas label table.

    Attributes:
        labels: ``(name, readable, colour, instances, evaluate)`` per label; the label value is the position.
        classes: the readable names of the evaluated labels (class index = position among them).
        palette: ``uint8 [K, 3]`` colours of the classes.
        lut: ``uint8 [256]`` stored value -> class index, 255 for labels that are not evaluated and for values
            beyond the table (checked by the loader).
    """

    labels: tuple[tuple[str, str, tuple[int, int, int], bool, bool], ...]
    classes: tuple[str, ...]
    palette: np.ndarray
    lut: np.ndarray

    @classmethod
    def from_labels(cls, labels) -> VistasConfig:
        labels = tuple((str(n), str(r), tuple(int(v) for v in c), bool(i), bool(e)) for n, r, c, i, e in labels)
        classes = tuple(r for _, r, _, _, e in labels if e)
        palette = np.array([c for _, _, c, _, e in labels if e], np.uint8).reshape(-1, 3)
        lut = np.full(256, 255, np.uint8)
        lut[[k for k, lab in enumerate(labels) if lab[4]]] = np.arange(len(classes))
        return cls(labels, classes, palette, lut)


def read_config(path: str | os.PathLike) -> VistasConfig:
    """Read ``config_v1.2.json`` / ``config_v2.0.json``.

    Raises:
        ValueError: not UTF-8 JSON; no ``labels`` list; a label without a name, a 3-value 0..255 colour or boolean
            ``instances`` / ``evaluate``; more than 255 labels; the message names the file.
    """
    data = read_json(path, "Vistas config")
    labels = data.get("labels") if isinstance(data, dict) else None
    if not isinstance(labels, list) or not labels or len(labels) > 255:
        raise ValueError(f"{path}: expected an object with a list 'labels' of 1..255 labels")
    rows = []
    for k, lab in enumerate(labels):
        ok = isinstance(lab, dict) and isinstance(lab.get("name"), str) and lab["name"]
        colour = lab.get("color") if ok else None
        ok = ok and isinstance(colour, list) and len(colour) == 3 and all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in colour)
        ok = ok and all(isinstance(lab.get(key), bool) for key in ("instances", "evaluate"))
        if not ok:
            raise ValueError(f"{path}: label {k} lacks a name, a [r, g, b] colour of 0..255 or boolean "
                             f"'instances'/'evaluate': {str(lab)[:120]}")
        rows.append((lab["name"], lab.get("readable", lab["name"]), colour, lab["instances"], lab["evaluate"]))
    return VistasConfig.from_labels(rows)


V12 = VistasConfig.from_labels(VISTAS_V12_LABELS)


class Vistas(PairedSegmentationDataset):
    """Mapillary Vistas: ``(image float32 [3, H, W], mask int64 [H, W])``, the evaluated labels as classes, 255 void.

    Args:
        root: the Vistas folder (holding ``config_v*.json``) or a folder up to three levels above it.
        split: ``"train"`` (``training/``) or ``"val"`` (``validation/``).
        version: ``"v1.2"`` (65 classes) or ``"v2.0"`` (the table of ``config_v2.0.json``).
        transforms: ``(tv_tensors.Image, tv_tensors.Mask) -> (image, mask)``; pictures differ in size.
        max_items: keep the first ``max_items`` pictures (sorted by key).

    Attributes:
        config: the :class:`VistasConfig` read from the folder (v1.2: checked against the release's table).

    Example:
        >>> ds = Vistas(course_lib.synthetic.driving.write_vistas_sample(tmp), "val")  # doctest: +SKIP
    """

    ignore_index = 255
    label_modes = ("P", "L")

    def __init__(self, root: str | os.PathLike, split: str = "train", version: str = "v1.2", transforms=None,
                 max_items: int | None = None) -> None:
        if split not in FOLDERS:
            raise ValueError(f"unknown Vistas split {split!r}; choose one of {tuple(FOLDERS)}")
        if version not in VERSIONS:
            raise ValueError(f"unknown Vistas version {version!r}; choose one of {VERSIONS}")
        folder = dataset_folder("vistas", root)
        config_file = folder / f"config_{version}.json"
        self.config = read_config(config_file) if config_file.is_file() else V12 if version == "v1.2" else None
        if self.config is None:
            raise FileNotFoundError(f"{config_file}: the v2.0 label table is missing (it comes with the release)")
        if version == "v1.2" and self.config.labels != V12.labels:
            raise ValueError(f"{config_file}: differs from the v1.2 table of the release (66 labels)")
        self.classes, self.palette = self.config.classes, self.config.palette
        images = folder / FOLDERS[split] / "images"
        labels = folder / FOLDERS[split] / version / "labels"
        items = [(p, labels / f"{p.stem}.png") for p in sorted(images.glob("*.jpg"))]
        if not items:
            raise ValueError(f"{images}: no .jpg pictures")
        super().__init__(folder, split, items, transforms, max_items)

    def load_stored(self, index: int) -> tuple[Image.Image, np.ndarray]:
        """The picture (PIL RGB) and the label values as stored (positions in the config)."""
        image_path, label_path = self.items[index]
        image, stored = read_rgb(image_path), read_label(label_path, self.label_modes)
        check_same_size(image, stored, image_path, label_path)
        if stored.size and stored.max() >= len(self.config.labels):
            raise ValueError(f"{label_path}: label values up to {stored.max()} but the config has "
                             f"{len(self.config.labels)} labels; a label file of another version?")
        return image, stored

    def load_raw(self, index: int) -> tuple[Image.Image, np.ndarray]:
        """The picture and its classes (evaluated labels renumbered 0..K-1, the others 255), ``uint8 [H, W]``."""
        image, stored = self.load_stored(index)
        return image, self.config.lut[stored]
