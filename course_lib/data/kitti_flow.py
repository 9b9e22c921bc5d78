"""KITTI optical flow, 2015 and 2012: real driving scenes with LiDAR-based ground truth.

Introduced in Chapter 9 (optical flow); Chapter 10 (driving datasets, motion detection) reuses it.
M. Menze, A. Geiger, *Object Scene Flow for Autonomous Vehicles*, CVPR 2015 (KITTI 2015); A. Geiger, P. Lenz,
R. Urtasun, *Are we ready for Autonomous Driving? The KITTI Vision Benchmark Suite*, CVPR 2012 (KITTI 2012).

Official layouts (``root`` may be the ``data_scene_flow`` / ``data_stereo_flow`` folder or up to three levels above)::

    data_scene_flow/                         KITTI 2015: 200 training + 200 testing pairs, colour
        training/image_2/NNNNNN_10.png       frame 1 (left colour camera)
        training/image_2/NNNNNN_11.png       frame 2
        training/flow_occ/NNNNNN_10.png      flow of all pixels with ground truth (occluded ones too)
        training/flow_noc/NNNNNN_10.png      flow of the pixels visible in both frames only
        training/obj_map/NNNNNN_10.png       8-bit: 0 background, 1..N the foreground objects (Chapter 10)
        training/calib_cam_to_cam/NNNNNN.txt from data_scene_flow_calib.zip: "P_rect_02: 12 numbers", ...
        testing/image_2/...                  no ground truth (evaluated on the benchmark server)
    data_stereo_flow/                        KITTI 2012: 194 training + 195 testing pairs
        training/image_0/NNNNNN_1{0,1}.png   grayscale left camera (8-bit, mode "L")
        training/colored_0/...               the same frames in colour
        training/flow_occ/, flow_noc/        as above

Oddities the loader handles: flow PNGs are **16-bit** (``u = (R - 2**15) / 64``, ``v = (G - 2**15) / 64``,
``B`` = valid; read with OpenCV, since Pillow drops the low byte, see :mod:`course_lib.io.flow`); invalid pixels are
``(32768, 32768, 0)``, not zeros; the ground truth is sparse (no LiDAR on the sky, the far field and some objects:
typically a fifth to a half of the pixels are valid); a split may hold ``flow_noc`` only (the real 2012 files of the
shared data folder) or ``flow_occ`` only (what ``torchvision.datasets.KittiFlow`` reads); picture sizes differ from
sequence to sequence (1241x376, 1226x370, 1242x375, ...), so batches are padded
(:func:`course_lib.data.flow.flow_collate`) or cropped.

Evaluation (:class:`course_lib.metrics.FlowMetrics`): end-point error and Fl (outlier: EPE > 3 px and > 5 % of the
true length) over the valid pixels of ``flow_noc`` ("non-occluded") and of ``flow_occ`` ("all pixels").

Where the data are, how to download them (``python -m course_lib.download kitti``) and the synthetic sample
(:func:`course_lib.synthetic.kitti_flow.write_sample`): the ``"kitti"`` entry of :mod:`course_lib.data.registry` and
:func:`course_lib.datasets.locate`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ..io.images import read_label
from .flow import FlowItem, FlowPairDataset
from .registry import find_root

__all__ = ["CAMERAS", "KittiFlow", "SPLITS", "camera_matrix", "read_calib_cam_to_cam"]

SPLITS = {"train": "training", "test": "testing"}
#: image folders by preference: 2015 colour, 2012 colour, 2012 grayscale
CAMERAS = ("image_2", "colored_0", "image_0")

_FRAME = re.compile(r"^(\d+)_10\.png$")


def _image_dir(split_dir: Path) -> Path | None:
    for camera in CAMERAS:
        folder = split_dir / camera
        if folder.is_dir() and any(folder.glob("*_10.png")):
            return folder
    return None


def read_calib_cam_to_cam(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a KITTI ``calib_cam_to_cam`` file: lines ``key: numbers`` -> ``{key: float64 array}``.

    Lines whose values are not numbers (``calib_time: 09-Jan-2012 13:57:47``) are skipped.

    Raises:
        ValueError: not UTF-8, no ``P_rect_02`` of 12 finite numbers; the message names the file.
    """
    from .splits import read_list_lines

    out: dict[str, np.ndarray] = {}
    for _, line in read_list_lines(path, "KITTI calib_cam_to_cam file"):
        key, sep, rest = line.partition(":")
        try:
            values = np.array([float(v) for v in rest.split()], np.float64)
        except ValueError:
            continue
        if sep and values.size:
            out[key.strip()] = values
    p = out.get("P_rect_02")
    if p is None or p.size != 12 or not np.isfinite(p).all():
        raise ValueError(f"{path}: no 'P_rect_02:' line of 12 finite numbers (a KITTI calib_cam_to_cam file?)")
    return out


