"""Pictures of optical flow: the Middlebury colour wheel, its legend, and point tracks drawn on a frame.

Introduced in Chapter 9 (optical flow). :func:`flow_to_color` draws the colour wheel of Baker et al. (hue =
direction, saturation = magnitude), the same picture as ``torchvision.utils.flow_to_image``, optionally with a fixed
scale so that several fields compare; :func:`draw_tracks` draws the tracks of
:func:`course_lib.classical.lucas_kanade_tracks`. Flow conventions: see :mod:`course_lib.models.flow_ops`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from ..classical.optical_flow import Tracks

__all__ = ["color_wheel", "color_wheel_legend", "draw_tracks", "flow_to_color"]


def color_wheel() -> np.ndarray:
    """The 55 colours of the Middlebury flow colour wheel, ``uint8 [55, 3]`` (RGB), going round the hue circle.

    Red, yellow, green, cyan, blue, magenta and back to red, in 15, 6, 4, 11, 13 and 6 steps: more steps where the
    eye tells hues apart well (S. Baker et al., *A Database and Evaluation Methodology for Optical Flow*, IJCV 2011).

    Example:
        >>> color_wheel()[0].tolist(), color_wheel().shape
        ([255, 0, 0], (55, 3))
    """
    # (number of steps, channel that ramps, direction); the other two channels are held fixed per segment
    segments = [(15, (255, "up", 0)), (6, ("down", 255, 0)), (4, (0, 255, "up")), (11, (0, "down", 255)),
                (13, ("up", 0, 255)), (6, (255, 0, "down"))]
    rows = []
    for steps, spec in segments:
        ramp = np.floor(255 * np.arange(steps) / steps)
        block = np.zeros((steps, 3))
        for channel, value in enumerate(spec):
            block[:, channel] = ramp if value == "up" else 255 - ramp if value == "down" else value
        rows.append(block)
    return np.concatenate(rows).astype(np.uint8)


def _flow_to_numpy(flow) -> tuple[np.ndarray, bool]:
    """``flow`` as NumPy ``[N, H, W, 2]`` and whether a batch was given."""
    if isinstance(flow, torch.Tensor):
        arr = flow.detach().float().cpu().numpy()
        if arr.ndim == 3 and arr.shape[0] == 2:
            return arr.transpose(1, 2, 0)[None], False
        if arr.ndim == 4 and arr.shape[1] == 2:
            return arr.transpose(0, 2, 3, 1), True
        raise ValueError(f"a flow tensor must be [2, H, W] or [B, 2, H, W], got shape {tuple(arr.shape)}")
    arr = np.asarray(flow, dtype=np.float32)
    if arr.ndim == 3 and arr.shape[-1] == 2:
        return arr[None], False
    if arr.ndim == 4 and arr.shape[-1] == 2:
        return arr, True
    raise ValueError(f"a flow array must be [H, W, 2] or [N, H, W, 2], got shape {arr.shape}")


def flow_to_color(flow, max_flow: float | None = None) -> np.ndarray:
    """Colour-code a flow field: hue = direction, saturation = length (white = no motion).

    Args:
        flow: NumPy ``[H, W, 2]`` / ``[N, H, W, 2]`` or torch ``[2, H, W]`` / ``[B, 2, H, W]``.
        max_flow: the length drawn fully saturated; ``None`` uses each field's own largest length (as
            ``torchvision.utils.flow_to_image`` does). Longer vectors are drawn darker (75 % brightness).
            Give the same value to several fields to compare them.

    Returns:
        ``uint8 [H, W, 3]`` (or ``[N, H, W, 3]``) RGB; non-finite flow is black.

    Example:
        >>> f = np.zeros((1, 3, 2), np.float32); f[0, 1] = (1.0, 0.0); f[0, 2] = (-1.0, 0.0)
        >>> flow_to_color(f)[0].tolist()   # still: white; moving right: red; moving left: blue-cyan
        [[255, 255, 255], [255, 0, 0], [0, 209, 255]]
    """
    fields, batched = _flow_to_numpy(flow)
    wheel = color_wheel().astype(np.float64) / 255.0
    n = len(wheel)
    out = np.zeros(fields.shape[:3] + (3,), np.uint8)
    for i, field in enumerate(fields.astype(np.float64)):
        known = np.isfinite(field).all(axis=-1)
        u = np.where(known, field[..., 0], 0.0)
        v = np.where(known, field[..., 1], 0.0)
        scale = np.sqrt(u**2 + v**2).max() if max_flow is None else float(max_flow)
        eps = np.finfo(np.float32).eps
        u, v = u / (scale + eps), v / (scale + eps)
        rad = np.sqrt(u**2 + v**2)
        angle = np.arctan2(-v, -u) / np.pi  # in [-1, 1]
        position = (angle + 1) / 2 * (n - 1)
        k0 = np.floor(position).astype(int)
        k1 = (k0 + 1) % n
        frac = (position - k0)[..., None]
        colour = (1 - frac) * wheel[k0] + frac * wheel[k1]
        inside = (rad <= 1)[..., None]
        colour = np.where(inside, 1 - rad[..., None] * (1 - colour), colour * 0.75)
        picture = np.floor(255 * colour).astype(np.uint8)
        picture[~known] = 0
        out[i] = picture
    return out if batched else out[0]


def color_wheel_legend(size: int = 151) -> np.ndarray:
    """The colour key: a disk whose every pixel shows the colour of a flow pointing from the centre to it.

    Args:
        size: the side of the square picture in pixels.

    Example:
        >>> color_wheel_legend(21).shape
        (21, 21, 3)
    """
    r = (size - 1) / 2
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    field = np.stack([xx - r, yy - r], axis=-1)
    picture = flow_to_color(field, max_flow=r)
    picture[np.hypot(xx - r, yy - r) > r] = 255
    return picture


def draw_tracks(frame, tracks: Tracks, upto: int | None = None, colors=None, thickness: int = 1) -> np.ndarray:
    """Draw each track's path up to frame ``upto`` (default: the last) and its current position onto ``frame``.

    Args:
        frame: ``uint8 [H, W, 3]`` or ``[H, W]`` picture (copied, not changed).
        tracks: from :func:`course_lib.classical.lucas_kanade_tracks`.
        upto: the last frame index to draw.
        colors: ``uint8 [N, 3]`` one colour per track (default: by direction of motion, as in :func:`flow_to_color`).
        thickness: line width.

    Example:
        >>> picture = draw_tracks(frames[-1], tracks)  # doctest: +SKIP
    """
    import cv2

    canvas = np.asarray(frame)
    canvas = np.array(np.stack([canvas] * 3, -1) if canvas.ndim == 2 else canvas[..., :3], np.uint8)  # a copy
    upto = tracks.points.shape[0] - 1 if upto is None else upto
    n = tracks.points.shape[1]
    if colors is None and n:
        motion = tracks.displacement
        colors = flow_to_color(motion[None], max_flow=max(float(np.abs(motion).max()), 1.0))[0]
        colors = (colors.astype(np.float32) * 0.8).astype(np.uint8)  # a little darker, to stand out on white
    for k in range(n):
        path = tracks.points[: upto + 1, k][tracks.alive[: upto + 1, k]]
        if len(path) == 0:
            continue
        colour = tuple(int(c) for c in colors[k])
        if len(path) > 1:
            cv2.polylines(canvas, [np.round(path).astype(np.int32)], False, colour, thickness, cv2.LINE_AA)
        if tracks.alive[upto, k]:
            cv2.circle(canvas, tuple(int(v) for v in np.round(path[-1])), 2, colour, -1, cv2.LINE_AA)
    return canvas
