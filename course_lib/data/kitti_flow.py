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
        testing/image_2/...                  no ground truth (evaluated on the benchmark server)
    data_stereo_flow/                        KITTI 2012: 194 training + 195 testing pairs
        training/image_0/NNNNNN_1{0,1}.png   grayscale left camera (8-bit, mode "L")
        training/colored_0/...               the same frames in colour
        training/flow_occ/, flow_noc/        as above

Oddities the loader handles: flow PNGs are **16-bit** (``u = (R - 2**15) / 64``, ``v = (G - 2**15) / 64``,
``B`` = valid; read with OpenCV, since Pillow drops the low byte, see :mod:`course_lib.flow_io`); invalid pixels are
``(32768, 32768, 0)``, not zeros; the ground truth is sparse (no LiDAR on the sky, the far field and some objects:
typically a fifth to a half of the pixels are valid); a split may hold ``flow_noc`` only (the real 2012 files of the
shared data folder) or ``flow_occ`` only (what ``torchvision.datasets.KittiFlow`` reads); picture sizes differ from
sequence to sequence (1241x376, 1226x370, 1242x375, ...), so batches are padded (:func:`flow_collate`) or cropped.

Evaluation (:class:`course_lib.flow.FlowMetrics`): end-point error and Fl (outlier: EPE > 3 px and > 5 % of the true
length) over the valid pixels of ``flow_noc`` ("non-occluded") and of ``flow_occ`` ("all pixels").
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
from PIL import Image

from ..flow_io import write_kitti_flow
from .common import find_dataset_root, mark_sample, sample_is_current
from .flow_common import FlowAugment, FlowItem, FlowPairDataset, flow_collate

__all__ = ["CAMERAS", "DOWNLOAD_NOTE", "KittiFlow", "SPLITS", "download", "find_root", "write_sample",
           "FlowAugment", "flow_collate"]

SPLITS = {"train": "training", "test": "testing"}
#: image folders by preference: 2015 colour, 2012 colour, 2012 grayscale
CAMERAS = ("image_2", "colored_0", "image_0")
KITTI_SIZES = ((1242, 375), (1241, 376), (1226, 370), (1224, 370), (1238, 374))

URL_2015 = "https://s3.eu-central-1.amazonaws.com/avg-kitti/data_scene_flow.zip"
URL_2012 = "https://s3.eu-central-1.amazonaws.com/avg-kitti/data_stereo_flow.zip"

DOWNLOAD_NOTE = f"""\
KITTI optical flow. KITTI 2015 (scene flow benchmark): 200 training pairs with flow_occ/flow_noc ground truth and
200 test pairs, colour, about 1242x375. Get it: course_lib.data.kitti_flow.download(root) fetches
{URL_2015}
(no registration needed for this archive; about 1.7 GB; KITTI publishes no checksum, so the SHA-256 of the first
download is recorded and trusted, trust on first use) and unpacks data_scene_flow/{{training,testing}}/.
Or download data_scene_flow.zip from https://www.cvlibs.net/datasets/kitti/eval_scene_flow.php?benchmark=flow
yourself and pass the folder that holds data_scene_flow/. KITTI 2012 (data_stereo_flow.zip, {URL_2012}) is read
by the same code (image_0 grayscale or colored_0).
Licence: Creative Commons Attribution-NonCommercial-ShareAlike 3.0.
Cite: M. Menze, A. Geiger, "Object Scene Flow for Autonomous Vehicles", CVPR 2015 (and for 2012: A. Geiger, P. Lenz,
R. Urtasun, "Are we ready for Autonomous Driving? The KITTI Vision Benchmark Suite", CVPR 2012)."""

_FRAME = re.compile(r"^(\d+)_10\.png$")


def _image_dir(split_dir: Path) -> Path | None:
    for camera in CAMERAS:
        folder = split_dir / camera
        if folder.is_dir() and any(folder.glob("*_10.png")):
            return folder
    return None


def _is_kitti_root(path: Path) -> bool:
    return any(_image_dir(path / split) is not None for split in SPLITS.values())


def find_root(root: str | os.PathLike) -> Path:
    """Resolve ``root`` to the KITTI folder that holds ``training/`` (and/or ``testing/``).

    ``root`` may be that folder (``data_scene_flow``, ``data_stereo_flow``), a folder up to three levels above it,
    or its ``training``/``testing`` folder itself.

    Example:
        >>> find_root("/data/kitti")  # doctest: +SKIP
        PosixPath('/data/kitti/data_scene_flow')
    """
    start = Path(root).expanduser()
    if start.name in SPLITS.values() and _image_dir(start) is not None:
        return start.parent
    return find_dataset_root(
        start, _is_kitti_root, names=("data_scene_flow", "data_stereo_flow", "kitti", "KittiFlow"), max_depth=3,
        what="KITTI flow folder (training/ or testing/ with image_2, colored_0 or image_0)",
        hint="Get KITTI 2015 with course_lib.data.kitti_flow.download(root), or write the synthetic sample with "
             "course_lib.data.kitti_flow.write_sample(root).")


