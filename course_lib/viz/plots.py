"""Pictures of images, masks, predictions, training curves and confusion matrices.

Introduced in Chapter 1 and used by every chapter. Every plotting function *returns* the matplotlib
``Figure`` and never calls ``plt.show()``: a notebook cell ends with ``plt.show()`` (so that no
``<Figure size ...>`` text lands in the output), a script saves the figure with ``fig.savefig``.

Colours: a *palette* is an ``[K, 3]`` array of RGB values (0-255), one row per class; pixels equal to
``ignore_index`` (void) are drawn in :data:`VOID_COLOR` by :func:`colorize` and left untinted by :func:`overlay`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import matplotlib
import numpy as np

if "MPLBACKEND" not in os.environ and "ipykernel" not in sys.modules and sys.platform.startswith("linux") \
        and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    matplotlib.use("Agg")  # headless script or CI: never try to open a window

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "VOID_COLOR",
    "make_palette",
    "to_numpy_image",
    "colorize",
    "overlay",
    "class_legend",
    "show_grid",
    "show_segmentation",
    "plot_history",
    "plot_confusion_matrix",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: Colour of void (``ignore_index``) pixels in :func:`colorize`.
VOID_COLOR = (255, 255, 255)


def _to_array(x) -> np.ndarray:
    """NumPy view of a NumPy array, torch tensor (any device, with grad) or PIL image."""
    if hasattr(x, "detach"):  # torch.Tensor without importing torch here
        return x.detach().cpu().numpy()
    return np.asarray(x)


def make_palette(num_colors: int) -> np.ndarray:
    """Distinct colours for label ids ``0..num_colors-1`` (0 is black), e.g. for instance ids.

    The bits of the id are spread over the high bits of R, G and B, so neighbouring ids get very different
    colours (the scheme of the PASCAL VOC colour maps).

    Args:
        num_colors: number of colours (ids) to make.

    Example:
        >>> make_palette(3).tolist()
        [[0, 0, 0], [128, 0, 0], [0, 128, 0]]
    """
    if num_colors < 1:
        raise ValueError(f"num_colors must be >= 1, got {num_colors}")
    palette = np.zeros((num_colors, 3), np.uint8)
    for i in range(num_colors):
        c, r, g, b = i, 0, 0, 0
        for shift in range(7, -1, -1):
            r |= (c & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        palette[i] = (r, g, b)
    return palette


def _as_palette(palette) -> np.ndarray:
    pal = _to_array(palette)
    if pal.ndim != 2 or pal.shape[1] != 3:
        raise ValueError(f"palette must be a sequence of RGB triples ([K, 3]), got shape {pal.shape}")
    if np.issubdtype(pal.dtype, np.floating) and pal.size and pal.max() <= 1.0:
        pal = pal * 255.0  # matplotlib-style colours in [0, 1]
    return np.clip(np.rint(pal), 0, 255).astype(np.uint8)


def _as_labels(mask, name: str = "mask") -> np.ndarray:
    m = _to_array(mask)
    if m.dtype == bool:
        m = m.astype(np.int64)
    if not np.issubdtype(m.dtype, np.integer):
        if np.issubdtype(m.dtype, np.floating) and np.all(np.isfinite(m)) and np.all(m == np.round(m)):
            m = m.astype(np.int64)
        else:
            raise ValueError(f"{name} must hold integer class indices, got dtype {m.dtype}")
    return m.astype(np.int64, copy=False)


def to_numpy_image(image, denormalize: bool | tuple[Sequence[float], Sequence[float]] = False) -> np.ndarray:
    """Turn a tensor, array or PIL image into a displayable ``uint8`` array.

    Args:
        image: a torch tensor ``[C, H, W]`` (or ``[1, C, H, W]``), a NumPy array ``[H, W, C]``, ``[C, H, W]`` or
            ``[H, W]``, or a PIL image. ``C`` is 1, 3 or 4 (alpha is dropped).
        denormalize: ``True`` undoes the ImageNet normalisation (``x * std + mean``); a ``(mean, std)`` pair
            undoes another one.

    Returns:
        ``uint8 [H, W, 3]`` for colour input, ``uint8 [H, W]`` for single-channel input. Floats in ``[0, 1]`` are
        scaled by 255; floats outside it (e.g. MRI intensities) are min-max scaled to ``[0, 255]``.

    Example:
        >>> import torch
        >>> to_numpy_image(torch.zeros(3, 4, 5)).shape
        (4, 5, 3)
    """
    is_tensor = hasattr(image, "detach")
    arr = _to_array(image)
    if arr.ndim == 4 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim == 3:
        chw = arr.shape[0] in (1, 3, 4) and (is_tensor or arr.shape[-1] not in (1, 3, 4))
        if chw:
            arr = np.moveaxis(arr, 0, -1)
        if arr.shape[-1] not in (1, 3, 4):
            raise ValueError(f"cannot read an image with shape {_to_array(image).shape}: expected [C, H, W] "
                             "(tensor) or [H, W, C] (array) with C in 1, 3, 4")
        arr = arr[..., :3] if arr.shape[-1] == 4 else arr
        if arr.shape[-1] == 1:
            arr = arr[..., 0]
    elif arr.ndim != 2:
        raise ValueError(f"cannot read an image with shape {_to_array(image).shape}")
    if denormalize:
        mean, std = (IMAGENET_MEAN, IMAGENET_STD) if denormalize is True else denormalize
        mean, std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
        if arr.ndim == 2:
            mean, std = mean.mean(), std.mean()
        arr = arr.astype(np.float32) * std + mean
    if arr.dtype == np.uint8:
        return arr.copy()
    if arr.dtype == bool:
        return arr.astype(np.uint8) * 255
    if np.issubdtype(arr.dtype, np.integer):
        return np.clip(arr, 0, 255).astype(np.uint8)
    arr = np.nan_to_num(arr.astype(np.float32))
    lo, hi = float(arr.min(initial=0.0)), float(arr.max(initial=0.0))
    if lo >= -1e-3 and hi <= 1 + 1e-3:
        arr = arr * 255.0
    elif lo >= 0 and hi <= 255 and denormalize is False and np.allclose(arr, np.round(arr)):
        pass  # float copies of 8-bit images
    else:
        arr = (arr - lo) / max(hi - lo, 1e-12) * 255.0
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)


def colorize(mask, palette, ignore_index: int | None = None) -> np.ndarray:
    """Paint a label map with one colour per class.

    Args:
        mask: integer label map ``[H, W]`` (any shape works; the colour becomes a trailing axis).
        palette: ``[K, 3]`` RGB colours (0-255, or floats in [0, 1]); label ``k`` gets ``palette[k]``.
        ignore_index: void label drawn in :data:`VOID_COLOR` (e.g. 255 for PASCAL VOC).

    Returns:
        ``uint8 [H, W, 3]``.

    Example:
        >>> colorize(np.array([[0, 1]]), [[0, 0, 0], [255, 0, 0]]).tolist()
        [[[0, 0, 0], [255, 0, 0]]]
    """
    m = _as_labels(mask)
    pal = _as_palette(palette)
    void = m == ignore_index if ignore_index is not None else np.zeros(m.shape, bool)
    valid = m[~void]
    if valid.size and (valid.min() < 0 or valid.max() >= len(pal)):
        bad = np.unique(valid[(valid < 0) | (valid >= len(pal))])[:10].tolist()
        raise ValueError(f"mask holds labels {bad} outside the palette's {len(pal)} colours "
                         f"(ignore_index={ignore_index})")
    out = pal[np.where(void, 0, m)]
    out[void] = VOID_COLOR
    return out


def overlay(image, mask, palette, alpha: float = 0.5, ignore_index: int | None = None,
            background: int | None = None) -> np.ndarray:
    """Blend the class colours of ``mask`` over ``image``.

    Args:
        image: anything :func:`to_numpy_image` reads (grey images are turned into RGB).
        mask: integer label map with the image's height and width.
        palette: ``[K, 3]`` RGB colours.
        alpha: opacity of the colours (0: image only, 1: colours only).
        ignore_index: void label; those pixels keep the image unchanged.
        background: a label that is left untinted too (e.g. 0 for binary masks, so only the object is coloured).

    Returns:
        ``uint8 [H, W, 3]``.

    Example:
        >>> img = np.full((2, 2, 3), 100, np.uint8)
        >>> overlay(img, np.array([[0, 1], [1, 0]]), [[0, 0, 0], [200, 0, 0]], alpha=0.5)[0, 1].tolist()
        [150, 50, 50]
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    img = to_numpy_image(image)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    m = _as_labels(mask)
    if m.ndim == 3 and m.shape[0] == 1:
        m = m[0]
    if m.shape != img.shape[:2]:
        raise ValueError(f"mask shape {m.shape} does not match image size {img.shape[:2]}")
    colors = colorize(m, palette, ignore_index=ignore_index).astype(np.float32)
    tint = np.ones(m.shape, bool)
    if ignore_index is not None:
        tint &= m != ignore_index
    if background is not None:
        tint &= m != background
    blended = (1 - alpha) * img.astype(np.float32) + alpha * colors
    out = np.where(tint[..., None], blended, img.astype(np.float32))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def class_legend(fig: Figure, palette, class_names: Sequence[str], labels=None, ncol: int | None = None,
                 loc: str = "lower center"):
    """Add a legend of class colours under a figure (e.g. one made by :func:`show_grid`).

    Args:
        fig: the figure.
        palette: ``[K, 3]`` RGB colours.
        class_names: ``K`` names.
        labels: only list these class indices (e.g. the classes present in a mask); default all.
        ncol: legend columns (default: up to 6).
        loc: where the legend goes.

    Returns:
        The matplotlib ``Legend``.

    Example:
        >>> fig = show_grid([np.zeros((4, 4))])
        >>> len(class_legend(fig, [[0, 0, 0], [255, 0, 0]], ["bg", "fg"]).get_texts())
        2
    """
    pal = _as_palette(palette)
    if len(class_names) != len(pal):
        raise ValueError(f"got {len(class_names)} class names for {len(pal)} palette colours")
    ks = range(len(pal)) if labels is None else sorted({int(k) for k in _to_array(labels).ravel()})
    handles = [Patch(color=pal[k] / 255.0, label=class_names[k]) for k in ks if 0 <= k < len(pal)]
    fig.subplots_adjust(bottom=max(fig.subplotpars.bottom, 0.12))
    return fig.legend(handles=handles, loc=loc, ncol=ncol or min(len(handles), 6) or 1, frameon=False, fontsize=9)


