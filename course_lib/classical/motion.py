"""Motion detection from optical flow: compensate the camera's own motion, threshold what is left.

Introduced in Chapter 10 (driving). The flow of a driving scene mixes two motions: the car's (ego-motion), which
moves every static pixel, and the objects' own. Fit the camera's motion to the flow of the static background with
RANSAC (most pixels are background, so the objects are outliers), subtract what it explains, and threshold the
**residual** into a moving-object mask (the idea of flow-based motion segmentation; see e.g. arXiv 2203.11693).

Camera models (OpenCV does the fitting):

* ``"homography"`` (``cv2.findHomography``): exact for a rotating camera or a planar scene; a driving car
  translates past a 3D scene, so the parallax of near objects shows up in the residual;
* ``"essential"`` (``cv2.findEssentialMat`` with the camera matrix ``K``, e.g. KITTI's ``P_rect_02``): any rigid
  camera motion; a static point must then lie on its epipolar line, and the residual is its **Sampson distance**
  (a first-order distance to the epipolar line, in pixels). Objects moving along their epipolar lines (a car
  driving straight ahead of us) are invisible to this test, a known blind spot;
* ``"affine"``: Chapter 9's :func:`course_lib.classical.optical_flow.camera_motion_residual`.

Example:
    >>> yy, xx = np.mgrid[0:48, 0:64].astype(np.float32)
    >>> flow = np.stack([0.04 * (xx - 32), 0.04 * (yy - 24)], -1)  # the camera moves forward: a zoom
    >>> flow[10:20, 10:20, 0] += 5.0  # an object moving right
    >>> mask = moving_mask(ego_motion_residual(flow, model="homography"), threshold=1.5)
    >>> bool(mask[12:18, 12:18].all()), int(mask.sum())
    (True, 100)
"""

from __future__ import annotations

import numpy as np

from .optical_flow import camera_motion_residual

__all__ = ["CAMERA_MODELS", "ego_motion_residual", "fit_ego_motion", "moving_mask", "sampson_distance"]

CAMERA_MODELS = ("homography", "essential", "affine")


def _grid(flow: np.ndarray, step: int, valid: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0 : flow.shape[0] : step, 0 : flow.shape[1] : step]
    ys, xs = ys.ravel(), xs.ravel()
    if valid is not None:
        keep = valid[ys, xs]
        ys, xs = ys[keep], xs[keep]
    if ys.size < 8:
        raise ValueError(f"only {ys.size} flow vectors to fit the camera motion to (need 8); lower step")
    src = np.stack([xs, ys], 1).astype(np.float64)
    return src, src + flow[ys, xs].astype(np.float64)


def fit_ego_motion(flow, *, model: str = "homography", K=None, step: int = 8, threshold: float = 1.0,
                   valid=None) -> np.ndarray:
    """Fit the camera's motion to ``flow`` with RANSAC: a homography ``H`` or a fundamental matrix ``F = K^-T E
    K^-1`` (``3x3``, float64), such that static pixels satisfy ``x2 ~ H x1`` or ``x2^T F x1 = 0``.

    Args:
        flow: ``float [H, W, 2]`` from frame 1 to frame 2, in pixels.
        model: ``"homography"`` or ``"essential"`` (needs ``K``).
        K: the ``3x3`` camera matrix (KITTI: the left 3x3 of ``P_rect_02``).
        step: the grid spacing of the vectors used, in pixels.
        threshold: RANSAC's inlier distance, in pixels.
        valid: ``bool [H, W]``: the pixels whose flow may be used (e.g. KITTI's valid ground truth); ``None``: all.

    Raises:
        ValueError: an unknown model, ``essential`` without ``K``, too few vectors, or a fit that failed.
    """
    flow = np.asarray(flow, np.float32)
    src, dst = _grid(flow, step, None if valid is None else np.asarray(valid, bool))
    import cv2

    if model == "homography":
        H, _ = cv2.findHomography(src, dst, cv2.RANSAC, threshold)
        if H is None:
            raise ValueError("the homography fit failed (degenerate flow?)")
        return H
    if model == "essential":
        if K is None:
            raise ValueError("the essential-matrix model needs the camera matrix K (KITTI: P_rect_02[:, :3])")
        K = np.asarray(K, np.float64)
        E, _ = cv2.findEssentialMat(src, dst, K, cv2.RANSAC, 0.999, threshold)
        if E is None or E.shape != (3, 3):  # several solutions come stacked; none: the fit failed
            if E is None:
                raise ValueError("the essential-matrix fit failed (no translation, or degenerate flow?)")
            E = E[:3]
        K_inv = np.linalg.inv(K)
        return K_inv.T @ E @ K_inv
    raise ValueError(f"unknown camera model {model!r}; choose 'homography' or 'essential' (or 'affine' in "
                     "ego_motion_residual)")


