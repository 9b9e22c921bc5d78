"""Losses for binary segmentation: binary cross-entropy, soft Dice and their sum, written out by hand.

Introduced in Chapter 3 (U-Net on Kvasir-SEG) and reused by the 3-D U-Net on BraTS (one channel per region).

All three take *logits* (the raw network output, before the sigmoid) and a target of 0/1 values:

``bce_loss``
    The mean over pixels of ``-[t log p + (1 - t) log(1 - p)]`` with ``p = sigmoid(x)``, computed in the
    numerically stable form ``max(x, 0) - x t + log(1 + exp(-|x|))`` (no ``log(0)`` for large ``|x|``).
    Every pixel counts the same, so a small polyp on a large background weighs little.
``soft_dice_loss``
    ``1 - (2 sum(p t) + s) / (sum(p) + sum(t) + s)`` per image (or over the batch), with probabilities ``p``
    instead of a thresholded mask so that it has a gradient. It measures overlap relative to the object's size,
    so small and large polyps weigh the same; ``s`` keeps it defined for empty masks.
``bce_dice_loss`` / :class:`BCEDiceLoss`
    ``bce_weight * BCE + dice_weight * Dice``: the usual choice for polyps (PraNet uses a weighted BCE + IoU):
    BCE gives smooth, well-scaled gradients early on, Dice aligns training with the metric.

Shapes: ``logits`` ``[N, 1, *spatial]`` or ``[N, *spatial]``; ``target`` the same, or ``[N, *spatial]``
integers (a ``{0, 1}`` mask as the datasets return it). ``valid`` (optional, same shape as the target) marks the
pixels that count, for padded batches.

For multi-class models with an auxiliary head (PSPNet, Chapter 3), :class:`AuxCrossEntropy` adds 0.4 times the
cross-entropy of the auxiliary output to that of the main one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BCEDiceLoss", "bce_dice_loss", "bce_loss", "soft_dice_loss", "AuxCrossEntropy", "split_outputs"]


def _prepare(logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Flatten to ``[N, P]`` float tensors; checks shapes and that the target holds values in [0, 1]."""
    if logits.ndim == target.ndim + 1 and logits.shape[1] == 1:
        logits = logits[:, 0]
    if logits.ndim == target.ndim and target.ndim >= 2 and target.shape[1] == 1 and logits.shape[1] != 1:
        target = target[:, 0]
    if logits.shape != target.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and target {tuple(target.shape)} do not match; expected "
                         "[N, 1, *spatial] or [N, *spatial] logits for a binary target [N, *spatial]")
    if logits.ndim < 2:
        raise ValueError(f"expected a batch [N, ...], got logits of shape {tuple(logits.shape)}")
    dtype = torch.promote_types(logits.dtype, torch.float32)  # float32 under autocast, float64 stays float64
    target = target.to(dtype)
    if target.numel() and (target.min() < 0 or target.max() > 1):
        raise ValueError(f"binary target must hold values in [0, 1], found {target.min().item()}..{target.max().item()}"
                         " (a label map with a void value? pass valid=... instead)")
    n = logits.shape[0]
    flat_valid = None
    if valid is not None:
        if valid.shape != target.shape and not (valid.ndim == target.ndim + 1 and valid.shape[1] == 1):
            raise ValueError(f"valid {tuple(valid.shape)} does not match target {tuple(target.shape)}")
        flat_valid = valid.reshape(n, -1).to(dtype)
    return logits.to(dtype).reshape(n, -1), target.reshape(n, -1), flat_valid