def _grid_figure(n: int, ncols: int, size: float, aspect: float = 1.0):
    ncols = max(1, min(ncols, n))
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * aspect), squeeze=False)
    return fig, axes


def show_grid(images: Sequence, titles: Sequence[str] | None = None, ncols: int = 4, size: float = 3.0) -> Figure:
    """Show images side by side (grey images in grey), one title each.

    Args:
        images: a sequence (or batch tensor ``[N, C, H, W]``) of anything :func:`to_numpy_image` reads.
        titles: optional titles, one per image.
        ncols: images per row.
        size: inches per image.

    Returns:
        The figure, one axes per image.

    Example:
        >>> fig = show_grid([np.zeros((8, 8)), np.ones((8, 8, 3))], titles=["a", "b"])
        >>> len(fig.axes)
        2
    """
    images = list(images)
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"got {len(titles)} titles for {len(images)} images")
    if not images:
        fig = plt.figure(figsize=(size, size))
        fig.text(0.5, 0.5, "no images", ha="center", va="center")
        return fig
    fig, axes = _grid_figure(len(images), ncols, size)
    flat = axes.ravel()
    for i, ax in enumerate(flat):
        if i >= len(images):
            fig.delaxes(ax)
            continue
        img = to_numpy_image(images[i])
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
        ax.set_axis_off()
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=10)
    fig.tight_layout()
    return fig