def sampson_distance(F: np.ndarray, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    """Sampson's first-order distance of matches ``x1 -> x2`` (``[..., 2]`` pixels) to the epipolar geometry ``F``.

    Example:
        >>> F = np.array([[0, 0, 0], [0, 0, -1], [0, 1, 0]], float)  # a camera moving sideways: y2 = y1
        >>> sampson_distance(F, np.array([[5.0, 3.0]]), np.array([[9.0, 4.0]])).round(3).tolist()
        [0.707]
    """
    ones = np.ones((*x1.shape[:-1], 1))
    p1, p2 = np.concatenate([x1, ones], -1), np.concatenate([x2, ones], -1)
    Fx1, Ftx2 = p1 @ F.T, p2 @ F
    num = np.einsum("...i,...i->...", p2, Fx1)
    den = Fx1[..., 0] ** 2 + Fx1[..., 1] ** 2 + Ftx2[..., 0] ** 2 + Ftx2[..., 1] ** 2
    return np.abs(num) / np.sqrt(np.maximum(den, 1e-12))


def ego_motion_residual(flow, *, model: str = "homography", K=None, step: int = 8, threshold: float = 1.0,
                        valid=None) -> np.ndarray:
    """How far each pixel's flow is from what the camera's motion explains, ``float32 [H, W]`` in pixels.

    ``homography``: ``|x + flow(x) - H x|``; ``essential``: the Sampson distance of ``x -> x + flow(x)`` to the
    fitted epipolar geometry; ``affine``: :func:`course_lib.classical.optical_flow.camera_motion_residual`.
    Arguments: as :func:`fit_ego_motion`.
    """
    flow = np.asarray(flow, np.float32)
    if model == "affine":
        return camera_motion_residual(flow, step=step, threshold=threshold)
    M = fit_ego_motion(flow, model=model, K=K, step=step, threshold=threshold, valid=valid)
    yy, xx = np.mgrid[0 : flow.shape[0], 0 : flow.shape[1]].astype(np.float64)
    x1 = np.stack([xx, yy], -1)
    x2 = x1 + flow
    if model == "essential":
        return sampson_distance(M, x1, x2).astype(np.float32)
    mapped = np.concatenate([x1, np.ones_like(xx)[..., None]], -1) @ M.T
    mapped = mapped[..., :2] / np.where(np.abs(mapped[..., 2:]) < 1e-12, 1e-12, mapped[..., 2:])
    return np.linalg.norm(x2 - mapped, axis=-1).astype(np.float32)


def moving_mask(residual, *, threshold: float = 2.0, min_area: int = 0, open_radius: int = 0) -> np.ndarray:
    """Threshold a residual into a moving-object mask, ``bool [H, W]``.

    Args:
        residual: ``[H, W]`` from :func:`ego_motion_residual`.
        threshold: pixels with a larger residual move (in pixels; KITTI's flow outlier test uses 3 px).
        min_area: drop connected regions smaller than this (noise); 0 keeps all.
        open_radius: a morphological opening with a disc of this radius first (0: none).
    """
    import cv2

    mask = (np.asarray(residual) > threshold).astype(np.uint8)
    if open_radius > 0:
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * open_radius + 1, 2 * open_radius + 1))
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, disc)
    if min_area > 0:
        n, comp, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        small = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] < min_area)
        mask[np.isin(comp, small[small > 0])] = 0
    return mask.astype(bool)
