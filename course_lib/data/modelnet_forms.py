"""The three on-disk forms of ModelNet: finding them, their class lists, and the shapes each split lists.

Introduced in Chapter 6; :class:`course_lib.data.modelnet.ModelNet` is built on it (see its module docstring for the
layouts). :func:`find_forms` finds the form folders below a path; :class:`FormReader` turns one split of one form
into :class:`ShapeRecord` items (name, class index, file, HDF5 row), counting the listed shapes that are absent.

Example:
    >>> sorted(FORMS), UP_AXIS["off"], UP_AXIS["h5"]
    (['h5', 'off', 'resampled'], 2, 1)
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..io.points import read_point_h5
from .registry import MODELNET40_CLASSES
from .splits import check_inside, read_list_lines

__all__ = [
    "FORMS", "FORM_FOLDERS", "MODELNET10_CLASSES", "MODELNET40_TRAIN_COUNTS", "SPLITS", "UP_AXIS", "FormReader",
    "ShapeRecord", "class_list", "find_forms", "split_id",
]  # fmt: skip

MODELNET10_CLASSES = (
    "bathtub", "bed", "chair", "desk", "dresser", "monitor", "night_stand", "sofa", "table", "toilet",
)  # fmt: skip
#: Official training-set size of each class (the mesh archive's ``train/`` folders); shape ids ``1..n`` are train,
#: the following ids test. 9 843 in all; ModelNet10 uses the same counts for its classes.
MODELNET40_TRAIN_COUNTS = {
    "airplane": 626, "bathtub": 106, "bed": 515, "bench": 173, "bookshelf": 572, "bottle": 335, "bowl": 64,
    "car": 197, "chair": 889, "cone": 167, "cup": 79, "curtain": 138, "desk": 200, "door": 109, "dresser": 200,
    "flower_pot": 149, "glass_box": 171, "guitar": 155, "keyboard": 145, "lamp": 124, "laptop": 149, "mantel": 284,
    "monitor": 465, "night_stand": 200, "person": 88, "piano": 231, "plant": 240, "radio": 104, "range_hood": 115,
    "sink": 128, "sofa": 680, "stairs": 124, "stool": 90, "table": 392, "tent": 163, "toilet": 344, "tv_stand": 267,
    "vase": 475, "wardrobe": 87, "xbox": 103,
}  # fmt: skip

FORMS = ("off", "resampled", "h5")
#: Usual folder names of each form (tried first when searching).
FORM_FOLDERS = {
    "off": ("ModelNet40", "ModelNet10"),
    "resampled": ("modelnet40_normal_resampled",),
    "h5": ("modelnet40_ply_hdf5_2048",),
}
#: The axis that points up in each form (0 = x, 1 = y, 2 = z).
UP_AXIS = {"off": 2, "resampled": 1, "h5": 1}
SPLITS = ("train", "val", "trainval", "test")
_SHAPE_NAMES_FILES = ("modelnet{v}_shape_names.txt", "shape_names.txt")
_ID = re.compile(r"^(?P<cls>.+)_(?P<num>\d+)$")


# ----------------------------------------------------------------------------------------------- finding the forms
def _has_class_subfolders_with(folder: Path, pattern: str, in_split: bool) -> bool:
    try:
        children = [c for c in folder.iterdir() if c.is_dir() and not c.name.startswith((".", "__"))]
    except (PermissionError, NotADirectoryError, FileNotFoundError):
        return False
    for child in children[:64]:
        places = [child / "train", child / "test"] if in_split else [child]
        for place in places:
            if place.is_dir() and next(place.glob(pattern.format(cls=child.name)), None) is not None:
                return True
    return False


def _is_form(folder: Path, form: str) -> bool:
    if form == "off":
        return _has_class_subfolders_with(folder, "*.off", in_split=True)
    if form == "resampled":
        return _has_class_subfolders_with(folder, "{cls}_*.txt", in_split=False)
    return (folder / "train_files.txt").is_file() or next(folder.glob("*.h5"), None) is not None


def find_forms(path: str | os.PathLike, variant: int = 40, max_depth: int = 3) -> dict[str, Path]:
    """Find the ModelNet forms at ``path`` or up to ``max_depth`` folder levels below it.

    The search is breadth first and stops at the first depth where something is found; among folders of one form,
    the usual names come first (``ModelNet{variant}`` before the other mesh folder).

    Args:
        path: a form folder, the folder holding the forms, or a folder above it.
        variant: 40 or 10; picks ``ModelNet10`` over ``ModelNet40`` for the meshes when both exist.
        max_depth: how many levels to search below ``path``.

    Returns:
        ``{form: folder}`` for the forms found (possibly empty).

    Example:
        >>> find_forms("../shared/data/modelnet")  # doctest: +SKIP
        {'off': PosixPath('.../ModelNet40'), 'resampled': PosixPath('.../modelnet40_normal_resampled')}
    """
    start = Path(path).expanduser()
    if not start.is_dir():
        raise FileNotFoundError(f"{start}: no such folder (looked for ModelNet)")
    preferred = {"off": (f"ModelNet{variant}", "ModelNet40", "ModelNet10"), **{k: v for k, v in FORM_FOLDERS.items()
                                                                              if k != "off"}}
    level = [start]
    for _ in range(max_depth + 1):
        found: dict[str, list[Path]] = {}
        for folder in level:
            for form in FORMS:
                if _is_form(folder, form):
                    found.setdefault(form, []).append(folder)
        if found:
            out = {}
            for form, folders in found.items():
                rank: dict[str, int] = {}
                for i, name in enumerate(preferred[form]):
                    rank.setdefault(name, i)  # the first mention wins
                out[form] = sorted(folders, key=lambda p: (rank.get(p.name, len(rank)), str(p)))[0]
            return {form: out[form] for form in FORMS if form in out}
        children: list[Path] = []
        for folder in level:
            try:
                children += sorted(c for c in folder.iterdir() if c.is_dir() and not c.name.startswith((".", "__")))
            except (PermissionError, NotADirectoryError):
                continue
        level = children
    return {}


# ----------------------------------------------------------------------------------------------- class lists, ids
@dataclass(frozen=True)
class ShapeRecord:
    """One shape of a split: its name (``airplane_0001``), class index, file, and row (HDF5 files only)."""

    name: str
    label: int
    path: Path
    row: int | None = None


def _read_names(path: Path) -> tuple[str, ...]:
    names = tuple(line for _, line in read_list_lines(path, "class list"))
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: class list names a class twice")
    return names


def class_list(folder: Path, variant: int) -> tuple[tuple[str, ...], Path | None]:
    """The class list of a form folder: its shape-names file, else the official list of the variant.

    Returns:
        ``(class names in index order, the file they came from or None)``.
    """
    for pattern in _SHAPE_NAMES_FILES:
        candidate = folder / pattern.format(v=variant)
        if candidate.is_file():
            return _read_names(candidate), candidate
    return (MODELNET40_CLASSES if variant == 40 else MODELNET10_CLASSES), None


def split_id(name: str, where: str) -> tuple[str, int]:
    """``"airplane_0001"`` -> ``("airplane", 1)``; ``where`` names the file in the error.

    Example:
        >>> split_id("night_stand_0012", "list.txt")
        ('night_stand', 12)
    """
    match = _ID.match(name)
    if not match:
        raise ValueError(f"{where}: shape id {name!r} is not of the form <class>_<number>")
    return match.group("cls"), int(match.group("num"))


# ----------------------------------------------------------------------------------------------- scanning a split
@dataclass
class FormReader:
    """Lists the shapes of one official split (``"train"`` or ``"test"``) of one form folder.

    Args:
        folder: the form folder.
        classes: the class names (index = label).
        variant: 40 or 10 (ModelNet10 keeps its classes out of ModelNet40 data, re-indexed).
        class_list_file: where ``classes`` came from (for error messages), or ``None``.
        verbose: say when a split is derived from the official counts.

    Attributes:
        num_missing: listed shapes or files that are absent (skipped); missing_examples: up to five of them.
        arrays: the loaded HDF5 arrays per file (``data``, ``label``, ``normal``).
    """

    folder: Path
    classes: tuple[str, ...]
    variant: int = 40
    class_list_file: Path | None = None
    verbose: bool = True
    num_missing: int = 0
    missing_examples: list[str] = field(default_factory=list)
    arrays: dict[Path, dict[str, np.ndarray]] = field(default_factory=dict)

    def scan(self, form: str, official: str) -> list[ShapeRecord]:
        """The shapes of ``official`` (``"train"`` or ``"test"``) in ``form``."""
        return {"off": self._scan_off, "resampled": self._scan_resampled, "h5": self._scan_h5}[form](official)

    def label(self, cls: str, where: str) -> int | None:
        """Class index of ``cls``; ``None`` when the class is not in the list (ModelNet10 inside ModelNet40 data)."""
        if cls in self.classes:
            return self.classes.index(cls)
        if self.variant == 10 and cls in MODELNET40_CLASSES:
            return None
        raise ValueError(f"{where}: class {cls!r} is not in the class list "
                         f"({self.class_list_file or f'the official ModelNet{self.variant} list'}: "
                         f"{', '.join(self.classes[:6])}, ...)")

    def _missing(self, name: str) -> None:
        self.num_missing += 1
        if len(self.missing_examples) < 5:
            self.missing_examples.append(name)

    def _scan_off(self, official: str) -> list[ShapeRecord]:
        items = []
        class_dirs = sorted(d for d in self.folder.iterdir() if d.is_dir() and not d.name.startswith((".", "__")))
        for class_dir in class_dirs:
            split_dir = class_dir / official
            if not split_dir.is_dir():
                continue
            label = self.label(class_dir.name, str(class_dir))
            if label is None:
                continue
            for path in sorted(split_dir.glob("*.off")):
                cls, _ = split_id(path.stem, str(path))
                if cls != class_dir.name:
                    raise ValueError(f"{path}: a shape named {cls!r} in the folder of class {class_dir.name!r} "
                                     "(mislabeled file?)")
                items.append(ShapeRecord(path.stem, label, path))
        return items

    def _scan_resampled(self, official: str) -> list[ShapeRecord]:
        list_file = self.folder / f"modelnet{self.variant}_{official}.txt"
        if self.variant == 10 and not list_file.is_file():
            list_file = self.folder / f"modelnet40_{official}.txt"
        names: list[tuple[str, str]] = []  # (shape id, where it was listed)
        if list_file.is_file():
            for number, line in read_list_lines(list_file, "split list"):
                names.append((check_inside(line, f"{list_file}:{number}"), f"{list_file}:{number}"))
        else:  # no split lists: every shape named in filelist.txt (or present), split by the official counts
            filelist = self.folder / "filelist.txt"
            if filelist.is_file():
                all_ids = [(Path(check_inside(ln, f"{filelist}:{i}")).stem, f"{filelist}:{i}")
                           for i, ln in read_list_lines(filelist, "file list")]
            else:
                all_ids = [(p.stem, str(p)) for p in sorted(self.folder.glob("*/*.txt")) if p.parent != self.folder]
            for name, where in all_ids:
                cls, num = split_id(name, where)
                if cls not in MODELNET40_TRAIN_COUNTS:
                    raise ValueError(f"{where}: no official split is known for class {cls!r}; add the lists "
                                     f"modelnet{self.variant}_train.txt and modelnet{self.variant}_test.txt")
                if (num <= MODELNET40_TRAIN_COUNTS[cls]) == (official == "train"):
                    names.append((name, where))
            if self.verbose:
                print(f"{self.folder}: no {list_file.name}; the {official} split is derived from the official "
                      f"per-class training-set sizes (ids 1..n are train)")
        items = []
        for name, where in names:
            cls, _ = split_id(name, where)
            label = self.label(cls, where)
            if label is None:
                continue
            path = self.folder / cls / f"{name}.txt"
            if not path.is_file():
                self._missing(name)
                continue
            items.append(ShapeRecord(name, label, path))
        return items

    def _scan_h5(self, official: str) -> list[ShapeRecord]:
        list_file = self.folder / f"{official}_files.txt"
        if list_file.is_file():
            listed = [line for _, line in read_list_lines(list_file, "HDF5 file list")]
            files = [self.folder / Path(p.replace("\\", "/")).name for p in listed]  # re-rooted by file name
        else:
            files = sorted(self.folder.glob(f"ply_data_{official}*.h5"))
        items = []
        for path in files:
            if not path.is_file():
                self._missing(path.name)
                continue
            arrays = read_point_h5(path)
            labels = arrays["label"]
            bad = labels[(labels < 0) | (labels >= len(self.classes))]
            if bad.size and self.variant == 40:
                raise ValueError(f"{path}: labels {sorted(set(bad.tolist()))[:5]} outside 0..{len(self.classes) - 1} "
                                 f"({len(self.classes)} classes)")
            self.arrays[path] = arrays
            names = _h5_names(path, len(labels))
            for row, label in enumerate(labels.tolist()):
                if self.variant == 10:  # the HDF5 release is ModelNet40: keep the ModelNet10 classes, re-indexed
                    cls = MODELNET40_CLASSES[label] if 0 <= label < 40 else None
                    if cls not in self.classes:
                        continue
                    label = self.classes.index(cls)
                items.append(ShapeRecord(names[row], int(label), path, row))
        return items


def _h5_names(path: Path, count: int) -> list[str]:
    """Shape names from the ``*_id2file.json`` beside an HDF5 file, else ``<file>#<row>``."""
    match = re.match(r"ply_data_(train|test)(\d+)\.h5$", path.name)
    if match:
        sidecar = path.with_name(f"ply_data_{match.group(1)}_{match.group(2)}_id2file.json")
        if sidecar.is_file():
            try:
                names = [Path(str(n)).stem for n in json.loads(sidecar.read_text(encoding="utf-8"))]
                if len(names) == count:
                    return names
            except (ValueError, TypeError):
                pass
    return [f"{path.name}#{i}" for i in range(count)]