def _auto_denormalize(image) -> bool:
    arr = _to_array(image)
    return bool(np.issubdtype(arr.dtype, np.floating) and arr.size and arr.min() < 0)


def show_segmentation(images, masks, palette, preds=None, class_names: Sequence[str] | None = None,
                      ignore_index: int | None = None, n: int = 4, alpha: float = 0.5,
                      denormalize: bool | str = "auto", size: float = 3.0) -> Figure:
    """One row per sample: the image, the ground truth over it, and the prediction over it.

    Args:
        images: batch ``[N, C, H, W]`` tensor or a sequence of images (see :func:`to_numpy_image`).
        masks: true label maps ``[N, H, W]``.
        palette: ``[K, 3]`` RGB colours, one per class.
        preds: predicted label maps ``[N, H, W]`` or logits ``[N, K, H, W]`` (arg-maxed); ``None`` for no column.
        class_names: names for the legend (default: the class indices).
        ignore_index: void label, left untinted.
        n: at most this many rows.
        alpha: opacity of the class colours.
        denormalize: ``"auto"`` undoes the ImageNet normalisation for float images with negative values;
            ``True``/``False`` force it.
        size: inches per panel.

    Returns:
        The figure: ``rows x (2 or 3)`` axes, with a legend of the classes present.

    Example:
        >>> fig = show_segmentation(np.zeros((2, 8, 8, 3), np.uint8), np.zeros((2, 8, 8), int), [[0, 0, 0]])
        >>> len(fig.axes)
        4
    """
    masks_arr = _as_labels(masks, "masks")
    if masks_arr.ndim == 2:
        masks_arr = masks_arr[None]
    if masks_arr.ndim == 4 and masks_arr.shape[1] == 1:
        masks_arr = masks_arr[:, 0]
    if hasattr(images, "shape"):  # one array / tensor: a batch, or a single image when one mask was given
        single = images.ndim == 2 or (images.ndim == 3 and masks_arr.shape[0] == 1 and len(images) != 1)
        image_list = [images] if single else list(images)
    else:
        image_list = list(images)
    if len(image_list) != len(masks_arr):
        raise ValueError(f"got {len(image_list)} images but {len(masks_arr)} masks")
    pred_arr = None
    if preds is not None:
        p = _to_array(preds)
        if p.ndim == masks_arr.ndim + 1:  # logits / scores [N, K, H, W]
            p = p.argmax(axis=1)
        pred_arr = _as_labels(p, "preds")
        if pred_arr.ndim == 2:
            pred_arr = pred_arr[None]
        if pred_arr.shape != masks_arr.shape:
            raise ValueError(f"preds shape {pred_arr.shape} does not match masks shape {masks_arr.shape}")
    pal = _as_palette(palette)
    rows = max(0, min(n, len(image_list)))
    cols = 3 if pred_arr is not None else 2
    if rows == 0:
        fig = plt.figure(figsize=(size * cols, size))
        fig.text(0.5, 0.5, "no samples", ha="center", va="center")
        return fig
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows + 0.6), squeeze=False)
    present: set[int] = set()
    for r in range(rows):
        dn = _auto_denormalize(image_list[r]) if denormalize == "auto" else bool(denormalize)
        img = to_numpy_image(image_list[r], denormalize=dn)
        panels = [(img, "image"), (overlay(img, masks_arr[r], pal, alpha, ignore_index), "ground truth")]
        present |= set(np.unique(masks_arr[r]).tolist())
        if pred_arr is not None:
            panels.append((overlay(img, pred_arr[r], pal, alpha, ignore_index), "prediction"))
            present |= set(np.unique(pred_arr[r]).tolist())
        for c, (panel, title) in enumerate(panels):
            ax = axes[r, c]
            ax.imshow(panel, cmap="gray" if panel.ndim == 2 else None, interpolation="nearest")
            ax.set_axis_off()
            if r == 0:
                ax.set_title(title, fontsize=10)
    present.discard(ignore_index)
    names = list(class_names) if class_names is not None else [str(i) for i in range(len(pal))]
    handles = [Patch(color=pal[k] / 255.0, label=names[k] if k < len(names) else str(k))
               for k in sorted(present) if 0 <= k < len(pal)]
    fig.tight_layout(rect=(0, 0.6 / (size * rows + 0.6), 1, 1))
    if handles:
        fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 6), frameon=False, fontsize=9)
    return fig


