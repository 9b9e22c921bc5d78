"""Pictures of instance segmentation (Chapter 5): masks, boxes and labels over an image, PointRend's points.

Each instance gets its own colour (:func:`course_lib.viz.make_palette`), its mask blended over the picture and
outlined (:func:`course_lib.viz.masks.outline`), its box drawn (:func:`course_lib.viz.masks.draw_boxes`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .masks import draw_boxes, outline
from .plots import make_palette, to_numpy_image

__all__ = ["instance_picture"]


def instance_picture(image, masks, boxes=None, *, scores: Sequence[float] | None = None, threshold: float = 0.5,
                     alpha: float = 0.45, min_score: float = 0.0) -> np.ndarray:
    """The picture with every instance's mask (blended and outlined) and box in its own colour.

    Args:
        image: ``[3, H, W]`` tensor in ``[0, 1]``, or anything :func:`course_lib.viz.to_numpy_image` reads.
        masks: ``[N, H, W]`` (or ``[N, 1, H, W]``) binary masks or probabilities (cut at ``threshold``).
        boxes: ``[N, 4]`` XYXY boxes in pixels (exclusive right/bottom edges), or ``None``.
        scores: per instance; instances below ``min_score`` are left out.
        alpha: opacity of the mask colour.

    Returns:
        ``uint8 [H, W, 3]``.

    Example:
        >>> m = np.zeros((1, 8, 8)); m[0, 2:6, 2:6] = 1
        >>> instance_picture(np.zeros((8, 8, 3), np.uint8), m, [[2, 2, 6, 6]]).shape
        (8, 8, 3)
    """
    picture = to_numpy_image(image).astype(np.float32)
    masks = np.asarray(masks.detach().cpu() if hasattr(masks, "detach") else masks, np.float32)
    if masks.ndim == 4:
        masks = masks[:, 0]
    keep = [i for i in range(len(masks)) if scores is None or float(scores[i]) >= min_score]
    colours = make_palette(len(keep) + 1)[1:]
    out = picture
    for colour, i in zip(colours, keep, strict=True):
        m = masks[i] >= threshold
        out[m] = (1 - alpha) * out[m] + alpha * np.asarray(colour, np.float32)
    out = out.clip(0, 255).astype(np.uint8)
    for colour, i in zip(colours, keep, strict=True):
        out = outline(out, masks[i] >= threshold, tuple(int(c) for c in colour), thickness=0)
        if boxes is not None:
            x0, y0, x1, y1 = (float(v) for v in np.asarray(boxes[i].tolist() if hasattr(boxes[i], "tolist")
                                                            else boxes[i]))
            out = draw_boxes(out, [{"xmin": x0, "ymin": y0, "xmax": x1 - 1, "ymax": y1 - 1}],
                             tuple(int(c) for c in colour), width=1)
    return out
