"""Matting losses: Deep Image Matting's alpha-prediction and compositional losses, MODNet's three sub-objectives.

Introduced in Chapter 2. Conventions of the book's matting datasets: ``alpha`` ``[N, 1, H, W]`` in ``[0, 1]``,
``trimap`` ``[N, 1, H, W]`` with 0 (background), 0.5 (unknown) and 1 (foreground) (a ``uint8`` trimap with
0/128/255 is accepted too), ``image``, ``fg``, ``bg`` ``[N, 3, H, W]`` in ``[0, 1]``.

Deep Image Matting (Xu et al., arXiv 1703.03872, Sec. 4.1)
    *Alpha-prediction loss*: ``sqrt((a_p - a_g)^2 + eps^2)`` with ``eps = 1e-6``, a differentiable absolute
    difference (a Charbonnier loss), averaged over the trimap's unknown pixels: the known ones are given and are
    copied into the prediction at test time. *Compositional loss*: the predicted alpha composites the true
    foreground over the true background, ``c_p = a_p F + (1 - a_p) B``, compared with the image in the same
    Charbonnier form over the unknown pixels and the 3 colour channels. :class:`DIMLoss` weighs them
    ``w_l L_alpha + (1 - w_l) L_comp`` with ``w_l = 0.5`` and adds the refinement stage's own alpha-prediction loss
    (the paper trains the refinement on the alpha-prediction loss only).
MODNet (Ke et al., arXiv 2011.11961, Sec. 3; weights and normalisations from the official ``src/trainer.py``)
    *Semantic*: the L2 distance of the 1/16 semantic map to the ground-truth alpha downsampled bilinearly to 1/16
    and blurred by a 3x3 Gaussian (:func:`modnet_blur_kernel`). *Detail*: L1 inside the transition region (the
    trimap's unknown band, which the datasets build from the alpha by dilation and erosion), averaged over all
    pixels as the official code does. *Fusion*: L1 of the final matte over the image plus 4 times the L1 inside the
    band, plus a compositional L1 of the same form. :class:`MODNetLoss` weighs them 10 (semantic), 10 (detail) and
    1 (fusion), the official code's defaults.

Items without a true foreground and background (portrait folders give only image + alpha) skip the compositional
terms; ``MODNetLoss(composition="image")`` uses the official code's variant instead, which compares
``image * a_p`` with ``image * a_g`` and needs neither.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["DIMLoss", "MODNetLoss", "alpha_prediction_loss", "compositional_loss", "modnet_blur_kernel",
           "modnet_semantic_target", "unknown_mask"]


def unknown_mask(trimap: torch.Tensor) -> torch.Tensor:
    """1.0 where the trimap is unknown (0.5, or 128 in a ``uint8`` trimap), else 0.0; same shape, float.

    Example:
        >>> unknown_mask(torch.tensor([0.0, 0.5, 1.0])).tolist()
        [0.0, 1.0, 0.0]
    """
    t = trimap.float() / 255.0 if trimap.dtype == torch.uint8 else trimap.float()
    return ((t - 0.5).abs() < 0.25).float()


def _check(name: str, a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{name}: prediction {tuple(a.shape)} and target {tuple(b.shape)} differ in shape")


def _masked_mean(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean of ``values`` over ``mask`` (broadcast to ``values``); 0 (with a gradient path) for an empty mask."""
    if mask is None:
        return values.mean()
    mask = mask.to(values.dtype).expand_as(values)
    return (values * mask).sum() / mask.sum().clamp_min(1.0)


