"""Pictures of masks: outlines over a photo, bounding boxes, panoptic edges, and the outcome of a binary prediction.

Introduced in Chapter 1 (panoptic ids, IoU against Dice) and used in Chapter 3 (U-Net on Kvasir-SEG). NumPy, SciPy
and PIL; every function returns a new ``uint8`` picture and leaves its inputs alone, except
:func:`outcome_slider_figure`, a plotly figure that steps through pre-rendered outcome pictures in the browser alone.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

import numpy as np
from PIL import Image, ImageDraw
from scipy.ndimage import binary_dilation

from .plots import colorize, to_numpy_image

__all__ = ["OUTCOME_NAMES", "OUTCOME_PALETTE", "draw_boxes", "id_edges", "outcome_map", "outcome_slider_figure",
           "outline", "panoptic_picture", "png_bytes"]

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


def outcome_slider_figure(predictions, truth, *, labels: Sequence | None = None, prefix: str = "", active: int = 0,
                          zoom: int = 1, height: int = 440):
    """A plotly figure with a slider over binary ``predictions`` of one ``truth``: each step shows the outcome picture
    (:func:`outcome_map` in :data:`OUTCOME_PALETTE`) with its IoU and Dice in the title.

    Every step is rendered here, as a small PNG, and scored with :func:`course_lib.metrics.binary_iou` and
    :func:`course_lib.metrics.binary_dice`, so the slider works in the browser alone: on the built web page, without
    a kernel.

    Args:
        predictions: boolean or 0/1 ``[N, H, W]`` (array or tensor), one mask per slider step.
        truth: boolean or 0/1 ``[H, W]``.
        labels: the slider's label of each step (default ``0 .. N-1``).
        prefix: written before the label, above the slider and in the title (e.g. ``"shift "``).
        active: the index of the step shown first.
        zoom: pixel repetition of the pictures (plotly.js already draws image pixels as sharp squares).
        height: of the figure, in pixels.

    Returns:
        A ``plotly.graph_objects.Figure``: one ``go.Image`` trace per step, only ``active``'s visible;
        ``layout.sliders[0]``'s steps switch the visible trace and the title.

    Example:
        >>> truth = np.zeros((4, 4), bool); truth[1:3, 1:3] = True
        >>> fig = outcome_slider_figure(np.stack([truth, np.roll(truth, 1, axis=1)]), truth, prefix="shift ")
        >>> fig.layout.title.text, fig.layout.sliders[0].steps[1].args[1]["title.text"]
        ('shift 0: IoU 1.000, Dice 1.000', 'shift 1: IoU 0.333, Dice 0.500')
    """
    import base64

    import plotly.graph_objects as go
    import torch

    from ..metrics import binary_dice, binary_iou

    preds = torch.as_tensor(np.asarray(predictions)).bool()
    target = torch.as_tensor(np.asarray(truth)).bool()
    if preds.ndim != 3 or preds.shape[1:] != target.shape:
        raise ValueError(f"predictions must be [N, H, W] masks of the truth's shape {tuple(target.shape)}, "
                         f"got {tuple(preds.shape)}")
    n = preds.shape[0]
    labels = [str(k) for k in range(n)] if labels is None else [str(label) for label in labels]
    if len(labels) != n:
        raise ValueError(f"{len(labels)} labels for {n} predictions")
    if not 0 <= active < n:
        raise ValueError(f"active={active} is not the index of one of the {n} predictions")
    targets = target.expand_as(preds)
    ious, dices = binary_iou(preds, targets).tolist(), binary_dice(preds, targets).tolist()
    titles = [f"{prefix}{label}: IoU {i:.3f}, Dice {d:.3f}" for label, i, d in zip(labels, ious, dices, strict=True)]
    size = (target.shape[1] * zoom, target.shape[0] * zoom)
    fig = go.Figure()
    for k, pred in enumerate(preds.numpy()):
        png = png_bytes(colorize(outcome_map(pred, target.numpy()), OUTCOME_PALETTE), size=size)
        fig.add_trace(go.Image(source="data:image/png;base64," + base64.b64encode(png).decode(), visible=k == active,
                               name=titles[k], hoverinfo="skip"))
    steps = [{"method": "update", "label": label, "args": [{"visible": [j == k for j in range(n)]}, {"title.text": t}]}
             for k, (label, t) in enumerate(zip(labels, titles, strict=True))]
    fig.update_layout(sliders=[{"active": active, "steps": steps, "currentvalue": {"prefix": prefix}}],
                      title={"text": titles[active]}, height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      xaxis={"visible": False}, yaxis={"visible": False})
    return fig
