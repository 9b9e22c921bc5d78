"""Images and label maps: RGB pictures and label PNGs whose pixel values are class indices.

Introduced in Chapter 3. Readers open the whole file (so a truncated file fails here, naming it, not later in a
transform) and never decode a label's colours: palette PNGs are read as their indices, as PASCAL VOC stores them.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

__all__ = ["MaskWarning", "check_labels", "check_same_size", "image_size", "open_image", "read_binary_mask",
           "read_label", "read_rgb", "voc_colormap"]

# what "binary" means for read_binary_mask: values within _NEAR of 0 or 255, at most _GREY_FRACTION of other greys,
# and no more than _COLOUR_FRACTION of pixels whose channels differ by more than _COLOUR_SPREAD.
_NEAR = 32
_GREY_FRACTION = 0.01
_COLOUR_SPREAD = 32
_COLOUR_FRACTION = 0.01


class MaskWarning(UserWarning):
    """A mask that is not binary (grey levels) was thresholded; the message names the file."""


def read_rgb(path: str | os.PathLike) -> Image.Image:
    """Open an image file fully and return it as an RGB PIL image (grayscale and palette files are converted).

    Args:
        path: the image file.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: the file is empty, truncated or not an image; the message names the file.

    Example:
        >>> img = read_rgb("CamVid/train/0001TP_006690.png")  # doctest: +SKIP
    """
    return open_image(path, "image").convert("RGB")


def read_label(path: str | os.PathLike, modes: Sequence[str] = ("L", "P")) -> np.ndarray:
    """Read a label PNG as a ``uint8`` array of class indices, never decoding colours.

    Palette (``P``) PNGs are read as their indices, as PASCAL VOC stores them; grayscale (``L``) PNGs as their values.

    Args:
        path: the label file.
        modes: the PIL modes accepted; any other mode (e.g. an RGB colour mask) is an error.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: the file is empty, truncated, not an image, or has a mode not in ``modes``.

    Example:
        >>> mask = read_label("CamVid/trainannot/0001TP_006690.png")  # doctest: +SKIP
    """
    img = open_image(path, "label")
    if img.mode not in modes:
        raise ValueError(
            f"{path}: label image has PIL mode {img.mode!r}, expected one of {tuple(modes)} "
            "(class indices, not colours: convert colour masks to index PNGs first)"
        )
    return np.asarray(img, dtype=np.uint8).copy()


def read_binary_mask(path: str | os.PathLike, threshold: int = 128, reduce: int = 1) -> np.ndarray:
    """Read a white-on-black mask (grey, RGB or palette; PNG or JPEG) as a binary ``uint8`` array (1 = object).

    Masks stored as JPEGs (Kvasir-SEG's are 3-channel JPEGs) carry ringing at the edges, so they are neither binary
    nor single-channel: the grey value (the channels are equal) is thresholded, ``value >= threshold`` is object.

    What "binary" means here: the pixels are black or white (values within 32 of 0 or 255), except for at most 1 %
    of grey pixels along edges (JPEG ringing), and the channels agree (grey). A colour picture (more than 1 % of
    pixels whose channels differ by more than 32) is refused; a grey-level mask (more grey pixels) is thresholded
    with a :class:`MaskWarning` naming the file.

    Args:
        path: the mask file.
        threshold: grey level from which a pixel is object (128: halfway between black and white).
        reduce: shrink by this integer factor (box averaging of the grey values) before thresholding.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: the file is empty, truncated, not an image, of an unexpected mode, or a colour picture; the
            message names it.

    Example:
        >>> mask = read_binary_mask("Kvasir-SEG/masks/cju0qkwl35piu0993l0dewei2.jpg")  # doctest: +SKIP
        >>> sorted(np.unique(mask))  # doctest: +SKIP
        [0, 1]
    """
    img = open_image(path, "mask")
    if img.mode not in ("RGB", "L", "RGBA", "P", "1", "LA"):
        raise ValueError(f"{path}: mask has PIL mode {img.mode!r}; expected an 8-bit grey or RGB image")
    if not 0 < threshold <= 255:
        raise ValueError(f"threshold must be in 1..255, got {threshold}")
    if img.mode in ("RGB", "RGBA", "P"):
        rgb = np.asarray(img.convert("RGB"), dtype=np.int16)
        coloured = float(((rgb.max(axis=2) - rgb.min(axis=2)) > _COLOUR_SPREAD).mean())
        if coloured > _COLOUR_FRACTION:
            raise ValueError(f"{path}: not a binary mask: {coloured:.0%} of its pixels are coloured (channels differ "
                             f"by more than {_COLOUR_SPREAD}); a mask is black and white, with at most a few grey "
                             "pixels near edges from JPEG compression. Is a photograph in the masks folder?")
    grey = img.convert("L")
    values = np.asarray(grey, dtype=np.uint8)
    between = float(((values > _NEAR) & (values < 255 - _NEAR)).mean())
    if between > _GREY_FRACTION:
        warnings.warn(f"{path}: not a binary mask: {between:.1%} of its pixels are grey levels between {_NEAR} and "
                      f"{255 - _NEAR} (more than JPEG ringing makes); thresholded at {threshold}", MaskWarning,
                      stacklevel=2)
    if reduce > 1:
        grey = grey.reduce(int(reduce))
    return (np.asarray(grey, dtype=np.uint8) >= threshold).astype(np.uint8)


def open_image(path: str | os.PathLike, kind: str = "image") -> Image.Image:
    """Open and fully decode an image file; a missing, empty, truncated or undecodable file is an error naming it
    and ``kind`` (what the file should be: "label", "alpha", ...)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: {kind} file is missing")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: {kind} file is empty (0 bytes)")
    with _named_errors(path, kind):
        img = Image.open(path)
        img.load()
    return img


