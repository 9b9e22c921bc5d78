"""ADE20K SceneParsing (the MIT Scene Parsing Benchmark, ``ADEChallengeData2016``): 150 classes, 0 = "other".

Introduced in Chapter 3 (PSPNet, https://arxiv.org/abs/1612.01105, and DeepLabV3+, https://arxiv.org/abs/1802.02611,
report on it). Zhou et al., "Scene Parsing through ADE20K Dataset", CVPR 2017.

Official layout (what ``ADEChallengeData2016.zip`` unpacks to)::

    ADEChallengeData2016/
        images/{training,validation}/ADE_{train,val}_%08d.jpg        20 210 / 2 000 pictures, sizes vary
        annotations/{training,validation}/ADE_{train,val}_%08d.png   mode-L PNGs, values 0..150
        objectInfo150.txt     tab separated: Idx  Ratio  Train  Val  Name   (one line per class 1..150)
        sceneCategories.txt   "ADE_val_00000001 abbey": the scene of each picture

**The label shift.** The PNGs store the classes as 1..150 and 0 for "other objects", which the benchmark ignores.
Networks want classes 0..149, so :func:`to_train_ids` maps 1..150 -> 0..149 and 0 -> 255 (the ignore index), with
the registry's table (``course_lib.data.registry.get("ade20k").label_lut()``). The shift happens in exactly one
place, :meth:`ADE20KSceneParsing.load_raw`: everything downstream (transforms, losses, metrics) sees 0..149 and 255.
Predictions go back with :func:`to_submission` (0..149 -> 1..150) before they are saved for the scorer
(``python -m course_lib.score semantic --dataset ade20k``) or the benchmark server; forgetting it makes the scorer
say so. Other oddities: a few pictures are grayscale or CMYK JPEGs (:func:`course_lib.io.images.read_rgb` converts
them to RGB); an annotation whose size differs from its picture is an error naming both files.

``root`` may be ``ADEChallengeData2016`` or a folder up to three levels above it. Where to download it, its terms and
citation: ``course_lib.data.registry.get("ade20k")``; the synthetic sample: :mod:`course_lib.synthetic.ade20k`; the
full ADE20K release (objects, parts, instances): :mod:`course_lib.data.ade20k_full`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..io.atomic import atomic_write
from ..io.images import check_same_size, read_label, read_rgb
from .common import PairedSegmentationDataset, dataset_folder
from .labels import ADE20K_NAMES
from .registry import get
from .splits import read_list_lines

__all__ = ["FOLDERS", "IGNORE_INDEX", "NUM_CLASSES", "ADE20KSceneParsing", "ObjectInfo", "parse_object_info",
           "parse_scene_categories", "save_submission", "to_submission", "to_train_ids"]

_INFO = get("ade20k")
IGNORE_INDEX: int = _INFO.ignore_index  # 255: "other objects" (stored as 0) after the shift
NUM_CLASSES: int = _INFO.num_classes  # 150
#: split name -> the release's folder name
FOLDERS = {"train": "training", "val": "validation"}
_LUT = _INFO.label_lut()  # stored value -> train id: 0 -> 255, v -> v - 1 for 1..150, -1 above


def to_train_ids(labels: np.ndarray, path: str | os.PathLike | None = None) -> np.ndarray:
    """Stored labels (0 = other, classes 1..150) -> training labels (classes 0..149, 255 = ignored), ``uint8``.

    Args:
        labels: an integer array of stored values.
        path: the file they come from, named in the error.

    Raises:
        ValueError: a value above 150 (no ADE20K label); the message names ``path``.

    Example:
        >>> to_train_ids(np.array([[0, 1, 150]], np.uint8)).tolist()
        [[255, 0, 149]]
    """
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() > NUM_CLASSES):
        bad = np.unique(labels[(labels < 0) | (labels > NUM_CLASSES)]).tolist()
        raise ValueError(f"{path or 'labels'}: values {bad[:10]} are no ADE20K SceneParsing labels (0 = other, "
                         f"classes 1..{NUM_CLASSES})")
    return _LUT[labels.astype(np.int64)].astype(np.uint8)


def to_submission(prediction) -> np.ndarray:
    """Predicted classes 0..149 (an array or tensor ``[H, W]``) -> the benchmark's PNG values 1..150, ``uint8``.

    The inverse of the shift of :func:`to_train_ids`; the benchmark (and ``score semantic --dataset ade20k``) expects
    1..150, and a 0 at a labelled pixel is a miss.

    Raises:
        ValueError: a value outside 0..149 (e.g. 255 left in, or a prediction already shifted).

    Example:
        >>> to_submission(np.array([[0, 149]])).tolist()
        [[1, 150]]
    """
    if hasattr(prediction, "detach"):
        prediction = prediction.detach().cpu().numpy()
    prediction = np.asarray(prediction)
    if prediction.ndim != 2 or not np.issubdtype(prediction.dtype, np.integer):
        raise ValueError(f"a prediction is an integer map [H, W], got {prediction.dtype} {prediction.shape}")
    if prediction.size and (prediction.min() < 0 or prediction.max() >= NUM_CLASSES):
        bad = np.unique(prediction[(prediction < 0) | (prediction >= NUM_CLASSES)]).tolist()
        raise ValueError(f"prediction holds values {bad[:10]} outside the classes 0..{NUM_CLASSES - 1}")
    return (prediction + 1).astype(np.uint8)


def save_submission(prediction, path: str | os.PathLike) -> Path:
    """Write a prediction (classes 0..149) as the benchmark's mode-L PNG (1..150) at ``path``, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as f:
        Image.fromarray(to_submission(prediction), "L").save(f, format="PNG")
    return path


