"""Optical flow metrics: end-point error and the KITTI 2015 Fl score, accumulated over a dataset.

Introduced in Chapter 9 (optical flow). Flow tensors are ``[2, H, W]`` or ``[B, 2, H, W]`` holding ``(u, v)`` in
pixels (see :mod:`course_lib.models.flow_ops` for the conventions).

* :func:`endpoint_error`: ``|pred - target|`` per pixel;
* :func:`flow_outliers`: the KITTI 2015 outlier rule exactly as the benchmark's development kit defines it (a pixel
  is an outlier when its end-point error is above 3 px **and** above 5 % of the true flow's length);
* :class:`FlowMetrics`, :func:`flow_metrics`: EPE, Fl-all and the 1/3/5 px accuracies over all valid pixels of all
  pairs, as the KITTI evaluation sums its counts (and summed over processes under ``torchrun``).
"""

from __future__ import annotations

import torch

__all__ = ["FlowMetrics", "endpoint_error", "flow_metrics", "flow_outliers"]


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
