"""Pictures of MRI volumes (Chapter 3, BraTS): slices in radiological orientation, region overlays, viewers.

Introduced in Chapter 3 (3D U-Net on BraTS). A volume here is an LPS array ``[..., X, Y, Z]`` as
:mod:`course_lib.data.brats` loads it (axes towards Left, Posterior, Superior). :func:`slice_plane` cuts the axial,
coronal or sagittal slice the way radiologists look at it; :func:`region_overlay` and :func:`slice_picture` draw the
WT/TC/ET regions over it (the ground truth as outlines, a prediction filled); :func:`viewer` is an ipywidgets
explorer for a running kernel and :func:`slice_figure` its plotly twin for the static web page.

Example:
    >>> slice_plane(np.zeros((4, 5, 6)), "coronal").shape
    (6, 4)
"""

from __future__ import annotations

import numpy as np

from ..data.brats import LABEL_PALETTE, MODALITIES, REGION_PALETTE, regions_to_labels

__all__ = ["region_overlay", "slice_figure", "slice_picture", "slice_plane", "to_gray", "tumour_centre", "viewer"]


def slice_plane(volume: np.ndarray, plane: str, index: int | None = None) -> np.ndarray:
    """One 2-D slice of an LPS volume ``[..., X, Y, Z]``, oriented as radiologists look at it.

    ``axial`` (a horizontal cut, seen from the feet: patient's right on the left of the picture, front at the
    top), ``coronal`` (seen from the front, head at the top) or ``sagittal`` (seen from the side, face on the
    left, head at the top).

    Args:
        volume: a 3-D array (or with leading axes, e.g. ``[C, X, Y, Z]``), axes in LPS order as loaded here.
        plane: ``"axial"``, ``"coronal"`` or ``"sagittal"``.
        index: the slice along the plane's normal (default: the middle one).

    Example:
        >>> slice_plane(np.zeros((4, 5, 6)), "axial").shape
        (5, 4)
    """
    axis = {"sagittal": -3, "coronal": -2, "axial": -1}.get(plane)
    if axis is None:
        raise ValueError(f"unknown plane {plane!r}; choose axial, coronal or sagittal")
    n = volume.shape[axis]
    index = n // 2 if index is None else int(index)
    if not 0 <= index < n:
        raise IndexError(f"{plane} slice {index} is outside 0..{n - 1}")
    cut = np.take(np.asarray(volume), index, axis=axis)  # [..., a, b]
    cut = np.swapaxes(cut, -1, -2)
    return cut if plane == "axial" else cut[..., ::-1, :]


