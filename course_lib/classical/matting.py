"""Closed-form matting (Levin, Lischinski, Weiss, TPAMI 2008): the matting Laplacian, alpha, and F/B for compositing.

Introduced in Chapter 2 (image matting): the non-learned method the matting networks are compared with, and the key
idea of the chapter written small. Paper: "A Closed-Form Solution to Natural Image Matting",
https://doi.org/10.1109/TPAMI.2007.1177.

In a small window ``w`` (3 x 3) the colours of a soft edge lie on a line, so alpha is an affine function of the
colour there: ``alpha_i = a^T I_i + b``. Eliminating ``a`` and ``b`` leaves a quadratic cost ``alpha^T L alpha`` with
the **matting Laplacian**

    L_ij = sum over windows k containing i and j of
           delta_ij - (1 + (I_i - mu_k)^T (Sigma_k + eps / |w| I_3)^-1 (I_j - mu_k)) / |w|

(``mu_k``, ``Sigma_k``: mean and covariance of the window's colours, ``|w| = 9``). The trimap adds constraints:

* soft, as Levin's code (``lam`` = 100): ``(L + lam D) alpha = lam D t``, ``D`` = 1 on known pixels, ``t`` = 1 on
  foreground;
* hard (``lam=math.inf``), as ``pymatting.estimate_alpha_cf``: the known values are fixed and only the unknown ones
  solve ``L_UU alpha_U = -L_UK alpha_K``.

:func:`estimate_foreground` then recovers F and B for re-compositing as the paper does (its reconstruction of F and
B): a sparse least-squares with the compositing equation as data term and a smoothness term weighted by how much
alpha changes between neighbours.

Everything is ``scipy.sparse`` and SuperLU (``scipy.sparse.linalg``); a 320 x 320 image takes a few seconds on two
CPU cores. The Laplacian holds 81 entries per window while it is assembled (about 2 GB per megapixel): scale large
photographs down first.

Example:
    >>> rng = np.random.default_rng(0)
    >>> L = matting_laplacian(rng.random((5, 6, 3)))
    >>> L.shape, bool(abs(L @ np.ones(30)).max() < 1e-8)   # rows sum to zero: a constant alpha costs nothing
    ((30, 30), True)
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage

from ..io.matting import check_trimap

__all__ = ["closed_form_matting", "estimate_foreground", "matting_laplacian"]

_ORDERING = "MMD_AT_PLUS_A"  # SuperLU's fill-reducing ordering for symmetric matrices (faster here than COLAMD)


def _image(image) -> np.ndarray:
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"image must be [H, W, 3] (RGB), got shape {a.shape}")
    if np.issubdtype(a.dtype, np.integer):
        return a.astype(np.float64) / 255.0
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ValueError("image holds NaN or infinite values")
    return a


def matting_laplacian(image, *, radius: int = 1, eps: float = 1e-7, mask=None) -> scipy.sparse.csr_matrix:
    """The matting Laplacian of Levin et al. (TPAMI 2008, Eq. 12), built window by window with ``scipy.sparse``.

    Args:
        image: ``[H, W, 3]`` floats in [0, 1] (or uint8).
        radius: window radius (1: the paper's 3 x 3 windows).
        eps: the regulariser of the colour covariance (``eps / |w|`` is added to its diagonal).
        mask: optional bool ``[H, W]``: only the windows centred on ``True`` pixels are summed (Levin's code and
            pymatting skip the windows that hold known pixels only). Default: every window inside the image.

    Returns:
        symmetric ``[H W, H W]`` CSR matrix (pixels in row-major order); its rows sum to zero.

    Example:
        >>> L = matting_laplacian(np.zeros((3, 3, 3)))  # one window of one colour: L = I - 1/9
        >>> round(float(L[0, 0]), 6), round(float(L[0, 8]), 6)
        (0.888889, -0.111111)
    """
    img = _image(image)
    h, w, _ = img.shape
    size = 2 * radius + 1
    n = size * size
    if h < size or w < size:
        raise ValueError(f"image {h}x{w} is smaller than one {size}x{size} window")
    index = np.arange(h * w, dtype=np.int32 if h * w < 2 ** 31 else np.int64).reshape(h, w)
    windows = sliding_window_view(index, (size, size)).reshape(-1, n)  # [K, n] pixel ids, one row per window
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (h, w):
            raise ValueError(f"mask {mask.shape} does not match the image {(h, w)}")
        windows = windows[mask[radius:h - radius, radius:w - radius].reshape(-1)]
    colours = img.reshape(-1, 3)[windows]  # [K, n, 3]
    mu = colours.mean(axis=1, keepdims=True)
    centred = colours - mu
    cov = np.einsum("kic,kid->kcd", centred, centred) / n + (eps / n) * np.eye(3)
    inv = np.linalg.inv(cov)
    values = (np.eye(n) - (1.0 + np.einsum("kic,kcd,kjd->kij", centred, inv, centred)) / n).reshape(-1)
    rows = np.repeat(windows, n, axis=1).reshape(-1)
    cols = np.tile(windows, (1, n)).reshape(-1)
    return scipy.sparse.coo_matrix((values, (rows, cols)), shape=(h * w, h * w)).tocsr()  # duplicates summed


def closed_form_matting(image, trimap, *, lam: float = 100.0, eps: float = 1e-7, radius: int = 1) -> np.ndarray:
    """Alpha by closed-form matting: minimise ``alpha^T L alpha`` under the trimap's constraints.

    Args:
        image: ``[H, W, 3]`` floats in [0, 1] (or uint8).
        trimap: ``[H, W]`` holding 0 / 128 / 255 (a dataset's float trimap ``t`` in {0, 0.5, 1}: pass
            :func:`course_lib.metrics.matting.trimap_codes` of it).
        lam: weight of the soft constraints on known pixels (Levin's code: 100); ``math.inf`` fixes them instead
            (hard constraints, as ``pymatting.estimate_alpha_cf``).
        eps: covariance regulariser of :func:`matting_laplacian`.
        radius: window radius.

    Returns:
        alpha ``float32 [H, W]`` clipped to [0, 1].

    Example:
        >>> img = np.zeros((6, 8, 3)); img[:, 4:] = 1.0                       # black | white
        >>> tri = np.full((6, 8), 128, np.uint8); tri[:, 0] = 0; tri[:, -1] = 255
        >>> a = closed_form_matting(img, tri, lam=math.inf)
        >>> bool(a[:, :4].max() < 1e-3), bool(a[:, 4:].min() > 0.999)      # alpha follows the colour line
        (True, True)
    """
    img = _image(image)
    codes = np.asarray(trimap)
    if codes.ndim != 2:
        raise ValueError(f"trimap must be [H, W], got shape {codes.shape}")
    check_trimap(codes, "trimap")
    if codes.shape != img.shape[:2]:
        raise ValueError(f"trimap {codes.shape} and image {img.shape[:2]} differ in size")
    if not lam > 0:
        raise ValueError(f"lam must be positive (math.inf for hard constraints), got {lam}")
    unknown = codes == 128
    known_value = (codes == 255).astype(np.float64).reshape(-1)
    if not unknown.any():
        return known_value.reshape(codes.shape).astype(np.float32)
    size = 2 * radius + 1
    touching = ndimage.binary_dilation(unknown, structure=np.ones((size, size), bool))  # windows with an unknown
    L = matting_laplacian(img, radius=radius, eps=eps, mask=touching)
    u = unknown.reshape(-1)
    if math.isinf(lam):
        L_u = L[u][:, u]
        rhs = -(L[u][:, ~u] @ known_value[~u])
        alpha = known_value.copy()
        alpha[u] = scipy.sparse.linalg.spsolve(L_u.tocsc(), rhs, permc_spec=_ORDERING)
    else:
        d = lam * (~u).astype(np.float64)
        alpha = scipy.sparse.linalg.spsolve((L + scipy.sparse.diags(d)).tocsc(), d * known_value, permc_spec=_ORDERING)
    return np.clip(alpha, 0.0, 1.0).reshape(codes.shape).astype(np.float32)


def _neighbour_pairs(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    index = np.arange(h * w).reshape(h, w)
    first = np.concatenate([index[:, :-1].ravel(), index[:-1, :].ravel()])
    second = np.concatenate([index[:, 1:].ravel(), index[1:, :].ravel()])
    return first, second


def estimate_foreground(image, alpha, *, regularization: float = 1e-5, gradient_weight: float = 1.0
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Foreground and background colours for re-compositing, given alpha (Levin et al., TPAMI 2008, Sec. 7).

    Minimises, per colour channel,

        sum_i (alpha_i F_i + (1 - alpha_i) B_i - I_i)^2
        + sum over 4-neighbours (i, j) of (regularization + gradient_weight |alpha_i - alpha_j|)
                                          ((F_i - F_j)^2 + (B_i - B_j)^2)

    a sparse linear system in ``F`` and ``B`` (``2 H W`` unknowns) solved with one sparse LU factorisation for the
    three channels. The smoothness follows alpha's edges as in the paper; the small ``regularization`` (as pymatting's
    ``estimate_foreground_cf``) fills in F where alpha is 0 and B where it is 1, which the data term leaves free.
    pymatting counts each neighbour pair twice (both directions): ``regularization=2e-5, gradient_weight=2`` gives
    its system.

    Args:
        image: ``[H, W, 3]`` floats in [0, 1] (or uint8).
        alpha: ``[H, W]`` in [0, 1].
        regularization: smoothness weight everywhere (> 0).
        gradient_weight: extra smoothness per unit of alpha change between the two neighbours.

    Returns:
        ``(fg, bg)``, float32 ``[H, W, 3]`` each, clipped to [0, 1]; ``alpha fg + (1 - alpha) bg`` re-composes the
        image, ``alpha fg + (1 - alpha) new_bg`` puts the object on a new background.

    Example:
        >>> img = np.full((4, 4, 3), 0.5); a = np.full((4, 4), 0.5)
        >>> fg, bg = estimate_foreground(img, a)
        >>> bool(np.allclose(0.5 * fg + 0.5 * bg, img, atol=1e-4))
        True
    """
    img = _image(image)
    a = np.asarray(alpha, dtype=np.float64)
    h, w, _ = img.shape
    if a.shape != (h, w):
        raise ValueError(f"alpha {a.shape} and image {(h, w)} differ in size")
    if not (np.isfinite(a).all() and a.min() >= 0 and a.max() <= 1):
        raise ValueError("alpha must hold finite values in [0, 1]")
    if not regularization > 0:
        raise ValueError(f"regularization must be positive, got {regularization}")
    n = h * w
    av = a.reshape(-1)
    i, j = _neighbour_pairs(h, w)
    weight = regularization + gradient_weight * np.abs(av[i] - av[j])
    # weighted graph Laplacian of the 4-neighbour grid: sum w_ij (x_i - x_j)^2 = x^T S x
    S = scipy.sparse.coo_matrix((np.concatenate([-weight, -weight]), (np.concatenate([i, j]), np.concatenate([j, i]))),
                                shape=(n, n)).tocsr()
    S = S - scipy.sparse.diags(np.asarray(S.sum(axis=1)).ravel())
    # unknowns per pixel (F_i, B_i), interleaved: the data term is a 2 x 2 block per pixel, the smoothness S (x) I_2;
    # this keeps the sparse LU's fill-in small
    pixel = np.repeat(2 * np.arange(n), 4)
    data = scipy.sparse.coo_matrix((np.stack([av * av, av * (1 - av), av * (1 - av), (1 - av) ** 2], 1).ravel(),
                                    (pixel + np.tile([0, 0, 1, 1], n), pixel + np.tile([0, 1, 0, 1], n))),
                                   shape=(2 * n, 2 * n))
    A = (data + scipy.sparse.kron(S, scipy.sparse.identity(2))).tocsc()
    solve = scipy.sparse.linalg.splu(A).solve
    rhs = np.stack([av[:, None] * img.reshape(n, 3), (1 - av)[:, None] * img.reshape(n, 3)], 1).reshape(2 * n, 3)
    fb = np.column_stack([solve(np.ascontiguousarray(rhs[:, c])) for c in range(3)]).reshape(n, 2, 3)
    fg = np.clip(fb[:, 0], 0.0, 1.0).reshape(h, w, 3).astype(np.float32)
    bg = np.clip(fb[:, 1], 0.0, 1.0).reshape(h, w, 3).astype(np.float32)
    return fg, bg
