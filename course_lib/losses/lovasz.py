"""The Lovász-softmax loss (Berman, Rannen Triki & Blaschko, CVPR 2018, arXiv 1705.08790), written out by hand.

Introduced in Chapter 4 (SCHP trains with cross-entropy plus Lovász-softmax, arXiv 1910.09777). The Jaccard loss
of class ``c`` is a set function of the pixels it gets wrong, ``M``: ``Delta(M) = |M| / |{y = c} union M|``
(``1 - IoU``). It is not differentiable, but it is submodular, so its **Lovász extension** is its tightest convex
surrogate (its convex closure): for a vector of errors ``m`` in ``[0, 1]^P`` sorted so that
``m_1 >= m_2 >= ...``, ``ext(m) = sum_i m_i (Delta({1..i}) - Delta({1..i-1}))``, which equals ``Delta(M)`` when
``m`` is the 0/1 indicator of ``M`` and interpolates linearly between those corners. Lovász-softmax uses
``m_i = |[y_i = c] - p_i(c)|`` with the softmax probabilities ``p`` and averages over the classes present.

:func:`lovasz_grad` gives the increments ``Delta({1..i}) - Delta({1..i-1})`` in one pass with cumulative sums;
tests check the loss against a brute force over level sets, the convex closure by linear programming, and
``segmentation_models_pytorch``'s implementation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["jaccard_set_loss", "lovasz_grad", "lovasz_softmax", "lovasz_softmax_flat"]


def jaccard_set_loss(errors: torch.Tensor, foreground: torch.Tensor) -> torch.Tensor:
    """The Jaccard loss of one class for a *set* of wrong pixels: ``|M| / |F union M|`` (0 when both are empty).

    Args:
        errors: boolean ``[P]``, the pixels the prediction gets wrong for this class (``M``).
        foreground: boolean ``[P]``, the pixels of this class in the ground truth (``F``).

    Example:
        >>> jaccard_set_loss(torch.tensor([True, False, False]), torch.tensor([True, True, False]))
        tensor(0.5000)
    """
    union = (foreground | errors).sum()
    return errors.sum() / union if union > 0 else torch.zeros(())


def lovasz_grad(gt_sorted: torch.Tensor) -> torch.Tensor:
    """The increments of the Jaccard loss along the pixels sorted by decreasing error (the extension's weights).

    Args:
        gt_sorted: ``[P]`` 0/1 ground truth of the class, in the order of decreasing error.

    Returns:
        ``[P]`` float: ``Delta({1..i}) - Delta({1..i-1})``, where the first ``i`` pixels are counted wrong.

    Example:
        >>> lovasz_grad(torch.tensor([1.0, 0.0, 1.0]))
        tensor([0.5000, 0.1667, 0.3333])
    """
    gt_sorted = gt_sorted.float()
    total = gt_sorted.sum()
    intersection = total - gt_sorted.cumsum(0)  # class pixels still right after counting the first i wrong
    union = total + (1.0 - gt_sorted).cumsum(0)  # class pixels plus the false positives among the first i
    jaccard = 1.0 - intersection / union
    if gt_sorted.numel() > 1:
        jaccard[1:] = jaccard[1:] - jaccard[:-1].clone()
    return jaccard


def lovasz_softmax_flat(probas: torch.Tensor, labels: torch.Tensor, classes: str = "present") -> torch.Tensor:
    """Lovász-softmax over pixels: ``probas [P, C]`` (softmax outputs), ``labels [P]`` (no ignored pixels left).

    Args:
        probas: class probabilities per pixel.
        labels: the true class per pixel.
        classes: ``"present"`` (average over the classes in ``labels``, as SCHP and the paper's default) or
            ``"all"``.

    Returns:
        a scalar; 0 for an empty input.
    """
    if probas.numel() == 0:
        return probas.sum() * 0.0
    losses = []
    for c in range(probas.shape[1]):
        fg = (labels == c).float()
        if classes == "present" and fg.sum() == 0:
            continue
        errors = (fg - probas[:, c]).abs()
        errors_sorted, order = torch.sort(errors, 0, descending=True)
        losses.append(torch.dot(errors_sorted, lovasz_grad(fg[order])))
    if not losses:
        return probas.sum() * 0.0
    return torch.stack(losses).mean()


def lovasz_softmax(logits: torch.Tensor, labels: torch.Tensor, *, ignore_index: int | None = 255,
                   per_image: bool = False, classes: str = "present", from_logits: bool = True) -> torch.Tensor:
    """The Lovász-softmax loss of a batch (Berman et al., arXiv 1705.08790).

    Args:
        logits: ``[N, C, H, W]`` scores (or probabilities with ``from_logits=False``).
        labels: ``[N, H, W]`` class indices; ``ignore_index`` pixels are left out.
        ignore_index: the void label, or ``None``.
        per_image: average the loss of each image (``True``) or compute it over all pixels of the batch (``False``,
            as SCHP trains).
        classes: ``"present"`` or ``"all"``.
        from_logits: apply the softmax first.

    Example:
        >>> logits = torch.tensor([[[[5.0, -5.0]], [[-5.0, 5.0]]]])  # [1, 2, 1, 2]: a perfect prediction
        >>> round(float(lovasz_softmax(logits, torch.tensor([[[0, 1]]]))), 3)
        0.0
    """
    if logits.ndim != 4 or labels.shape != (logits.shape[0], *logits.shape[2:]):
        raise ValueError(f"expected logits [N, C, H, W] and labels [N, H, W], got {tuple(logits.shape)} and "
                         f"{tuple(labels.shape)}")
    if classes not in ("present", "all"):
        raise ValueError(f"classes must be 'present' or 'all', got {classes!r}")
    probas = F.softmax(logits.float(), dim=1) if from_logits else logits.float()

    def flat(p: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p, y = p.permute(0, 2, 3, 1).reshape(-1, p.shape[1]), y.reshape(-1)
        keep = y != ignore_index if ignore_index is not None else torch.ones_like(y, dtype=torch.bool)
        return p[keep], y[keep]

    if per_image:
        return torch.stack([lovasz_softmax_flat(*flat(p[None], y[None]), classes=classes)
                            for p, y in zip(probas, labels, strict=True)]).mean()
    return lovasz_softmax_flat(*flat(probas, labels), classes=classes)
