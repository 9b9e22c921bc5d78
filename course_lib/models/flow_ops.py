"""Small tensor operations on optical flow, shared by the flow networks, the recipes and the notebook's demos.

Introduced in Chapter 9 (optical flow); Chapter 8 (mask propagation) and Chapter 10 (motion detection) reuse them.

Conventions: a flow field holds ``(u, v)``, the displacement in pixels of every pixel of frame 1 to its position in
frame 2 (``u`` to the right, ``v`` down). NumPy arrays are ``[H, W, 2]`` (as the files and OpenCV store them), torch
tensors ``[2, H, W]`` or ``[B, 2, H, W]`` (as the networks produce them).

* :func:`warp`: backward warping, frame 2 sampled at ``x + flow(x)`` to look like frame 1;
* :func:`pad_to_multiple`, :func:`unpad`: the padding a network with a size multiple (8 for RAFT, 64 for FlowNetS)
  needs, and its removal;
* :func:`forward_backward_occlusion`: occlusion from the disagreement of the forward and backward flow.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["forward_backward_occlusion", "pad_to_multiple", "unpad", "warp"]


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
