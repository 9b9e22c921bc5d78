"""FlyingChairs: chairs pasted over photographs and moved by random affine motions, with exact flow.

Introduced in Chapter 9 (optical flow). A. Dosovitskiy, P. Fischer, E. Ilg et al., *FlowNet: Learning Optical Flow
with Convolutional Networks*, ICCV 2015 (https://arxiv.org/abs/1504.06852). FlowNet, FlowNet 2.0 and RAFT all start
their training schedule on it.

Official layout (``FlyingChairs.zip`` from the University of Freiburg; 22 872 pairs of 512x384)::

    FlyingChairs_release/
        data/NNNNN_img1.ppm   NNNNN_img2.ppm   NNNNN_flow.flo      NNNNN = 00001 .. 22872
        FlyingChairs_train_val.txt                                  one line per pair: 1 = train, 2 = validation

The authors' example folder (``FlyingChairs_examples/NNNNNNN-img0.ppm``, ``-img1.ppm``, ``-gt.flo``, in the
flownet2 repository) is read too; its pairs are not in the split list, so it only has the split ``"all"``. The split
list may also sit next to the release folder, or carry flownet2's name
``FlyingChairs_release_test_train_split.list``. Frames are binary PPM (``P6``; the header has trailing spaces),
flow is Middlebury ``.flo`` (:mod:`course_lib.io.flow`).

The synthetic sample (:func:`course_lib.synthetic.chairs.write_sample`) follows the release layout and formats and
adds one file per pair that the release lacks: ``NNNNN_occ.png``, the occlusion mask of frame 1 (non-zero = occluded
in frame 2), from which the loader derives the non-occluded mask. Where the data are, how to get them and the
sample: the ``"chairs"`` entry of :mod:`course_lib.data.registry` and :func:`course_lib.datasets.locate`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .flow import FlowItem, FlowPairDataset
from .registry import find_root
from .splits import read_list_lines

__all__ = ["FlyingChairs", "SPLITS", "SPLIT_LISTS", "read_split_list"]

SPLITS = ("train", "val", "all")
SPLIT_LISTS = ("FlyingChairs_train_val.txt", "FlyingChairs_release_test_train_split.list")

_RELEASE = re.compile(r"^(\d+)_img1\.ppm$")
_EXAMPLE = re.compile(r"^(\d+)-img0\.ppm$")


def _pairs_folder(path: Path) -> Path | None:
    for folder in (path / "data", path):
        if folder.is_dir() and (any(folder.glob("*_flow.flo")) or any(folder.glob("*-gt.flo"))):
            return folder
    return None


def read_split_list(path: str | os.PathLike) -> list[int]:
    """Read ``FlyingChairs_train_val.txt``: one ``1`` (train) or ``2`` (validation) per pair, in pair order.

    Raises:
        ValueError: a line holds anything else (the message names the file and the line).

    Example:
        >>> read_split_list("FlyingChairs_release/FlyingChairs_train_val.txt")[:3]  # doctest: +SKIP
        [1, 1, 2]
    """
    values = []
    for number, line in read_list_lines(path, "FlyingChairs split list"):
        if line not in ("1", "2"):
            raise ValueError(f"{path}:{number}: expected 1 (train) or 2 (validation), got {line!r}")
        values.append(int(line))
    return values


def _find_split_list(folder: Path) -> Path | None:
    for place in (folder, folder.parent):
        for name in SPLIT_LISTS:
            if (place / name).is_file():
                return place / name
    return None


class FlyingChairs(FlowPairDataset):
    """FlyingChairs pairs (the release layout, the authors' examples, or the synthetic sample).

    Items are ``(images [6, H, W], target dict)`` (see :mod:`course_lib.data.flow`); the flow is dense
    (``valid_occ`` everywhere) and, for the synthetic sample, ``valid_noc`` comes from its occlusion masks.

    Args:
        root: the FlyingChairs folder or a folder up to three levels above it.
        split: ``"train"`` or ``"val"`` (from the split list, which must have one line per pair) or ``"all"``.
        transforms: ``FlowSample -> FlowSample``, e.g. :class:`course_lib.data.flow.FlowAugment`.
        max_items: keep the first ``max_items`` pairs.

    Example:
        >>> ds = FlyingChairs(course_lib.synthetic.chairs.write_sample(tmp), "val")  # doctest: +SKIP
        >>> images, target = ds[0]; tuple(images.shape)  # doctest: +SKIP
        (6, 120, 160)
    """

    def __init__(self, root: str | os.PathLike, split: str = "train", transforms=None,
                 max_items: int | None = None) -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown FlyingChairs split {split!r}; choose one of {SPLITS}")
        folder = find_root("chairs", root)
        pairs = _pairs_folder(folder)
        items: list[FlowItem] = []
        release = sorted((m.group(1), p) for p in pairs.glob("*_img1.ppm") if (m := _RELEASE.match(p.name)))
        for index, first in release:
            flow = pairs / f"{index}_flow.flo"
            second = pairs / f"{index}_img2.ppm"
            for needed in (second, flow):
                if not needed.is_file():
                    raise FileNotFoundError(f"{needed}: missing (pair {index} has {first.name})")
            occ = pairs / f"{index}_occ.png"
            items.append(FlowItem(first, second, flow, None, occ if occ.is_file() else None, name=index))
        examples = sorted((m.group(1), p) for p in pairs.glob("*-img0.ppm") if (m := _EXAMPLE.match(p.name)))
        for index, first in examples:
            flow, second = pairs / f"{index}-gt.flo", pairs / f"{index}-img1.ppm"
            for needed in (second, flow):
                if not needed.is_file():
                    raise FileNotFoundError(f"{needed}: missing (pair {index} has {first.name})")
            items.append(FlowItem(first, second, flow, name=index))
        if not items:
            raise FileNotFoundError(f"{pairs}: no FlyingChairs pairs")
        if split != "all":
            list_file = _find_split_list(folder)
            if list_file is None or examples:
                why = "the example pairs are not in the split list" if examples else "no split list found"
                raise FileNotFoundError(f"{folder}: split {split!r} needs {SPLIT_LISTS[0]} with one line per pair "
                                        f"({why}); use split='all'")
            flags = read_split_list(list_file)
            if len(flags) != len(items):
                raise ValueError(f"{list_file}: {len(flags)} lines but {len(items)} pairs in {pairs}; the list must "
                                 "have one line per pair (use split='all' for a subset)")
            wanted = 1 if split == "train" else 2
            items = [item for item, flag in zip(items, flags, strict=True) if flag == wanted]
        super().__init__(folder, split, items, transforms, max_items)

