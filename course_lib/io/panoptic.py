"""Panoptic PNGs: one segment id per pixel, stored in an RGB PNG as ``id = R + 256 G + 256^2 B`` (COCO panoptic).

Introduced in Chapter 11. The COCO panoptic format (and the Cityscapes panoptic files cityscapesScripts writes)
stores each image's segmentation as an 8-bit RGB PNG whose colour *is* the segment id; id 0 (black) is void, every
other id is described by the image's ``segments_info`` in the annotations JSON (read by
:mod:`course_lib.data.coco_panoptic`). This module knows only the encoding: no categories, no JSON.

Example:
    >>> ids = np.array([[0, 1], [256, 65536 * 3 + 7]], np.uint32)
    >>> rgb = id2rgb(ids)
    >>> rgb[1, 1].tolist()
    [7, 0, 3]
    >>> bool((rgb2id(rgb) == ids).all())
    True
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

from .atomic import atomic_write_bytes
from .images import open_image

__all__ = ["MAX_SEGMENT_ID", "id2rgb", "read_panoptic_png", "rgb2id", "write_panoptic_png"]

#: the largest id three 8-bit channels can hold
MAX_SEGMENT_ID = 256**3 - 1


def rgb2id(rgb: np.ndarray) -> np.ndarray:
    """Segment ids ``uint32 [H, W]`` from an RGB array ``[H, W, 3]``: ``R + 256 G + 256^2 B`` (as panopticapi)."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[-1] < 3:
        raise ValueError(f"rgb2id expects an [H, W, 3] array, got shape {rgb.shape}")
    rgb = rgb[..., :3].astype(np.uint32)
    return rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]


def id2rgb(ids: np.ndarray) -> np.ndarray:
    """The RGB encoding ``uint8 [H, W, 3]`` of segment ids ``[H, W]`` (0..256^3 - 1); the inverse of :func:`rgb2id`."""
    ids = np.asarray(ids)
    if ids.size and (ids.min() < 0 or ids.max() > MAX_SEGMENT_ID):
        raise ValueError(f"segment ids must lie in 0..{MAX_SEGMENT_ID}, got {int(ids.min())}..{int(ids.max())}")
    ids = ids.astype(np.uint32)
    return np.stack([ids % 256, ids // 256 % 256, ids // 65536], axis=-1).astype(np.uint8)


def read_panoptic_png(path: str | os.PathLike) -> np.ndarray:
    """Read a panoptic PNG as segment ids ``uint32 [H, W]`` (0 = void).

    Args:
        path: an 8-bit RGB PNG in the COCO panoptic encoding.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: empty, truncated, not an image, or not 8-bit RGB (a grey or palette PNG is a semantic label
            map, not a panoptic one; a 16-bit PNG is another encoding); the message names the file.
    """
    img = open_image(path, "panoptic PNG")
    if img.mode != "RGB":
        hint = (" (a semantic label map? panoptic PNGs are RGB with id = R + 256 G + 256^2 B)"
                if img.mode in ("L", "P", "I", "I;16") else "")
        raise ValueError(f"{path}: panoptic PNG has PIL mode {img.mode!r}, expected 'RGB'{hint}")
    if img.format not in (None, "PNG"):
        raise ValueError(f"{path}: panoptic file is a {img.format}, expected a PNG (lossy formats change the ids)")
    return rgb2id(np.asarray(img))


def write_panoptic_png(path: str | os.PathLike, ids: np.ndarray) -> Path:
    """Write segment ids ``[H, W]`` as a panoptic RGB PNG (atomically); returns ``path``.

    Raises:
        ValueError: ``ids`` is not 2-D or holds ids outside 0..256^3 - 1 (the message names the file).
    """
    ids = np.asarray(ids)
    if ids.ndim != 2:
        raise ValueError(f"{path}: panoptic ids must be a 2-D [H, W] array, got shape {ids.shape}")
    try:
        rgb = id2rgb(ids)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    buffer = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buffer, format="PNG")
    return atomic_write_bytes(path, buffer.getvalue())
