"""Boundary F-score: how well predicted borders match the true ones, within a tolerance in pixels.

Introduced in Chapter 3 (FCN: do the finer skip connections give sharper borders?). Region scores (IoU, Dice) barely
move when a border is off by a pixel or two, since the border holds few pixels; the boundary F-score looks only at
the borders. The definition is that of the DAVIS benchmark (Perazzi et al. 2016, ``f_boundary`` of its evaluation
code), itself after the BSDS boundary benchmark (Martin et al. 2004):

1. the boundary of a mask is the set of its pixels whose right, lower or lower-right neighbour has another value
   (DAVIS's ``seg2bmap`` at the image's own size);
2. a predicted boundary pixel counts as correct when a true boundary pixel lies within ``tolerance`` pixels
   (Euclidean distance: a disk), and a true one as found when a predicted one lies that close;
3. precision = correct / predicted boundary pixels, recall = found / true boundary pixels,
   F = 2 P R / (P + R); both boundaries empty give F = 1, only one empty gives F = 0.

DAVIS sets the tolerance to 0.8 % of the image diagonal (``bound_th=0.008``, rounded up): 4 pixels at 480p; pass
``tolerance=None`` for that rule. (DAVIS and BSDS match the pixels one-to-one by bipartite matching; like DAVIS's
own code we use the dilation, which can count one pixel for two on the other side.) For label maps,
:func:`mean_boundary_f1` averages the per-class F over the classes present in the prediction or the truth (the "BF
score" of Csurka et al., BMVC 2013).

Example:
    >>> truth = torch.zeros(20, 20, dtype=torch.bool); truth[5:15, 5:15] = True
    >>> shifted = torch.roll(truth, 1, dims=1)  # the square one pixel to the right
    >>> boundary_f1(shifted, truth, tolerance=1), boundary_f1(shifted, truth, tolerance=0) < 1
    (1.0, True)
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["boundary_f1", "boundary_map", "davis_tolerance", "mean_boundary_f1"]


def boundary_map(mask: torch.Tensor | np.ndarray) -> torch.Tensor:
    """The boundary pixels of a 2-D mask (or label map): value differs from the right, lower or lower-right neighbour.

    Example:
        >>> m = torch.zeros(4, 4, dtype=torch.bool); m[1:3, 1:3] = True
        >>> boundary_map(m).int().tolist()
        [[1, 1, 1, 0], [1, 0, 1, 0], [1, 1, 1, 0], [0, 0, 0, 0]]
    """
    m = torch.as_tensor(np.asarray(mask) if not isinstance(mask, torch.Tensor) else mask)
    if m.ndim != 2:
        raise ValueError(f"boundary_map needs a 2-D mask, got shape {tuple(m.shape)}")
    b = torch.zeros(m.shape, dtype=torch.bool)
    b[:, :-1] |= m[:, :-1] != m[:, 1:]
    b[:-1, :] |= m[:-1, :] != m[1:, :]
    b[:-1, :-1] |= m[:-1, :-1] != m[1:, 1:]
    return b


def davis_tolerance(height: int, width: int, fraction: float = 0.008) -> int:
    """DAVIS's tolerance: ``ceil(fraction * diagonal)`` pixels (4 at 854 x 480).

    Example:
        >>> davis_tolerance(480, 854)
        8
    """
    return int(math.ceil(fraction * math.hypot(height, width)))


def _dilate(b: torch.Tensor, radius: int) -> torch.Tensor:
    if radius <= 0:
        return b
    r = torch.arange(-radius, radius + 1, dtype=torch.float32)
    disk = ((r[:, None] ** 2 + r[None, :] ** 2) <= radius**2).float()
    out = F.conv2d(b.float()[None, None], disk[None, None], padding=radius)[0, 0]
    return out > 0


def boundary_f1(pred: torch.Tensor | np.ndarray, target: torch.Tensor | np.ndarray,
                tolerance: int | None = 2) -> float:
    """Boundary F-score of a binary prediction against the true mask (see the module docstring).

    Args:
        pred: ``[H, W]`` predicted mask (booleans or 0/1).
        target: ``[H, W]`` true mask.
        tolerance: match radius in pixels; ``None``: DAVIS's rule, 0.8 % of the diagonal.

    Returns:
        F in [0, 1].
    """
    p = torch.as_tensor(np.asarray(pred)).bool() if not isinstance(pred, torch.Tensor) else pred.bool()
    t = torch.as_tensor(np.asarray(target)).bool() if not isinstance(target, torch.Tensor) else target.bool()
    if p.shape != t.shape:
        raise ValueError(f"prediction {tuple(p.shape)} and target {tuple(t.shape)} differ in shape")
    radius = davis_tolerance(*t.shape) if tolerance is None else int(tolerance)
    if radius < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    bp, bt = boundary_map(p), boundary_map(t)
    n_p, n_t = int(bp.sum()), int(bt.sum())
    if n_p == 0 and n_t == 0:
        return 1.0
    if n_p == 0 or n_t == 0:
        return 0.0
    precision = int((bp & _dilate(bt, radius)).sum()) / n_p
    recall = int((bt & _dilate(bp, radius)).sum()) / n_t
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def mean_boundary_f1(pred: torch.Tensor | np.ndarray, target: torch.Tensor | np.ndarray, num_classes: int,
                     tolerance: int | None = 2, ignore_index: int | None = None) -> float:
    """Mean over classes of :func:`boundary_f1` for one pair of label maps (classes absent from both are skipped).

    Pixels labelled ``ignore_index`` in the truth are given the prediction's label in both maps' copies, so that
    neither a void band nor the prediction inside it makes a border.

    Args:
        pred: ``[H, W]`` predicted labels.
        target: ``[H, W]`` true labels.
        num_classes: classes ``0 .. num_classes - 1``.
        tolerance: see :func:`boundary_f1`.
        ignore_index: label of void pixels in ``target``.

    Returns:
        The mean F over the classes present in ``pred`` or ``target`` (``nan`` if none is).

    Example:
        >>> a = torch.tensor([[0, 0, 1, 1]] * 4)
        >>> mean_boundary_f1(a, a, num_classes=2)
        1.0
    """
    p = torch.as_tensor(np.asarray(pred)).long() if not isinstance(pred, torch.Tensor) else pred.long()
    t = torch.as_tensor(np.asarray(target)).long() if not isinstance(target, torch.Tensor) else target.long()
    if p.shape != t.shape:
        raise ValueError(f"prediction {tuple(p.shape)} and target {tuple(t.shape)} differ in shape")
    if ignore_index is not None:
        void = t == ignore_index
        t = torch.where(void, p, t)
    scores = [boundary_f1(p == c, t == c, tolerance) for c in range(num_classes)
              if bool((p == c).any() or (t == c).any())]
    return float(np.mean(scores)) if scores else float("nan")
