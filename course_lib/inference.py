"""Sliding-window inference: predict a volume (or a large image) that does not fit the network in one piece.

Introduced in Chapter 3 (3D U-Net on BraTS). A 3-D network is trained on patches (128^3 voxels, say) because a whole
MRI volume with its feature maps does not fit in memory; at test time the volume is covered by windows of the
patch size that overlap, each window is predicted, and the overlapping predictions are blended into one map::

    out(v) = sum_w weight_w(v) * pred_w(v) / sum_w weight_w(v)

With ``mode="gaussian"`` the weight of a window falls off towards its border (a Gaussian with sigma = 1/8 of
the window edge, as in nnU-Net and MONAI), because predictions near a window's border see less context and are
worse; ``mode="constant"`` averages the windows with equal weight. Windows start at ``0, stride, 2 * stride, ...``
with ``stride = int(roi * (1 - overlap))``; the last one is shifted back to end at the border, so every voxel is
covered and no window leaves the input. Inputs smaller than the window are zero-padded (evenly on both sides)
and the output cropped back. The window layout and weights follow the conventions of MONAI's
``sliding_window_inference``, against which the tests check this implementation.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .config import autocast_dtype

__all__ = ["evaluating", "importance_map", "predict", "sliding_window_inference", "window_starts"]


@contextlib.contextmanager
def evaluating(model: nn.Module, amp: bool = True, device: torch.device | None = None) -> Iterator[None]:
    """The one way ``course_lib`` predicts: eval mode, no gradients, the training loop's autocast dtype (bfloat16 or
    float16 on a GPU, none on a CPU), and the model's train/eval mode restored afterwards.

    Args:
        model: the network.
        amp: mixed precision on a GPU (as :func:`course_lib.config.autocast_dtype` chooses).
        device: the device of the inputs (default: the model's).

    Example:
        >>> net = nn.Linear(2, 1).train()
        >>> with evaluating(net):
        ...     y = net(torch.ones(1, 2))
        >>> net.training, y.requires_grad
        (True, False)
    """
    if device is None:
        param = next(model.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
    dtype = autocast_dtype(torch.device(device)) if amp else None
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), torch.autocast(torch.device(device).type, dtype=dtype, enabled=dtype is not None):
            yield
    finally:
        model.train(was_training)


def predict(model: nn.Module, *inputs, amp: bool = True, **kwargs):
    """``model(*inputs, **kwargs)`` under :func:`evaluating`, with floating outputs cast back to float32.

    Outputs may be a tensor, or a tuple/list/dict of tensors (e.g. RAFT's list of refinements).

    Example:
        >>> net = nn.Conv2d(3, 2, 1).train()
        >>> predict(net, torch.zeros(1, 3, 4, 4)).shape, net.training
        (torch.Size([1, 2, 4, 4]), True)
    """
    device = next((x.device for x in inputs if isinstance(x, torch.Tensor)), None)
    with evaluating(model, amp, device):
        out = model(*inputs, **kwargs)
    return _to_float(out)


def _to_float(out):
    if isinstance(out, torch.Tensor):
        return out.float() if out.is_floating_point() else out
    if isinstance(out, (list, tuple)):
        return type(out)(_to_float(o) for o in out)
    if isinstance(out, dict):
        return {k: _to_float(v) for k, v in out.items()}
    return out


def window_starts(size: int, roi: int, overlap: float) -> list[int]:
    """Start indices of the windows along one axis.

    Args:
        size: length of the axis (at least ``roi``).
        roi: window length.
        overlap: fraction of the window shared with its neighbour, in ``[0, 1)``.

    Example:
        >>> window_starts(10, 4, 0.5)
        [0, 2, 4, 6]
        >>> window_starts(11, 4, 0.5)  # the last window is shifted back to end at 11
        [0, 2, 4, 6, 7]
    """
    if roi > size:
        raise ValueError(f"window {roi} is larger than the axis {size}; pad the input first")
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"overlap must lie in [0, 1), got {overlap}")
    stride = roi if roi == size else max(1, int(roi * (1 - overlap)))
    count = 1 + max(0, math.ceil((size - roi) / stride))
    return [min(i * stride, size - roi) for i in range(count)]


def importance_map(roi_size: Sequence[int], mode: str = "gaussian", sigma_scale: float = 0.125,
                   device: torch.device | str | None = None) -> torch.Tensor:
    """The blending weight of one window: constant, or a Gaussian centred on the window.

    The Gaussian has ``sigma = sigma_scale * edge`` along each axis; weights are floored at ``1e-3`` (and at the
    map's own minimum) so that no voxel gets zero total weight.

    Args:
        roi_size: the window's spatial size.
        mode: ``"gaussian"`` or ``"constant"``.
        sigma_scale: sigma as a fraction of the window edge.
        device: where to build it.

    Example:
        >>> w = importance_map((5,), "gaussian")
        >>> int(w.argmax()), bool(w[0] < w[2])
        (2, True)
    """
    if mode == "constant":
        return torch.ones(tuple(roi_size), device=device)
    if mode != "gaussian":
        raise ValueError(f"unknown blending mode {mode!r}; choose 'gaussian' or 'constant'")
    weight = torch.ones((), device=device)
    for n in roi_size:
        x = torch.arange(n, dtype=torch.float32, device=device) - (n - 1) / 2
        g = torch.exp(-(x**2) / (2 * (sigma_scale * n) ** 2))
        weight = weight.unsqueeze(-1) * g
    return weight.clamp(min=max(float(weight.min()), 1e-3))


@torch.no_grad()
def sliding_window_inference(inputs: torch.Tensor, roi_size: int | Sequence[int],
                             predictor: Callable[[torch.Tensor], torch.Tensor], overlap: float = 0.5,
                             mode: str = "gaussian", sw_batch_size: int = 4, sigma_scale: float = 0.125,
                             output_device: torch.device | str | None = None) -> torch.Tensor:
    """Predict ``inputs`` window by window and blend the overlapping predictions.

    Args:
        inputs: ``[N, C, *spatial]`` (2 or 3 spatial axes).
        roi_size: the window size (an int for a cube/square, or one per spatial axis); usually the training
            patch size.
        predictor: maps ``[B, C, *roi_size]`` to ``[B, K, *roi_size]`` (e.g. the model in eval mode).
        overlap: fraction of a window shared with its neighbour along each axis (0.5 in nnU-Net and here).
        mode: ``"gaussian"`` or ``"constant"`` blending (see :func:`importance_map`).
        sw_batch_size: windows per call of ``predictor``.
        sigma_scale: Gaussian width as a fraction of the window.
        output_device: where the blended output accumulates (default: the input's device); a CPU output saves
            GPU memory for large volumes.

    Returns:
        ``[N, K, *spatial]`` float32: the blended predictions (logits stay logits: blend before the sigmoid).

    Example:
        >>> x = torch.randn(1, 2, 20, 18, 9)
        >>> y = sliding_window_inference(x, 8, lambda w: w * 2, overlap=0.5)
        >>> torch.allclose(y, 2 * x, atol=1e-6)
        True
    """
    spatial = inputs.ndim - 2
    if spatial not in (2, 3):
        raise ValueError(f"inputs must be [N, C, H, W] or [N, C, D, H, W], got shape {tuple(inputs.shape)}")
    roi = (int(roi_size),) * spatial if isinstance(roi_size, int) else tuple(int(r) for r in roi_size)
    if len(roi) != spatial or min(roi) < 1:
        raise ValueError(f"roi_size {roi_size!r} does not match the {spatial} spatial axes of the input")
    if sw_batch_size < 1:
        raise ValueError(f"sw_batch_size must be at least 1, got {sw_batch_size}")
    size = tuple(inputs.shape[2:])
    # pad axes shorter than the window, evenly on both sides (F.pad takes the last axis first)
    pads = [(max(r - s, 0) // 2, max(r - s, 0) - max(r - s, 0) // 2) for s, r in zip(size, roi, strict=True)]
    if any(a or b for a, b in pads):
        inputs = F.pad(inputs, [p for pair in reversed(pads) for p in pair])
    padded = tuple(inputs.shape[2:])
    starts = list(itertools.product(*(window_starts(s, r, overlap) for s, r in zip(padded, roi, strict=True))))
    out_device = torch.device(output_device) if output_device is not None else inputs.device
    weight = importance_map(roi, mode, sigma_scale, device=out_device)
    output: torch.Tensor | None = None
    total = torch.zeros(padded, device=out_device)
    boxes = [tuple(slice(a, a + r) for a, r in zip(start, roi, strict=True)) for start in starts]
    for box in boxes:
        total[box] += weight
    for first in range(0, len(boxes), sw_batch_size):
        chunk = boxes[first:first + sw_batch_size]
        windows = torch.cat([inputs[(slice(None), slice(None)) + box] for box in chunk])  # [len(chunk) * N, C, ...]
        pred = predictor(windows)
        if pred.ndim != inputs.ndim or tuple(pred.shape[2:]) != roi:
            raise ValueError(f"the predictor returned shape {tuple(pred.shape)} for windows of shape "
                             f"{tuple(windows.shape)}; it must keep the window's spatial size {roi}")
        pred = pred.to(out_device, torch.float32)
        if output is None:
            output = torch.zeros((inputs.shape[0], pred.shape[1]) + padded, device=out_device)
        for i, box in enumerate(chunk):
            n = inputs.shape[0]
            output[(slice(None), slice(None)) + box] += pred[i * n:(i + 1) * n] * weight
    output = output / total
    crop = tuple(slice(a, a + s) for (a, _), s in zip(pads, size, strict=True))
    return output[(slice(None), slice(None)) + crop]