def bce_loss(logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None,
             pos_weight: float | None = None) -> torch.Tensor:
    """Binary cross-entropy on logits, averaged over the (valid) pixels of the batch.

    Args:
        logits: raw scores ``[N, 1, *spatial]`` or ``[N, *spatial]``.
        target: ``{0, 1}`` (or soft ``[0, 1]``) values, ``[N, *spatial]`` or the logits' shape.
        valid: optional mask of the pixels that count.
        pos_weight: weight of the positive (polyp) term, as ``torch.nn.BCEWithLogitsLoss(pos_weight=...)``.

    Example:
        >>> x = torch.tensor([[0.0, 2.0]]); t = torch.tensor([[0, 1]])
        >>> round(bce_loss(x, t).item(), 4)  # (log 2 + log(1 + e^-2)) / 2
        0.41
    """
    x, t, v = _prepare(logits, target, valid)
    # -[w t log s(x) + (1 - t) log(1 - s(x))] with log s(x) = -softplus(-x) and log(1 - s(x)) = -softplus(x);
    # softplus(z) = max(z, 0) + log1p(exp(-|z|)) never overflows.
    softplus_neg = torch.clamp(-x, min=0) + torch.log1p(torch.exp(-x.abs()))  # -log sigmoid(x)
    softplus_pos = softplus_neg + x  # -log(1 - sigmoid(x))
    w = 1.0 if pos_weight is None else float(pos_weight)
    per_pixel = w * t * softplus_neg + (1 - t) * softplus_pos
    if v is None:
        return per_pixel.mean()
    return (per_pixel * v).sum() / v.sum().clamp(min=1.0)


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None,
                   smooth: float = 1.0, per_image: bool = True) -> torch.Tensor:
    """Soft Dice loss ``1 - (2 sum(p t) + s) / (sum(p) + sum(t) + s)`` with ``p = sigmoid(logits)``.

    Args:
        logits: raw scores ``[N, 1, *spatial]`` or ``[N, *spatial]``.
        target: ``{0, 1}`` values, ``[N, *spatial]`` or the logits' shape.
        valid: optional mask of the pixels that count.
        smooth: ``s``, added to numerator and denominator: the loss of an empty prediction on an empty mask is 0,
            and the gradient stays finite.
        per_image: compute the Dice of every image and average (each image weighs the same, like the per-image
            mDice of the polyp papers); ``False`` sums over the whole batch first (MONAI's ``batch=True``).

    Example:
        >>> x = torch.full((1, 4), 20.0); t = torch.ones(1, 4)  # confident and right
        >>> soft_dice_loss(x, t).item() < 1e-6
        True
    """
    x, t, v = _prepare(logits, target, valid)
    p = torch.sigmoid(x)
    if v is not None:
        p, t = p * v, t * v
    dims = 1 if per_image else (0, 1)
    intersection = (p * t).sum(dims)
    total = p.sum(dims) + t.sum(dims)
    dice = (2 * intersection + smooth) / (total + smooth)
    return 1 - dice.mean()


def bce_dice_loss(logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None,
                  bce_weight: float = 1.0, dice_weight: float = 1.0, smooth: float = 1.0,
                  per_image: bool = True) -> torch.Tensor:
    """``bce_weight * bce_loss + dice_weight * soft_dice_loss`` (see both).

    Example:
        >>> x = torch.zeros(2, 1, 4, 4); t = torch.zeros(2, 4, 4, dtype=torch.long)
        >>> round(bce_dice_loss(x, t).item(), 4)  # log 2 + (1 - 1 / (8 + 1))
        1.582
    """
    loss = logits.new_zeros((), dtype=torch.promote_types(logits.dtype, torch.float32))
    if bce_weight:
        loss = loss + bce_weight * bce_loss(logits, target, valid)
    if dice_weight:
        loss = loss + dice_weight * soft_dice_loss(logits, target, valid, smooth=smooth, per_image=per_image)
    return loss


