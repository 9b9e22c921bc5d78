"""The training loss of Self-Correction Human Parsing (Li et al., arXiv 1910.09777) for the A-CE2P network.

Introduced in Chapter 4. For the ``parsing`` and the ``fusion`` output (upsampled bilinearly to the labels):
``0.5 * Lovász-softmax + 0.5 * cross-entropy`` (:mod:`course_lib.losses.lovasz`); for the ``edge`` output a
cross-entropy of edge / no edge weighted by the other class's share of pixels (edges are rare). The edge targets
come from the labels (:func:`parsing_edges`). Void pixels (255) count nowhere.

**Label refinement.** From the first self-correction cycle on, the hard targets are replaced by soft ones:
``q = m / (m + 1) * p_avg + 1 / (m + 1) * onehot(y)`` where ``p_avg`` is the softmax of the *aggregated* model
(:mod:`course_lib.recipes.self_correction`) and ``m`` the number of cycles done (:func:`refine_labels`); the
cross-entropy terms become soft cross-entropies. SCHP's code mixes the aggregated model's logits (not
probabilities) with the one-hot labels; mixing probabilities, as the paper writes it, keeps ``q`` a distribution.
SCHP's code also adds a "consistency" term that compares two argmax maps only where both are 1, which is always
zero; it is left out.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .lovasz import lovasz_softmax

__all__ = ["SCHPLoss", "parsing_edges", "refine_labels", "soft_cross_entropy"]


def parsing_edges(labels: torch.Tensor, ignore_index: int = 255, width: int = 3) -> torch.Tensor:
    """Edge targets from a label map: 1 where a ``width`` x ``width`` window holds two different labels, else 0.

    Void neighbours do not make edges; void pixels stay ``ignore_index``.

    Args:
        labels: ``int64 [N, H, W]``.
        ignore_index: the void label.
        width: the odd window size (3: edges about 2 pixels wide, as SCHP's ``generate_edge_tensor``).

    Example:
        >>> parsing_edges(torch.tensor([[[0, 0, 1, 1]]]))[0, 0].tolist()
        [0, 1, 1, 0]
    """
    if labels.ndim != 3:
        raise ValueError(f"labels must be [N, H, W], got shape {tuple(labels.shape)}")
    void = labels == ignore_index
    x = labels.float()[:, None]
    big = float(labels.max().clamp(min=0)) + 1.0
    high = F.max_pool2d(torch.where(void[:, None], -1.0, x), width, 1, width // 2)
    low = -F.max_pool2d(-torch.where(void[:, None], big, x), width, 1, width // 2)
    edges = ((high > low) & (high >= 0) & (low < big))[:, 0].long()
    return torch.where(void, torch.full_like(edges, ignore_index), edges)


def refine_labels(average_logits: torch.Tensor, labels: torch.Tensor, cycles: int, ignore_index: int = 255
                  ) -> torch.Tensor:
    """SCHP's label refinement: ``m / (m + 1) * softmax(average_logits) + 1 / (m + 1) * onehot(labels)``.

    Args:
        average_logits: ``[N, K, H, W]`` of the aggregated model (no gradient needed).
        labels: ``[N, H, W]`` the given (maybe noisy) labels.
        cycles: ``m``, the self-correction cycles done (0: the labels themselves, one-hot).
        ignore_index: void pixels get a uniform row (they are masked out of the loss anyway).

    Example:
        >>> q = refine_labels(torch.zeros(1, 2, 1, 1), torch.tensor([[[1]]]), cycles=1)
        >>> q[0, :, 0, 0].tolist()
        [0.25, 0.75]
    """
    k = average_logits.shape[1]
    onehot = F.one_hot(labels.clamp(0, k - 1) * (labels != ignore_index), k).permute(0, 3, 1, 2).float()
    weight = 1.0 / (cycles + 1.0)
    return (1.0 - weight) * F.softmax(average_logits.float().detach(), dim=1) + weight * onehot


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor,
                       class_weight: torch.Tensor | None = None) -> torch.Tensor:
    """``-sum_k q_k log p_k`` averaged over the ``valid`` pixels (``[N, H, W]`` boolean); 0 when none is valid."""
    log_p = F.log_softmax(logits.float(), dim=1)
    if class_weight is not None:
        log_p = log_p * class_weight.view(1, -1, 1, 1)
    per_pixel = -(targets * log_p).sum(1)
    count = valid.sum()
    return (per_pixel * valid).sum() / count.clamp(min=1)


class SCHPLoss:
    """SCHP's loss of the A-CE2P outputs: Lovász + CE on parsing and fusion, balanced CE on edges; soft targets
    from the aggregated model once self-correction has started.

    Args:
        ignore_index: the void label.
        edge_weight: weight of the edge term (1 in SCHP).
        lovasz_weight: weight of the Lovász term against the (soft) cross-entropy (0.5 each in SCHP).

    Called as ``loss(outputs, labels)``: ``outputs`` is the training-mode dict of
    :class:`course_lib.models.ACE2P` (``parsing``, ``fusion``, ``edge``), optionally with ``average`` (the same dict
    of the aggregated model) and ``cycles`` (how many self-correction cycles are done), as
    :class:`course_lib.recipes.self_correction.SelfCorrection` adds them.

    Example:
        >>> out = {k: torch.randn(2, 5, 4, 4) for k in ("parsing", "fusion")} | {"edge": torch.randn(2, 2, 4, 4)}
        >>> labels = torch.zeros(2, 8, 8, dtype=torch.long); labels[:, 2:6, 3:7] = 4
        >>> float(SCHPLoss()(out, labels)) > 0
        True
    """

    def __init__(self, ignore_index: int = 255, edge_weight: float = 1.0, lovasz_weight: float = 0.5) -> None:
        self.ignore_index, self.edge_weight, self.lovasz_weight = ignore_index, edge_weight, lovasz_weight

    def _up(self, x: torch.Tensor, size) -> torch.Tensor:
        return x if x.shape[-2:] == size else F.interpolate(x.float(), size=size, mode="bilinear",
                                                            align_corners=False)

    def __call__(self, outputs: dict, labels: torch.Tensor) -> torch.Tensor:
        size = labels.shape[-2:]
        valid = labels != self.ignore_index
        edges = parsing_edges(labels, self.ignore_index)
        cycles = int(outputs.get("cycles", 0))
        average = outputs.get("average") if cycles > 0 else None
        edge_logits = self._up(outputs["edge"], size)
        positives = ((edges == 1) & valid).sum().float()
        share = (positives / valid.sum().clamp(min=1)).clamp(0.01, 0.99)  # all-edge crops keep a finite loss
        edge_weight = torch.stack([share, 1.0 - share]).to(edge_logits.device)  # rare edges weigh more
        if average is None:
            edge_term = F.cross_entropy(edge_logits, edges, weight=edge_weight, ignore_index=self.ignore_index)
        else:
            soft_edges = refine_labels(self._up(average["edge"], size), edges, cycles, self.ignore_index)
            edge_term = soft_cross_entropy(edge_logits, soft_edges, valid, edge_weight)
        total = self.edge_weight * edge_term
        for key in ("parsing", "fusion"):
            logits = self._up(outputs[key], size)
            total = total + self.lovasz_weight * lovasz_softmax(logits, labels, ignore_index=self.ignore_index)
            if average is None:
                ce = F.cross_entropy(logits.float(), labels, ignore_index=self.ignore_index)
            else:
                soft = refine_labels(self._up(average["fusion"], size), labels, cycles, self.ignore_index)
                ce = soft_cross_entropy(logits, soft, valid)
            total = total + (1.0 - self.lovasz_weight) * ce
        return total
