"""Mask propagation by optical flow: carry the first frame's objects through a video, frame to frame.

Introduced in Chapter 8 (video object segmentation), on Chapter 9's flow. The simplest semi-supervised VOS method
needs no training at all: given the object ids of frame 0, the ids of frame ``t`` are those of frame ``t - 1``
sampled where the *backward* flow (frame ``t`` -> ``t - 1``) says each pixel came from:
``labels_t(x) = labels_{t-1}(x + w_b(x))`` (backward warping: every pixel of the new frame gets a value, no holes).
Each object is warped as a one-hot channel (bilinear) and the largest channel wins, so borders stay smooth.

Flow is wrong where a pixel of frame ``t`` was hidden in frame ``t - 1`` (disocclusion): there the backward flow
points at whatever covered it. The forward-backward check (Sundaram, Brox, Keutzer, ECCV 2010;
:func:`fb_occlusion`) finds those pixels: following the backward flow and
then the forward flow must come back; where it does not, propagation stops and the pixel becomes background. This
is the idea of the flow-based trackers the lecture cites (a target estimated from the flow inside a moving window)
and of the temporal term of OSVOS-style methods. Errors accumulate over time (drift): the J-Decay of the DAVIS
measure shows it.

Flow functions take two ``uint8 [H, W, 3]`` frames and return ``float32 [H, W, 2]`` (pixels, from the first frame
to the second): :func:`farneback_flow_fn` (OpenCV) or :func:`module_flow_fn` (a network of Chapter 9, such as
:class:`course_lib.models.raft.RAFT`).

Example:
    >>> frames = np.zeros((3, 16, 16, 3), np.uint8); first = np.zeros((16, 16), np.uint8); first[4:8, 4:8] = 1
    >>> still = lambda a, b: np.zeros((*a.shape[:2], 2), np.float32)
    >>> labels = propagate_labels(frames, first, still)
    >>> labels.shape, bool((labels[2] == first).all())
    ((3, 16, 16), True)
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .optical_flow import farneback_flow

__all__ = ["FlowFn", "backward_warp", "farneback_flow_fn", "fb_occlusion", "module_flow_fn", "propagate_labels",
           "warp_labels"]

#: a flow function: two ``uint8 [H, W, 3]`` frames -> ``float32 [H, W, 2]`` from the first to the second
FlowFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def farneback_flow_fn(**kwargs) -> FlowFn:
    """Farneback flow (:func:`course_lib.classical.farneback_flow`) with ``kwargs`` as a flow function."""
    return lambda a, b: farneback_flow(a, b, **kwargs)


def module_flow_fn(model: torch.nn.Module, *, iters: int | None = None, device: torch.device | str = "cpu"
                   ) -> FlowFn:
    """A flow network of Chapter 9 as a flow function (:class:`course_lib.models.raft.RAFT`, FlowNetS, or the
    baselines :class:`~course_lib.classical.FarnebackFlow` / ``ZeroFlow``: ``[B, 6, H, W]`` frames in ``[0, 1]``
    -> ``[B, 2, H, W]``): frames padded to the model's ``size_multiple`` (and ``min_size``), inference in eval
    mode, the padding cut off again.

    Args:
        model: the network.
        iters: RAFT's refinement iterations (default: the model's).
        device: where to run it.
    """
    model = model.to(device).eval()

    @torch.no_grad()
    def flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.stack([a, b])).permute(0, 3, 1, 2).float().div(255).to(device)
        h, w = x.shape[-2:]
        small = getattr(model, "min_size", 1)
        m = getattr(model, "size_multiple", 1)
        ph, pw = max(small, -(-h // m) * m) - h, max(small, -(-w // m) * m) - w
        x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        kwargs = {} if iters is None else {"iters": iters}
        out = model(torch.cat([x[:1], x[1:]], 1), **kwargs)[..., :h, :w]
        return out[0].permute(1, 2, 0).cpu().numpy().astype(np.float32)

    return flow


def backward_warp(image: np.ndarray, flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``out(x) = image(x + flow(x))`` (bilinear, OpenCV's ``remap``) and the mask of the pixels whose sample lies
    inside the image; the NumPy/OpenCV twin of :func:`course_lib.models.flow_ops.warp`.

    Args:
        image: ``float32 [H, W]`` or ``[H, W, C]``.
        flow: ``[H, W, 2]`` in pixels.
    """
    h, w = flow.shape[:2]
    xx, yy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mx, my = xx + flow[..., 0].astype(np.float32), yy + flow[..., 1].astype(np.float32)
    out = cv2.remap(np.ascontiguousarray(image, np.float32), mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                    borderValue=0)
    return out, (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)


