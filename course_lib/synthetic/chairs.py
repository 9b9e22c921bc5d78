"""The synthetic FlyingChairs sample: chairs-like shapes moved over textured backgrounds, in the release layout.

Introduced in Chapter 9 (optical flow). The registry's ``"chairs"`` entry names :func:`write_sample`;
:func:`course_lib.datasets.locate` calls it (once) when the real FlyingChairs is not there, and
:class:`course_lib.data.chairs.FlyingChairs` reads the result with the same code as the real release.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from ..data.chairs import SPLIT_LISTS
from ..io.atomic import atomic_write_text
from ..io.flow import write_flo
from .common import mark_sample, sample_is_current
from .flow_scenes import make_pair

__all__ = ["write_sample"]


def write_sample(root: str | os.PathLike, n_train: int = 128, n_val: int = 16, size: tuple[int, int] = (160, 120),
                 seed: int = 0, overwrite: bool = False, **scene_kwargs) -> Path:
    """Write a synthetic chairs-like set in the FlyingChairs release layout; returns ``root/FlyingChairs_release``.

    Each pair: a textured background and 2-5 textured random shapes, each moved by its own random affine motion
    (:mod:`course_lib.synthetic.flow_scenes`), written as ``data/NNNNN_img1.ppm``, ``NNNNN_img2.ppm`` (binary PPM),
    ``NNNNN_flow.flo`` (Middlebury) and ``NNNNN_occ.png`` (occlusion mask, 255 = occluded); the split list
    ``FlyingChairs_train_val.txt`` marks the first ``n_train`` pairs 1 and the rest 2. ``COURSE_SAMPLE.txt`` marks
    the folder as synthetic. An existing sample written with the same arguments is kept.

    Args:
        root: the folder to write into.
        n_train, n_val: number of training and validation pairs.
        size: ``(width, height)``; FlyingChairs is ``(512, 384)``.
        seed: random seed (the sample is deterministic).
        overwrite: rewrite even when an identical sample is present.
        **scene_kwargs: passed to :func:`course_lib.synthetic.flow_scenes.make_scene` (e.g. ``object_shift``).

    Example:
        >>> folder = write_sample(tmp_path, n_train=8, n_val=2, size=(64, 48))  # doctest: +SKIP
    """
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
    atomic_write_text(folder / SPLIT_LISTS[0], "1\n" * n_train + "2\n" * n_val)
    mark_sample(folder, params, "Synthetic chairs-like flow set (FlyingChairs release layout, .ppm + .flo + occlusion "
                                "PNGs) written by course_lib.synthetic.chairs.write_sample; not real data.")
    return folder