def alpha_prediction_loss(pred: torch.Tensor, alpha: torch.Tensor, mask: torch.Tensor | None = None,
                          eps: float = 1e-6) -> torch.Tensor:
    """DIM's alpha-prediction loss ``sqrt((pred - alpha)^2 + eps^2)``, averaged over ``mask`` (e.g. the unknown region).

    Args:
        pred: predicted alpha ``[N, 1, H, W]`` in ``[0, 1]``.
        alpha: ground truth, same shape.
        mask: weights (1 inside the region that counts), broadcastable to ``pred``; ``None``: every pixel.
            The mean is over the mask's pixels of the whole batch.
        eps: 1e-6 in the paper.

    Example:
        >>> p, a = torch.tensor([0.2, 0.5, 0.9]), torch.tensor([0.0, 0.5, 0.0])
        >>> round(alpha_prediction_loss(p, a, torch.tensor([1.0, 1.0, 0.0])).item(), 4)  # (0.2 + 1e-6) / 2
        0.1
    """
    _check("alpha_prediction_loss", pred, alpha)
    diff = pred - alpha.to(pred.dtype)
    return _masked_mean(torch.sqrt(diff * diff + eps * eps), mask)


def compositional_loss(pred: torch.Tensor, fg: torch.Tensor, bg: torch.Tensor, image: torch.Tensor,
                       mask: torch.Tensor | None = None, eps: float = 1e-6) -> torch.Tensor:
    """DIM's compositional loss: ``pred`` composites ``fg`` over ``bg``; Charbonnier distance to ``image``.

    Args:
        pred: predicted alpha ``[N, 1, H, W]``.
        fg, bg, image: ``[N, 3, H, W]`` in ``[0, 1]`` (the paper's are 0..255, so its loss is 255 times larger).
        mask: ``[N, 1, H, W]`` weights (the unknown region), broadcast over the channels; ``None``: every pixel.
        eps: 1e-6 in the paper.

    Example:
        >>> fg, bg = torch.ones(1, 3, 1, 2), torch.zeros(1, 3, 1, 2)
        >>> image = torch.full((1, 3, 1, 2), 0.5)
        >>> round(compositional_loss(torch.tensor([[[[0.5, 0.9]]]]), fg, bg, image).item(), 5)  # (0 + 0.4) / 2
        0.2
    """
    if fg.shape != bg.shape or fg.shape != image.shape:
        raise ValueError(f"compositional_loss: fg {tuple(fg.shape)}, bg {tuple(bg.shape)} and image "
                         f"{tuple(image.shape)} must have one shape")
    if pred.shape[0] != image.shape[0] or pred.shape[-2:] != image.shape[-2:] or pred.shape[1] != 1:
        raise ValueError(f"compositional_loss: alpha {tuple(pred.shape)} does not fit image {tuple(image.shape)}")
    composite = pred * fg + (1 - pred) * bg
    diff = composite - image.to(composite.dtype)
    return _masked_mean(torch.sqrt(diff * diff + eps * eps), mask)


def _has_fg_bg(targets: dict) -> bool:
    return targets.get("fg") is not None and targets.get("bg") is not None