def fb_occlusion(flow: np.ndarray, flow_back: np.ndarray, alpha1: float = 0.01, alpha2: float = 0.5) -> np.ndarray:
    """The forward-backward check (Sundaram, Brox, Keutzer, ECCV 2010) of ``flow`` (frame a -> b) against
    ``flow_back`` (b -> a): True where ``|w + w_back(x + w)|^2 > alpha1 (|w|^2 + |w_back(x + w)|^2) + alpha2`` or
    the flow leaves the frame (as :func:`course_lib.models.flow_ops.forward_backward_occlusion`, in NumPy).

    Example:
        >>> fw = np.zeros((2, 3, 2), np.float32); fw[..., 0] = 1.0
        >>> fb_occlusion(fw, -fw)[0].tolist()
        [False, False, True]
    """
    back, inside = backward_warp(flow_back, flow)
    mismatch = ((flow + back) ** 2).sum(-1)
    scale = (flow**2).sum(-1) + (back**2).sum(-1)
    return (mismatch > alpha1 * scale + alpha2) | ~inside


def warp_labels(labels: np.ndarray, backward_flow: np.ndarray, ids: list[int],
                occluded: np.ndarray | None = None) -> np.ndarray:
    """Object ids of the next frame: ``labels`` (this frame) sampled at ``x + backward_flow(x)``.

    Args:
        labels: ``uint8 [H, W]`` ids of the previous frame.
        backward_flow: ``[H, W, 2]`` from the next frame to the previous one.
        ids: the object ids carried (others become background).
        occluded: ``bool [H, W]`` pixels of the next frame whose flow is not trusted: background.

    Example:
        >>> lab = np.zeros((4, 4), np.uint8); lab[1, 1] = 1
        >>> flow = np.zeros((4, 4, 2), np.float32); flow[..., 0] = -1   # each pixel came from one to the left
        >>> warp_labels(lab, flow, [1])[1].tolist()
        [0, 0, 1, 0]
    """
    onehot = np.stack([labels == 0] + [labels == i for i in ids], -1).astype(np.float32)
    warped, inside = backward_warp(onehot, backward_flow)
    warped = warped.reshape(*labels.shape, -1)
    warped[~inside, 0] = 1.0  # sampled outside the previous frame: background
    if occluded is not None:
        warped[occluded, 0] = 2.0
    lut = np.array([0, *ids], np.uint8)
    return lut[warped.argmax(-1)]


def propagate_labels(frames: np.ndarray, first_labels: np.ndarray, flow_fn: FlowFn, *, consistency: bool = True,
                     alpha1: float = 0.01, alpha2: float = 0.5, start: int = 0) -> np.ndarray:
    """Propagate the object ids of frame ``start`` to every later frame by backward warping.

    Args:
        frames: ``uint8 [T, H, W, 3]``.
        first_labels: ``uint8 [H, W]`` ids of frame ``start`` (255 = void is not carried).
        flow_fn: two frames -> flow from the first to the second (:data:`FlowFn`).
        consistency: stop at disocclusions (forward-backward check; twice the flow computations).
        alpha1, alpha2: the check's relative and absolute tolerances (Sundaram et al.: 0.01 and 0.5).
        start: the frame whose labels are given; earlier frames are left background.

    Returns:
        ``uint8 [T, H, W]`` ids, ``first_labels`` (void removed) at ``start``.
    """
    frames = np.asarray(frames)
    first = np.where(np.asarray(first_labels) == 255, 0, np.asarray(first_labels)).astype(np.uint8)
    if frames.ndim != 4 or frames.shape[1:3] != first.shape:
        raise ValueError(f"frames must be [T, H, W, 3] of the labels' size {first.shape}, got {frames.shape}")
    ids = [int(i) for i in np.unique(first) if i != 0]
    out = np.zeros(frames.shape[:3], np.uint8)
    out[start] = first
    for t in range(start + 1, len(frames)):
        backward = flow_fn(frames[t], frames[t - 1])
        occluded = None
        if consistency:
            forward = flow_fn(frames[t - 1], frames[t])
            occluded = fb_occlusion(backward, forward, alpha1, alpha2)
        out[t] = warp_labels(out[t - 1], backward, ids, occluded)
    return out