@contextlib.contextmanager
def _named_errors(path: Path, kind: str) -> Iterator[None]:
    """Turn PIL's decoding errors into ``ValueError``s that name the file and say what is wrong."""
    try:
        yield
    except UnidentifiedImageError as err:
        raise ValueError(f"{path}: {kind} file is not a readable image ({err})") from err
    except Image.DecompressionBombError as err:
        raise ValueError(f"{path}: {kind} file is too large to decode safely (decompression bomb? {err})") from err
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise ValueError(f"{path}: {kind} file is truncated or corrupt ({err})") from err


def image_size(path: str | os.PathLike, kind: str = "image") -> tuple[int, int]:
    """``(width, height)`` from an image file's header, without decoding it; errors name the file.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: the file is empty, not an image, or too large to decode safely.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: {kind} file is missing")
    with _named_errors(path, kind), Image.open(path) as img:
        return img.size


def check_same_size(image: Image.Image, mask: np.ndarray, image_path: Path, mask_path: Path) -> None:
    """Raise ``ValueError`` naming both files when an image and its mask differ in size."""
    if mask.shape != (image.height, image.width):
        raise ValueError(
            f"{mask_path}: mask is {mask.shape[1]}x{mask.shape[0]} (WxH) but its image {image_path} is "
            f"{image.width}x{image.height}"
        )


def check_labels(mask: np.ndarray, num_classes: int, ignore_index: int, path: Path) -> None:
    """Raise ``ValueError`` naming the file when ``mask`` holds a value that is neither a class nor ``ignore_index``."""
    values = np.unique(mask)
    bad = values[(values >= num_classes) & (values != ignore_index)]
    if bad.size:
        raise ValueError(
            f"{path}: label values {bad.tolist()[:10]} out of range (classes 0..{num_classes - 1}, void {ignore_index})"
        )


def voc_colormap(n: int = 256) -> np.ndarray:
    """The PASCAL VOC colour map: the bits of each label index are spread over the high bits of R, G and B.

    Bit 0 of the index goes to the top bit of red, bit 1 to the top bit of green, bit 2 to the top bit of blue,
    bit 3 to the second bit of red, and so on.

    Args:
        n: number of entries.

    Returns:
        ``uint8`` array ``[n, 3]``.

    Example:
        >>> voc_colormap(3).tolist()
        [[0, 0, 0], [128, 0, 0], [0, 128, 0]]
    """
    index = np.arange(n)
    cmap = np.zeros((n, 3), np.int64)
    for level in range(8):  # 8 groups of 3 bits cover indices up to 2**24
        for channel in range(3):
            bit = (index >> (3 * level + channel)) & 1
            cmap[:, channel] |= bit << (7 - level)
    return cmap.astype(np.uint8)