class DIMLoss(nn.Module):
    """The training loss of Deep Image Matting (arXiv 1703.03872, Sec. 4.1-4.2).

    ``w_l * L_alpha(alpha_raw) + (1 - w_l) * L_comp(alpha_raw) + refine_weight * L_alpha(alpha)``, every term over
    the trimap's unknown region. Items without ``fg``/``bg`` use ``L_alpha(alpha_raw)`` alone for the first part.

    Args:
        alpha_weight: ``w_l`` (0.5 in the paper).
        refine_weight: weight of the refinement stage's alpha-prediction loss (0: the encoder-decoder alone).
        eps: the Charbonnier epsilon (1e-6).

    ``forward(outputs, targets)``: ``outputs`` is the model's dict (``alpha_raw``, ``alpha``) or one alpha tensor;
    ``targets`` a dict with ``alpha``, ``trimap`` and optionally ``image``, ``fg``, ``bg``. The last terms are kept
    (detached) in ``self.terms``.

    Example:
        >>> loss = DIMLoss()
        >>> t = {"alpha": torch.zeros(1, 1, 2, 2), "trimap": torch.full((1, 1, 2, 2), 0.5)}
        >>> round(loss({"alpha_raw": torch.full((1, 1, 2, 2), 0.5), "alpha": torch.zeros(1, 1, 2, 2)}, t).item(), 4)
        0.5
    """

    def __init__(self, alpha_weight: float = 0.5, refine_weight: float = 1.0, eps: float = 1e-6):
        super().__init__()
        if not 0.0 <= alpha_weight <= 1.0:
            raise ValueError(f"alpha_weight (w_l) must lie in [0, 1], got {alpha_weight}")
        self.alpha_weight, self.refine_weight, self.eps = alpha_weight, refine_weight, eps
        self.terms: dict[str, torch.Tensor] = {}

    def forward(self, outputs: dict[str, torch.Tensor] | torch.Tensor, targets: dict[str, torch.Tensor]
                ) -> torch.Tensor:
        if torch.is_tensor(outputs):
            outputs = {"alpha_raw": outputs}
        raw = outputs["alpha_raw"].float()
        mask = unknown_mask(targets["trimap"])
        terms = {"alpha": alpha_prediction_loss(raw, targets["alpha"], mask, self.eps)}
        total = terms["alpha"]
        if _has_fg_bg(targets) and self.alpha_weight < 1.0:
            terms["comp"] = compositional_loss(raw, targets["fg"], targets["bg"], targets["image"], mask, self.eps)
            total = self.alpha_weight * terms["alpha"] + (1 - self.alpha_weight) * terms["comp"]
        if self.refine_weight and "alpha" in outputs:
            terms["refine"] = alpha_prediction_loss(outputs["alpha"].float(), targets["alpha"], mask, self.eps)
            total = total + self.refine_weight * terms["refine"]
        self.terms = {k: v.detach() for k, v in terms.items()}
        return total