def camera_matrix(path: str | os.PathLike, camera: str = "02") -> np.ndarray:
    """The ``3x3`` camera matrix ``K`` of rectified camera ``camera`` (``02`` = left colour): ``P_rect_XX[:, :3]``."""
    calib = read_calib_cam_to_cam(path)
    p = calib.get(f"P_rect_{camera}")
    if p is None or p.size != 12:
        raise ValueError(f"{path}: no 'P_rect_{camera}:' line of 12 numbers")
    return p.reshape(3, 4)[:, :3].copy()


class KittiFlow(FlowPairDataset):
    """KITTI 2015 / 2012 flow pairs: ``(images [6, H, W], target dict)`` items (see :mod:`course_lib.data.flow`).

    Args:
        root: the KITTI folder, a folder up to three levels above it, or its ``training``/``testing`` folder.
        split: ``"train"`` (``training/``, with ground truth) or ``"test"`` (``testing/``, without).
        camera: ``"auto"`` (``image_2``, else ``colored_0``, else ``image_0``) or one of :data:`CAMERAS`.
        transforms: ``FlowSample -> FlowSample``, e.g. :class:`course_lib.data.flow.FlowAugment` for training crops.
        max_items: keep the first ``max_items`` pairs.

    Attributes:
        version: ``2015`` (``image_2``) or ``2012``.

    Example:
        >>> ds = KittiFlow(course_lib.synthetic.kitti_flow.write_sample(tmp), "train")  # doctest: +SKIP
        >>> images, target = ds[0]; images.shape[0], target["has_noc"].item()  # doctest: +SKIP
        (6, True)
    """

    def __init__(self, root: str | os.PathLike, split: str = "train", camera: str = "auto", transforms=None,
                 max_items: int | None = None) -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown KITTI split {split!r}; choose one of {tuple(SPLITS)}")
        folder = find_root("kitti", root)
        split_dir = folder / SPLITS[split]
        if camera == "auto":
            images = _image_dir(split_dir)
        elif camera in CAMERAS:
            images = split_dir / camera if (split_dir / camera).is_dir() else None
        else:
            raise ValueError(f"unknown KITTI camera folder {camera!r}; choose 'auto' or one of {CAMERAS}")
        if images is None:
            raise FileNotFoundError(f"{split_dir}: no KITTI frames (*_10.png in {' or '.join(CAMERAS)}) for split "
                                    f"{split!r}")
        self.version = 2015 if images.name == "image_2" else 2012
        self.camera = images.name
        items = []
        for first in sorted(images.glob("*_10.png")):
            match = _FRAME.match(first.name)
            if match is None:
                continue
            second = images / f"{match.group(1)}_11.png"
            if not second.is_file():
                raise FileNotFoundError(f"{second}: frame 2 of the pair {first.name} is missing")
            occ, noc = split_dir / "flow_occ" / first.name, split_dir / "flow_noc" / first.name
            items.append(FlowItem(first, second, occ if occ.is_file() else None, noc if noc.is_file() else None,
                                  name=first.stem))
        if not items:
            raise FileNotFoundError(f"{images}: no *_10.png frames")
        super().__init__(folder, split, items, transforms, max_items)

    @property
    def has_ground_truth(self) -> bool:
        """Whether any pair of this split has ``flow_occ`` or ``flow_noc``."""
        return any(item.flow is not None or item.flow_noc is not None for item in self.items)

    def obj_map_path(self, index: int) -> Path:
        """Where KITTI 2015 keeps the object map of pair ``index``: ``<split>/obj_map/NNNNNN_10.png``."""
        first = self.items[index].image1
        return first.parent.parent / "obj_map" / first.name

    def obj_map(self, index: int) -> np.ndarray | None:
        """The object map of pair ``index`` (KITTI 2015 only; Chapter 10's motion detection), or ``None``.

        ``uint8 [H, W]``: 0 = background, 1..N = the foreground objects of frame 1 (the vehicles the benchmark fitted
        with 3D models; the "fg" pixels of Fl-fg). Read as an index PNG, never by colour.
        """
        path = self.obj_map_path(index)
        return read_label(path, ("L", "P")) if path.is_file() else None

    def camera_matrix(self, index: int) -> np.ndarray | None:
        """``K`` of the left colour camera for pair ``index`` (``calib_cam_to_cam/NNNNNN.txt``), or ``None``."""
        first = self.items[index].image1
        path = first.parent.parent / "calib_cam_to_cam" / f"{first.stem.split('_')[0]}.txt"
        return camera_matrix(path) if path.is_file() else None