# ----------------------------------------------------------------------------------------------- list files
@dataclass(frozen=True)
class ObjectInfo:
    """One line of ``objectInfo150.txt``.

    Args:
        idx: the label value in the PNGs (1..150; the training label is ``idx - 1``).
        ratio: the share of all pixels of the release that the class covers.
        train, val: how many training / validation pictures hold the class.
        names: the class's synonyms (the first is its short name, :data:`course_lib.data.labels.ADE20K_CLASSES`).
    """

    idx: int
    ratio: float
    train: int
    val: int
    names: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.names[0]


def parse_object_info(path: str | os.PathLike) -> list[ObjectInfo]:
    """Read ``objectInfo150.txt``: the header ``Idx Ratio Train Val Name``, then one tab-separated line per class.

    Raises:
        ValueError: no header, a line without five fields, a number that does not parse (or a ratio outside 0..1,
            a negative count), indices that are not 1, 2, 3, ... in order, an empty name; the message names the
            file and the line.

    Example:
        >>> parse_object_info("ADEChallengeData2016/objectInfo150.txt")[1].names  # doctest: +SKIP
        ('building', 'edifice')
    """
    lines = read_list_lines(path, "objectInfo150 file")
    header = lines[0][1].split()
    if [h.lower() for h in header] != ["idx", "ratio", "train", "val", "name"]:
        raise ValueError(f"{path}:{lines[0][0]}: expected the header 'Idx Ratio Train Val Name', got {lines[0][1]!r}")
    rows = []
    for number, line in lines[1:]:
        fields = [f.strip() for f in line.split("\t")] if "\t" in line else line.split(None, 4)
        if len(fields) != 5:
            raise ValueError(f"{path}:{number}: expected 5 tab-separated fields (Idx Ratio Train Val Name), got "
                             f"{len(fields)}: {line!r}")
        try:
            idx, ratio, train, val = int(fields[0]), float(fields[1]), int(fields[2]), int(fields[3])
        except ValueError:
            raise ValueError(f"{path}:{number}: Idx, Ratio, Train and Val must be numbers, got {line!r}") from None
        if not (0.0 <= ratio <= 1.0) or train < 0 or val < 0:
            raise ValueError(f"{path}:{number}: ratio {ratio} outside 0..1 or a negative count in {line!r}")
        if idx != len(rows) + 1:
            raise ValueError(f"{path}:{number}: class index {idx} where {len(rows) + 1} was expected (1, 2, 3, ...)")
        names = tuple(n.strip() for n in fields[4].split(",") if n.strip())
        if not names:
            raise ValueError(f"{path}:{number}: class {idx} has no name")
        rows.append(ObjectInfo(idx, ratio, train, val, names))
    if not rows:
        raise ValueError(f"{path}: objectInfo150 file holds a header but no class")
    return rows


def parse_scene_categories(path: str | os.PathLike) -> dict[str, str]:
    """Read ``sceneCategories.txt``: ``<image id> <scene>`` per line -> ``{image id: scene}``.

    Raises:
        ValueError: a line without exactly two fields, an id that is no ADE picture name, an id listed twice; the
            message names the file and the line.

    Example:
        >>> parse_scene_categories("ADEChallengeData2016/sceneCategories.txt")["ADE_val_00000001"]  # doctest: +SKIP
        'abbey'
    """
    scenes: dict[str, str] = {}
    for number, line in read_list_lines(path, "sceneCategories file"):
        fields = line.split()
        if len(fields) != 2:
            raise ValueError(f"{path}:{number}: expected '<image id> <scene>', got {line!r}")
        image_id, scene = fields
        if not image_id.startswith("ADE_") or "/" in image_id or "\\" in image_id:
            raise ValueError(f"{path}:{number}: {image_id!r} is not an ADE picture name (ADE_val_00000001)")
        if image_id in scenes:
            raise ValueError(f"{path}:{number}: {image_id} is listed twice")
        scenes[image_id] = scene
    return scenes