_NOT_METRICS = {"epoch", "step", "lr", "time", "epoch_time", "seconds", "elapsed"}


def plot_history(history: Sequence[dict]) -> Figure:
    """Training curves: one panel for the losses, one for the metrics.

    Args:
        history: one dict per epoch, e.g. ``{"epoch": 1, "train_loss": 0.9, "val_loss": 1.0, "val_miou": 0.3}``.
            Keys holding ``"loss"`` go to the left panel, the other numbers (except epoch, step, lr, time) to the
            right one. A key missing in some epochs (validation every other epoch) is drawn where it exists.

    Returns:
        The figure with two axes.

    Example:
        >>> fig = plot_history([{"epoch": 1, "train_loss": 1.0, "val_miou": 0.2},
        ...                     {"epoch": 2, "train_loss": 0.5, "val_miou": 0.4}])
        >>> len(fig.axes)
        2
    """
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(10, 3.6))
    keys: list[str] = []
    for rec in history:
        for k, v in rec.items():
            if k not in keys and k not in _NOT_METRICS and isinstance(v, (int, float, np.number)) \
                    and not isinstance(v, bool):
                keys.append(k)
    for k in keys:
        xs, ys = [], []
        for i, rec in enumerate(history):
            if k in rec and rec[k] is not None and np.isfinite(float(rec[k])):
                xs.append(rec.get("epoch", i + 1))
                ys.append(float(rec[k]))
        if xs:
            ax = ax_loss if "loss" in k else ax_metric
            ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, ms=3, label=k)
    for ax, title in ((ax_loss, "losses"), (ax_metric, "metrics")):
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=9)
        else:
            ax.text(0.5, 0.5, f"no {title} recorded", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    return fig


def plot_confusion_matrix(cm, class_names: Sequence[str], normalize: bool = True) -> Figure:
    """Draw a confusion matrix (rows: true class, columns: predicted class).

    Args:
        cm: ``[K, K]`` counts (NumPy array or tensor), e.g. ``ConfusionMatrix.cm``.
        class_names: ``K`` names.
        normalize: divide each row by its sum, so the diagonal is the per-class recall (rows that never occur
            stay 0).

    Returns:
        The figure (the matrix axes and its colour bar).

    Example:
        >>> fig = plot_confusion_matrix(np.array([[5, 1], [0, 4]]), ["bg", "fg"])
        >>> len(fig.axes)
        2
    """
    m = _to_array(cm).astype(np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"confusion matrix must be square [K, K], got shape {m.shape}")
    if len(class_names) != m.shape[0]:
        raise ValueError(f"got {len(class_names)} class names for a {m.shape[0]}x{m.shape[0]} matrix")
    if normalize:
        rows = m.sum(axis=1, keepdims=True)
        m = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    k = m.shape[0]
    side = min(1.2 + 0.45 * k, 14)
    fig, ax = plt.subplots(figsize=(side + 1.2, side))
    im = ax.imshow(m, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(k), labels=list(class_names), rotation=45, ha="right")
    ax.set_yticks(range(k), labels=list(class_names))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if k <= 20:
        top = m.max() if m.size else 0
        for i in range(k):
            for j in range(k):
                text = f"{m[i, j]:.2f}" if normalize else f"{int(m[i, j])}"
                ax.text(j, i, text, ha="center", va="center", fontsize=8,
                        color="white" if top and m[i, j] > 0.6 * top else "black")
    ax.set_title("confusion matrix" + (" (rows normalised)" if normalize else ""))
    fig.tight_layout()
    return fig
