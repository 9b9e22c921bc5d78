"""COCO run-length encoding (RLE) of binary masks: the uncompressed ``counts`` list and the compressed string.

Introduced in Chapter 7 (YouTube-VIS and UVO store a video's masks as one RLE per frame). A mask ``[H, W]`` is read
in column-major order (down the first column, then the next: Fortran order) and stored as the lengths of its runs,
starting with a run of zeros (possibly of length 0): ``{"size": [H, W], "counts": [z0, o1, z2, ...]}``. The
compressed form (``counts`` a string) stores each count, minus the count two places earlier from the fourth on, as
5-bit groups with a continuation bit, each written as ``chr(48 + group)`` (``maskApi.c``'s ``rleToString``).
No dataset knowledge here; :func:`course_lib.data.youtube.read_vis_json` uses it.

Example:
    >>> m = np.array([[0, 1], [1, 1]], bool)
    >>> rle = encode_rle(m); rle
    {'size': [2, 2], 'counts': [1, 3]}
    >>> bool((decode_rle(rle) == m).all()), int(decode_rle(encode_rle(m, compressed=True)).sum())
    (True, 3)
"""

from __future__ import annotations

import numpy as np

__all__ = ["RLEError", "counts_from_string", "counts_to_string", "decode_rle", "encode_rle"]


class RLEError(ValueError):
    """A malformed RLE; the message says where (``where``) and what is wrong."""


def counts_to_string(counts) -> str:
    """The compressed string of an uncompressed ``counts`` list (COCO's ``rleToString``)."""
    out = []
    counts = [int(c) for c in counts]
    for i, x in enumerate(counts):
        if i > 2:
            x -= counts[i - 2]
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = (x != -1) if (c & 0x10) else (x != 0)
            if more:
                c |= 0x20
            out.append(chr(c + 48))
    return "".join(out)


def counts_from_string(text: str, where: str = "RLE") -> list[int]:
    """The counts of a compressed RLE string (COCO's ``rleFrString``).

    Raises:
        RLEError: a character outside the alphabet, or a count that ends in the middle.
    """
    counts: list[int] = []
    p = 0
    while p < len(text):
        x, k, more = 0, 0, True
        while more:
            if p >= len(text):
                raise RLEError(f"{where}: compressed RLE string ends in the middle of a count")
            c = ord(text[p]) - 48
            if not 0 <= c < 64:
                raise RLEError(f"{where}: character {text[p]!r} at {p} is not in the RLE alphabet ('0'..'o')")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def decode_rle(rle: dict, where: str = "RLE") -> np.ndarray:
    """A mask ``bool [H, W]`` from ``{"size": [H, W], "counts": list or str}``.

    Raises:
        RLEError: no size or counts, a negative count, counts that do not add up to ``H * W``.
    """
    if not isinstance(rle, dict) or "size" not in rle or "counts" not in rle:
        raise RLEError(f"{where}: expected {{'size': [H, W], 'counts': ...}}, got {type(rle).__name__}")
    size = rle["size"]
    if not (isinstance(size, list | tuple) and len(size) == 2 and all(isinstance(v, int) and v >= 0 for v in size)):
        raise RLEError(f"{where}: size must be [H, W] of non-negative integers, got {size!r}")
    h, w = size
    raw = rle["counts"]
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", errors="replace")
    if isinstance(raw, str):
        counts = counts_from_string(raw, where)
    elif isinstance(raw, list | tuple) and all(isinstance(c, int) and not isinstance(c, bool) for c in raw):
        counts = list(raw)
    else:
        raise RLEError(f"{where}: counts must be a list of integers or a compressed string")
    if any(c < 0 for c in counts):
        raise RLEError(f"{where}: negative run length in counts")
    if sum(counts) != h * w:
        raise RLEError(f"{where}: run lengths add up to {sum(counts)}, but size {h}x{w} needs {h * w}")
    values = np.zeros(len(counts), bool)
    values[1::2] = True
    flat = np.repeat(values, counts)
    return flat.reshape((w, h)).T.copy()


def encode_rle(mask, compressed: bool = False) -> dict:
    """The RLE of a binary mask ``[H, W]``: uncompressed counts list, or with ``compressed`` COCO's string."""
    m = np.asarray(mask).astype(bool)
    if m.ndim != 2:
        raise ValueError(f"encode_rle needs a 2-D mask, got shape {m.shape}")
    flat = m.T.reshape(-1)
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts = [0, *counts]
    if not flat.size:
        counts = [0]
    return {"size": [int(m.shape[0]), int(m.shape[1])],
            "counts": counts_to_string(counts) if compressed else [int(c) for c in counts]}
