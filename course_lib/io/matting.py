"""Alpha mattes and trimaps: the two file kinds of image matting.

Introduced in Chapter 2 (image matting). An **alpha matte** says how much of each pixel belongs to the foreground
(``I = a F + (1 - a) B``); the benchmarks store it as an 8-bit grey PNG (0..255), some tools as a 16-bit PNG
(0..65535). A **trimap** splits the picture into known background (0), unknown (128) and known foreground (255);
the Composition-1k evaluation code scores the pixels where the trimap is exactly 128, so a trimap that went through
JPEG compression (values 127, 129, ...) silently changes the score and is refused here.

In memory: an alpha is ``float32 [H, W]`` in ``[0, 1]``, a trimap ``uint8 [H, W]`` holding only 0, 128 and 255.

Example:
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> write_alpha(d / "a.png", np.array([[0.0, 0.5, 1.0]]))
    >>> read_alpha(d / "a.png").tolist()  # 8-bit: 0.5 is stored as 128
    [[0.0, 0.501960813999176, 1.0]]
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

from .atomic import atomic_write_bytes
from .images import open_image

__all__ = ["TRIMAP_VALUES", "check_trimap", "read_alpha", "read_trimap", "write_alpha", "write_trimap"]

#: the only values a trimap may hold: background, unknown, foreground
TRIMAP_VALUES: tuple[int, int, int] = (0, 128, 255)
#: largest difference between the channels of an RGB file that is still read as grey (JPEG chroma noise)
_GREY_SPREAD = 3
_LOSSLESS = {".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF", ".bmp": "BMP"}
_NOT_GREY = ("alpha must be a single-channel grey image (8-bit 0..255 or 16-bit 0..65535)")


def _grey_from_rgb(img: Image.Image, path: Path, kind: str, tolerance: int) -> np.ndarray:
    """The grey values of an RGB or palette picture whose channels agree (within ``tolerance``); else an error."""
    rgb = np.asarray(img.convert("RGB"), dtype=np.int16)
    spread = int((rgb.max(axis=2) - rgb.min(axis=2)).max()) if rgb.size else 0
    if spread > tolerance:
        what = _NOT_GREY if kind == "alpha" else "a trimap must be a single-channel grey image"
        raise ValueError(f"{path}: {kind} file is a colour picture (its R, G, B channels differ by up to {spread}); "
                         f"{what}. Is a photograph or a foreground in the {kind} folder?")
    return np.rint(rgb.mean(axis=2)).astype(np.uint8) if tolerance else rgb[..., 0].astype(np.uint8)


def read_alpha(path: str | os.PathLike) -> np.ndarray:
    """Read an alpha matte as ``float32 [H, W]`` in ``[0, 1]``.

    Accepted: 8-bit grey files (PNG, JPEG, ...; divided by 255), 16-bit grey PNGs (divided by 65535), float TIFFs
    already in ``[0, 1]``, and RGB or palette files whose three channels are equal (within 3 grey levels, the noise of
    a JPEG): those are read as grey.

    Args:
        path: the alpha file.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: the file is empty, truncated, not an image, has an alpha channel (RGBA, LA: the matte is then
            probably that channel), is coloured, or holds values outside the range of its type; the message names it.

    Example:
        >>> alpha = read_alpha("Composition-1k-testset/alpha_copy/boy-1518482_1920_0.png")  # doctest: +SKIP
    """
    path = Path(path)
    img = open_image(path, "alpha")
    mode = img.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        raise ValueError(f"{path}: alpha file has PIL mode {mode!r} (with an alpha channel); {_NOT_GREY}. If the "
                         "matte is the picture's transparency, save that channel alone: "
                         "Image.open(p).getchannel('A').save('alpha.png')")
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        values = np.asarray(img, dtype=np.int64)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise ValueError(f"{path}: alpha file holds values {values.min()}..{values.max()}, outside 0..65535; "
                             f"{_NOT_GREY}")
        return (values / 65535.0).astype(np.float32)
    if mode == "F":
        values = np.asarray(img, dtype=np.float32)
        if not np.isfinite(values).all() or (values.size and (values.min() < 0 or values.max() > 1)):
            raise ValueError(f"{path}: float alpha file holds values outside [0, 1] or non-finite values")
        return values.copy()
    if mode in ("L", "1"):
        grey = np.asarray(img.convert("L"), dtype=np.uint8)
    elif mode in ("RGB", "P", "CMYK", "YCbCr"):
        grey = _grey_from_rgb(img, path, "alpha", _GREY_SPREAD)
    else:
        raise ValueError(f"{path}: alpha file has PIL mode {mode!r}; {_NOT_GREY}")
    return (grey.astype(np.float32) / 255.0).astype(np.float32)


def check_trimap(trimap: np.ndarray, path: str | os.PathLike) -> np.ndarray:
    """Raise ``ValueError`` naming ``path`` unless ``trimap`` holds only 0, 128 and 255; returns it unchanged.

    Example:
        >>> check_trimap(np.array([[0, 127, 129]], np.uint8), "t.png")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: t.png: trimap holds values [127, 129] (2 pixels); a trimap must hold only 0 (background), 128 ...
    """
    values, counts = np.unique(np.asarray(trimap), return_counts=True)
    bad = ~np.isin(values, TRIMAP_VALUES)
    if bad.any():
        shown = values[bad].tolist()
        raise ValueError(
            f"{path}: trimap holds values {shown[:10]}{' ...' if len(shown) > 10 else ''} ({int(counts[bad].sum())} "
            "pixels); a trimap must hold only 0 (background), 128 (unknown) and 255 (foreground). Values near them "
            "come from JPEG compression or resizing: keep trimaps as PNG and resize them with nearest-neighbour "
            "interpolation")
    return trimap


def read_trimap(path: str | os.PathLike) -> np.ndarray:
    """Read a trimap as ``uint8 [H, W]`` holding only 0 (background), 128 (unknown) and 255 (foreground).

    Grey (``L``) files are read as they are; RGB or palette files only when their three channels are equal.

    Args:
        path: the trimap file (PNG; a JPEG trimap is refused as soon as compression has moved a value).

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: the file is empty, truncated, not an image, not 8-bit grey, or holds values other than
            0/128/255 (the message names the file and lists the offending values).

    Example:
        >>> trimap = read_trimap("Composition-1k-testset/trimaps/boy-1518482_1920_0.png")  # doctest: +SKIP
    """
    path = Path(path)
    img = open_image(path, "trimap")
    if img.mode == "L":
        trimap = np.asarray(img, dtype=np.uint8).copy()
    elif img.mode in ("RGB", "P"):
        trimap = _grey_from_rgb(img, path, "trimap", 0)
    else:
        raise ValueError(f"{path}: trimap file has PIL mode {img.mode!r}; a trimap must be an 8-bit grey image "
                         "holding only 0, 128 and 255")
    return check_trimap(trimap, path)


def _format(path: Path, kind: str) -> str:
    fmt = _LOSSLESS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: {kind} files are written in a lossless format ({', '.join(_LOSSLESS)}); "
                         "JPEG would move the values")
    return fmt


def _save(path: Path, array: np.ndarray, fmt: str) -> None:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array), "L").save(buffer, format=fmt)
    atomic_write_bytes(path, buffer.getvalue())


def write_alpha(path: str | os.PathLike, alpha) -> None:
    """Write an alpha matte as an 8-bit grey PNG (rounded to the nearest of 0..255), atomically.

    Args:
        path: the file to write (``.png``, ``.tif`` or ``.bmp``).
        alpha: ``[H, W]`` floats in ``[0, 1]`` (a rounding error of 1e-4 is clipped) or ``uint8`` 0..255.

    Raises:
        ValueError: not 2-D, non-finite or out-of-range values, or a lossy format; the message names the file.
    """
    path = Path(path)
    fmt = _format(path, "alpha")
    alpha = np.asarray(alpha)
    if alpha.ndim == 3 and alpha.shape[-1] == 1:
        alpha = alpha[..., 0]
    if alpha.ndim != 2:
        raise ValueError(f"{path}: an alpha matte is [H, W], got shape {alpha.shape}")
    if alpha.dtype != np.uint8:
        alpha = alpha.astype(np.float64)
        if not np.isfinite(alpha).all():
            raise ValueError(f"{path}: alpha holds non-finite values (NaN or inf)")
        if alpha.size and (alpha.min() < -1e-4 or alpha.max() > 1 + 1e-4):
            raise ValueError(f"{path}: alpha holds values {alpha.min():.4g}..{alpha.max():.4g}, outside [0, 1]")
        alpha = np.rint(np.clip(alpha, 0.0, 1.0) * 255.0).astype(np.uint8)
    _save(path, alpha, fmt)


def write_trimap(path: str | os.PathLike, trimap) -> None:
    """Write a trimap (``uint8 [H, W]`` of 0/128/255) as an 8-bit grey PNG, atomically.

    Raises:
        ValueError: not 2-D, values other than 0/128/255, or a lossy format; the message names the file.
    """
    path = Path(path)
    fmt = _format(path, "trimap")
    trimap = np.asarray(trimap)
    if trimap.ndim != 2:
        raise ValueError(f"{path}: a trimap is [H, W], got shape {trimap.shape}")
    check_trimap(trimap, path)
    _save(path, trimap.astype(np.uint8), fmt)
