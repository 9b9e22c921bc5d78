"""Pictures of masks: outlines over a photo, bounding boxes, panoptic edges, and the outcome of a binary prediction.

Introduced in Chapter 1 (panoptic ids, IoU against Dice) and used in Chapter 3 (U-Net on Kvasir-SEG). NumPy, SciPy
and PIL; every function returns a new ``uint8`` picture and leaves its inputs alone.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

import numpy as np
from PIL import Image, ImageDraw
from scipy.ndimage import binary_dilation

from .plots import colorize, to_numpy_image

__all__ = ["OUTCOME_NAMES", "OUTCOME_PALETTE", "draw_boxes", "id_edges", "outcome_map", "outline", "panoptic_picture",
           "png_bytes"]

#: The four outcomes of a binary prediction, in the order of :func:`outcome_map`'s values.
OUTCOME_NAMES = ("true negative", "true positive", "false positive", "false negative")
#: Light grey, green, red, blue: one colour per outcome of :data:`OUTCOME_NAMES`.
OUTCOME_PALETTE = np.array([[235, 235, 235], [40, 170, 70], [220, 50, 50], [60, 90, 220]], np.uint8)


def outline(picture, mask, colour: Sequence[int], thickness: int | None = None) -> np.ndarray:
    """Draw the border of a binary ``mask`` over ``picture`` in ``colour``.

    The border is the mask's pixels next to (8-neighbourhood) a pixel outside it, widened to ``2 thickness + 1``
    pixels (default: 1/200 of the picture's width, at least 1) so that it shows on large photos.

    Args:
        picture: anything :func:`course_lib.viz.to_numpy_image` reads, ``[H, W, 3]``.
        mask: boolean or 0/1 ``[H, W]``.
        colour: RGB of the line.
        thickness: half-width of the line in pixels.

    Returns:
        ``uint8 [H, W, 3]``.

    Example:
        >>> m = np.zeros((7, 7), bool); m[2:5, 2:5] = True
        >>> out = outline(np.zeros((7, 7, 3), np.uint8), m, (255, 0, 0), thickness=0)
        >>> (out[..., 0] > 0).astype(int)[3].tolist()
        [0, 0, 1, 0, 1, 0, 0]
    """
    out = to_numpy_image(picture)
    m = np.asarray(mask, dtype=bool)
    if m.shape != out.shape[:2]:
        raise ValueError(f"mask shape {m.shape} does not match the picture's {out.shape[:2]}")
    edge = m & binary_dilation(~m, structure=np.ones((3, 3), bool))  # pixels outside the picture count as outside m
    width = max(1, out.shape[1] // 200) if thickness is None else thickness
    if width > 0:
        for shape in ((2 * width + 1, 1), (1, 2 * width + 1)):  # a square, as two strips (faster)
            edge = binary_dilation(edge, structure=np.ones(shape, bool))
    out[edge] = colour
    return out


def draw_boxes(picture, boxes: Iterable[dict], colour: Sequence[int] = (255, 255, 0),
               width: int | None = None) -> np.ndarray:
    """Draw bounding boxes ``{"xmin", "ymin", "xmax", "ymax"}`` (pixels, inclusive) over ``picture``.

    Args:
        picture: anything :func:`course_lib.viz.to_numpy_image` reads.
        boxes: e.g. :meth:`course_lib.data.kvasir.KvasirSEG.boxes`.
        colour: RGB of the rectangles.
        width: line width (default: 1/150 of the picture's width, at least 2).

    Example:
        >>> out = draw_boxes(np.zeros((20, 30, 3), np.uint8), [{"xmin": 2, "ymin": 3, "xmax": 9, "ymax": 12}])
        >>> out[3, 5].tolist(), out[7, 5].tolist()
        ([255, 255, 0], [0, 0, 0])
    """
    img = Image.fromarray(to_numpy_image(picture))
    draw = ImageDraw.Draw(img)
    line = max(2, img.width // 150) if width is None else width
    for b in boxes:
        draw.rectangle((b["xmin"], b["ymin"], b["xmax"], b["ymax"]), outline=tuple(colour), width=line)
    return np.asarray(img)


def id_edges(ids) -> np.ndarray:
    """Boolean ``[H, W]``: the pixels whose right or lower neighbour holds another id (instance or panoptic)."""
    ids = np.asarray(ids)
    edge = np.zeros(ids.shape, bool)
    edge[:-1] |= ids[:-1] != ids[1:]
    edge[:, :-1] |= ids[:, :-1] != ids[:, 1:]
    return edge


def panoptic_picture(semantic, panoptic, palette, edge_colour: Sequence[int] = (30, 30, 30)) -> np.ndarray:
    """Class colours of ``semantic``, with a thin dark line wherever the ``panoptic`` id (class, instance) changes.

    Example:
        >>> sem = np.array([[0, 1, 1]]); pan = np.array([[0, 1001, 1002]])
        >>> panoptic_picture(sem, pan, [[0, 0, 255], [0, 255, 0]])[0].tolist()
        [[30, 30, 30], [30, 30, 30], [0, 255, 0]]
    """
    picture = colorize(semantic, palette)
    picture[id_edges(panoptic)] = edge_colour
    return picture


def outcome_map(pred, truth) -> np.ndarray:
    """Per pixel outcome of a binary prediction: 0 true negative, 1 true positive, 2 false positive, 3 false negative.

    Example:
        >>> outcome_map(np.array([0, 1, 1, 0], bool), np.array([0, 1, 0, 1], bool)).tolist()
        [0, 1, 2, 3]
    """
    p, t = np.asarray(pred, dtype=bool), np.asarray(truth, dtype=bool)
    return np.select([p & t, p & ~t, ~p & t], [1, 2, 3], 0)


def png_bytes(picture, size: tuple[int, int] | None = None) -> bytes:
    """``picture`` encoded as PNG (e.g. for an ``ipywidgets.Image``), resized to ``size = (width, height)`` with
    nearest-neighbour interpolation so that pixels stay sharp squares."""
    img = Image.fromarray(to_numpy_image(picture))
    if size is not None:
        img = img.resize(tuple(size), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="png")
    return buf.getvalue()
