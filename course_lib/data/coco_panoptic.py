"""COCO panoptic format: an annotations JSON plus a folder of panoptic PNGs, read, checked and written.

Introduced in Chapter 11. The official layout (COCO 2017 panoptic; Cityscapes panoptic uses the same format):

- ``annotations/panoptic_{train,val}2017.json``: ``categories`` (``id``, ``name``, ``isthing`` 0/1, ``color``,
  ``supercategory``), ``images`` (``id``, ``file_name``, ``width``, ``height``) and ``annotations``, one per image:
  ``image_id``, ``file_name`` (its PNG) and ``segments_info``, one dict per segment: ``id`` (the PNG's id),
  ``category_id``, ``iscrowd``, ``area`` and ``bbox`` ``[x, y, w, h]``;
- ``annotations/panoptic_{train,val}2017/<id>.png``: RGB PNGs with id = R + 256 G + 256^2 B, 0 = void
  (:mod:`course_lib.io.panoptic`);
- ``{train,val}2017/<id>.jpg``: the pictures.

A prediction file is the same JSON without ``categories`` and ``images`` (what ``python -m course_lib.score
panoptic`` reads). Every problem is a ``ValueError`` naming the file, the image and the segment. Cityscapes' files
and its conversion are :mod:`course_lib.data.cityscapes_panoptic`; the samples :mod:`course_lib.synthetic.panoptic`.

Example:
    >>> ids = np.array([[0, 5, 5], [9, 9, 5]], np.uint32)
    >>> [(s["id"], s["area"], s["bbox"]) for s in segments_info(ids, {5: 1, 9: 7})]
    [(5, 3, [1, 0, 2, 2]), (9, 2, [0, 1, 2, 1])]
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from torch.utils.data import Dataset

from ..io.atomic import atomic_write_text
from ..io.images import read_rgb
from ..io.panoptic import MAX_SEGMENT_ID, read_panoptic_png, write_panoptic_png
from .registry import is_sample_folder

__all__ = ["PanopticAnnotations", "PanopticCategory", "PanopticDataset", "check_png_segments", "coco_panoptic",
           "read_panoptic_json", "segments_info", "semantic_from_panoptic", "write_panoptic",
           "write_panoptic_json"]


@dataclass(frozen=True)
class PanopticCategory:
    """One category of a panoptic label set: ``isthing`` True for countable objects, False for stuff."""

    id: int
    name: str
    isthing: bool
    color: tuple[int, int, int] = (0, 0, 0)
    supercategory: str = ""

    def to_json(self) -> dict:
        return {"id": self.id, "name": self.name, "isthing": int(self.isthing), "color": list(self.color),
                "supercategory": self.supercategory}


@dataclass
class PanopticAnnotations:
    """A panoptic JSON, checked: ``categories`` by id, ``images`` by id, ``annotations`` by image id (in file
    order), each ``{"image_id", "file_name", "segments_info": [{"id", "category_id", "iscrowd", ...}]}``."""

    path: Path
    categories: dict[int, PanopticCategory] = field(default_factory=dict)
    images: dict = field(default_factory=dict)
    annotations: dict = field(default_factory=dict)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _categories(path: Path, raw) -> dict[int, PanopticCategory]:
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{path}: 'categories' must be a non-empty list of {{id, name, isthing}} objects")
    out: dict[int, PanopticCategory] = {}
    for c in raw:
        if not isinstance(c, dict) or not _is_int(c.get("id")) or not isinstance(c.get("name"), str):
            raise ValueError(f"{path}: category {c!r:.80} needs an integer 'id' and a string 'name'")
        if c.get("isthing") not in (0, 1):  # True and False compare equal to 1 and 0
            raise ValueError(f"{path}: category {c['id']} ({c['name']}): 'isthing' must be 0 or 1, "
                             f"got {c.get('isthing')!r}")
        if c["id"] in out:
            raise ValueError(f"{path}: category id {c['id']} appears twice")
        color = c.get("color", (0, 0, 0))
        out[c["id"]] = PanopticCategory(c["id"], c["name"], bool(c["isthing"]), tuple(int(v) for v in color)[:3],
                                        str(c.get("supercategory", "")))
    return out


def _segments(path: Path, image_id, raw, categories: dict) -> list[dict]:
    where = f"{path}: image {image_id}"
    if not isinstance(raw, list):
        raise ValueError(f"{where}: 'segments_info' must be a list")
    seen, out = set(), []
    for s in raw:
        if not isinstance(s, dict) or not _is_int(s.get("id")) or not _is_int(s.get("category_id")):
            raise ValueError(f"{where}: segment {s!r:.80} needs integer 'id' and 'category_id'")
        sid = s["id"]
        if not 0 < sid <= MAX_SEGMENT_ID:
            raise ValueError(f"{where}: segment {sid}: id must lie in 1..{MAX_SEGMENT_ID} (0 is void)")
        if sid in seen:
            raise ValueError(f"{where}: segment {sid} appears twice in segments_info")
        if categories and s["category_id"] not in categories:
            raise ValueError(f"{where}: segment {sid} has unknown category_id {s['category_id']}")
        if s.get("iscrowd", 0) not in (0, 1):
            raise ValueError(f"{where}: segment {sid}: 'iscrowd' must be 0 or 1, got {s['iscrowd']!r}")
        seen.add(sid)
        out.append({**s, "iscrowd": int(s.get("iscrowd", 0))})
    return out


def _png_name(path: Path, image_id, name) -> str:
    if not isinstance(name, str) or not name.endswith(".png"):
        raise ValueError(f"{path}: image {image_id}: 'file_name' must name a .png file, got {name!r}")
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or "\\" in name:
        raise ValueError(f"{path}: image {image_id}: 'file_name' {name!r} leaves the PNG folder")
    return name


def read_panoptic_json(path: str | os.PathLike, need_categories: bool = True) -> PanopticAnnotations:
    """Read and check a COCO panoptic JSON (ground truth, or predictions with ``need_categories=False``).

    Args:
        path: the JSON file.
        need_categories: the file must hold ``categories`` (ground truth); when it does, every segment's
            ``category_id`` must be one of them.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: not UTF-8 JSON, or a missing key, a duplicate image or segment id, an unknown category, a
            ``file_name`` that is no PNG or leaves the folder; the message names the file, the image, the segment.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: panoptic JSON is missing" if not path.exists()
                                else f"{path}: is not a file (expected the panoptic JSON)")
    try:
        raw = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise ValueError(f"{path}: not a UTF-8 JSON file ({type(err).__name__}: {str(err)[:80]})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("annotations"), list):
        raise ValueError(f"{path}: not a COCO panoptic JSON (an object with an 'annotations' list)")
    out = PanopticAnnotations(path)
    if need_categories or "categories" in raw:
        out.categories = _categories(path, raw.get("categories"))
    for image in raw.get("images", []):
        if not isinstance(image, dict) or "id" not in image:
            raise ValueError(f"{path}: image entry {image!r:.80} has no 'id'")
        out.images[image["id"]] = image
    for a in raw["annotations"]:
        if not isinstance(a, dict) or not isinstance(a.get("image_id"), int | str) or isinstance(a["image_id"], bool):
            raise ValueError(f"{path}: annotation {a!r:.80} has no integer or string 'image_id'")
        image_id = a["image_id"]
        if image_id in out.annotations:
            raise ValueError(f"{path}: image {image_id} has two annotations")
        if out.images and image_id not in out.images:
            raise ValueError(f"{path}: image {image_id} has an annotation but no entry in 'images'")
        out.annotations[image_id] = {"image_id": image_id, "file_name": _png_name(path, image_id, a.get("file_name")),
                                     "segments_info": _segments(path, image_id, a.get("segments_info"),
                                                                out.categories)}
    return out


def segments_info(ids: np.ndarray, category_of: dict[int, int], iscrowd: dict[int, int] | None = None) -> list[dict]:
    """The ``segments_info`` of a panoptic id map: one entry per non-zero id, with area and ``[x, y, w, h]`` box.

    Args:
        ids: segment ids ``[H, W]`` (0 = void).
        category_of: category id of each segment id present.
        iscrowd: 1 for crowd segments (default 0).
    """
    ids = np.asarray(ids)
    present = np.unique(ids)
    inverse = np.searchsorted(present, ids)
    area = np.bincount(inverse.ravel(), minlength=len(present))
    rows, cols = np.indices(ids.shape)
    big = np.iinfo(np.int64).max
    k = len(present)
    x0, y0 = np.full(k, big), np.full(k, big)
    x1, y1 = np.full(k, -1), np.full(k, -1)
    np.minimum.at(x0, inverse.ravel(), cols.ravel())
    np.minimum.at(y0, inverse.ravel(), rows.ravel())
    np.maximum.at(x1, inverse.ravel(), cols.ravel())
    np.maximum.at(y1, inverse.ravel(), rows.ravel())
    out = []
    for j, sid in enumerate(present.tolist()):
        if sid == 0:
            continue
        out.append({"id": sid, "category_id": int(category_of[sid]), "iscrowd": int((iscrowd or {}).get(sid, 0)),
                    "area": int(area[j]), "bbox": [int(x0[j]), int(y0[j]), int(x1[j] - x0[j] + 1),
                                                   int(y1[j] - y0[j] + 1)]})
    return out


def check_png_segments(ids: np.ndarray, segments: list[dict], png: str | os.PathLike, image_id) -> None:
    """Raise ``ValueError`` naming the PNG, the image and the segment when the ids in the PNG and the ids of its
    ``segments_info`` differ (an id in the PNG without an entry, or an entry absent from the PNG)."""
    present = set(np.unique(ids).tolist()) - {0}
    listed = {s["id"] for s in segments}
    if present - listed:
        extra = sorted(present - listed)
        raise ValueError(f"{png}: image {image_id}: segment {extra[0]} is in the PNG but not in segments_info "
                         f"({len(extra)} such ids)")
    if listed - present:
        absent = sorted(listed - present)
        raise ValueError(f"{png}: image {image_id}: segment {absent[0]} of segments_info is not in the PNG "
                         f"({len(absent)} such ids)")


def write_panoptic_json(path: str | os.PathLike, annotations: list[dict], categories=(), images=(),
                        **extra) -> Path:
    """Write a panoptic JSON (atomically): ``categories`` as :class:`PanopticCategory` or dicts; ``extra`` keys
    (``info``, ``licenses``) are written as given."""
    cats = [c.to_json() if isinstance(c, PanopticCategory) else c for c in categories]
    doc = {**extra, "images": list(images), "annotations": list(annotations), **({"categories": cats} if cats else {})}
    return atomic_write_text(path, json.dumps(doc))


def write_panoptic(json_path: str | os.PathLike, png_dir: str | os.PathLike, records: list[tuple[dict, np.ndarray,
                   dict[int, int], dict[int, int] | None]], categories=(), png_name=None, **extra) -> Path:
    """Write a whole panoptic set: for each ``(image record, ids [H, W], category_of, iscrowd)`` the PNG
    ``png_dir/<png_name(image record)>`` (default: the picture's name with ``.png``) and its annotation (area and
    box computed from ``ids``), then the JSON."""
    images, annotations = [], []
    for image, ids, category_of, iscrowd in records:
        name = png_name(image) if png_name else Path(image["file_name"]).with_suffix(".png").name
        write_panoptic_png(Path(png_dir) / name, ids)
        images.append(image)
        annotations.append({"image_id": image["id"], "file_name": name,
                            "segments_info": segments_info(ids, category_of, iscrowd)})
    return write_panoptic_json(json_path, annotations, categories, images, **extra)


def semantic_from_panoptic(ids: np.ndarray, segments: list[dict], category_index: dict[int, int],
                           void: int = 255) -> np.ndarray:
    """A semantic label map ``int64 [H, W]``: each segment's pixels get ``category_index[category_id]``, void
    and crowd keep their category (crowd is still that class), unlisted ids become ``void``."""
    lut_ids = np.array([0] + [s["id"] for s in segments], np.int64)
    lut_cls = np.array([void] + [category_index[s["category_id"]] for s in segments], np.int64)
    order = np.argsort(lut_ids)
    pos = np.clip(np.searchsorted(lut_ids[order], ids), 0, len(order) - 1)
    found = lut_ids[order][pos] == ids
    return np.where(found, lut_cls[order][pos], void)


class PanopticDataset(Dataset):
    """Pictures with panoptic ground truth in COCO panoptic format.

    Each item is ``(image uint8 [3, H, W], ids int64 [H, W], segments_info)``; the PNG's ids are checked against
    its ``segments_info`` (a mismatch names the PNG, the image and the segment).

    Args:
        json_path: the panoptic JSON.
        png_dir: its folder of panoptic PNGs.
        image_path: ``image_path(image record) -> Path`` of the picture.
        limit: keep the first ``limit`` images (quick profile).
    """

    def __init__(self, json_path, png_dir, image_path, limit: int | None = None) -> None:
        self.ann = read_panoptic_json(json_path)
        self.png_dir, self.image_path = Path(png_dir), image_path
        if not self.png_dir.is_dir():
            raise FileNotFoundError(f"{self.png_dir}: folder of panoptic PNGs is missing (for {json_path})")
        self.ids = list(self.ann.annotations)[:limit]
        if not self.ids:
            raise ValueError(f"{json_path}: holds no annotations")
        self.categories = self.ann.categories

    @property
    def is_sample(self) -> bool:
        return is_sample_folder(self.png_dir)

    def __len__(self) -> int:
        return len(self.ids)

    def load_raw(self, index: int) -> tuple[np.ndarray, np.ndarray, list[dict]]:
        a = self.ann.annotations[self.ids[index]]
        png = self.png_dir / a["file_name"]
        ids = read_panoptic_png(png)
        check_png_segments(ids, a["segments_info"], png, a["image_id"])
        record = self.ann.images.get(a["image_id"], {"file_name": Path(a["file_name"]).with_suffix(".jpg").name})
        picture = self.image_path(record)
        image = np.asarray(read_rgb(picture))
        if image.shape[:2] != ids.shape:
            raise ValueError(f"{png}: panoptic PNG is {ids.shape[1]}x{ids.shape[0]} (WxH) but its image {picture} "
                             f"is {image.shape[1]}x{image.shape[0]}")
        return image, ids, a["segments_info"]

    def __getitem__(self, index: int):
        image, ids, segments = self.load_raw(index)
        return torch.from_numpy(image.copy()).permute(2, 0, 1), torch.from_numpy(ids.astype(np.int64)), segments

    def __repr__(self) -> str:
        kind = "SYNTHETIC sample" if self.is_sample else "real data"
        return f"{type(self).__name__}({len(self)} images, {len(self.categories)} categories, {kind}: {self.png_dir})"


def coco_panoptic(root: str | os.PathLike, split: str = "val", limit: int | None = None) -> PanopticDataset:
    """COCO 2017 panoptic ``split`` (``train`` or ``val``) under ``root`` (the folder with ``annotations/``).

    Example:
        >>> ds = coco_panoptic("data/coco2017_panoptic", "val")  # doctest: +SKIP
    """
    root = Path(root)
    if split not in ("train", "val"):
        raise ValueError(f"COCO panoptic splits are 'train' and 'val', not {split!r}")
    return PanopticDataset(root / f"annotations/panoptic_{split}2017.json", root / f"annotations/panoptic_{split}2017",
                           lambda record: root / f"{split}2017" / record["file_name"], limit)