class BCEDiceLoss(nn.Module):
    """:func:`bce_dice_loss` as a module, for ``Trainer(loss_fn=...)``.

    Args:
        bce_weight: weight of the cross-entropy term.
        dice_weight: weight of the soft Dice term.
        smooth: Dice smoothing ``s``.
        per_image: Dice per image (True) or over the batch.

    Example:
        >>> loss_fn = BCEDiceLoss(bce_weight=1.0, dice_weight=1.0)
        >>> loss_fn(torch.randn(2, 1, 8, 8), torch.randint(0, 2, (2, 8, 8))).shape
        torch.Size([])
    """

    def __init__(self, bce_weight: float = 1.0, dice_weight: float = 1.0, smooth: float = 1.0,
                 per_image: bool = True):
        super().__init__()
        if bce_weight < 0 or dice_weight < 0 or bce_weight + dice_weight == 0:
            raise ValueError(f"weights must be >= 0 and not both 0, got bce={bce_weight}, dice={dice_weight}")
        self.bce_weight, self.dice_weight, self.smooth, self.per_image = bce_weight, dice_weight, smooth, per_image

    def forward(self, logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        return bce_dice_loss(logits, target, valid, self.bce_weight, self.dice_weight, self.smooth, self.per_image)

    def extra_repr(self) -> str:
        return f"bce_weight={self.bce_weight}, dice_weight={self.dice_weight}, smooth={self.smooth}"



def split_outputs(outputs) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``(main, [auxiliary, ...])`` from a model's output: a tensor, a tuple/list ``(main, *aux)`` (PSPNet in
    training mode) or torchvision's dict ``{"out": main, "aux": aux}``.

    Example:
        >>> main, aux = split_outputs({"out": torch.zeros(1), "aux": torch.ones(1)})
        >>> main.item(), [a.item() for a in aux]
        (0.0, [1.0])
    """
    if isinstance(outputs, torch.Tensor):
        return outputs, []
    if isinstance(outputs, dict):
        if "out" not in outputs:
            raise ValueError(f"a dict output needs an 'out' entry (torchvision's layout), got keys {sorted(outputs)}")
        return outputs["out"], [v for k, v in outputs.items() if k != "out"]
    if isinstance(outputs, (tuple, list)) and outputs and all(isinstance(t, torch.Tensor) for t in outputs):
        return outputs[0], list(outputs[1:])
    raise TypeError(f"expected a tensor, a (main, aux) tuple or a dict with 'out', got {type(outputs).__name__}")


class AuxCrossEntropy(nn.Module):
    """Cross-entropy on the main output plus ``aux_weight`` times the cross-entropy of each auxiliary output.

    PSPNet (Zhao et al., arXiv 1612.01105) supervises its stage-3 features with an auxiliary classifier during
    training, weighted 0.4: it eases the optimisation of the deep ResNet and is dropped at test time. A plain tensor
    (a model in eval mode) gets the plain cross-entropy.

    Args:
        aux_weight: weight of each auxiliary term (0.4 in the paper).
        ignore_index: the void label (CamVid 11, VOC 255, ADE20K after its shift), or ``None``.
        weight: optional per-class weights (SegNet's median frequency balancing), on the logits' device.

    Example:
        >>> target = torch.tensor([[[0, 1]]])  # [N, H, W]
        >>> main, aux = torch.zeros(1, 2, 1, 2), torch.zeros(1, 2, 1, 2)
        >>> round(AuxCrossEntropy()((main, aux), target).item(), 4)  # (1 + 0.4) log 2
        0.9704
    """

    def __init__(self, aux_weight: float = 0.4, ignore_index: int | None = None,
                 weight: torch.Tensor | None = None):
        super().__init__()
        if aux_weight < 0:
            raise ValueError(f"aux_weight must be >= 0, got {aux_weight}")
        self.aux_weight = aux_weight
        self.ignore_index = -100 if ignore_index is None else int(ignore_index)
        self.register_buffer("weight", None if weight is None else torch.as_tensor(weight, dtype=torch.float32))

    def forward(self, outputs, target: torch.Tensor) -> torch.Tensor:
        main, aux = split_outputs(outputs)
        target = target.long()

        def ce(logits: torch.Tensor) -> torch.Tensor:
            if logits.shape[-2:] != target.shape[-2:]:
                raise ValueError(f"logits {tuple(logits.shape)} and target {tuple(target.shape)} differ in size; "
                                 "the model should upsample its outputs to the input size")
            w = None if self.weight is None else self.weight.to(logits.device)
            return F.cross_entropy(logits.float(), target, weight=w, ignore_index=self.ignore_index)

        loss = ce(main)
        for a in aux:
            loss = loss + self.aux_weight * ce(a)
        return loss

    def extra_repr(self) -> str:
        return f"aux_weight={self.aux_weight}, ignore_index={self.ignore_index}"
