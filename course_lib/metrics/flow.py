"""Optical flow tools: colour coding, warping, the KITTI metrics, occlusion, and the classical methods.

Introduced in Chapter 9 (optical flow); Chapter 8 (mask propagation) and Chapter 10 (motion detection) reuse it.

Conventions: a flow field holds ``(u, v)``, the displacement in pixels of every pixel of frame 1 to its position in
frame 2 (``u`` to the right, ``v`` down). NumPy arrays are ``[H, W, 2]`` (as the files and OpenCV store them), torch
tensors ``[2, H, W]`` or ``[B, 2, H, W]`` (as the networks produce them).

What is here:

* :func:`flow_to_color`: the colour wheel of Baker et al. (hue = direction, saturation = magnitude), the same
  picture as ``torchvision.utils.flow_to_image``, optionally with a fixed scale so that several fields compare;
* :func:`warp`: backward warping, frame 2 sampled at ``x + flow(x)`` to look like frame 1;
* :func:`endpoint_error`, :func:`flow_outliers`, :class:`FlowMetrics`: end-point error and the KITTI 2015 Fl
  score exactly as the benchmark's development kit defines them (a pixel is an outlier when its end-point error is
  above 3 px **and** above 5 % of the true flow's length), accumulated over a dataset;
* :func:`forward_backward_occlusion`: occlusion from the disagreement of the forward and backward flow;
* :func:`lucas_kanade_window`, :func:`row_correlation`: the key ideas on tiny inputs (the aperture problem, a cost
  volume between two rows of pixels);
* :func:`lucas_kanade_tracks`, :func:`draw_tracks`, :func:`farneback_flow`: sparse and dense classical flow with
  OpenCV.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "FlowMetrics",
    "LKWindow",
    "Tracks",
    "color_wheel",
    "color_wheel_legend",
    "draw_tracks",
    "endpoint_error",
    "farneback_flow",
    "flow_metrics",
    "flow_outliers",
    "flow_to_color",
    "forward_backward_occlusion",
    "lucas_kanade_tracks",
    "lucas_kanade_window",
    "pad_to_multiple",
    "row_correlation",
    "to_gray_uint8",
    "unpad",
    "warp",
]


# ----------------------------------------------------------------------------------------------- colour coding
def color_wheel() -> np.ndarray:
    """The 55 colours of the Middlebury flow colour wheel, ``uint8 [55, 3]`` (RGB), going round the hue circle.

    Red, yellow, green, cyan, blue, magenta and back to red, in 15, 6, 4, 11, 13 and 6 steps: more steps where the
    eye tells hues apart well (S. Baker et al., *A Database and Evaluation Methodology for Optical Flow*, IJCV 2011).

    Example:
        >>> color_wheel()[0].tolist(), color_wheel().shape
        ([255, 0, 0], (55, 3))
    """
    # (number of steps, channel that ramps, direction); the other two channels are held fixed per segment
    segments = [(15, (255, "up", 0)), (6, ("down", 255, 0)), (4, (0, 255, "up")), (11, (0, "down", 255)),
                (13, ("up", 0, 255)), (6, (255, 0, "down"))]
    rows = []
    for steps, spec in segments:
        ramp = np.floor(255 * np.arange(steps) / steps)
        block = np.zeros((steps, 3))
        for channel, value in enumerate(spec):
            block[:, channel] = ramp if value == "up" else 255 - ramp if value == "down" else value
        rows.append(block)
    return np.concatenate(rows).astype(np.uint8)


def _flow_to_numpy(flow) -> tuple[np.ndarray, bool]:
    """``flow`` as NumPy ``[N, H, W, 2]`` and whether a batch was given."""
    if isinstance(flow, torch.Tensor):
        arr = flow.detach().float().cpu().numpy()
        if arr.ndim == 3 and arr.shape[0] == 2:
            return arr.transpose(1, 2, 0)[None], False
        if arr.ndim == 4 and arr.shape[1] == 2:
            return arr.transpose(0, 2, 3, 1), True
        raise ValueError(f"a flow tensor must be [2, H, W] or [B, 2, H, W], got shape {tuple(arr.shape)}")
    arr = np.asarray(flow, dtype=np.float32)
    if arr.ndim == 3 and arr.shape[-1] == 2:
        return arr[None], False
    if arr.ndim == 4 and arr.shape[-1] == 2:
        return arr, True
    raise ValueError(f"a flow array must be [H, W, 2] or [N, H, W, 2], got shape {arr.shape}")


def flow_to_color(flow, max_flow: float | None = None) -> np.ndarray:
    """Colour-code a flow field: hue = direction, saturation = length (white = no motion).

    Args:
        flow: NumPy ``[H, W, 2]`` / ``[N, H, W, 2]`` or torch ``[2, H, W]`` / ``[B, 2, H, W]``.
        max_flow: the length drawn fully saturated; ``None`` uses each field's own largest length (as
            ``torchvision.utils.flow_to_image`` does). Longer vectors are drawn darker (75 % brightness).
            Give the same value to several fields to compare them.

    Returns:
        ``uint8 [H, W, 3]`` (or ``[N, H, W, 3]``) RGB; non-finite flow is black.

    Example:
        >>> f = np.zeros((1, 3, 2), np.float32); f[0, 1] = (1.0, 0.0); f[0, 2] = (-1.0, 0.0)
        >>> flow_to_color(f)[0].tolist()   # still: white; moving right: red; moving left: blue-cyan
        [[255, 255, 255], [255, 0, 0], [0, 209, 255]]
    """
    fields, batched = _flow_to_numpy(flow)
    wheel = color_wheel().astype(np.float64) / 255.0
    n = len(wheel)
    out = np.zeros(fields.shape[:3] + (3,), np.uint8)
    for i, field in enumerate(fields.astype(np.float64)):
        known = np.isfinite(field).all(axis=-1)
        u = np.where(known, field[..., 0], 0.0)
        v = np.where(known, field[..., 1], 0.0)
        scale = np.sqrt(u**2 + v**2).max() if max_flow is None else float(max_flow)
        eps = np.finfo(np.float32).eps
        u, v = u / (scale + eps), v / (scale + eps)
        rad = np.sqrt(u**2 + v**2)
        angle = np.arctan2(-v, -u) / np.pi  # in [-1, 1]
        position = (angle + 1) / 2 * (n - 1)
        k0 = np.floor(position).astype(int)
        k1 = (k0 + 1) % n
        frac = (position - k0)[..., None]
        colour = (1 - frac) * wheel[k0] + frac * wheel[k1]
        inside = (rad <= 1)[..., None]
        colour = np.where(inside, 1 - rad[..., None] * (1 - colour), colour * 0.75)
        picture = np.floor(255 * colour).astype(np.uint8)
        picture[~known] = 0
        out[i] = picture
    return out if batched else out[0]


def color_wheel_legend(size: int = 151) -> np.ndarray:
    """The colour key: a disk whose every pixel shows the colour of a flow pointing from the centre to it.

    Args:
        size: the side of the square picture in pixels.

    Example:
        >>> color_wheel_legend(21).shape
        (21, 21, 3)
    """
    r = (size - 1) / 2
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    field = np.stack([xx - r, yy - r], axis=-1)
    picture = flow_to_color(field, max_flow=r)
    picture[np.hypot(xx - r, yy - r) > r] = 255
    return picture


# ----------------------------------------------------------------------------------------------- warping
def _base_grid(batch: int, height: int, width: int, device, dtype) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(height, device=device, dtype=dtype),
                            torch.arange(width, device=device, dtype=dtype), indexing="ij")
    return torch.stack([xs, ys]).expand(batch, 2, height, width)


def warp(image: torch.Tensor, flow: torch.Tensor, mode: str = "bilinear") -> tuple[torch.Tensor, torch.Tensor]:
    """Backward-warp ``image`` (frame 2) with ``flow`` (frame 1 to 2): ``out(x) = image(x + flow(x))``.

    With the true flow the result looks like frame 1 wherever the pixel is visible in both frames; where it is
    occluded in frame 2, the warped picture shows whatever covers it there ("ghosts").

    Args:
        image: ``[C, H, W]`` or ``[B, C, H, W]`` float tensor (frame 2).
        flow: ``[2, H, W]`` or ``[B, 2, H, W]`` in pixels.
        mode: ``"bilinear"`` or ``"nearest"``.

    Returns:
        ``(warped, inside)``: the warped image and a bool mask ``[(B,) H, W]`` of the pixels whose sample position
        lies inside frame 2 (outside it the warped image is 0).

    Example:
        >>> img = torch.arange(12.0).view(1, 3, 4)
        >>> flow = torch.zeros(2, 3, 4); flow[0] = 1.0             # everything moved one pixel right
        >>> warp(img, flow)[0][0, 0].tolist()
        [1.0, 2.0, 3.0, 0.0]
    """
    single = image.dim() == 3
    if single:
        image, flow = image[None], flow[None]
    if image.dim() != 4 or flow.dim() != 4 or flow.shape[1] != 2:
        raise ValueError(f"warp expects image [B, C, H, W] and flow [B, 2, H, W], got {tuple(image.shape)} and "
                         f"{tuple(flow.shape)}")
    if image.shape[-2:] != flow.shape[-2:] or image.shape[0] != flow.shape[0]:
        raise ValueError(f"image {tuple(image.shape)} and flow {tuple(flow.shape)} differ in batch or size")
    b, _, h, w = image.shape
    coords = _base_grid(b, h, w, flow.device, flow.dtype) + flow
    gx = 2 * coords[:, 0] / max(w - 1, 1) - 1
    gy = 2 * coords[:, 1] / max(h - 1, 1) - 1
    warped = F.grid_sample(image.to(flow.dtype), torch.stack([gx, gy], dim=-1), mode=mode, padding_mode="zeros",
                           align_corners=True)
    inside = (coords[:, 0] >= 0) & (coords[:, 0] <= w - 1) & (coords[:, 1] >= 0) & (coords[:, 1] <= h - 1)
    return (warped[0], inside[0]) if single else (warped, inside)


def pad_to_multiple(x: torch.Tensor, multiple: int, mode: str = "replicate") -> tuple[torch.Tensor, tuple]:
    """Pad ``x [..., H, W]`` at the bottom and right so that H and W are multiples of ``multiple``.

    Args:
        x: a tensor with at least 3 dimensions.
        multiple: e.g. 8 for RAFT, 64 for FlowNetS.
        mode: the padding mode of :func:`torch.nn.functional.pad` (``"replicate"`` keeps the borders plausible).

    Returns:
        ``(padded, pads)``; :func:`unpad` takes ``pads`` to cut the result back.

    Example:
        >>> y, pads = pad_to_multiple(torch.zeros(1, 3, 5, 9), 8)
        >>> tuple(y.shape), tuple(unpad(y, pads).shape)
        ((1, 3, 8, 16), (1, 3, 5, 9))
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x, (0, 0)
    return F.pad(x, (0, pw, 0, ph), mode=mode), (ph, pw)


