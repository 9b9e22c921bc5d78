"""Small synthetic YouTube-VOS, YouTube-VIS and UVO samples in their official layouts (the clips of
:func:`course_lib.synthetic.davis.render_video`).

Introduced in Chapter 7. YouTube-VOS: every frame of a clip is drawn, every 5th is kept (``00000.jpg, 00005.jpg``
...) with its palette annotation and ``meta.json``, and one object per video enters mid-video. YouTube-VIS: all
kept frames, one JSON whose annotations hold, per frame, an RLE (compressed) or ``null`` (``segmentations``), a box
``[x, y, w, h]`` or ``null`` (``bboxes``) and an area or ``null`` (``areas``), as the release's ``train.json``.
UVO v1.0 dense set: the same YouTube-VIS-style JSON (``VideoDenseSet/UVO_video_train_dense.json``), every frame
labelled, class-agnostic (category 1 "object"), each video with its YouTube id (``ytid``); the frames are named as
the release's ``video2frames.py`` writes them, ``uvo_videos_dense_frames/<ytid>/<n>.png`` with ``n`` counted from 0
without padding. Read by :mod:`course_lib.data.youtube`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..io.atomic import atomic_write_text
from ..io.rle import encode_rle
from .common import mark_sample, sample_is_current
from .davis import _save_frame, render_video, save_annotation

__all__ = ["write_uvo_sample", "write_vis_sample", "write_vos_sample"]

_CATEGORIES = ("person", "dog", "car", "bird")


def _clips(videos: int, length: int, width: int, height: int, seed: int, step: int):
    """``(name, frames, labels, appear)`` of each clip; the object with the highest id enters mid-video."""
    rng = np.random.default_rng(seed)
    for v in range(videos):
        objects = int(rng.integers(1, 4))
        appear = {objects: step * int(rng.integers(1, max(2, length // step - 1)))} if objects > 1 else {}
        frames, labels = render_video(rng, length=length, width=width, height=height, objects=objects,
                                      appear=appear, distractor=bool(v % 2))
        yield f"{v:03d}{rng.integers(0, 16**6):06x}", frames, labels, objects


def write_vos_sample(root: str | os.PathLike, *, videos: int = 4, length: int = 21, width: int = 96,
                     height: int = 64, seed: int = 1) -> Path:
    """Write (once) a synthetic YouTube-VOS ``train/`` split (every 5th frame) under ``root/youtube_vos``."""
    folder = Path(root) / "youtube_vos"
    params = dict(videos=videos, length=length, width=width, height=height, seed=seed)
    if sample_is_current(folder, params):
        return folder
    meta = {"videos": {}}
    for name, frames, labels, objects in _clips(videos, length, width, height, seed, 5):
        kept = list(range(0, length, 5))
        for t in kept:
            _save_frame(folder / "train" / "JPEGImages" / name / f"{t:05d}.jpg", frames[t])
            save_annotation(folder / "train" / "Annotations" / name / f"{t:05d}.png", labels[t])
        meta["videos"][name] = {"objects": {
            str(k): {"category": _CATEGORIES[(k - 1) % len(_CATEGORIES)],
                     "frames": [f"{t:05d}" for t in kept if (labels[t] == k).any()]}
            for k in range(1, objects + 1) if any((labels[t] == k).any() for t in kept)}}
    atomic_write_text(folder / "train" / "meta.json", json.dumps(meta, indent=1))
    mark_sample(folder, params, "SYNTHETIC YouTube-VOS sample written by course_lib.synthetic.youtube "
                                "(not the real dataset).")
    return folder


def _box_area(mask: np.ndarray) -> tuple[list[int] | None, int | None]:
    """COCO's ``[x, y, w, h]`` and area of a mask, ``(None, None)`` where it is empty."""
    ys, xs = np.nonzero(mask)
    if not len(xs):
        return None, None
    x0, y0 = int(xs.min()), int(ys.min())
    return [x0, y0, int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1], int(mask.sum())


def _write_json_sample(folder: Path, params: dict, json_path: Path, frames_dir: Path, step: int, uvo: bool,
                       description: str) -> Path:
    if sample_is_current(folder, params):
        return folder
    videos, annotations = [], []
    clips = _clips(params["videos"], params["length"], params["width"], params["height"], params["seed"], step)
    for vid, (name, frames, labels, objects) in enumerate(clips, start=1):
        kept = list(range(0, params["length"], step))
        # UVO: <ytid>/<n>.png as video2frames.py writes them; YouTube-VIS: <video>/<frame:05d>.jpg
        names = [f"{name}/{t}.png" if uvo else f"{name}/{t:05d}.jpg" for t in kept]
        for t, file_name in zip(kept, names, strict=True):
            _save_frame(frames_dir / file_name, frames[t])
        video = {"id": vid, "width": params["width"], "height": params["height"], "length": len(kept),
                 "file_names": names}
        videos.append({**video, "ytid": name} if uvo else video)
        for k in range(1, objects + 1):
            masks = [labels[t] == k for t in kept]
            if not any(m.any() for m in masks):
                continue
            boxes, areas = zip(*(_box_area(m) for m in masks), strict=True)
            annotations.append({"id": len(annotations) + 1, "video_id": vid, "iscrowd": 0,
                                "category_id": 1 if uvo else 1 + (k - 1) % len(_CATEGORIES),
                                "segmentations": [encode_rle(m, compressed=True) if m.any() else None
                                                  for m in masks],
                                "bboxes": list(boxes), "areas": list(areas),
                                "height": params["height"], "width": params["width"]})
    categories = ([{"id": 1, "name": "object", "supercategory": "object"}] if uvo else
                  [{"id": i + 1, "name": n, "supercategory": "object"} for i, n in enumerate(_CATEGORIES)])
    atomic_write_text(json_path, json.dumps({"videos": videos, "annotations": annotations,
                                             "categories": categories}))
    mark_sample(folder, params, description)
    return folder


def write_vis_sample(root: str | os.PathLike, *, videos: int = 4, length: int = 21, width: int = 96,
                     height: int = 64, seed: int = 2) -> Path:
    """Write (once) a synthetic YouTube-VIS sample (``train.json`` + ``train/JPEGImages``) under
    ``root/youtube_vis``; every 5th frame is kept and labelled."""
    folder = Path(root) / "youtube_vis"
    params = dict(videos=videos, length=length, width=width, height=height, seed=seed, layout="bboxes+areas")
    return _write_json_sample(folder, params, folder / "train.json", folder / "train" / "JPEGImages", 5, False,
                              "SYNTHETIC YouTube-VIS sample written by course_lib.synthetic.youtube.")


def write_uvo_sample(root: str | os.PathLike, *, videos: int = 3, length: int = 9, width: int = 96,
                     height: int = 64, seed: int = 3) -> Path:
    """Write (once) a synthetic UVO v1.0 dense sample (``VideoDenseSet/UVO_video_train_dense.json``, every frame
    labelled, class-agnostic, videos with a ``ytid``; frames ``uvo_videos_dense_frames/<ytid>/<n>.png``) under
    ``root/uvo``."""
    folder = Path(root) / "uvo"
    params = dict(videos=videos, length=length, width=width, height=height, seed=seed, layout="v1.0 png")
    return _write_json_sample(folder, params, folder / "VideoDenseSet" / "UVO_video_train_dense.json",
                              folder / "uvo_videos_dense_frames", 1, True,
                              "SYNTHETIC UVO dense sample written by course_lib.synthetic.youtube.")
