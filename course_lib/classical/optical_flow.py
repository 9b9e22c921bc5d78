"""Classical optical flow: the key ideas on tiny inputs, Lucas-Kanade tracking, Farnebäck, and the baselines.

Introduced in Chapter 9 (optical flow); Chapter 8 (mask propagation) and Chapter 10 (motion detection) reuse it.
Flow conventions: see :mod:`course_lib.models.flow_ops` (NumPy ``[H, W, 2]``, torch ``[B, 2, H, W]``, pixels).

* :func:`lucas_kanade_window`, :func:`row_correlation`: the key ideas, small (the aperture problem, a cost volume
  between two rows of pixels);
* :func:`lucas_kanade_tracks`, :func:`farneback_flow`: sparse and dense classical flow with OpenCV
  (draw the tracks with :func:`course_lib.viz.draw_tracks`);
* :class:`ZeroFlow`, :class:`FarnebackFlow`: the baselines as modules with a network's interface, so that the flow
  recipes evaluate them like the learned models;
* :func:`camera_motion_residual`: the flow the camera's (affine) motion does not explain, for motion detection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

__all__ = [
    "FarnebackFlow",
    "LKWindow",
    "Tracks",
    "ZeroFlow",
    "camera_motion_residual",
    "farneback_flow",
    "lucas_kanade_tracks",
    "lucas_kanade_window",
    "row_correlation",
    "to_gray_uint8",
]


# ----------------------------------------------------------------------------------------------- key ideas, small
@dataclass
class LKWindow:
    """The Lucas-Kanade solution in one window.

    Attributes:
        flow: ``(u, v)`` solving the 2x2 normal equations (least-norm solution when they are singular).
        eigenvalues: of the structure tensor ``A = sum [Ix^2, IxIy; IxIy, Iy^2]``, ascending. A small first
            eigenvalue means the window sees one edge direction only: the aperture problem.
        structure_tensor: ``A`` (2x2).
    """

    flow: np.ndarray
    eigenvalues: np.ndarray
    structure_tensor: np.ndarray


def lucas_kanade_window(image1, image2, center: tuple[int, int], radius: int = 3) -> LKWindow:
    """Solve brightness constancy ``Ix u + Iy v + It = 0`` by least squares in one square window.

    Gradients are central differences of ``image1``; ``It = image2 - image1``. Good for small motions (about a
    pixel) on smooth images; the pyramidal version in :func:`lucas_kanade_tracks` handles larger ones.

    Args:
        image1, image2: 2-D float arrays (grayscale frames).
        center: ``(x, y)`` of the window's centre.
        radius: the window spans ``2 * radius + 1`` pixels each way.

    Example:
        >>> yy, xx = np.mgrid[0:32, 0:32].astype(float)
        >>> blob = lambda x0: np.exp(-((xx - x0) ** 2 + (yy - 16) ** 2) / 20)
        >>> np.round(lucas_kanade_window(blob(15), blob(15.5), (15, 16), radius=4).flow, 1).tolist()
        [0.5, 0.0]
    """
    i1, i2 = np.asarray(image1, np.float64), np.asarray(image2, np.float64)
    if i1.ndim != 2 or i1.shape != i2.shape:
        raise ValueError(f"lucas_kanade_window expects two grayscale images of one size, got {i1.shape}, {i2.shape}")
    x, y = center
    if not (radius <= x < i1.shape[1] - radius and radius <= y < i1.shape[0] - radius):
        raise ValueError(f"window of radius {radius} at (x={x}, y={y}) does not fit in a "
                         f"{i1.shape[1]}x{i1.shape[0]} image")
    iy, ix = np.gradient(i1)
    it = i2 - i1
    win = np.s_[y - radius : y + radius + 1, x - radius : x + radius + 1]
    gx, gy, gt = ix[win].ravel(), iy[win].ravel(), it[win].ravel()
    a = np.array([[gx @ gx, gx @ gy], [gx @ gy, gy @ gy]])
    b = -np.array([gx @ gt, gy @ gt])
    flow = np.linalg.pinv(a, rcond=1e-9) @ b
    return LKWindow(flow=flow, eigenvalues=np.linalg.eigvalsh(a), structure_tensor=a)


def row_correlation(row1, row2, patch_radius: int = 1) -> np.ndarray:
    """The all-pairs correlation volume of two rows of pixels: ``C[i, j] = <f1_i, f2_j>``.

    Row ``i`` of the result says how well pixel ``i`` of frame 1 matches every pixel ``j`` of frame 2; its arg-max
    is the best match, so ``argmax_j C[i, j] - i`` is the horizontal flow. RAFT builds this volume for all pairs of
    pixels of two learned feature maps (4-D); FlowNetC keeps only ``|i - j| <= d``.

    A single intensity is a poor feature (any bright pixel "matches" any other), so 1-D rows of intensities are
    turned into features first: each pixel's feature is its patch of ``2 * patch_radius + 1`` neighbours, minus the
    patch mean, scaled to unit length. The correlation of two such features is their normalised cross-correlation,
    in ``[-1, 1]``.

    Args:
        row1, row2: ``[W]`` intensities, or ``[W, C]`` feature vectors (used as given).
        patch_radius: the patch half-width for 1-D rows.

    Returns:
        ``float [W1, W2]``.

    Example:
        >>> a = np.array([0, 1, 5, 2, 0, 3, 1, 0], float); b = np.roll(a, 2)
        >>> (row_correlation(a, b).argmax(axis=1) - np.arange(8))[1:5].tolist()
        [2, 2, 2, 2]
    """

    def features(row) -> np.ndarray:
        row = np.asarray(row, np.float64)
        if row.ndim == 2:
            return row
        if row.ndim != 1:
            raise ValueError(f"a row must be [W] or [W, C], got shape {row.shape}")
        padded = np.pad(row, patch_radius, mode="edge")
        patches = np.stack([padded[k : k + len(row)] for k in range(2 * patch_radius + 1)], axis=1)
        patches = patches - patches.mean(axis=1, keepdims=True)
        return patches / (np.linalg.norm(patches, axis=1, keepdims=True) + 1e-8)

    f1, f2 = features(row1), features(row2)
    if f1.shape[1] != f2.shape[1]:
        raise ValueError(f"rows must have the same number of features, got {f1.shape} and {f2.shape}")
    return f1 @ f2.T


# ----------------------------------------------------------------------------------------------- classical methods
def to_gray_uint8(image) -> np.ndarray:
    """A frame as the ``uint8 [H, W]`` grayscale picture OpenCV's flow functions want.

    Args:
        image: ``uint8`` ``[H, W]`` or ``[H, W, 3]`` (RGB), a float array in ``[0, 1]``, or a torch tensor
            ``[3, H, W]`` / ``[1, H, W]`` in ``[0, 1]``.

    Example:
        >>> to_gray_uint8(np.full((2, 2, 3), 255, np.uint8)).tolist()
        [[255, 255], [255, 255]]
    """
    import cv2

    if isinstance(image, torch.Tensor):
        image = image.detach().float().cpu().numpy()
        image = image.transpose(1, 2, 0) if image.ndim == 3 else image
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        arr = np.clip(np.rint(arr.astype(np.float64) * 255), 0, 255).astype(np.uint8)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 3:
        arr = cv2.cvtColor(np.ascontiguousarray(arr), cv2.COLOR_RGB2GRAY)
    if arr.ndim != 2:
        raise ValueError(f"cannot make a grayscale frame from shape {np.asarray(image).shape}")
    return np.ascontiguousarray(arr)


def farneback_flow(image1, image2, *, pyr_scale: float = 0.5, levels: int = 5, winsize: int = 15,
                   iterations: int = 3, poly_n: int = 5, poly_sigma: float = 1.2, gaussian: bool = False) -> np.ndarray:
    """Dense flow by G. Farnebäck's polynomial expansion (SCIA 2003), through ``cv2.calcOpticalFlowFarneback``.

    Each neighbourhood is approximated by a quadratic polynomial; how the polynomial's coefficients change between
    the frames gives the displacement, refined coarse to fine over an image pyramid.

    Args:
        image1, image2: frames (anything :func:`to_gray_uint8` takes), same size.
        pyr_scale: scale between pyramid levels.
        levels: number of pyramid levels (more levels reach larger motions: 5 levels at scale 0.5 see motions of
            about 16 times the window; KITTI has motions of 100 px and more).
        winsize: averaging window; larger is smoother and more robust to noise.
        iterations: iterations per level.
        poly_n, poly_sigma: the neighbourhood of the polynomial fit (5 and 1.1-1.2, or 7 and 1.5).
        gaussian: Gaussian instead of box averaging window.

    Returns:
        ``float32 [H, W, 2]``.

    Example:
        >>> flow = farneback_flow(frame1, frame2)  # doctest: +SKIP
    """
    import cv2

    g1, g2 = to_gray_uint8(image1), to_gray_uint8(image2)
    if g1.shape != g2.shape:
        raise ValueError(f"frames differ in size: {g1.shape} and {g2.shape}")
    flags = cv2.OPTFLOW_FARNEBACK_GAUSSIAN if gaussian else 0
    flow = cv2.calcOpticalFlowFarneback(g1, g2, None, pyr_scale, levels, winsize, iterations, poly_n, poly_sigma,
                                        flags)
    return flow.astype(np.float32)


@dataclass
class Tracks:
    """Point tracks over a sequence.

    Attributes:
        points: ``float32 [T, N, 2]`` positions ``(x, y)`` in each frame; NaN once a track is lost.
        alive: ``bool [T, N]``, whether track ``n`` is still followed at frame ``t``.
    """

    points: np.ndarray
    alive: np.ndarray

    @property
    def displacement(self) -> np.ndarray:
        """``[N, 2]`` from the first frame to the last one where each track is alive."""
        last = np.array([np.flatnonzero(a)[-1] for a in self.alive.T])
        return self.points[last, np.arange(self.points.shape[1])] - self.points[0]


def lucas_kanade_tracks(frames: Sequence, max_corners: int = 100, quality: float = 0.01, min_distance: int = 7,
                        win_size: int = 15, max_level: int = 3, fb_threshold: float = 1.0) -> Tracks:
    """Track corners through a sequence with pyramidal Lucas-Kanade (J.-Y. Bouguet's implementation in OpenCV).

    Corners are picked in the first frame (``cv2.goodFeaturesToTrack``: Shi-Tomasi, both eigenvalues of the structure
    tensor large, so no aperture problem), then followed frame to frame (``cv2.calcOpticalFlowPyrLK``). A track is
    dropped when LK fails or when tracking back from the new frame misses the old position by more than
    ``fb_threshold`` pixels (forward-backward check).

    Args:
        frames: a sequence of frames (anything :func:`to_gray_uint8` takes).
        max_corners, quality, min_distance: corner detection.
        win_size: the LK window side.
        max_level: pyramid levels above the image (3 reaches motions of about ``win_size * 2**3 / 2`` px).
        fb_threshold: pixels.

    Returns:
        :class:`Tracks`.

    Example:
        >>> tracks = lucas_kanade_tracks(video_frames)  # doctest: +SKIP
        >>> tracks.points.shape  # doctest: +SKIP
        (8, 57, 2)
    """
    import cv2

    grays = [to_gray_uint8(f) for f in frames]
    if len(grays) < 2:
        raise ValueError("lucas_kanade_tracks needs at least two frames")
    corners = cv2.goodFeaturesToTrack(grays[0], maxCorners=max_corners, qualityLevel=quality,
                                      minDistance=min_distance)
    n = 0 if corners is None else len(corners)
    points = np.full((len(grays), n, 2), np.nan, np.float32)
    alive = np.zeros((len(grays), n), bool)
    if n == 0:
        return Tracks(points, alive)
    points[0], alive[0] = corners.reshape(-1, 2), True
    params = dict(winSize=(win_size, win_size), maxLevel=max_level,
                  criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01))
    for t in range(1, len(grays)):
        idx = np.flatnonzero(alive[t - 1])
        if idx.size == 0:
            break
        prev = points[t - 1, idx].reshape(-1, 1, 2)
        nxt, ok, _ = cv2.calcOpticalFlowPyrLK(grays[t - 1], grays[t], prev, None, **params)
        back, ok_back, _ = cv2.calcOpticalFlowPyrLK(grays[t], grays[t - 1], nxt, None, **params)
        error = np.linalg.norm((back - prev).reshape(-1, 2), axis=1)
        good = ok.ravel().astype(bool) & ok_back.ravel().astype(bool) & (error < fb_threshold)
        h, w = grays[t].shape
        xy = nxt.reshape(-1, 2)
        good &= (xy[:, 0] >= 0) & (xy[:, 0] <= w - 1) & (xy[:, 1] >= 0) & (xy[:, 1] <= h - 1)
        points[t, idx[good]] = xy[good]
        alive[t, idx[good]] = True
    return Tracks(points, alive)


# ----------------------------------------------------------------------------------------------- baselines as modules
class ZeroFlow(nn.Module):
    """The "no motion" baseline: predicts zero flow everywhere (its EPE is the mean true flow length).

    Example:
        >>> ZeroFlow()(torch.rand(2, 6, 5, 7)).shape
        torch.Size([2, 2, 5, 7])
    """

    size_multiple = 1

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images.new_zeros((images.shape[0], 2) + tuple(images.shape[-2:]))


class FarnebackFlow(nn.Module):
    """OpenCV's dense Farnebäck flow as a module: ``[B, 6, H, W]`` frames in ``[0, 1]`` -> ``[B, 2, H, W]``.

    Args:
        **params: keyword arguments of :func:`farneback_flow` (``levels``, ``winsize``, ...).
    """

    size_multiple = 1

    def __init__(self, **params) -> None:
        super().__init__()
        self.params = params

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        flows = [torch.from_numpy(farneback_flow(x[:3], x[3:], **self.params)).permute(2, 0, 1) for x in images]
        return torch.stack(flows).to(images.device)


# ----------------------------------------------------------------------------------------------- motion detection
def camera_motion_residual(flow, step: int = 4, threshold: float = 1.0) -> np.ndarray:
    """How far each pixel's flow is from the camera's motion, taken as the affine map most pixels agree on.

    The camera's motion is fitted by RANSAC (``cv2.estimateAffine2D``) to the flow vectors of a grid of pixels; the
    residual is large where something moves by itself (Chapter 10's motion detection).

    Args:
        flow: ``float [H, W, 2]``.
        step: the grid spacing of the fitted vectors, in pixels.
        threshold: RANSAC's inlier distance, in pixels.

    Returns:
        ``float32 [H, W]``: ``|flow(x) - (A x + b - x)|`` per pixel.

    Example:
        >>> yy, xx = np.mgrid[0:32, 0:40].astype(np.float32)
        >>> flow = np.stack([0.05 * xx + 1, np.zeros_like(yy)], -1); flow[5:9, 5:9] += 6  # zoom + a moving patch
        >>> residual = camera_motion_residual(flow)
        >>> bool(residual[20:, 20:].max() < 1e-3), bool(residual[6, 6] > 5)
        (True, True)
    """
    import cv2

    flow = np.asarray(flow, np.float32)
    ys, xs = np.mgrid[0 : flow.shape[0] : step, 0 : flow.shape[1] : step]
    src = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float32)
    affine, _ = cv2.estimateAffine2D(src, src + flow[ys.ravel(), xs.ravel()], method=cv2.RANSAC,
                                     ransacReprojThreshold=threshold)
    yy, xx = np.mgrid[0 : flow.shape[0], 0 : flow.shape[1]]
    points = np.stack([xx, yy, np.ones_like(xx)], -1).astype(np.float32)
    return np.linalg.norm(flow - (points @ affine.T - points[..., :2]), axis=-1)
