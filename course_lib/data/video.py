"""What the video object datasets share: a sequence of frames with index-PNG annotations, and dataset statistics.

Introduced in Chapter 7 (video object datasets). DAVIS (:mod:`course_lib.data.davis`) and YouTube-VOS
(:mod:`course_lib.data.youtube`) store a video the same way: one JPEG per frame (``<seq>/00000.jpg ...``) and one
PNG per annotated frame with the same stem, whose pixel values are object ids (0 = background, 1..N = objects,
255 = void in DAVIS 2017). What differs:

* DAVIS 2016 annotations are 8-bit grey (mode ``L``) with 0/255: one object, ``value > 127``;
* DAVIS 2017 and YouTube-VOS annotations are palette PNGs (mode ``P``): the indices are the ids, the colours are
  only for display (the VOC colour map);
* DAVIS annotates every frame; YouTube-VOS every 5th frame (``00000, 00005, ...``) and objects may first appear in
  a later frame, so "the first frame's mask" is per object.

A :class:`VideoSequence` holds the paths only and reads frames and masks on demand; :func:`video_statistics`
makes the statistics table of the chapter (videos, objects per video, frames, annotated frames).

Example:
    >>> seq = VideoSequence("demo", frames=(), annotations={})
    >>> len(seq), seq.annotated_indices
    (0, [])
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from ..io.images import open_image, read_rgb

__all__ = ["VOID", "VideoFrames", "VideoSequence", "object_masks", "read_index_mask", "statistics_row",
           "video_statistics"]

#: the void value of DAVIS 2017 annotations (object borders and fine structures that are hard to label)
VOID = 255


def read_index_mask(path: str | Path, *, binary: bool = False) -> np.ndarray:
    """Read one annotation PNG as ``uint8 [H, W]`` object ids (0 background, 255 void).

    Args:
        path: the PNG.
        binary: DAVIS 2016: a grey 0/255 mask; object (id 1) where the value is above 127.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: empty, truncated or not an image, or a colour (RGB) mask; the message names the file.

    Example:
        >>> read_index_mask("DAVIS/Annotations/480p/tennis/00000.png")  # doctest: +SKIP
    """
    img = open_image(path, "annotation")
    if img.format != "PNG":
        raise ValueError(f"{path}: annotation is a {img.format} file; object ids need a lossless PNG")
    if img.mode not in ("L", "P", "1"):
        raise ValueError(f"{path}: annotation has PIL mode {img.mode!r}; expected a palette (P) PNG of object ids or "
                         "an 8-bit grey (L) mask (colour masks must be converted to index PNGs first)")
    a = np.asarray(img, dtype=np.uint8)
    if img.mode == "1":
        a = a * 255
    return (a > 127).astype(np.uint8) if binary else a.copy()


def object_masks(labels: np.ndarray, ids: Sequence[int]) -> np.ndarray:
    """``bool [K, H, W]``: one mask per object id of ``ids`` (void is no object).

    Example:
        >>> object_masks(np.array([[0, 1, 2, 255]]), [1, 2]).astype(int).tolist()
        [[[0, 1, 0, 0]], [[0, 0, 1, 0]]]
    """
    labels = np.asarray(labels)
    return np.stack([labels == i for i in ids]) if len(ids) else np.zeros((0, *labels.shape), bool)


@dataclass(frozen=True)
class VideoSequence:
    """One video: its frames and annotations (paths, read on demand).

    Args:
        name: the sequence's folder name.
        frames: the frame images in order (may be empty where only annotations are on disk).
        annotations: frame index -> annotation PNG (every frame in DAVIS, every 5th in YouTube-VOS).
        binary: annotations are DAVIS 2016 grey 0/255 masks.
        objects: object id -> index of the frame it is first annotated in (YouTube-VOS's ``meta.json``); empty:
            taken from the annotations (DAVIS: the objects of the first annotated frame).
        categories: object id -> category name, where the dataset names one.
    """

    name: str
    frames: tuple[Path, ...]
    annotations: dict[int, Path]
    binary: bool = False
    objects: dict[int, int] = field(default_factory=dict)
    categories: dict[int, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.frames) if self.frames else (max(self.annotations) + 1 if self.annotations else 0)

    @property
    def annotated_indices(self) -> list[int]:
        """The indices of the annotated frames, in order."""
        return sorted(self.annotations)

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` as ``uint8 [H, W, 3]`` (RGB)."""
        if not self.frames:
            raise FileNotFoundError(f"{self.name}: no frame images on disk (annotations only)")
        return np.asarray(read_rgb(self.frames[index]))

    def labels(self, index: int) -> np.ndarray:
        """The annotation of frame ``index`` as object ids ``uint8 [H, W]`` (0 background, 255 void).

        Raises:
            KeyError: the frame is not annotated (YouTube-VOS: only every 5th frame is).
        """
        if index not in self.annotations:
            raise KeyError(f"{self.name}: frame {index} has no annotation (annotated: "
                           f"{self.annotated_indices[:6]}{' ...' if len(self.annotations) > 6 else ''})")
        return read_index_mask(self.annotations[index], binary=self.binary)

    def object_ids(self) -> list[int]:
        """The objects of the sequence: those of ``objects`` where given, else those of the first annotation
        (as the DAVIS evaluation counts them: ids 1..max of the first frame)."""
        if self.objects:
            return sorted(self.objects)
        if not self.annotations:
            return []
        first = self.labels(self.annotated_indices[0])
        first = np.where(first == VOID, 0, first)
        return list(range(1, int(first.max()) + 1))

    def first_appearance(self) -> dict[int, int]:
        """Object id -> the first annotated frame holding it (from ``objects`` or by reading the annotations)."""
        if self.objects:
            return dict(self.objects)
        seen: dict[int, int] = {}
        for index in self.annotated_indices:
            for value in np.unique(self.labels(index)):
                if 0 < value < VOID and int(value) not in seen:
                    seen[int(value)] = index
        return seen

    def masks(self, index: int, ids: Sequence[int] | None = None) -> np.ndarray:
        """Per-object masks ``bool [K, H, W]`` of frame ``index`` for ``ids`` (default :meth:`object_ids`)."""
        return object_masks(self.labels(index), self.object_ids() if ids is None else list(ids))


def video_statistics(sequences: Iterable[VideoSequence], *, read_masks: bool = False) -> dict[str, float]:
    """The statistics table row of a video dataset: videos, objects (total and per video), frames, annotations.

    Args:
        sequences: the videos.
        read_masks: count objects by reading every annotation (slow on real data) instead of
            :meth:`VideoSequence.object_ids` (the first frame, or the metadata).

    Returns:
        ``videos``, ``objects``, ``objects_per_video``, ``max_objects``, ``frames``, ``annotated_frames``,
        ``frames_per_video`` and ``annotated_fraction``.

    Example:
        >>> video_statistics([VideoSequence("a", (Path("0.jpg"), Path("1.jpg")), {0: Path("0.png")},
        ...                                 objects={1: 0, 2: 0})])["objects_per_video"]
        2.0
    """
    videos = list(sequences)
    return statistics_row([len(s.first_appearance() if read_masks else s.object_ids()) for s in videos],
                          [len(s) for s in videos], [len(s.annotations) for s in videos])


def statistics_row(objects: Sequence[int], frames: Sequence[int], annotated: Sequence[int]) -> dict[str, float]:
    """The statistics of :func:`video_statistics` from per-video object, frame and annotated-frame counts.

    Example:
        >>> statistics_row([1, 3], [10, 20], [10, 4])["annotated_fraction"]
        0.4666666666666667
    """
    n = max(len(frames), 1)
    return {"videos": len(frames), "objects": int(sum(objects)), "objects_per_video": sum(objects) / n,
            "max_objects": max(objects, default=0), "frames": int(sum(frames)),
            "annotated_frames": int(sum(annotated)), "frames_per_video": sum(frames) / n,
            "annotated_fraction": sum(annotated) / max(sum(frames), 1)}


class VideoFrames(Dataset):
    """The annotated frames of some videos as a torch dataset of ``(image, mask)`` pairs, for training a parent
    network (OSVOS's offline stage: foreground against background, every object alike).

    Args:
        sequences: the videos (:class:`VideoSequence` with frames on disk).
        size: ``(height, width)`` the frames are resized to (bilinear; masks nearest), or ``None``.
        hflip: flip each item left-right with probability 0.5 (training).

    Items: ``image`` float ``[3, H, W]`` in ``[0, 1]``; ``mask`` long ``[H, W]``: 1 object, 0 background,
    255 void (ignored by the loss).
    """

    def __init__(self, sequences: Iterable[VideoSequence], *, size: tuple[int, int] | None = None,
                 hflip: bool = False) -> None:
        self.items = [(s, i) for s in sequences if s.frames for i in s.annotated_indices]
        self.size, self.hflip = size, hflip

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        import torch
        import torch.nn.functional as F

        seq, i = self.items[index]
        image = torch.from_numpy(seq.frame(i).copy()).permute(2, 0, 1).float().div(255)
        labels = seq.labels(i)
        mask = torch.from_numpy(np.where(labels == VOID, 255, labels > 0).astype(np.int64))
        if self.size is not None and tuple(image.shape[-2:]) != tuple(self.size):
            image = F.interpolate(image[None], size=self.size, mode="bilinear", align_corners=False)[0]
            mask = F.interpolate(mask[None, None].float(), size=self.size, mode="nearest")[0, 0].long()
        if self.hflip and torch.rand(()) < 0.5:
            image, mask = image.flip(-1), mask.flip(-1)
        return image, mask
