"""YouTube-VOS (folders + ``meta.json``), YouTube-VIS and UVO (video-level JSON with per-frame RLE masks).

Introduced in Chapter 7. N. Xu et al., "YouTube-VOS", https://arxiv.org/abs/1809.03327; L. Yang et al., "Video
Instance Segmentation", https://arxiv.org/abs/1905.04804; W. Wang et al., "Unidentified Video Objects",
https://arxiv.org/abs/2104.04691.

YouTube-VOS (2018, 2019)::

    <root>/{train,valid}/JPEGImages/<video>/00000.jpg 00005.jpg ...   every 5th frame ({split}_all_frames: all)
    <root>/{train,valid}/Annotations/<video>/00000.png ...            palette PNGs of object ids, every 5th frame
                                                                      (valid: each object's first frame only)
    <root>/{train,valid}/meta.json   {"videos": {"<video>": {"objects": {"1": {"category": "person",
                                                                             "frames": ["00000", "00005"]}}}}}

Objects may enter mid-video: ``meta.json`` names each object's frames, so its first frame is per object
(:attr:`course_lib.data.video.VideoSequence.objects`). YouTube-VIS (2019, 2021) and UVO's dense set store a split
as one JSON: ``videos`` (``id``, ``width``, ``height``, ``length``, ``file_names``), ``annotations`` (one per object
instance: ``video_id``, ``category_id``, ``segmentations``: one RLE or ``null`` per frame) and ``categories``
(UVO: the one class-agnostic "object"). Annotations also carry per-frame ``bboxes`` and ``areas`` (read past here).
UVO v1.0 (the release's README and ``video2frames.py``)::

    <root>/VideoDenseSet/UVO_video_{train,val,test}_dense.json     YouTube-VIS style, 30 fps, every frame labelled;
                                                                   videos also carry their YouTube id ``ytid``
    <root>/VideoSparseSet/UVO_sparse_{train,val}_video[_with_interpolation].json   the same format at 1 fps
                                                                   (or interpolated to 30 fps)
    <root>/FrameSet/UVO_frame_{train,val}.json                     COCO image format (not read here)
    <root>/uvo_videos_{dense,sparse}_frames/<ytid>/0.png 1.png ... file_names are "<ytid>/<n>.png"

:func:`read_vis_json` checks and reads the video JSONs; masks decode on demand (:mod:`course_lib.io.rle`). Samples:
:mod:`course_lib.synthetic.youtube`.

Example:
    >>> vos = YouTubeVOS(course_lib.synthetic.youtube.write_vos_sample(tmp_path), split="train")  # doctest: +SKIP
    >>> vos[0].object_ids(), vos[0].objects  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..io.jsonfile import read_json
from ..io.rle import RLEError, decode_rle
from .splits import check_inside
from .video import VideoSequence, statistics_row

__all__ = ["VisInstance", "VisVideo", "YouTubeVOS", "read_meta", "read_vis_json", "vis_statistics"]


def read_meta(path: str | os.PathLike) -> dict[str, dict[int, dict]]:
    """YouTube-VOS's ``meta.json``: video -> object id -> ``{"category": str | None, "frames": [frame names]}``.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: not JSON, no ``videos``, an object id that is not a number in 1..254, no frames.
    """
    path = Path(path)
    data = read_json(path, "YouTube-VOS meta.json")
    if not isinstance(data, dict) or not isinstance(data.get("videos"), dict):
        raise ValueError(f"{path}: expected {{'videos': {{'<video>': {{'objects': ...}}}}}}")
    out: dict[str, dict[int, dict]] = {}
    for video, entry in data["videos"].items():
        check_inside(video, f"{path}: video {video!r}")
        objects = entry.get("objects") if isinstance(entry, dict) else None
        if not isinstance(objects, dict):
            raise ValueError(f"{path}: video {video!r} has no 'objects' dict")
        out[video] = {}
        for key, obj in objects.items():
            if not (str(key).isdigit() and 1 <= int(key) <= 254):
                raise ValueError(f"{path}: video {video!r}: object id {key!r} is not a number in 1..254")
            frames = obj.get("frames") if isinstance(obj, dict) else None
            if not isinstance(frames, list) or not frames or not all(isinstance(f, str) for f in frames):
                raise ValueError(f"{path}: video {video!r}, object {key}: 'frames' must be a non-empty list of names")
            out[video][int(key)] = {"category": obj.get("category"), "frames": sorted(frames)}
    return out


class YouTubeVOS(Sequence):
    """The videos of a YouTube-VOS split: ``vos[i]`` is a :class:`~course_lib.data.video.VideoSequence`.

    Args:
        root: the folder holding ``train/`` and ``valid/`` (or a split folder itself).
        split: ``"train"`` or ``"valid"``.
        all_frames: read the frames of ``{split}_all_frames/JPEGImages`` (every frame) where present.
        videos: only these videos.

    Attributes:
        missing: videos of ``meta.json`` without a frame folder (a partial copy), skipped.
    """

    def __init__(self, root: str | os.PathLike, *, split: str = "train", all_frames: bool = False,
                 videos: Sequence[str] | None = None) -> None:
        root = Path(root)
        folder = root / split if (root / split / "meta.json").exists() else root
        self.folder = folder
        meta = read_meta(folder / "meta.json")
        frames_root = folder / "JPEGImages"
        if all_frames and (folder.parent / f"{split}_all_frames" / "JPEGImages").is_dir():
            frames_root = folder.parent / f"{split}_all_frames" / "JPEGImages"
        self.sequences: list[VideoSequence] = []
        self.missing: list[str] = []
        for video in (videos if videos is not None else sorted(meta)):
            if video not in meta:
                raise KeyError(f"{folder / 'meta.json'}: no video {video!r}")
            frame_dir = frames_root / video
            frames = sorted(p for p in frame_dir.glob("*.jpg") if p.stem.isdigit()) if frame_dir.is_dir() else []
            if not frames:
                self.missing.append(video)
                continue
            position = {p.stem: i for i, p in enumerate(frames)}
            annotations = {}
            for png in sorted((folder / "Annotations" / video).glob("*.png")):
                if png.stem not in position:
                    raise ValueError(f"{png}: annotation without a frame {png.stem}.jpg in {frame_dir}")
                annotations[position[png.stem]] = png
            objects, categories = {}, {}
            for obj, info in meta[video].items():
                first = info["frames"][0]
                if first not in position:
                    raise ValueError(f"{folder / 'meta.json'}: video {video!r}, object {obj}: first frame {first} "
                                     f"is not in {frame_dir}")
                objects[obj] = position[first]
                if info["category"]:
                    categories[obj] = str(info["category"])
            self.sequences.append(VideoSequence(video, tuple(frames), annotations, objects=objects,
                                                categories=categories))

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, index):
        return self.sequences[index]


@dataclass(frozen=True)
class VisInstance:
    """One object instance of a YouTube-VIS / UVO video: its category and one RLE (or ``None``) per frame."""

    id: int
    category_id: int
    segmentations: tuple
    iscrowd: bool = False

    def frames_present(self) -> list[int]:
        """The frames in which the instance has a mask."""
        return [i for i, s in enumerate(self.segmentations) if s is not None]


@dataclass(frozen=True)
class VisVideo:
    """One video of a YouTube-VIS / UVO JSON: frame file names, size, instances; masks decode on demand.

    ``name`` is UVO's ``ytid`` where the JSON gives one, else the folder of the first frame (YouTube-VIS).
    """

    id: int
    file_names: tuple[str, ...]
    height: int
    width: int
    instances: tuple[VisInstance, ...] = ()
    categories: dict[int, str] = field(default_factory=dict)
    source: str = ""
    name: str = ""

    def __len__(self) -> int:
        return len(self.file_names)

    def masks(self, frame: int) -> tuple[np.ndarray, list[int]]:
        """``bool [K, H, W]`` masks of the instances present in ``frame`` and their category ids."""
        masks, cats = [], []
        for inst in self.instances:
            rle = inst.segmentations[frame]
            if rle is not None:
                where = f"{self.source}: video {self.id}, instance {inst.id}, frame {frame}"
                m = decode_rle(rle, where)
                if m.shape != (self.height, self.width):
                    raise RLEError(f"{where}: mask is {m.shape[1]}x{m.shape[0]}, the video {self.width}x{self.height}")
                masks.append(m)
                cats.append(inst.category_id)
        return (np.stack(masks) if masks else np.zeros((0, self.height, self.width), bool)), cats

    def track(self, index: int) -> list[np.ndarray | None]:
        """The masks ``bool [H, W]`` of instance ``index`` in every frame, ``None`` where it is absent: one track,
        as :func:`course_lib.metrics.track_iou` takes it."""
        inst = self.instances[index]
        where = f"{self.source}: video {self.id}, instance {inst.id}"
        return [None if rle is None else decode_rle(rle, f"{where}, frame {t}")
                for t, rle in enumerate(inst.segmentations)]

    def labelled_frames(self) -> list[int]:
        """The frames in which some instance has a mask."""
        return sorted({i for inst in self.instances for i in inst.frames_present()})


def _int(value, where: str, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{where}: {what} must be an integer, got {value!r}")
    return value


def read_vis_json(path: str | os.PathLike, *, class_agnostic: bool = False) -> list[VisVideo]:
    """Read a YouTube-VIS (or UVO dense) JSON: its videos with their instances, checked.

    Args:
        path: the JSON (``train.json``, ``instances.json``, ``UVO_video_train_dense.json``, ...).
        class_agnostic: UVO's open-world protocol: every instance is the one category "object" (id 1).

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: not JSON, missing keys, an annotation of an unknown video or category, as many segmentations as
            the video has frames, an RLE whose size is not the video's (messages name the file and the entry).
    """
    path = Path(path)
    data = read_json(path, "video instance JSON")
    if not isinstance(data, dict) or not isinstance(data.get("videos"), list):
        raise ValueError(f"{path}: expected a JSON object with 'videos', 'annotations' and 'categories' lists")
    categories = {1: "object"} if class_agnostic else {
        _int(c.get("id"), f"{path}: category", "id"): str(c.get("name")) for c in data.get("categories") or []}
    videos: dict[int, dict] = {}
    for k, v in enumerate(data["videos"]):
        where = f"{path}: videos[{k}]"
        names = v.get("file_names") if isinstance(v, dict) else None
        if not isinstance(names, list) or not names:
            raise ValueError(f"{where}: 'file_names' must be a non-empty list")
        for name in names:
            check_inside(str(name), where)
        vid = _int(v.get("id"), where, "id")
        if vid in videos:
            raise ValueError(f"{where}: video id {vid} appears twice")
        videos[vid] = {"name": str(v.get("ytid") or str(names[0]).replace("\\", "/").split("/")[0]),
                       "file_names": tuple(names), "height": _int(v.get("height"), where, "height"),
                       "width": _int(v.get("width"), where, "width"), "instances": []}
    for k, a in enumerate(data.get("annotations") or []):
        where = f"{path}: annotations[{k}]"
        if not isinstance(a, dict):
            raise ValueError(f"{where}: expected an object")
        vid = _int(a.get("video_id"), where, "video_id")
        if vid not in videos:
            raise ValueError(f"{where}: video_id {vid} is not among the videos")
        cat = 1 if class_agnostic else _int(a.get("category_id"), where, "category_id")
        if cat not in categories:
            raise ValueError(f"{where}: category_id {cat} is not among the categories {sorted(categories)}")
        segs = a.get("segmentations")
        video = videos[vid]
        if not isinstance(segs, list) or len(segs) != len(video["file_names"]):
            raise ValueError(f"{where}: 'segmentations' must hold one RLE or null per frame "
                             f"({len(video['file_names'])}), got {len(segs) if isinstance(segs, list) else segs!r}")
        for t, s in enumerate(segs):
            if s is not None and (not isinstance(s, dict) or list(s.get("size", [])) != [video["height"],
                                                                                        video["width"]]):
                raise ValueError(f"{where}: segmentation of frame {t} must be an RLE of size "
                                 f"[{video['height']}, {video['width']}], got {str(s)[:60]}")
        video["instances"].append(VisInstance(_int(a.get("id", k + 1), where, "id"), cat, tuple(segs),
                                              bool(a.get("iscrowd", 0))))
    return [VisVideo(vid, v["file_names"], v["height"], v["width"], tuple(v["instances"]), categories, str(path),
                     v["name"]) for vid, v in sorted(videos.items())]


def vis_statistics(videos: Sequence[VisVideo]) -> dict[str, float]:
    """The row of the statistics table (:func:`course_lib.data.video.statistics_row`) for a VIS / UVO JSON."""
    return statistics_row([len(v.instances) for v in videos], [len(v) for v in videos],
                          [len(v.labelled_frames()) for v in videos])
