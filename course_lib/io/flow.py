"""Reading and writing optical flow files: Middlebury ``.flo`` and KITTI 16-bit PNG.

Introduced in Chapter 9 (optical flow). Flow fields are NumPy arrays ``float32 [H, W, 2]`` holding ``(u, v)``, the
horizontal and vertical displacement in pixels from frame 1 to frame 2; validity masks are ``bool [H, W]``.

**Middlebury ``.flo``** (Sintel, FlyingChairs, FlyingThings3D; S. Baker et al., IJCV 2011): little-endian, the
float32 magic number ``202021.25`` (the bytes ``PIEH``), the width and the height as int32, then ``H * W * 2``
float32 values, row by row, ``u`` and ``v`` interleaved. Values above ``1e9`` mean "unknown flow".

**KITTI PNG** (KITTI 2012 and 2015 ``flow_occ/``, ``flow_noc/``): a 16-bit RGB PNG with
``u = (R - 2**15) / 64``, ``v = (G - 2**15) / 64`` and ``B`` = 1 where the flow is known, 0 where it is not (stored as
``(32768, 32768, 0)``). Pillow opens these files as 8-bit RGB and **silently drops the low byte**, which destroys
the sub-pixel part of every value; they are read here with OpenCV (``cv2.IMREAD_UNCHANGED``), which returns the
channels in BGR order, so the valid flag is channel 0.

Every reader raises :class:`FlowFormatError` (a ``ValueError``) naming the file and what is wrong: wrong magic
number, truncated data, wrong bit depth or channel count. Writers are atomic (:mod:`course_lib.io.atomic`).

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> flow = np.zeros((4, 5, 2), np.float32); flow[..., 0] = 1.5
    >>> write_flo(tmp / "a.flo", flow)
    >>> float(read_flo(tmp / "a.flo")[0, 0, 0])
    1.5
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .atomic import atomic_write_bytes

__all__ = [
    "FLO_MAGIC",
    "FlowFormatError",
    "KITTI_MAX_FLOW",
    "read_flo",
    "read_flow",
    "read_kitti_flow",
    "write_flo",
    "write_kitti_flow",
]

FLO_MAGIC = 202021.25  # b"PIEH" read as a little-endian float32
_FLO_TAG = b"PIEH"
_UNKNOWN = 1e9  # Middlebury: |u| or |v| above this means "unknown"
KITTI_MAX_FLOW = (65535 - 2**15) / 64.0  # the largest |u|, |v| a KITTI PNG can hold (about 512 px)
_MAX_SIDE = 1 << 15


class FlowFormatError(ValueError):
    """A flow file is truncated, has the wrong magic number, bit depth or channel count, or cannot be decoded."""


def _check_file(path: Path, kind: str) -> int:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: {kind} file is missing")
    size = path.stat().st_size
    if size == 0:
        raise FlowFormatError(f"{path}: {kind} file is empty (0 bytes)")
    return size


def _as_hw2(flow, path: Path | str) -> np.ndarray:
    flow = np.asarray(flow)
    if flow.ndim != 3 or flow.shape[-1] != 2:
        raise ValueError(f"{path}: flow must be an array [H, W, 2] of (u, v), got shape {flow.shape}")
    if flow.shape[0] < 1 or flow.shape[1] < 1:
        raise ValueError(f"{path}: flow must not be empty, got shape {flow.shape}")
    return flow


# ----------------------------------------------------------------------------------------------- Middlebury .flo
def read_flo(path: str | os.PathLike) -> np.ndarray:
    """Read a Middlebury ``.flo`` file.

    Args:
        path: the ``.flo`` file.

    Returns:
        ``float32 [H, W, 2]`` flow ``(u, v)`` in pixels (unknown values, above ``1e9``, are returned as stored).

    Raises:
        FileNotFoundError: the file is missing.
        FlowFormatError: empty, wrong magic number, impossible size, truncated or with trailing bytes.

    Example:
        >>> flow = read_flo("FlyingChairs_release/data/00001_flow.flo")  # doctest: +SKIP
        >>> flow.shape  # doctest: +SKIP
        (384, 512, 2)
    """
    path = Path(path)
    size = _check_file(path, ".flo")
    with open(path, "rb") as fh:
        header = fh.read(12)
        if len(header) < 12:
            raise FlowFormatError(f"{path}: truncated .flo header: {len(header)} of 12 bytes")
        if header[:4] != _FLO_TAG:
            magic = np.frombuffer(header[:4], "<f4")[0]
            raise FlowFormatError(f"{path}: not a Middlebury .flo file: magic number {magic!r} "
                                  f"(bytes {header[:4]!r}), expected {FLO_MAGIC} ({_FLO_TAG!r})")
        width, height = (int(v) for v in np.frombuffer(header[4:12], "<i4"))
        if not (0 < width < _MAX_SIDE and 0 < height < _MAX_SIDE):
            raise FlowFormatError(f"{path}: impossible .flo size {width}x{height} (width x height)")
        expected = 12 + 8 * width * height
        if size < expected:
            raise FlowFormatError(f"{path}: truncated .flo file: a {width}x{height} field needs {expected} bytes, "
                                  f"the file has {size}")
        if size > expected:
            raise FlowFormatError(f"{path}: {size - expected} unexpected bytes after the {width}x{height} flow field")
        data = np.frombuffer(fh.read(expected - 12), "<f4")
    return data.reshape(height, width, 2).astype(np.float32)


def write_flo(path: str | os.PathLike, flow) -> None:
    """Write ``flow`` (``[H, W, 2]``, pixels) as a Middlebury ``.flo`` file (atomically).

    Args:
        path: the destination file.
        flow: array ``[H, W, 2]`` of ``(u, v)``; stored as little-endian float32.

    Example:
        >>> write_flo("out/000_flow.flo", np.zeros((384, 512, 2), np.float32))  # doctest: +SKIP
    """
    path = Path(path)
    flow = _as_hw2(flow, path)
    height, width = flow.shape[:2]
    header = _FLO_TAG + np.array([width, height], "<i4").tobytes()
    atomic_write_bytes(path, header + np.ascontiguousarray(flow, dtype="<f4").tobytes())


# ----------------------------------------------------------------------------------------------- KITTI 16-bit PNG
def read_kitti_flow(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read a KITTI flow PNG (``flow_occ/NNNNNN_10.png`` or ``flow_noc/...``) keeping all 16 bits.

    Args:
        path: the 16-bit RGB PNG.

    Returns:
        ``(flow, valid)``: ``float32 [H, W, 2]`` with ``u = (R - 2**15) / 64``, ``v = (G - 2**15) / 64`` (0 where not
        valid) and ``bool [H, W]`` from the blue channel.

    Raises:
        FileNotFoundError: the file is missing.
        FlowFormatError: empty, truncated or not a PNG, not 16-bit (e.g. re-saved through Pillow), not 3 channels.

    Example:
        >>> flow, valid = read_kitti_flow("data_scene_flow/training/flow_occ/000000_10.png")  # doctest: +SKIP
        >>> flow.shape, valid.dtype  # doctest: +SKIP
        ((375, 1242, 2), dtype('bool'))
    """
    import cv2

    path = Path(path)
    _check_file(path, "KITTI flow PNG")
    raw = np.fromfile(path, np.uint8)
    if raw[:8].tobytes() != b"\x89PNG\r\n\x1a\n":
        raise FlowFormatError(f"{path}: not a PNG file (KITTI flow is stored as 16-bit PNG)")
    image = cv2.imdecode(raw, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise FlowFormatError(f"{path}: PNG cannot be decoded (truncated or corrupt)")
    if image.dtype != np.uint16:
        raise FlowFormatError(f"{path}: KITTI flow PNG must be 16-bit, this one is {image.dtype} "
                              "(was it re-saved by a tool that keeps 8 bits, such as Pillow?)")
    if image.ndim != 3 or image.shape[2] != 3:
        channels = 1 if image.ndim == 2 else image.shape[2]
        raise FlowFormatError(f"{path}: KITTI flow PNG must have 3 channels (u, v, valid), this one has {channels}")
    # OpenCV returns BGR: channel 2 = R = u, channel 1 = G = v, channel 0 = B = valid
    valid = image[..., 0] > 0
    flow = (image[..., [2, 1]].astype(np.float32) - 2.0**15) / 64.0
    flow[~valid] = 0.0
    return flow, valid


def write_kitti_flow(path: str | os.PathLike, flow, valid=None) -> None:
    """Write ``flow`` as a KITTI 16-bit PNG (atomically); pixels outside ``valid`` are stored as (32768, 32768, 0).

    Values are rounded to 1/64 px, the format's resolution.

    Args:
        path: the destination ``.png``.
        flow: array ``[H, W, 2]`` of ``(u, v)`` in pixels; non-finite values count as invalid.
        valid: ``bool [H, W]``; default: every finite pixel.

    Raises:
        ValueError: wrong shapes, or a valid value beyond the format's range of about +-512 px.

    Example:
        >>> write_kitti_flow("flow_occ/000000_10.png", flow, valid)  # doctest: +SKIP
    """
    import cv2

    path = Path(path)
    flow = _as_hw2(flow, path).astype(np.float64)
    finite = np.isfinite(flow).all(axis=-1)
    valid = finite if valid is None else np.asarray(valid, bool) & finite
    if valid.shape != flow.shape[:2]:
        raise ValueError(f"{path}: valid mask has shape {valid.shape}, the flow {flow.shape[:2]}")
    too_large = valid & (np.abs(flow) > KITTI_MAX_FLOW).any(axis=-1)
    if too_large.any():
        raise ValueError(f"{path}: {int(too_large.sum())} valid pixels exceed the KITTI PNG range of "
                         f"+-{KITTI_MAX_FLOW:.1f} px (largest |flow| {np.abs(flow[valid]).max():.1f})")
    stored = np.where(valid[..., None], flow, 0.0) * 64.0 + 2.0**15
    bgr = np.empty(flow.shape[:2] + (3,), np.uint16)
    bgr[..., 2] = np.clip(np.rint(stored[..., 0]), 0, 65535)
    bgr[..., 1] = np.clip(np.rint(stored[..., 1]), 0, 65535)
    bgr[..., 0] = valid
    ok, encoded = cv2.imencode(".png", bgr)
    if not ok:
        raise FlowFormatError(f"{path}: OpenCV could not encode the PNG")
    atomic_write_bytes(path, encoded.tobytes())


def read_flow(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read any flow file by its suffix: ``.flo`` (Middlebury) or ``.png`` (KITTI).

    Args:
        path: the flow file.

    Returns:
        ``(flow float32 [H, W, 2], valid bool [H, W])``; for ``.flo`` files a pixel is valid when both values are
        finite and below the "unknown" mark ``1e9`` (invalid pixels are set to 0).

    Example:
        >>> flow, valid = read_flow("FlyingChairs_release/data/00001_flow.flo")  # doctest: +SKIP
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".flo":
        flow = read_flo(path)
        valid = np.isfinite(flow).all(axis=-1) & (np.abs(flow) < _UNKNOWN).all(axis=-1)
        flow = np.where(valid[..., None], flow, 0.0).astype(np.float32)
        return flow, valid
    if suffix == ".png":
        return read_kitti_flow(path)
    raise FlowFormatError(f"{path}: unknown flow file type {suffix!r}; expected .flo (Middlebury) or .png (KITTI)")