def to_gray(slice2d: np.ndarray, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """Map an intensity slice to ``uint8`` grey values: ``lo`` -> 0, ``hi`` -> 255 (default: the 0.5 and 99.5
    percentiles of the non-zero voxels, so a few very bright voxels do not darken the picture)."""
    x = np.asarray(slice2d, dtype=np.float32)
    values = x[x != 0]
    if lo is None or hi is None:
        p_lo, p_hi = np.percentile(values, (0.5, 99.5)) if values.size else (0.0, 1.0)
        lo = p_lo if lo is None else lo
        hi = p_hi if hi is None else hi
    out = np.clip((x - lo) / max(hi - lo, 1e-6), 0, 1) * 255
    out[x == 0] = 0
    return out.astype(np.uint8)


def _edges(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` that touch a pixel outside it (4-neighbourhood): the contour."""
    m = np.pad(mask, 1)
    inner = m[1:-1, 1:-1] & m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]
    return mask & ~inner


def region_overlay(gray: np.ndarray, regions: np.ndarray | None = None, contours: np.ndarray | None = None,
                   alpha: float = 0.45) -> np.ndarray:
    """Draw regions over a grey slice: ``regions`` filled with the label colours, ``contours`` as outlines.

    Args:
        gray: ``uint8 [H, W]`` (see :func:`to_gray`).
        regions: ``[3, H, W]`` WT/TC/ET masks drawn filled (as labels: edema green, core red, enhancing yellow).
        contours: ``[3, H, W]`` masks drawn as outlines in :data:`REGION_PALETTE` (WT green, TC red, ET yellow).
        alpha: opacity of the filled colours.

    Returns:
        ``uint8 [H, W, 3]``.

    Example:
        >>> g = np.zeros((8, 8), np.uint8); r = np.zeros((3, 8, 8), bool); r[:, 2:6, 2:6] = True
        >>> region_overlay(g, contours=r)[2, 2].tolist()
        [250, 220, 40]
    """
    rgb = np.repeat(np.asarray(gray, np.float32)[..., None], 3, axis=-1)
    if regions is not None:
        labels = regions_to_labels(np.asarray(regions, bool))
        tint = labels > 0
        rgb[tint] = (1 - alpha) * rgb[tint] + alpha * LABEL_PALETTE[labels[tint]]
    if contours is not None:
        for r in range(3):
            rgb[_edges(np.asarray(contours[r], bool))] = REGION_PALETTE[r]
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def slice_picture(image: np.ndarray, plane: str, index: int, modality: str = "flair",
                  truth: np.ndarray | None = None, prediction: np.ndarray | None = None, zoom: int = 1) -> np.ndarray:
    """One slice of one modality with the ground truth as outlines and the prediction filled (either optional).

    Args:
        image: ``[4, X, Y, Z]`` (channels in :data:`MODALITIES` order).
        plane, index: see :func:`slice_plane`.
        modality: one of :data:`MODALITIES`.
        truth: ``[3, X, Y, Z]`` region masks, drawn as outlines.
        prediction: ``[3, X, Y, Z]`` region masks, drawn filled.
        zoom: enlarge by pixel repetition (small volumes).

    Returns:
        ``uint8 [H, W, 3]``.
    """
    if modality not in MODALITIES:
        raise ValueError(f"unknown modality {modality!r}; choose one of {MODALITIES}")
    gray = to_gray(slice_plane(np.asarray(image[MODALITIES.index(modality)], np.float32), plane, index))
    t = slice_plane(np.asarray(truth), plane, index) if truth is not None else None
    p = slice_plane(np.asarray(prediction), plane, index) if prediction is not None else None
    pic = region_overlay(gray, p, t)
    return np.repeat(np.repeat(pic, zoom, axis=0), zoom, axis=1) if zoom > 1 else pic


def _png(rgb: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="png")
    return buf.getvalue()


def viewer(image: np.ndarray, truth: np.ndarray | None = None, prediction: np.ndarray | None = None,
           zoom: int = 2):
    """An ipywidgets viewer: modality, plane (axial/coronal/sagittal) and slice, with truth and prediction.

    The ground truth is drawn as outlines (WT green, TC red, ET yellow), the prediction filled with the label
    colours; a drop-down picks what is shown. Needs a running Python kernel (Jupyter, Colab, Kaggle); on the
    static web page use :func:`slice_figure`.

    Args:
        image: ``[4, X, Y, Z]``.
        truth, prediction: ``[3, X, Y, Z]`` region masks (optional).
        zoom: pixel repetition of the picture.

    Returns:
        An ``ipywidgets.VBox`` (display it as the last line of a cell).
    """
    import ipywidgets as widgets

    planes = {"axial": -1, "coronal": -2, "sagittal": -3}
    modality = widgets.Dropdown(options=list(MODALITIES), value="flair", description="modality")
    plane = widgets.ToggleButtons(options=list(planes), value="axial", description="plane")
    shown = ["image only"] + (["ground truth"] if truth is not None else []) + \
        (["prediction"] if prediction is not None else []) + \
        (["truth + prediction"] if truth is not None and prediction is not None else [])
    overlay = widgets.Dropdown(options=shown, value=shown[-1], description="overlay")
    centre = tumour_centre(truth) if truth is not None else [s // 2 for s in image.shape[1:]]
    index = widgets.IntSlider(value=int(centre[2]), min=0, max=image.shape[-1] - 1, description="slice",
                              continuous_update=True)
    picture = widgets.Image(format="png")

    def update(change=None):
        axis = planes[plane.value]
        if change is not None and change.get("owner") is plane:
            index.max = image.shape[axis] - 1
            index.value = int(centre[axis])
        t = truth if overlay.value in ("ground truth", "truth + prediction") else None
        p = prediction if overlay.value in ("prediction", "truth + prediction") else None
        picture.value = _png(slice_picture(image, plane.value, index.value, modality.value, t, p, zoom))

    for w in (modality, plane, overlay, index):
        w.observe(update, names="value")
    update()
    return widgets.VBox([widgets.HBox([modality, overlay]), plane, index, picture])


def tumour_centre(regions: np.ndarray) -> list[int]:
    """Voxel indices of the whole tumour's centre of mass (the volume's centre when there is none).

    Args:
        regions: ``[3, X, Y, Z]`` region masks (WT first).

    Example:
        >>> r = np.zeros((3, 5, 5, 5), bool); r[0, 1, 2, 3] = True
        >>> tumour_centre(r)
        [1, 2, 3]
    """
    wt = np.asarray(regions[0], bool)
    if not wt.any():
        return [s // 2 for s in wt.shape]
    return [int(round(c)) for c in np.argwhere(wt).mean(axis=0)]


def slice_figure(image: np.ndarray, truth: np.ndarray | None = None, prediction: np.ndarray | None = None,
                 plane: str = "axial", modality: str = "flair", max_slices: int = 24, zoom: int = 2):
    """A plotly figure with a slider over the slices that hold tumour: the static-page twin of :func:`viewer`.

    Each slice is embedded as a small PNG, so the figure stays light (tens of kB per slice) and works on the
    built web page without a kernel.

    Args:
        image: ``[4, X, Y, Z]``.
        truth, prediction: ``[3, X, Y, Z]`` region masks (optional): outlines and fill.
        plane: ``axial``, ``coronal`` or ``sagittal``.
        modality: the modality shown.
        max_slices: at most this many slices (evenly spread over the tumour, or over the volume without one).
        zoom: pixel repetition.

    Returns:
        A ``plotly.graph_objects.Figure``.
    """
    import base64

    import plotly.graph_objects as go

    axis = {"axial": -1, "coronal": -2, "sagittal": -3}[plane]
    n = image.shape[axis]
    if truth is not None and np.asarray(truth[0]).any():
        other = tuple(a for a in (-3, -2, -1) if a != axis)
        hit = np.flatnonzero(np.asarray(truth[0], bool).any(axis=other))
        first, last = int(hit[0]), int(hit[-1])
    else:
        first, last = 0, n - 1
    indices = sorted(set(np.linspace(first, last, min(max_slices, last - first + 1)).round().astype(int).tolist()))
    fig = go.Figure()
    for k, i in enumerate(indices):
        pic = slice_picture(image, plane, i, modality, truth, prediction, zoom)
        uri = "data:image/png;base64," + base64.b64encode(_png(pic)).decode()
        fig.add_trace(go.Image(source=uri, visible=k == len(indices) // 2, name=f"slice {i}"))
    steps = [{"method": "update", "label": str(i),
              "args": [{"visible": [j == k for j in range(len(indices))]}, {"title.text": f"{plane} slice {i}"}]}
             for k, i in enumerate(indices)]
    fig.update_layout(sliders=[{"active": len(indices) // 2, "steps": steps, "currentvalue": {"prefix": "slice "}}],
                      title=f"{plane} slice {indices[len(indices) // 2]}", margin={"l": 10, "r": 10, "t": 40,
                                                                                     "b": 10},
                      height=420, xaxis={"visible": False}, yaxis={"visible": False})
    return fig