def _check_object_info(folder: Path) -> None:
    """An ``objectInfo150.txt`` that lists other classes than the registry's is another benchmark: refuse it."""
    path = folder / "objectInfo150.txt"
    if not path.is_file():
        return
    names = tuple(", ".join(row.names) for row in parse_object_info(path))
    if names != ADE20K_NAMES:
        pairs = enumerate(zip(names, ADE20K_NAMES, strict=False))
        diff = next((i for i, (a, b) in pairs if a != b), min(len(names), NUM_CLASSES))
        raise ValueError(f"{path}: lists {len(names)} classes that differ from ADE20K SceneParsing's 150 (first "
                         f"difference at class {diff + 1}); is this another benchmark's file?")


# ----------------------------------------------------------------------------------------------- dataset
class ADE20KSceneParsing(PairedSegmentationDataset):
    """ADE20K SceneParsing: ``(image float32 [3, H, W], mask int64 [H, W])``, classes 0..149, 255 = "other".

    Args:
        root: ``ADEChallengeData2016`` or a folder up to three levels above it.
        split: ``"train"`` (``training/``) or ``"val"`` (``validation/``).
        transforms: a callable ``(tv_tensors.Image, tv_tensors.Mask) -> (image, mask)`` such as
            ``SegmentationTransforms(..., ignore_index=255)``; ``None`` only converts and normalises. Pictures differ
            in size, so batches need a crop (training) or :func:`course_lib.data.collate.pad_collate`.
        max_items: keep only the first ``max_items`` pictures (sorted by name).

    Attributes:
        scenes: ``{image id: scene}`` from ``sceneCategories.txt`` (empty when the file is absent).

    Example:
        >>> ds = ADE20KSceneParsing(course_lib.synthetic.ade20k.write_sample(tmp), "val")  # doctest: +SKIP
        >>> image, mask = ds[0]; int(mask.max()) in (255, *range(150))  # doctest: +SKIP
        True
    """

    classes = _INFO.classes
    palette = _INFO.palette
    ignore_index = IGNORE_INDEX
    label_modes = ("L", "P")

    def __init__(self, root: str | os.PathLike, split: str = "train", transforms=None,
                 max_items: int | None = None) -> None:
        if split not in FOLDERS:
            raise ValueError(f"unknown ADE20K SceneParsing split {split!r}; choose one of {tuple(FOLDERS)} (the "
                             "test pictures have no public annotations)")
        folder = dataset_folder("ade20k", root)
        images = folder / "images" / FOLDERS[split]
        if not images.is_dir():
            raise FileNotFoundError(f"{images}: the pictures of split {split!r} are missing (root {folder})")
        _check_object_info(folder)
        names = sorted(p for p in images.iterdir() if p.suffix.lower() in (".jpg", ".jpeg") and p.is_file())
        items = [(p, folder / "annotations" / FOLDERS[split] / f"{p.stem}.png") for p in names]
        if not items:
            raise ValueError(f"{images}: split {split!r} holds no .jpg pictures")
        scenes_file = folder / "sceneCategories.txt"
        self.scenes = parse_scene_categories(scenes_file) if scenes_file.is_file() else {}
        super().__init__(folder, split, items, transforms, max_items)

    def load_raw(self, index: int) -> tuple[Image.Image, np.ndarray]:
        """The picture (PIL RGB) and its labels **shifted** to 0..149 with 255 for "other" (``uint8 [H, W]``).

        This is where the shift happens (:func:`to_train_ids`); :meth:`load_stored` gives the file's own values.
        """
        image, stored = self.load_stored(index)
        return image, to_train_ids(stored, self.items[index][1])

    def load_stored(self, index: int) -> tuple[Image.Image, np.ndarray]:
        """The picture (PIL RGB, grayscale and CMYK converted) and the annotation as stored (0..150)."""
        image_path, label_path = self.items[index]
        image = read_rgb(image_path)
        stored = read_label(label_path, self.label_modes)
        check_same_size(image, stored, image_path, label_path)
        return image, stored

    def scene(self, index: int) -> str | None:
        """The scene category of picture ``index`` (``sceneCategories.txt``), or ``None`` when it is not listed."""
        return self.scenes.get(self.items[index][0].stem)
