"""Alpha-matting errors: SAD, MSE, Gradient and Connectivity, as the Deep Image Matting evaluation code defines them.

Introduced in Chapter 2 (image matting). Deep Image Matting (Xu et al., arXiv 1703.03872) released MATLAB files that
every later matting paper (IndexNet, GCA, MatteFormer, ...) evaluates with: ``compute_sad_loss.m``,
``compute_mse_loss.m``, ``compute_gradient_loss.m`` with ``gaussgradient.m`` and ``compute_connectivity_error.m``
(copies in GCA-Matting's ``DIM_evaluation_code/`` and IndexNet's ``evaluation_code/``). Written here in NumPy/SciPy
from those definitions, each over the trimap's unknown region (``trimap == 128``) and in the units the papers' tables
print:

* :func:`sad_error`: ``sum |pred - alpha|`` / 1000 (the ``.m`` file itself divides by 1000);
* :func:`mse_error`: ``sum (pred - alpha)^2 / (number of unknown pixels)`` (no scaling);
* :func:`gradient_error`: both mattes stretched to [0, 1] (``mat2gray``: ``(a - min) / (max - min)``), gradient
  magnitudes by :func:`gauss_gradient` (a 9 x 9 first-derivative-of-Gaussian filter, sigma 1.4, normalised to unit
  Frobenius norm, replicated borders), ``sum (|grad pred| - |grad alpha|)^2`` / 1000 (the evaluation script divides
  the ``.m`` result by 1000);
* :func:`connectivity_error`: for thresholds ``0.1, 0.2, ..., 1`` the largest 4-connected component of
  ``pred >= t & alpha >= t`` (over the whole image); ``l`` = the last threshold before a pixel left that component
  (1 if it never did); ``phi(a) = 1 - d * [d >= 0.15]`` with ``d = a - l``; ``sum |phi(pred) - phi(alpha)|`` / 1000.

Where Python ports differ from the MATLAB numbers, and what this module does:

* **mat2gray** (Grad): MATLAB stretches each matte to its own [min, max]; GCA-Matting's Python port
  (``utils/evaluate.py``) divides by 255 instead, which differs whenever a matte lacks 0 or 255. Here: the stretch
  (a constant matte has zero gradient either way).
* **Gradient filter** (Grad): ports that call ``scipy.ndimage.gaussian_filter(order=1)`` use a 4-sigma (13 x 13),
  differently normalised kernel and print other numbers; zero-padded borders change the edge pixels. Here: the
  ``gaussgradient.m`` kernel (``halfsize = ceil(sigma * sqrt(-2 log(sqrt(2 pi) sigma 0.01)))`` = 4) and replicated
  borders, as ``imfilter(..., 'replicate', 'conv')``.
* **Largest component** (Conn): ``bwconncomp(..., 4)``; ports using 8-connectivity merge diagonal neighbours, and
  GCA-Matting's port lets the background label win ``argmax(bincount(labels))`` (its docstring says its Conn comes out
  ~5 % below MATLAB's and asks to report the MATLAB numbers). Ties between equally large components go, as MATLAB's
  ``max``, to the component met first in column-major order.
* **Empty intersection** (Conn): when no pixel reaches a threshold in both mattes, the original file fails
  (``cc.PixelIdxList{[]}``); GCA-Matting's copy then leaves the pixels still unassigned at the previous threshold,
  IndexNet's copy (``continue``) at 1. Here: GCA-Matting's copy (no component means no pixel is connected there).
* **Ties** (Conn): an alpha exactly on a threshold (8-bit 51, 102, 153, 204, 255) counts as reaching it, as MATLAB's
  ``single(pred)/255`` rounds all of these up.
* **Precision and inputs**: MATLAB sums in single precision, here float64 (relative differences ~1e-6). The MATLAB
  files read 8-bit PNGs; a float prediction scored before it is saved differs by its quantisation.
* **MSE with no unknown pixel**: MATLAB gives 0/0 = NaN, ports adding 1e-8 give 0; here NaN, and
  :class:`MattingMeter` leaves such images out of the MSE mean.
* MODNet's PPM-100 numbers (MSE, MAD) are trimap-free, over the whole image: another protocol.

The tests check every function on hand-worked arrays and against the ``.m`` files themselves, run in GNU Octave.

Example:
    >>> pred = np.array([[0.0, 0.5], [1.0, 1.0]]); alpha = np.array([[0.0, 1.0], [1.0, 0.0]])
    >>> trimap = np.array([[128, 128], [255, 0]], np.uint8)   # only the top row is unknown
    >>> sad_error(pred, alpha, trimap), mse_error(pred, alpha, trimap)
    (0.0005, 0.125)
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from scipy import ndimage

__all__ = ["MattingMeter", "connectivity_error", "gauss_gradient", "gradient_error", "matting_errors", "mse_error",
           "sad_error", "trimap_codes", "trimap_unknown", "whole_image_errors"]

_TIE = 1e-6  # an alpha this close below a connectivity threshold counts as reaching it (see the module notes)


def _numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, without importing torch here
        x = x.detach().cpu().numpy()
    a = np.asarray(x)
    while a.ndim > 2 and a.shape[0] == 1:  # [1, H, W] or [1, 1, H, W]
        a = a[0]
    return a


def _as_alpha(x, what: str) -> np.ndarray:
    """An alpha matte as float64 ``[H, W]`` in [0, 1]: floats in [0, 1], or integers 0..255 (8-bit files)."""
    a = _numpy(x)
    if a.ndim != 2:
        raise ValueError(f"{what} must be a single-channel [H, W] matte, got shape {a.shape}")
    if a.dtype == bool or not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ValueError(f"{what} must hold floats in [0, 1] or 8-bit values 0..255, got dtype {a.dtype}")
    if np.issubdtype(a.dtype, np.integer):
        if a.size and (a.min() < 0 or a.max() > 255):
            raise ValueError(f"{what} holds integers outside 0..255 ({a.min()}..{a.max()})")
        if a.size and a.max() == 1:
            raise ValueError(f"{what} holds only the integers 0 and 1: integer mattes are read as 0..255; pass "
                             "floats in [0, 1] (or scale a 0/1 mask to 0/255)")
        return a.astype(np.float64) / 255.0
    a = a.astype(np.float64)
    if a.size and not (np.isfinite(a).all() and a.min() >= 0.0 and a.max() <= 1.0):
        raise ValueError(f"{what} must hold finite floats in [0, 1] (8-bit mattes as integers 0..255), got "
                         f"{np.nanmin(a):.4g}..{np.nanmax(a):.4g}")
    return a


def trimap_codes(trimap) -> np.ndarray:
    """A trimap as uint8 ``[H, W]`` holding exactly 0 (background), 128 (unknown), 255 (foreground).

    Args:
        trimap: values exactly 0 / 128 / 255 (uint8 files), or floats 0 / 0.5 / 1 (the datasets' tensors); NumPy or
            torch, ``[H, W]`` or ``[1, H, W]``.

    Raises:
        ValueError: other values, or not 2-D.

    Example:
        >>> trimap_codes(np.array([[0.0, 0.5, 1.0]])).tolist()
        [[0, 128, 255]]
    """
    t = _numpy(trimap)
    if t.ndim != 2:
        raise ValueError(f"trimap must be [H, W], got shape {t.shape}")
    values = np.unique(t)
    if np.isin(values, (0, 128, 255)).all():
        return t.astype(np.uint8)
    if np.issubdtype(t.dtype, np.floating) and np.isin(values, (0.0, 0.5, 1.0)).all():
        return np.where(t == 0.5, 128, np.where(t == 1.0, 255, 0)).astype(np.uint8)
    raise ValueError(f"trimap values must be 0/128/255 (or 0/0.5/1 as floats), found {values[:8].tolist()}")


def trimap_unknown(trimap) -> np.ndarray:
    """The unknown region (value 128) of a trimap as booleans ``[H, W]`` (trimaps as :func:`trimap_codes`).

    Example:
        >>> trimap_unknown(np.array([[0, 128, 255]], np.uint8)).tolist()
        [[False, True, False]]
        >>> trimap_unknown(np.array([[0.5, 1.0]])).tolist()
        [[True, False]]
    """
    return trimap_codes(trimap) == 128


def _check(pred, alpha, trimap) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p, a = _as_alpha(pred, "prediction"), _as_alpha(alpha, "alpha")
    unknown = trimap_unknown(trimap)
    if not p.shape == a.shape == unknown.shape:
        raise ValueError(f"prediction {p.shape}, alpha {a.shape} and trimap {unknown.shape} must have one size "
                         "(H, W); mattes are never resized for scoring")
    return p, a, unknown


def sad_error(pred, alpha, trimap) -> float:
    """Sum of absolute differences over the unknown region, divided by 1000 (``compute_sad_loss.m``).

    Args:
        pred: predicted alpha ``[H, W]``, floats in [0, 1] or integers 0..255.
        alpha: ground-truth alpha, same size and conventions.
        trimap: ``[H, W]``, 0/128/255 (or 0/0.5/1 floats); only 128 is scored.

    Example:
        >>> sad_error(np.full((10, 100), 255, np.uint8), np.zeros((10, 100)), np.full((10, 100), 128, np.uint8))
        1.0
    """
    return _sad(*_check(pred, alpha, trimap))


def _sad(p: np.ndarray, a: np.ndarray, unknown: np.ndarray) -> float:
    return float(np.abs(p - a)[unknown].sum() / 1000.0)


def mse_error(pred, alpha, trimap) -> float:
    """Mean squared error over the unknown pixels (``compute_mse_loss.m``; NaN when there are none).

    Args:
        pred, alpha, trimap: as :func:`sad_error`.

    Example:
        >>> mse_error(np.array([[0.5, 1.0]]), np.array([[0.0, 1.0]]), np.array([[128, 128]], np.uint8))
        0.125
    """
    return _mse(*_check(pred, alpha, trimap))


def _mse(p: np.ndarray, a: np.ndarray, unknown: np.ndarray) -> float:
    n = int(unknown.sum())
    return float(((p - a) ** 2)[unknown].sum() / n) if n else math.nan


def _mat2gray(a: np.ndarray) -> np.ndarray:
    lo, hi = float(a.min()), float(a.max())
    return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)


def _gauss_kernel(sigma: float) -> np.ndarray:
    eps = 1e-2
    half = math.ceil(sigma * math.sqrt(-2.0 * math.log(math.sqrt(2.0 * math.pi) * sigma * eps)))
    u = np.arange(-half, half + 1, dtype=np.float64)
    g = np.exp(-u ** 2 / (2.0 * sigma ** 2)) / (sigma * math.sqrt(2.0 * math.pi))
    dg = -u * g / sigma ** 2
    hx = np.outer(g, dg)  # rows: Gaussian, columns: its derivative (hx(i, j) = gauss(u_i) * dgauss(u_j))
    return hx / math.sqrt((hx ** 2).sum())


def gauss_gradient(image, sigma: float = 1.4) -> tuple[np.ndarray, np.ndarray]:
    """``gaussgradient.m``: x and y gradients by a first-derivative-of-Gaussian filter, borders replicated.

    The kernel is ``(2 h + 1) x (2 h + 1)`` with ``h = ceil(sigma sqrt(-2 log(sqrt(2 pi) sigma 0.01)))`` (9 x 9 for
    sigma 1.4), ``hx[i, j] = g(i) g'(j)`` scaled to unit Frobenius norm, ``hy = hx^T``, applied as a convolution
    with replicated borders (``imfilter(IM, hx, 'replicate', 'conv')``).

    Args:
        image: ``[H, W]`` array.
        sigma: the Gaussian's standard deviation (the matting evaluation uses 1.4).

    Returns:
        ``(gx, gy)``, float64 ``[H, W]`` each; a ramp ``image[:, j] = j`` gives ``gx > 0`` inside the image.

    Example:
        >>> gx, gy = gauss_gradient(np.tile(np.arange(12.0), (12, 1)))
        >>> bool(gx[6, 6] > 0), bool(abs(gy).max() < 1e-12)
        (True, True)
    """
    im = np.asarray(image, dtype=np.float64)
    hx = _gauss_kernel(sigma)
    return ndimage.convolve(im, hx, mode="nearest"), ndimage.convolve(im, hx.T, mode="nearest")


def gradient_error(pred, alpha, trimap, *, sigma: float = 1.4) -> float:
    """Gradient error over the unknown region, divided by 1000 (``compute_gradient_loss.m`` / 1000).

    Both mattes are first stretched to [0, 1] (``mat2gray``), so the error does not depend on their scale.

    Args:
        pred, alpha, trimap: as :func:`sad_error`.
        sigma: of :func:`gauss_gradient` (1.4 in the evaluation code).

    Example:
        >>> step = np.zeros((8, 8)); step[:, 4:] = 1.0; tri = np.full((8, 8), 128, np.uint8)
        >>> gradient_error(step, step, tri), gradient_error(0.25 + 0.5 * step, step, tri)  # mat2gray: equal
        (0.0, 0.0)
    """
    return _grad(*_check(pred, alpha, trimap), sigma)


def _grad(p: np.ndarray, a: np.ndarray, unknown: np.ndarray, sigma: float = 1.4) -> float:
    amps = []
    for m in (p, a):
        gx, gy = gauss_gradient(_mat2gray(m), sigma)
        amps.append(np.sqrt(gx ** 2 + gy ** 2))
    return float(((amps[0] - amps[1]) ** 2)[unknown].sum() / 1000.0)


def _largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 4-connected component (``bwconncomp(mask, 4)``, ``max``): ties to the first in column-major order."""
    # labelling the transpose numbers components in column-major order of the original, as bwconncomp does
    labels, n = ndimage.label(mask.T)
    if n == 0:
        return np.zeros_like(mask, dtype=bool)
    sizes = np.bincount(labels.ravel())[1:]
    return (labels == 1 + int(np.argmax(sizes))).T


def connectivity_error(pred, alpha, trimap, *, step: float = 0.1) -> float:
    """Connectivity error over the unknown region, divided by 1000 (``compute_connectivity_error.m`` / 1000).

    Args:
        pred, alpha, trimap: as :func:`sad_error`.
        step: spacing of the thresholds ``step, 2 step, ..., <= 1`` (0.1 in the evaluation code).

    Example:
        >>> pred = np.array([[1.0, 0.65]]); alpha = np.array([[1.0, 1.0]]); tri = np.full((1, 2), 128, np.uint8)
        >>> round(connectivity_error(pred, alpha, tri), 10)  # right pixel: l = 0.6, phi 1 vs 1 - 0.4
        0.0004
    """
    if not 0 < step <= 1:
        raise ValueError(f"step must lie in (0, 1], got {step}")
    return _conn(*_check(pred, alpha, trimap), step)


def _conn(p: np.ndarray, a: np.ndarray, unknown: np.ndarray, step: float = 0.1) -> float:
    n = int(math.floor(1.0 / step + 1e-9))
    level = np.full(p.shape, -1.0)
    for k in range(1, n + 1):
        t = k * step
        omega = _largest_component((p >= t - _TIE) & (a >= t - _TIE))
        level[(level == -1) & ~omega] = (k - 1) * step
    level[level == -1] = 1.0
    dp, da = p - level, a - level
    phi_p = 1.0 - dp * (dp >= 0.15)
    phi_a = 1.0 - da * (da >= 0.15)
    return float(np.abs(phi_p - phi_a)[unknown].sum() / 1000.0)


def matting_errors(pred, alpha, trimap) -> dict[str, float]:
    """All four errors of one image, in the papers' table units: ``{"sad", "mse", "grad", "conn"}``.

    Args:
        pred, alpha, trimap: as :func:`sad_error`.

    Example:
        >>> a = np.linspace(0, 1, 64).reshape(8, 8); tri = np.full((8, 8), 128, np.uint8)
        >>> matting_errors(a, a, tri)
        {'sad': 0.0, 'mse': 0.0, 'grad': 0.0, 'conn': 0.0}
    """
    checked = _check(pred, alpha, trimap)
    return {"sad": _sad(*checked), "mse": _mse(*checked), "grad": _grad(*checked), "conn": _conn(*checked)}


def whole_image_errors(pred, alpha) -> dict[str, float]:
    """Mean squared and mean absolute error over every pixel, no trimap: ``{"mse_image", "mad_image"}``.

    The protocol of trimap-free portrait matting benchmarks (MODNet's PPM-100 reports MSE and MAD this way); not
    comparable with the trimap-region errors of :func:`matting_errors`.

    Args:
        pred, alpha: ``[H, W]``, floats in [0, 1] or integers 0..255, one size.

    Example:
        >>> whole_image_errors(np.array([[0.5, 1.0]]), np.array([[0.0, 1.0]]))
        {'mse_image': 0.125, 'mad_image': 0.25}
    """
    p, a = _as_alpha(pred, "prediction"), _as_alpha(alpha, "alpha")
    if p.shape != a.shape:
        raise ValueError(f"prediction {p.shape} and alpha {a.shape} must have one size; mattes are never resized")
    diff = p.astype(np.float64) - a
    return {"mse_image": float(np.mean(diff ** 2)), "mad_image": float(np.mean(np.abs(diff)))}


class MattingMeter:
    """Per-image matting errors over a dataset and their means (the papers average the per-image numbers).

    ``update`` takes one image (``[H, W]``, ``[1, H, W]``) or a batch (``[N, 1, H, W]``) of predictions, alphas and
    trimaps (NumPy arrays or torch tensors; trimaps 0/128/255 or 0/0.5/1). ``per_image`` keeps each image's
    ``{"name", "sad", "mse", "grad", "conn", "mse_image", "mad_image"}``; ``compute()`` returns the mean of each
    error (MSE over the images that have unknown pixels) and ``images``. ``mse_image`` and ``mad_image`` are the
    mean squared and mean absolute error over *all* pixels of the image, no trimap: the protocol of trimap-free
    portrait benchmarks such as MODNet's PPM-100 (:func:`whole_image_errors`).

    Example:
        >>> m = MattingMeter(); tri = np.full((4, 4), 128, np.uint8)
        >>> m.update(np.ones((4, 4)), np.zeros((4, 4)), tri, name="a")
        >>> m.update(np.zeros((4, 4)), np.zeros((4, 4)), tri)
        >>> r = m.compute(); r["sad"], r["mse"], r["images"], m.per_image[1]["name"]
        (0.008, 0.5, 2, '1')
    """

    KEYS = ("sad", "mse", "grad", "conn", "mse_image", "mad_image")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.per_image: list[dict] = []

    def update(self, pred, alpha, trimap, name: str | Iterable[str] | None = None) -> None:
        """Add one image or a batch ``[N, 1, H, W]``; ``name`` (one, or one per image) defaults to a running number."""
        p, a, t = (np.asarray(x.detach().cpu().numpy()) if hasattr(x, "detach") else np.asarray(x)
                   for x in (pred, alpha, trimap))
        if p.ndim == 4:
            if name is None or isinstance(name, str):
                start = len(self.per_image)
                names = [f"{name}[{i}]" if name is not None else str(start + i) for i in range(len(p))]
            else:
                names = [str(n) for n in name]
            if not len(names) == len(p) == len(a) == len(t):
                raise ValueError(f"batch sizes differ: pred {len(p)}, alpha {len(a)}, trimap {len(t)}, "
                                 f"names {len(names)}")
            for i in range(len(p)):
                self.update(p[i], a[i], t[i], names[i])
            return
        row = {"name": str(name) if name is not None else str(len(self.per_image))}
        row.update(matting_errors(p, a, t))
        row.update(whole_image_errors(p, a))
        self.per_image.append(row)

    def compute(self) -> dict[str, float]:
        """Mean of each error over the images (NaN before any update), and ``images``."""
        out: dict[str, float] = {}
        for key in self.KEYS:
            values = [r[key] for r in self.per_image if not math.isnan(r[key])]
            out[key] = float(np.mean(values)) if values else math.nan
        out["images"] = len(self.per_image)
        return out
