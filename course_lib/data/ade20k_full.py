"""The full ADE20K release (``ADE20K_2021_17_01``): 3 688 object classes, parts, parts of parts, amodal instances.

Introduced in Chapter 3 (the data behind the SceneParsing benchmark). Zhou et al., "Semantic Understanding of Scenes
through the ADE20K Dataset", IJCV 127(3), 2019 (https://arxiv.org/abs/1608.05442).

Official layout (``ADE20K_2021_17_01.zip``, behind a registration)::

    ADE20K_2021_17_01/
        index_ade20k.pkl, objects.txt                     global tables (class names, counts, WordNet)
        images/ADE/{training,validation}/<scene group>/<scene>/
            ADE_train_00016869.jpg                        the picture (faces and licence plates blurred)
            ADE_train_00016869.json                       objects and parts: name, class index, polygon, flags
            ADE_train_00016869_seg.png                    RGB: class = R // 10 * 256 + G, instance code in B
            ADE_train_00016869_parts_{1,2,..}.png         the same encoding for parts (1) and parts of parts (2)
            ADE_train_00016869/instance_NNN_ADE_train_00016869.png   one amodal mask per object and part

What the files hold, as read here (checked on the real files of the release's toolkit, CSAILVision/ADE20K):

- ``_seg.png``: the class index is ``R // 10 * 256 + G`` (R is always a multiple of 10; 0 = not annotated), the
  same index as the JSON's ``name_ndx`` and as row ``index - 1`` of ``index_ade20k.pkl``'s ``objectnames``. B is an
  instance code: each whole object has its own. Parts are not in ``_seg.png`` (their pixels show their object).
- ``_parts_N.png``: parts of level N (1 = parts of objects, 2 = parts of parts), same encoding.
- instance masks (mode L): 255 where the object is visible, 128 where it is hidden behind another (the amodal
  extent), 0 elsewhere. ``NNN`` is the object's JSON ``id``.
- the JSON (MATLAB's export, so types vary): ``imsize`` is ``[H, W, 3]``; per object ``id``, ``name`` (WordNet
  name), ``raw_name`` (what the annotator typed), ``name_ndx``, ``parts{part_level, ispartof, hasparts}``,
  ``polygon{x, y}``, ``occluded`` ("yes", "no" or ``[]``), ``crop`` ("0"/"1"), ``attributes`` (a list or a string),
  ``instance_mask`` (relative path). :func:`course_lib.data.ade20k_annotations.read_annotation` reads it.

**Mapping to the 150 SceneParsing classes.** The benchmark's own table (``mapFromADE.txt`` of CSAILVision/sceneparsing,
:data:`course_lib.data.labels.ADE20K_FULL_INDICES`) names the full-release indices of each of the 150 classes (153
indices). Only whole objects (``_seg.png``) are mapped; every other class (e.g. "umbrella", "helmet", "banner",
"central reservation", "container" in the toolkit's street pictures) and every unannotated pixel is "other" (0,
ignored). The benchmark's annotations were made from the 2016 release and shrunk so that the shorter side is at most
512 pixels (:func:`sceneparsing_size`), so they agree with the mapped 2021 files only up to that resize and to the
annotation fixes made since. ``objects.txt`` is not read: the index column it would need is not documented, and the
JSON files and ``index_ade20k.pkl`` (:func:`course_lib.data.ade20k_annotations.read_index`) carry the same
names.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..io.images import check_same_size, image_size, read_label, read_rgb
from .ade20k import FOLDERS, IGNORE_INDEX, to_train_ids
from .ade20k_annotations import MAX_CLASS_INDEX, Annotation, read_annotation
from .common import PairedSegmentationDataset, dataset_folder
from .labels import ADE20K_FULL_INDICES
from .registry import get

__all__ = ["ADE20KFull", "FULL_TO_SCENEPARSING", "FullAnnotation", "decode_seg", "find_images", "instance_ids",
           "load_annotation", "read_instance_mask", "read_seg", "sceneparsing_size", "to_sceneparsing"]

_NAME = re.compile(r"^ADE_(?:train|val|frame)_\d{8}$")
#: full-release class index (0..6655, all that R // 10 * 256 + G can hold) -> SceneParsing label (1..150, 0 = other)
FULL_TO_SCENEPARSING = np.zeros(MAX_CLASS_INDEX + 1, np.uint8)
for _label, _indices in enumerate(ADE20K_FULL_INDICES, start=1):
    FULL_TO_SCENEPARSING[list(_indices)] = _label


# ----------------------------------------------------------------------------------------------- the PNGs
def decode_seg(rgb: np.ndarray, path: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Split an ADE20K ``_seg.png`` / ``_parts_N.png`` array ``[H, W, 3]`` into class indices and instance codes.

    Returns:
        ``(classes int32 [H, W], codes uint8 [H, W])``: ``classes = R // 10 * 256 + G`` (0 = not annotated) and
        ``codes = B``.

    Raises:
        ValueError: not ``[H, W, 3]`` ``uint8``, or an R value that is not a multiple of 10 (a resized or
            JPEG-compressed file: the classes would be wrong); the message names ``path``.

    Example:
        >>> rgb = np.array([[[10, 88, 7], [0, 0, 0]]], np.uint8)
        >>> [a.tolist() for a in decode_seg(rgb)]
        [[[344, 0]], [[7, 0]]]
    """
    rgb = np.asarray(rgb)
    where = path or "segmentation"
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"{where}: expected an RGB uint8 array [H, W, 3], got {rgb.dtype} {rgb.shape}")
    red = rgb[..., 0]
    odd = red % 10 != 0
    if odd.any():
        raise ValueError(f"{where}: {int(odd.sum())} pixels have R values {np.unique(red[odd]).tolist()[:5]} that are "
                         "not multiples of 10; ADE20K stores class // 256 * 10 in R (was the file resized or saved "
                         "as JPEG?)")
    classes = (red.astype(np.int32) // 10) * 256 + rgb[..., 1].astype(np.int32)
    return classes, rgb[..., 2].copy()


def read_seg(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read and decode a ``_seg.png`` or ``_parts_N.png`` file (:func:`decode_seg`); errors name the file."""
    try:
        rgb = read_label(path, modes=("RGB",))
    except ValueError as err:
        mode = re.search(r"PIL mode '(\w+)'", str(err))
        if mode is None:
            raise
        raise ValueError(f"{path}: an ADE20K segmentation is an RGB PNG (class in R and G, instance in B), this one "
                         f"has PIL mode {mode.group(1)!r}") from None
    return decode_seg(rgb, path)


def instance_ids(classes: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Number the instances 1..n (``int32``, 0 = not annotated): one per distinct (instance code, class) pair.

    The toolkit's ``loadAde20K`` ranks the B values alone; pairing them with the class keeps two objects apart when
    their codes coincide, and leaves unannotated pixels at 0 whatever their B.

    Example:
        >>> instance_ids(np.array([[0, 5, 5, 9]]), np.array([[3, 40, 20, 40]], np.uint8)).tolist()
        [[0, 2, 1, 3]]
    """
    annotated = classes > 0
    key = codes.astype(np.int64) * (1 << 16) + classes.astype(np.int64)
    out = np.zeros(classes.shape, np.int32)
    _, rank = np.unique(key[annotated], return_inverse=True)
    out[annotated] = rank.reshape(-1) + 1
    return out


def read_instance_mask(path: str | os.PathLike) -> np.ndarray:
    """Read an amodal instance mask: ``uint8`` with 255 = visible, 128 = hidden (occluded) part, 0 = elsewhere.

    ``mask == 255`` is what the object shows, ``mask > 0`` its whole (amodal) extent.

    Raises:
        ValueError: not a mode-L PNG, or values other than 0, 128 and 255; the message names the file.
    """
    mask = read_label(path, modes=("L",))
    bad = np.setdiff1d(np.unique(mask), [0, 128, 255])
    if bad.size:
        raise ValueError(f"{path}: instance mask holds values {bad.tolist()[:5]}; ADE20K's are 0, 128 (hidden) and "
                         "255 (visible)")
    return mask


# ----------------------------------------------------------------------------------------------- one picture
@dataclass(frozen=True)
class FullAnnotation:
    """Everything about one picture: class and instance maps of the objects and of each part level, and the JSON.

    ``classes`` / ``codes`` come from ``_seg.png``; ``part_classes[k]`` / ``part_codes[k]`` from ``_parts_{k+1}.png``.
    """

    image: Path
    classes: np.ndarray
    codes: np.ndarray
    part_classes: tuple[np.ndarray, ...]
    part_codes: tuple[np.ndarray, ...]
    annotation: Annotation

    @property
    def instances(self) -> np.ndarray:
        """The objects numbered 1..n (:func:`instance_ids`), 0 = not annotated."""
        return instance_ids(self.classes, self.codes)

    def sceneparsing(self) -> np.ndarray:
        """The 150-class labels of this picture at its own size (``uint8``, 1..150, 0 = other)."""
        return to_sceneparsing(self.classes)

    def instance_mask(self, object_id: int) -> np.ndarray:
        """The amodal mask of object or part ``object_id`` (:func:`read_instance_mask`)."""
        obj = self.annotation.by_id(object_id)
        if obj.mask_file is None:
            raise FileNotFoundError(f"{self.annotation.path}: object {object_id} names no instance mask")
        mask = read_instance_mask(obj.mask_file)
        if mask.shape != self.classes.shape:
            raise ValueError(f"{obj.mask_file}: mask is {mask.shape[::-1]} (WxH) but {self.image} is "
                             f"{self.classes.shape[::-1]}")
        return mask


def load_annotation(image: str | os.PathLike) -> FullAnnotation:
    """Read the ``_seg.png``, every ``_parts_N.png`` and the ``.json`` next to picture ``image`` (``ADE_*.jpg``).

    Raises:
        FileNotFoundError: the ``_seg.png`` or ``.json`` is missing.
        ValueError: a file is unreadable (:func:`read_seg`, :func:`read_annotation`), or the sizes of the picture,
            the PNGs and the JSON's ``imsize`` disagree; the message names both files.
    """
    image = Path(image)
    stem = image.with_suffix("")
    seg = Path(f"{stem}_seg.png")
    classes, codes = read_seg(seg)
    width, height = image_size(image)
    if classes.shape != (height, width):
        raise ValueError(f"{seg}: is {classes.shape[1]}x{classes.shape[0]} (WxH) but its picture {image} is "
                         f"{width}x{height}")
    annotation = read_annotation(stem.with_suffix(".json"))
    if annotation.size != classes.shape:
        raise ValueError(f"{annotation.path}: imsize says {annotation.size[1]}x{annotation.size[0]} (WxH) but {seg} "
                         f"is {classes.shape[1]}x{classes.shape[0]}")
    part_classes, part_codes = [], []
    while (part := Path(f"{stem}_parts_{len(part_classes) + 1}.png")).is_file():
        pc, pk = read_seg(part)
        if pc.shape != classes.shape:
            raise ValueError(f"{part}: is {pc.shape[1]}x{pc.shape[0]} (WxH) but {seg} is "
                             f"{classes.shape[1]}x{classes.shape[0]}")
        part_classes.append(pc)
        part_codes.append(pk)
    return FullAnnotation(image, classes, codes, tuple(part_classes), tuple(part_codes), annotation)


# ----------------------------------------------------------------------------------------------- SceneParsing
def to_sceneparsing(classes: np.ndarray) -> np.ndarray:
    """Full-release class indices -> SceneParsing labels (``uint8``: 1..150, 0 = other), by the benchmark's table.

    Example:
        >>> to_sceneparsing(np.array([[2978, 774, 783, 2901, 0]])).tolist()  # wall, door, double door, umbrella
        [[1, 15, 15, 0, 0]]
    """
    return FULL_TO_SCENEPARSING[np.asarray(classes)]


def sceneparsing_size(width: int, height: int) -> tuple[int, int]:
    """The size ``(width, height)`` the benchmark gave a picture: the shorter side shrunk to 512 when longer.

    The rule of ``convertFromADE.m`` (sceneparsing devkit), MATLAB rounding (halves away from zero); square pictures
    are left as they are, as there.

    Example:
        >>> sceneparsing_size(2048, 1536), sceneparsing_size(300, 400), sceneparsing_size(1000, 1000)
        ((683, 512), (300, 400), (1000, 1000))
    """
    if height < width and height > 512:
        return math.floor(width / height * 512 + 0.5), 512
    if width < height and width > 512:
        return 512, math.floor(height / width * 512 + 0.5)
    return width, height


def find_images(folder: str | os.PathLike, split: str) -> list[Path]:
    """The pictures (``ADE_*.jpg``) of ``split`` below ``folder/images/ADE/<training|validation>/``, sorted by name."""
    if split not in FOLDERS:
        raise ValueError(f"unknown ADE20K split {split!r}; choose one of {tuple(FOLDERS)}")
    base = Path(folder) / "images" / "ADE" / FOLDERS[split]
    if not base.is_dir():
        raise FileNotFoundError(f"{base}: the pictures of split {split!r} are missing")
    found = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = [d for d in dirnames if not _NAME.match(d)]  # skip the instance-mask folders (700 000 files)
        found += [Path(dirpath, f) for f in filenames if f.endswith(".jpg") and _NAME.match(f[:-4])]
    return sorted(found, key=lambda p: p.name)


# ----------------------------------------------------------------------------------------------- dataset
class ADE20KFull(PairedSegmentationDataset):
    """The full release read as 150-class semantic segmentation: ``(image [3, H, W], mask int64 [H, W])``.

    Masks are mapped from the full-release classes (:func:`to_sceneparsing`) and shifted like SceneParsing's
    (:func:`course_lib.data.ade20k.to_train_ids`): classes 0..149, 255 = other. :meth:`annotation` gives everything
    else of a picture (instances, parts, polygons).

    Args:
        root: ``ADE20K_2021_17_01`` or a folder up to three levels above it.
        split: ``"train"`` or ``"val"``.
        transforms: as :class:`course_lib.data.ade20k.ADE20KSceneParsing`'s.
        max_items: keep only the first ``max_items`` pictures (sorted by name).
    """

    classes = get("ade20k_full").classes
    palette = get("ade20k_full").palette
    ignore_index = IGNORE_INDEX

    def __init__(self, root: str | os.PathLike, split: str = "train", transforms=None,
                 max_items: int | None = None) -> None:
        folder = dataset_folder("ade20k_full", root)
        images = find_images(folder, split)
        if not images:
            raise ValueError(f"{folder}: split {split!r} holds no ADE_*.jpg pictures")
        items = [(p, Path(f"{p.with_suffix('')}_seg.png")) for p in images]
        super().__init__(folder, split, items, transforms, max_items)

    def load_raw(self, index: int) -> tuple[Image.Image, np.ndarray]:
        """The picture (PIL RGB) and its 150-class labels (``uint8``: 0..149, 255 = other)."""
        image_path, seg_path = self.items[index]
        image = read_rgb(image_path)
        classes, _ = read_seg(seg_path)
        labels = to_train_ids(to_sceneparsing(classes), seg_path)
        check_same_size(image, labels, image_path, seg_path)
        return image, labels

    def annotation(self, index: int) -> FullAnnotation:
        """Objects, parts, instances and the JSON of picture ``index`` (:func:`load_annotation`)."""
        return load_annotation(self.items[index][0])
