"""The synthetic KITTI 2015 flow sample: driving-like scenes in the official layout, with 16-bit flow PNGs.

Introduced in Chapter 9 (optical flow). The registry's ``"kitti"`` entry names :func:`write_sample`;
:func:`course_lib.datasets.locate` calls it (once) when no real KITTI flow folder is there, and
:class:`course_lib.data.kitti_flow.KittiFlow` reads the result with the same code as the real data.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from ..io.flow import write_kitti_flow
from .common import mark_sample, sample_is_current
from .flow_scenes import FlowPair, make_pair

__all__ = ["KITTI_SIZES", "write_sample"]

#: KITTI's picture sizes ``(width, height)``; the sample cycles through them (times ``scale``)
KITTI_SIZES = ((1242, 375), (1241, 376), (1226, 370), (1224, 370), (1238, 374))


def _driving_pair(rng: np.random.Generator, size: tuple[int, int]) -> FlowPair:
    # the camera drives forward: the background expands about a point near the centre; objects move on their own
    return make_pair(rng, size=size, num_objects=(2, 4), object_shift=0.05, background_shift=0.01,
                     max_rotation=3.0, max_zoom=0.02, background_zoom_bias=0.05, object_size=(0.06, 0.15))


def _calibration(size: tuple[int, int], scale: float) -> str:
    """A ``calib_cam_to_cam`` file with KITTI's focal length (721.5 px) times ``scale``, centred principal point."""
    f, cx, cy = 721.5377 * scale, size[0] / 2, size[1] / 2
    p = f"{f:e} 0.000000e+00 {cx:e} 4.485728e+01 0.000000e+00 {f:e} {cy:e} 2.163791e-01 0 0 1 2.745884e-03"
    return f"calib_time: 09-Jan-2012 13:57:47\ncorner_dist: 9.950000e-02\nP_rect_02: {p}\n"


def write_sample(root: str | os.PathLike, n_train: int = 4, n_test: int = 1, scale: float = 0.5, seed: int = 0,
                 overwrite: bool = False) -> Path:
    """Write a small synthetic KITTI 2015 in the official layout and formats; returns ``root/data_scene_flow``.

    Frames are RGB PNGs ``training/image_2/NNNNNN_1{0,1}.png``; the flow is written as 16-bit KITTI PNGs to
    ``flow_occ`` (every pixel below the "horizon", the top 35 % having no ground truth as KITTI's sky has none) and
    ``flow_noc`` (the same minus the pixels occluded in frame 2), and ``obj_map`` (8-bit: 0 = background, 1..N = the
    independently moving objects) and ``calib_cam_to_cam/NNNNNN.txt`` (``P_rect_02`` with KITTI's focal length
    times ``scale``). Picture sizes cycle through KITTI's own sizes
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
    params = {"n_train": n_train, "n_test": n_test, "scale": scale, "seed": seed, "obj_map": True}
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
                (folder / split / "obj_map").mkdir(parents=True, exist_ok=True)  # 0 background, 1..N the movers
                (folder / split / "calib_cam_to_cam").mkdir(parents=True, exist_ok=True)
                (folder / split / "calib_cam_to_cam" / f"{name}.txt").write_text(_calibration(size, scale))
                Image.fromarray(pair.labels.astype(np.uint8), "L").save(folder / split / "obj_map" / f"{name}_10.png")
    mark_sample(folder, params, "Synthetic KITTI 2015 flow (official layout, 16-bit flow PNGs) written by "
                                "course_lib.synthetic.kitti_flow.write_sample; not real data.")
    return folder
