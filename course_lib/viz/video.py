"""Videos with their object masks: a frame picture, a frame slider for Jupyter and an animation for the web page.

Introduced in Chapter 7. :func:`video_frame_picture` tints each object of a DAVIS-style id map with its colour of
the VOC colour map (the colours of the DAVIS palette PNGs; void 255 left untinted) and can outline a second map
(a prediction over the truth). :func:`video_viewer` is an ipywidgets frame slider for a running
kernel; :func:`video_animation` is its static-page twin: a plotly figure whose frames are small embedded PNGs,
with play/pause buttons and a slider that work in the browser alone (the built book has no kernel).

Example:
    >>> frames = np.zeros((2, 8, 8, 3), np.uint8); labels = np.zeros((2, 8, 8), np.uint8); labels[:, 2:5, 2:5] = 1
    >>> fig = video_animation(frames, labels)
    >>> len(fig.frames), fig.layout.updatemenus[0].buttons[0].label
    (2, 'play')
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

import numpy as np

from ..io.images import voc_colormap
from .masks import outline, png_bytes
from .plots import overlay

__all__ = ["DAVIS_PALETTE", "video_animation", "video_frame_picture", "video_viewer"]

#: the colours of DAVIS / YouTube-VOS palette PNGs (the PASCAL VOC colour map): id 1 dark red, 2 green, ...
DAVIS_PALETTE = voc_colormap(256)


def video_frame_picture(frame, labels=None, prediction=None, *, alpha: float = 0.5, zoom: int = 1) -> np.ndarray:
    """One frame ``uint8 [H, W, 3]`` with the objects of ``labels`` tinted and those of ``prediction`` outlined
    (or tinted, when there is no ``labels``), each object in its palette colour.

    Args:
        frame: ``uint8 [H, W, 3]``.
        labels: object ids ``[H, W]`` (0 background, 255 void) or ``None``.
        prediction: predicted ids ``[H, W]`` or ``None``.
        alpha: opacity of the tint.
        zoom: pixel repetition.
    """
    pic = np.asarray(frame, np.uint8)
    if labels is not None:
        pic = overlay(pic, np.asarray(labels), DAVIS_PALETTE, alpha=alpha, ignore_index=255, background=0)
    if prediction is not None:
        pred = np.asarray(prediction)
        if labels is None:
            pic = overlay(pic, pred, DAVIS_PALETTE, alpha=alpha, ignore_index=255, background=0)
        else:
            for obj in np.unique(pred):
                if 0 < obj < 255:
                    pic = outline(pic, pred == obj, tuple(int(c) for c in DAVIS_PALETTE[obj]), thickness=1)
    return np.repeat(np.repeat(pic, zoom, axis=0), zoom, axis=1) if zoom > 1 else pic


def _check(frames, labels, prediction) -> tuple[np.ndarray, Sequence | None, Sequence | None]:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be [T, H, W, 3], got shape {frames.shape}")
    for name, maps in (("labels", labels), ("prediction", prediction)):
        if maps is not None and (len(maps) != len(frames) or np.asarray(maps[0]).shape != frames.shape[1:3]):
            raise ValueError(f"{name} must hold one [H, W] map per frame ({len(frames)} of {frames.shape[1:3]})")
    return frames, labels, prediction


def video_viewer(frames, labels=None, prediction=None, *, zoom: int = 1):
    """An ipywidgets viewer: a frame slider over the masked frames (needs a running kernel; on the static page, where
    no kernel answers the slider, use :func:`video_animation`, which also plays).

    No ``Play`` widget: its icons are web fonts that the offline site cannot serve from the notebook's folder.

    Args:
        frames: ``[T, H, W, 3]``.
        labels, prediction: ``[T, H, W]`` object ids (or lists of maps), optional.
        zoom: pixel repetition.

    Returns:
        An ``ipywidgets.VBox`` (display it as the last line of a cell).
    """
    import ipywidgets as widgets

    frames, labels, prediction = _check(frames, labels, prediction)
    n = len(frames)
    index = widgets.IntSlider(value=0, min=0, max=n - 1, description="frame")
    picture = widgets.Image(format="png")

    def update(change=None):
        t = index.value
        picture.value = png_bytes(video_frame_picture(frames[t], None if labels is None else labels[t],
                                                      None if prediction is None else prediction[t], zoom=zoom))

    index.observe(update, names="value")
    update()
    return widgets.VBox([index, picture])


def video_animation(frames, labels=None, prediction=None, *, max_frames: int = 40, zoom: int = 1, fps: int = 6,
                    title: str = "", height: int | None = None):
    """A plotly animation of the masked frames that plays on the built web page (no kernel needed).

    Args:
        frames: ``[T, H, W, 3]``.
        labels, prediction: ``[T, H, W]`` object ids (or lists of maps), optional.
        max_frames: at most this many frames, evenly spread (each is an embedded PNG of a few kB).
        zoom: pixel repetition.
        fps: playing speed of the play button.
        title: shown above, followed by the frame number.
        height: of the figure in pixels (default: the picture's height plus the controls).

    Returns:
        A ``plotly.graph_objects.Figure`` with one ``go.Frame`` per shown frame, play/pause buttons and a slider.
    """
    import plotly.graph_objects as go

    frames, labels, prediction = _check(frames, labels, prediction)
    shown = sorted(set(np.linspace(0, len(frames) - 1, min(max_frames, len(frames))).round().astype(int).tolist()))

    def image(t: int) -> go.Image:
        pic = video_frame_picture(frames[t], None if labels is None else labels[t],
                                  None if prediction is None else prediction[t], zoom=zoom)
        return go.Image(source="data:image/png;base64," + base64.b64encode(png_bytes(pic)).decode(),
                        hoverinfo="skip")

    names = [f"{title} frame {t}".strip() for t in shown]
    fig = go.Figure(data=[image(shown[0])],
                    frames=[go.Frame(data=[image(t)], name=str(t), layout={"title.text": name})
                            for t, name in zip(shown, names, strict=True)])
    timing = {"frame": {"duration": int(1000 / fps), "redraw": True}, "fromcurrent": True,
              "transition": {"duration": 0}}
    fig.update_layout(
        title={"text": names[0]}, margin={"l": 10, "r": 10, "t": 40, "b": 10},
        height=height or frames.shape[1] * zoom + 160, xaxis={"visible": False}, yaxis={"visible": False},
        updatemenus=[{"type": "buttons", "direction": "left", "x": 0, "y": -0.05, "xanchor": "left",
                      "buttons": [{"label": "play", "method": "animate", "args": [None, timing]},
                                  {"label": "pause", "method": "animate",
                                   "args": [[None], {"mode": "immediate", "frame": {"duration": 0}}]}]}],
        sliders=[{"active": 0, "currentvalue": {"prefix": "frame "}, "pad": {"t": 40},
                  "steps": [{"label": str(t), "method": "animate",
                             "args": [[str(t)], {"mode": "immediate", "frame": {"duration": 0, "redraw": True}}]}
                            for t in shown]}])
    return fig
