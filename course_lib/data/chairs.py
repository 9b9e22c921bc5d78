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
flow is Middlebury ``.flo`` (:mod:`course_lib.flow_io`).

The synthetic sample (:func:`write_sample`) follows the release layout and formats and adds one file per pair that
the release lacks: ``NNNNN_occ.png``, the occlusion mask of frame 1 (non-zero = occluded in frame 2), from which
the loader derives the non-occluded mask.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
from PIL import Image

from ..flow_io import write_flo
from .common import find_dataset_root, iter_nonempty_lines, mark_sample, sample_is_current
from .flow_common import FlowAugment, FlowItem, FlowPairDataset, flow_collate

__all__ = ["DOWNLOAD_NOTE", "FlyingChairs", "SPLITS", "find_root", "read_split_list", "write_sample",
           "FlowAugment", "flow_collate"]

SPLITS = ("train", "val", "all")
SPLIT_LISTS = ("FlyingChairs_train_val.txt", "FlyingChairs_release_test_train_split.list")
PAGE = "https://lmb.informatik.uni-freiburg.de/resources/datasets/FlyingChairs.en.html"

DOWNLOAD_NOTE = f"""\
FlyingChairs (22 872 pairs of 512x384 with exact flow; the zip is about 31 GB). Download FlyingChairs.zip and
FlyingChairs_train_val.txt from {PAGE} (manual: the archive is too large to fetch by default), unpack it, put the
list file into FlyingChairs_release/ and pass the folder that holds FlyingChairs_release/.
Without it the quick profile trains on the synthetic chairs-like set of course_lib.data.flow_chairs.write_sample.
Terms: research purposes only, no commercial use (dataset page).
Cite: A. Dosovitskiy et al., "FlowNet: Learning Optical Flow with Convolutional Networks", ICCV 2015."""

_RELEASE = re.compile(r"^(\d+)_img1\.ppm$")
_EXAMPLE = re.compile(r"^(\d+)-img0\.ppm$")


def _pairs_folder(path: Path) -> Path | None:
    for folder in (path / "data", path):
        if folder.is_dir() and (any(folder.glob("*_flow.flo")) or any(folder.glob("*-gt.flo"))):
            return folder
    return None


def find_root(root: str | os.PathLike) -> Path:
    """Resolve ``root`` to the FlyingChairs folder (the one holding ``data/``, or the pairs themselves).

    Example:
        >>> find_root("/data/chairs")  # doctest: +SKIP
        PosixPath('/data/chairs/FlyingChairs_release')
    """
    return find_dataset_root(
        root, lambda p: _pairs_folder(p) is not None,
        names=("FlyingChairs_release", "FlyingChairs", "FlyingChairs_examples", "flyingchairs", "chairs"),
        max_depth=3, what="FlyingChairs folder (data/NNNNN_flow.flo or NNNNNNN-gt.flo)",
        hint="See course_lib.data.flow_chairs.DOWNLOAD_NOTE, or write the synthetic sample with "
             "course_lib.data.flow_chairs.write_sample(root).")


def read_split_list(path: str | os.PathLike) -> list[int]:
    """Read ``FlyingChairs_train_val.txt``: one ``1`` (train) or ``2`` (validation) per pair, in pair order.

    Raises:
        ValueError: a line holds anything else (the message names the file and the line).

    Example:
        >>> read_split_list("FlyingChairs_release/FlyingChairs_train_val.txt")[:3]  # doctest: +SKIP
        [1, 1, 2]
    """
    values = []
    for number, line in iter_nonempty_lines(Path(path)):
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

    Items are ``(images [6, H, W], target dict)`` (see :mod:`course_lib.data.flow_common`); the flow is dense
    (``valid_occ`` everywhere) and, for the synthetic sample, ``valid_noc`` comes from its occlusion masks.

    Args:
        root: the FlyingChairs folder or a folder up to three levels above it.
        split: ``"train"`` or ``"val"`` (from the split list, which must have one line per pair) or ``"all"``.
        transforms: ``FlowSample -> FlowSample``, e.g. :class:`FlowAugment`.
        max_items: keep the first ``max_items`` pairs.

    Example:
        >>> ds = FlyingChairs(write_sample(tmp), "val")  # doctest: +SKIP
        >>> images, target = ds[0]; tuple(images.shape)  # doctest: +SKIP
        (6, 120, 160)
    """

    def __init__(self, root: str | os.PathLike, split: str = "train", transforms=None,
                 max_items: int | None = None) -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown FlyingChairs split {split!r}; choose one of {SPLITS}")
        folder = find_root(root)
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


def write_sample(root: str | os.PathLike, n_train: int = 128, n_val: int = 16, size: tuple[int, int] = (160, 120),
                 seed: int = 0, overwrite: bool = False, **scene_kwargs) -> Path:
    """Write a synthetic chairs-like set in the FlyingChairs release layout; returns ``root/FlyingChairs_release``.

    Each pair: a textured background and 2-5 textured random shapes, each moved by its own random affine motion
    (:mod:`course_lib.data.synthetic_flow`), written as ``data/NNNNN_img1.ppm``, ``NNNNN_img2.ppm`` (binary PPM),
    ``NNNNN_flow.flo`` (Middlebury) and ``NNNNN_occ.png`` (occlusion mask, 255 = occluded); the split list
    ``FlyingChairs_train_val.txt`` marks the first ``n_train`` pairs 1 and the rest 2. ``COURSE_SAMPLE.txt`` marks
    the folder as synthetic. An existing sample written with the same arguments is kept.

    Args:
        root: the folder to write into.
        n_train, n_val: number of training and validation pairs.
        size: ``(width, height)``; FlyingChairs is ``(512, 384)``.
        seed: random seed (the sample is deterministic).
        overwrite: rewrite even when an identical sample is present.
        **scene_kwargs: passed to :func:`course_lib.data.synthetic_flow.make_scene` (e.g. ``object_shift``).

    Example:
        >>> folder = write_sample(tmp_path, n_train=8, n_val=2, size=(64, 48))  # doctest: +SKIP
    """
    from .synthetic_flow import make_pair

    if n_train < 1 or n_val < 1:
        raise ValueError(f"need at least one training and one validation pair, got {n_train}, {n_val}")
    width, height = int(size[0]), int(size[1])
    if min(width, height) < 32:
        raise ValueError(f"size must be at least 32x32, got {size}")
    folder = Path(root).expanduser() / "FlyingChairs_release"
    params = {"n_train": n_train, "n_val": n_val, "size": (width, height), "seed": seed, **scene_kwargs}
    if not overwrite and sample_is_current(folder, params):
        return folder
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(1, n_train + n_val + 1):
        pair = make_pair(rng, size=(width, height), **scene_kwargs)
        Image.fromarray(pair.image1).save(data / f"{i:05d}_img1.ppm")
        Image.fromarray(pair.image2).save(data / f"{i:05d}_img2.ppm")
        write_flo(data / f"{i:05d}_flow.flo", pair.flow)
        Image.fromarray(pair.occlusion.astype(np.uint8) * 255).save(data / f"{i:05d}_occ.png")
    (folder / SPLIT_LISTS[0]).write_text("1\n" * n_train + "2\n" * n_val, encoding="utf-8")
    mark_sample(folder, params, "Synthetic chairs-like flow set (FlyingChairs release layout, .ppm + .flo + occlusion "
                                "PNGs) written by course_lib.data.flow_chairs.write_sample; not real data.")
    return folder