class KittiFlow(FlowPairDataset):
    """KITTI 2015 / 2012 flow pairs: ``(images [6, H, W], target dict)`` items (see :mod:`flow_common`).

    Args:
        root: the KITTI folder or a folder up to three levels above it.
        split: ``"train"`` (``training/``, with ground truth) or ``"test"`` (``testing/``, without).
        camera: ``"auto"`` (``image_2``, else ``colored_0``, else ``image_0``) or one of :data:`CAMERAS`.
        transforms: ``FlowSample -> FlowSample``, e.g. :class:`FlowAugment` for training crops.
        max_items: keep the first ``max_items`` pairs.

    Attributes:
        version: ``2015`` (``image_2``) or ``2012``.

    Example:
        >>> ds = KittiFlow(write_sample(tmp), "train")  # doctest: +SKIP
        >>> images, target = ds[0]; images.shape[0], target["has_noc"].item()  # doctest: +SKIP
        (6, True)
    """

    def __init__(self, root: str | os.PathLike, split: str = "train", camera: str = "auto", transforms=None,
                 max_items: int | None = None) -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown KITTI split {split!r}; choose one of {tuple(SPLITS)}")
        folder = find_root(root)
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


# ----------------------------------------------------------------------------------------------- download
def __getattr__(name: str):
    if name == "RESOURCES":  # built on first access, so that this module imports without course_lib.download
        return _resources()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _resources() -> list:
    from course_lib.download import Resource

    return [Resource(url=URL_2015, filename="data_scene_flow.zip", extract=True,
                     note="KITTI publishes no checksum for data_scene_flow.zip; the SHA-256 of the first download is "
                          "recorded and trusted (trust on first use).")]


def download(root: str | os.PathLike) -> Path:
    """Download and unpack KITTI 2015 ``data_scene_flow.zip`` under ``root``; returns the ``data_scene_flow`` folder.

    Args:
        root: the folder to download into (the archive goes to ``root/downloads/``).

    Example:
        >>> folder = download("data/kitti")  # doctest: +SKIP
    """
    from course_lib.download import fetch

    root = Path(root).expanduser()
    for resource in _resources():
        fetch(resource, root)
    return find_root(root)


# ----------------------------------------------------------------------------------------------- sample
def _driving_pair(rng: np.random.Generator, size: tuple[int, int]):
    from .synthetic_flow import make_pair

    # the camera drives forward: the background expands about a point near the centre; objects move on their own
    return make_pair(rng, size=size, num_objects=(2, 4), object_shift=0.05, background_shift=0.01,
                     max_rotation=3.0, max_zoom=0.02, background_zoom_bias=0.05, object_size=(0.06, 0.15))


def write_sample(root: str | os.PathLike, n_train: int = 4, n_test: int = 1, scale: float = 0.5, seed: int = 0,
                 overwrite: bool = False) -> Path:
    """Write a small synthetic KITTI 2015 in the official layout and formats; returns ``root/data_scene_flow``.

    Frames are RGB PNGs ``training/image_2/NNNNNN_1{0,1}.png``; the flow is written as 16-bit KITTI PNGs to
    ``flow_occ`` (every pixel below the "horizon", the top 35 % having no ground truth as KITTI's sky has none) and
    ``flow_noc`` (the same minus the pixels occluded in frame 2). Picture sizes cycle through KITTI's own sizes
    times ``scale``, so that code is exercised on pairs of different sizes. ``COURSE_SAMPLE.txt`` marks the folder
    as synthetic. An existing sample written with the same arguments is kept.

    Args:
        root: the folder to write into.
        n_train, n_test: number of pairs in ``training/`` (with flow) and ``testing/`` (frames only).
        scale: picture size relative to KITTI's (about 1242x375); 0.5 keeps the sample small and quick.
        seed: random seed (the sample is deterministic).
        overwrite: rewrite even when an identical sample is present.

    Example:
        >>> folder = write_sample(tmp_path, n_train=2, scale=0.25)  # doctest: +SKIP
    """
    if n_train < 1 or n_test < 0:
        raise ValueError(f"need n_train >= 1 and n_test >= 0, got {n_train}, {n_test}")
    if not 0.05 <= scale <= 1.0:
        raise ValueError(f"scale must lie in [0.05, 1], got {scale}")
    folder = Path(root).expanduser() / "data_scene_flow"
    params = {"n_train": n_train, "n_test": n_test, "scale": scale, "seed": seed}
    if not overwrite and sample_is_current(folder, params):
        return folder
    rng = np.random.default_rng(seed)
    for split, n in (("training", n_train), ("testing", n_test)):
        for i in range(n):
            w, h = KITTI_SIZES[i % len(KITTI_SIZES)]
            size = (max(32, int(round(w * scale))), max(16, int(round(h * scale))))
            pair = _driving_pair(rng, size)
            name = f"{i:06d}"
            (folder / split / "image_2").mkdir(parents=True, exist_ok=True)
            Image.fromarray(pair.image1).save(folder / split / "image_2" / f"{name}_10.png")
            Image.fromarray(pair.image2).save(folder / split / "image_2" / f"{name}_11.png")
            if split == "training":
                valid = np.zeros(pair.flow.shape[:2], bool)
                valid[int(0.35 * size[1]) :] = True
                write_kitti_flow(folder / split / "flow_occ" / f"{name}_10.png", pair.flow, valid)
                write_kitti_flow(folder / split / "flow_noc" / f"{name}_10.png", pair.flow, valid & ~pair.occlusion)
    mark_sample(folder, params, "Synthetic KITTI 2015 flow (official layout, 16-bit flow PNGs) written by "
                                "course_lib.data.kitti_flow.write_sample; not real data.")
    return folder