def modnet_blur_kernel(size: int = 3) -> torch.Tensor:
    """The ``size x size`` Gaussian of MODNet's ``GaussianBlurLayer``: ``sigma = 0.3 ((size - 1) / 2 - 1) + 0.8``
    (OpenCV's rule), the filter that ``scipy.ndimage.gaussian_filter`` (truncate 4, mode ``reflect``) applies to a
    centred impulse: the tails beyond the kernel fold back in, so it sums to 1.

    Example:
        >>> k = modnet_blur_kernel(3)
        >>> tuple(k.shape), round(float(k.sum()), 6), bool(k[1, 1] == k.max())
        ((3, 3), 1.0, True)
    """
    if size < 1 or size % 2 == 0:
        raise ValueError(f"the blur kernel size must be odd and positive, got {size}")
    sigma = 0.3 * ((size - 1) * 0.5 - 1) + 0.8
    radius = int(4.0 * sigma + 0.5)
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    impulse = np.zeros(size)
    impulse[size // 2] = 1.0
    padded = np.pad(impulse, radius, mode="symmetric")  # scipy's "reflect": d c b a | a b c d | d c b a
    k1 = np.convolve(padded, taps, mode="valid")
    return torch.from_numpy(np.outer(k1, k1)).float()


def modnet_semantic_target(alpha: torch.Tensor, size: tuple[int, int], kernel: int = 3) -> torch.Tensor:
    """MODNet's semantic ground truth: ``alpha`` resized bilinearly to ``size`` (1/16), then blurred (reflection
    padding, :func:`modnet_blur_kernel`).

    Example:
        >>> modnet_semantic_target(torch.ones(1, 1, 32, 32), (2, 2)).tolist()
        [[[[1.0, 1.0], [1.0, 1.0]]]]
    """
    small = F.interpolate(alpha.float(), size=size, mode="bilinear", align_corners=False)
    k = modnet_blur_kernel(kernel).to(small)
    pad = kernel // 2
    if min(size) <= pad:  # reflection needs more pixels than the padding
        return small
    padded = F.pad(small, (pad, pad, pad, pad), mode="reflect")
    return F.conv2d(padded.reshape(-1, 1, *padded.shape[-2:]), k[None, None]).reshape(small.shape)


class MODNetLoss(nn.Module):
    """MODNet's supervised loss (arXiv 2011.11961; weights and normalisations of the official ``src/trainer.py``).

    ``semantic_weight * L_s + detail_weight * L_d + fusion_weight * L_alpha`` with

    - ``L_s = mean((s_p - blur(down16(a_g)))^2)`` over the 1/16 map;
    - ``L_d = mean(m_d |d_p - a_g|)`` over all pixels, ``m_d`` the trimap's unknown band;
    - ``L_alpha = mean|a_p - a_g| + boundary_weight * mean(m_d |a_p - a_g|) + L_c``, with the compositional
      ``L_c = mean|c_p - I| + boundary_weight * mean(m_d |c_p - I|)``, ``c_p = a_p F + (1 - a_p) B`` over the 3
      channels (``composition="fg_bg"``, skipped when an item has no ``fg``/``bg``), or ``c_p = I a_p`` compared with
      ``I a_g`` (``composition="image"``, the official code's form), or no ``L_c`` (``composition="none"``).

    Args:
        semantic_weight, detail_weight, fusion_weight: 10, 10 and 1 in the official code.
        boundary_weight: the extra weight of the band in the fusion loss (4 in the official code).
        composition: ``"fg_bg"``, ``"image"`` or ``"none"``.

    ``forward(outputs, targets)``: ``outputs`` is MODNet's dict (``semantic``, ``detail``, ``alpha``); ``targets`` a
    dict with ``alpha``, ``trimap`` and ``image`` (plus ``fg``, ``bg``). The last terms stay in ``self.terms``.
    """

    def __init__(self, semantic_weight: float = 10.0, detail_weight: float = 10.0, fusion_weight: float = 1.0,
                 boundary_weight: float = 4.0, composition: str = "fg_bg"):
        super().__init__()
        if composition not in ("fg_bg", "image", "none"):
            raise ValueError(f"composition must be 'fg_bg', 'image' or 'none', got {composition!r}")
        if not all(math.isfinite(w) and w >= 0 for w in (semantic_weight, detail_weight, fusion_weight,
                                                           boundary_weight)):
            raise ValueError("MODNetLoss weights must be finite and >= 0, got "
                             f"{(semantic_weight, detail_weight, fusion_weight, boundary_weight)}")
        self.weights = (semantic_weight, detail_weight, fusion_weight)
        self.boundary_weight = boundary_weight
        self.composition = composition
        self.terms: dict[str, torch.Tensor] = {}

    def _l1(self, pred: torch.Tensor, target: torch.Tensor, band: torch.Tensor) -> torch.Tensor:
        err = (pred - target).abs()
        return err.mean() + self.boundary_weight * (err * band).mean()

    def forward(self, outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> torch.Tensor:
        semantic, detail, alpha = (outputs[k].float() for k in ("semantic", "detail", "alpha"))
        gt = targets["alpha"].to(alpha.dtype)
        _check("MODNetLoss (alpha)", alpha, gt)
        _check("MODNetLoss (detail)", detail, gt)
        band = unknown_mask(targets["trimap"]).to(alpha.dtype)
        terms = {"semantic": F.mse_loss(semantic, modnet_semantic_target(gt, tuple(semantic.shape[-2:]))),
                 "detail": ((detail - gt).abs() * band).mean()}
        fusion = self._l1(alpha, gt, band)
        if self.composition == "fg_bg" and _has_fg_bg(targets):
            image = targets["image"].to(alpha.dtype)
            terms["comp"] = self._l1(alpha * targets["fg"] + (1 - alpha) * targets["bg"], image, band)
        elif self.composition == "image":
            image = targets["image"].to(alpha.dtype)
            terms["comp"] = self._l1(image * alpha, image * gt, band)
        terms["fusion"] = fusion + terms["comp"] if "comp" in terms else fusion
        ws, wd, wf = self.weights
        total = ws * terms["semantic"] + wd * terms["detail"] + wf * terms["fusion"]
        self.terms = {k: v.detach() for k, v in terms.items()}
        return total