def unpad(x: torch.Tensor, pads: tuple) -> torch.Tensor:
    """Undo :func:`pad_to_multiple` on ``x [..., H, W]``."""
    ph, pw = pads
    return x[..., : x.shape[-2] - ph, : x.shape[-1] - pw]


# ----------------------------------------------------------------------------------------------- metrics
def endpoint_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-pixel end-point error ``|pred - target|`` (Euclidean length over the ``(u, v)`` dimension).

    Args:
        pred, target: ``[2, H, W]`` or ``[B, 2, H, W]``.

    Returns:
        ``[H, W]`` or ``[B, H, W]``.

    Example:
        >>> endpoint_error(torch.tensor([[[3.0]], [[4.0]]]), torch.zeros(2, 1, 1))
        tensor([[5.]])
    """
    if pred.shape != target.shape or pred.shape[-3] != 2:
        raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} must be equal "
                         "[..., 2, H, W] flow tensors")
    return torch.linalg.vector_norm(pred.float() - target.float(), dim=-3)


def flow_outliers(pred: torch.Tensor, target: torch.Tensor, abs_threshold: float = 3.0,
                  rel_threshold: float = 0.05) -> torch.Tensor:
    """KITTI 2015 outliers: end-point error above ``abs_threshold`` px **and** above ``rel_threshold`` of ``|target|``.

    This is the rule of the KITTI development kit (``flow_error``: ``E > tau(1) & E ./ |F_gt| > tau(2)`` with
    ``tau = [3 0.05]``), written without the division. KITTI 2012's own tables use the 3 px rule alone.

    Args:
        pred, target: ``[2, H, W]`` or ``[B, 2, H, W]``.
        abs_threshold: pixels.
        rel_threshold: fraction of the true flow's length.

    Returns:
        bool ``[H, W]`` / ``[B, H, W]``; restrict it to the valid pixels yourself.

    Example:
        >>> gt = torch.zeros(2, 1, 2); gt[0, 0, 1] = 100.0   # second pixel moves 100 px
        >>> pred = gt.clone(); pred[0] += 4.0                   # both 4 px off
        >>> flow_outliers(pred, gt).tolist()                    # 4 > 3 and 4 > 0 | 4 > 3 but 4 < 5
        [[True, False]]
    """
    epe = endpoint_error(pred, target)
    magnitude = torch.linalg.vector_norm(target.float(), dim=-3)
    return (epe > abs_threshold) & (epe > rel_threshold * magnitude)


class FlowMetrics:
    """Accumulate end-point error and Fl over a dataset, as the KITTI benchmark does.

    * ``epe``: mean end-point error over **all valid pixels of all pairs** (pixel-averaged);
    * ``epe_per_image``: mean over pairs of each pair's mean EPE (RAFT's "KITTI F1-epe", torchvision's
      ``per_image_epe``);
    * ``fl_all``: percentage of valid pixels that are outliers (:func:`flow_outliers`), counted over the whole
      dataset (outliers of all pairs / valid pixels of all pairs, as the KITTI evaluation sums its counts);
    * ``px1``, ``px3``, ``px5``: percentage of valid pixels with EPE below 1, 3, 5 px;
    * ``pixels``, ``pairs``: how many valid pixels and pairs (with at least one valid pixel) were counted.

    Example:
        >>> m = FlowMetrics()
        >>> gt = torch.zeros(1, 2, 2, 2); pred = gt.clone(); pred[0, 0, 0, 0] = 10.0
        >>> m.update(pred, gt, torch.ones(1, 2, 2, dtype=torch.bool))
        >>> r = m.compute(); r["epe"], r["fl_all"], r["pairs"]
        (2.5, 25.0, 1)
    """

    THRESHOLDS = (1, 3, 5)

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        # float64 sums: epe, outliers, pixels, per-image-epe sum, pairs, then one count per threshold
        self.sums = torch.zeros(5 + len(self.THRESHOLDS), dtype=torch.float64)

    @torch.no_grad()
    def update(self, pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None) -> None:
        """Add a batch: ``pred``, ``target`` ``[B, 2, H, W]``, ``valid`` bool ``[B, H, W]`` (default: all)."""
        if pred.dim() == 3:
            pred, target = pred[None], target[None]
            valid = valid[None] if valid is not None else None
        epe = endpoint_error(pred, target)
        if valid is None:
            valid = torch.ones_like(epe, dtype=torch.bool)
        valid = valid.bool()
        if valid.shape != epe.shape:
            raise ValueError(f"valid mask {tuple(valid.shape)} does not match the flow {tuple(epe.shape)}")
        outliers = flow_outliers(pred, target) & valid
        for i in range(epe.shape[0]):
            n = int(valid[i].sum())
            if n == 0:
                continue
            e = epe[i][valid[i]].double()
            row = [e.sum(), outliers[i].sum().double(), float(n), e.mean(), 1.0]
            row += [(e < t).sum().double() for t in self.THRESHOLDS]
            self.sums += torch.tensor([float(v) for v in row], dtype=torch.float64)

    def all_reduce(self) -> None:
        """Sum the counts over processes (no-op unless torch.distributed is initialised)."""
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            backend = torch.distributed.get_backend()
            device = torch.device("cuda", torch.cuda.current_device()) if backend == "nccl" else torch.device("cpu")
            t = self.sums.to(device)
            torch.distributed.all_reduce(t)
            self.sums = t.cpu()

    def compute(self) -> dict[str, float]:
        """The scores (NaN when no valid pixel was seen)."""
        epe, outliers, pixels, per_image, pairs = (float(v) for v in self.sums[:5])
        nan = float("nan")
        result = {
            "epe": epe / pixels if pixels else nan,
            "epe_per_image": per_image / pairs if pairs else nan,
            "fl_all": 100.0 * outliers / pixels if pixels else nan,
        }
        for t, count in zip(self.THRESHOLDS, self.sums[5:].tolist(), strict=True):
            result[f"px{t}"] = 100.0 * count / pixels if pixels else nan
        result["pixels"] = int(pixels)
        result["pairs"] = int(pairs)
        return result


def flow_metrics(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None) -> dict[str, float]:
    """The :class:`FlowMetrics` scores of one batch (or one pair).

    Args:
        pred, target: ``[2, H, W]`` or ``[B, 2, H, W]``.
        valid: bool ``[H, W]`` / ``[B, H, W]``; default all pixels.

    Example:
        >>> flow_metrics(torch.zeros(2, 4, 4), torch.ones(2, 4, 4))["epe"]  # doctest: +ELLIPSIS
        1.414...
    """
    m = FlowMetrics()
    m.update(pred, target, valid)
    return m.compute()


# ----------------------------------------------------------------------------------------------- occlusion
def forward_backward_occlusion(flow_fw: torch.Tensor, flow_bw: torch.Tensor, alpha1: float = 0.01,
                               alpha2: float = 0.5) -> torch.Tensor:
    """Occlusion mask of frame 1 from the forward-backward check (N. Sundaram, T. Brox, K. Keutzer, ECCV 2010).

    Following the forward flow to frame 2 and the backward flow back should return to the start. Where it does
    not, ``|w_f + w_b(x + w_f)|^2 > alpha1 (|w_f|^2 + |w_b(x + w_f)|^2) + alpha2``, the pixel is taken as occluded;
    so is every pixel whose forward flow leaves the picture.

    Args:
        flow_fw: flow frame 1 -> 2, ``[2, H, W]`` or ``[B, 2, H, W]``.
        flow_bw: flow frame 2 -> 1, same shape.
        alpha1, alpha2: the relative and absolute tolerances.

    Returns:
        bool ``[H, W]`` / ``[B, H, W]``, True = occluded (or leaving the frame).

    Example:
        >>> fw = torch.zeros(2, 4, 4); fw[0] = 1.0; bw = -fw
        >>> forward_backward_occlusion(fw, bw)[0].tolist()     # consistent, but the last column leaves the frame
        [False, False, False, True]
    """
    bw_at_target, inside = warp(flow_bw, flow_fw)
    mismatch = ((flow_fw + bw_at_target) ** 2).sum(dim=-3)
    scale = (flow_fw**2).sum(dim=-3) + (bw_at_target**2).sum(dim=-3)
    return (mismatch > alpha1 * scale + alpha2) | ~inside


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


def draw_tracks(frame, tracks: Tracks, upto: int | None = None, colors=None, thickness: int = 1) -> np.ndarray:
    """Draw each track's path up to frame ``upto`` (default: the last) and its current position onto ``frame``.

    Args:
        frame: ``uint8 [H, W, 3]`` or ``[H, W]`` picture (copied, not changed).
        tracks: from :func:`lucas_kanade_tracks`.
        upto: the last frame index to draw.
        colors: ``uint8 [N, 3]`` one colour per track (default: by direction of motion, as in :func:`flow_to_color`).
        thickness: line width.

    Example:
        >>> picture = draw_tracks(frames[-1], tracks)  # doctest: +SKIP
    """
    import cv2

    canvas = np.asarray(frame)
    canvas = np.array(np.stack([canvas] * 3, -1) if canvas.ndim == 2 else canvas[..., :3], np.uint8)  # a copy
    upto = tracks.points.shape[0] - 1 if upto is None else upto
    n = tracks.points.shape[1]
    if colors is None and n:
        motion = tracks.displacement
        colors = flow_to_color(motion[None], max_flow=max(float(np.abs(motion).max()), 1.0))[0]
        colors = (colors.astype(np.float32) * 0.8).astype(np.uint8)  # a little darker, to stand out on white
    for k in range(n):
        path = tracks.points[: upto + 1, k][tracks.alive[: upto + 1, k]]
        if len(path) == 0:
            continue
        colour = tuple(int(c) for c in colors[k])
        if len(path) > 1:
            cv2.polylines(canvas, [np.round(path).astype(np.int32)], False, colour, thickness, cv2.LINE_AA)
        if tracks.alive[upto, k]:
            cv2.circle(canvas, tuple(int(v) for v in np.round(path[-1])), 2, colour, -1, cv2.LINE_AA)
    return canvas
