"""PointNet++: hierarchical PointNet on local neighbourhoods (sampling, grouping, set abstraction) in plain PyTorch.

Introduced in Chapter 6. C. R. Qi, L. Yi, H. Su, L. J. Guibas, *PointNet++: Deep Hierarchical Feature Learning on
Point Sets in a Metric Space*, NeurIPS 2017, https://arxiv.org/abs/1706.02413.

PointNet pools the whole cloud at once and so never looks at local structure. PointNet++ builds a hierarchy like a
CNN's: a *set abstraction* level

1. **samples** ``npoint`` centroids with farthest point sampling (each new centroid is the point farthest from
   those already chosen, which covers the shape evenly),
2. **groups** the points within ``radius`` of each centroid (ball query, at most ``nsample`` of them, coordinates
   taken relative to the centroid),
3. runs a small **PointNet** on each group (shared MLP, max pooling) to get one feature per centroid.

Two levels (512 then 128 centroids) and a last PointNet over everything give the single-scale grouping (SSG)
classifier; multi-scale grouping (MSG) groups at several radii and concatenates the features, which copes with
varying density. The authors compile CUDA kernels for sampling and grouping; here they are written with tensor
operations (a loop over the ``npoint`` steps of farthest point sampling), which is fine for a course on a GPU and for
small clouds on a CPU.

Shapes: points ``[B, N, C]`` in, ``(logits [B, classes], aux)`` out, with ``aux["centroids"]`` the sampled
centroids of each level (for plots).

Example:
    >>> model = pointnet2_cls(num_classes=10, width=0.25, npoints=(64, 16), nsamples=(16, 16))
    >>> logits, aux = model(torch.randn(2, 256, 3))
    >>> logits.shape, [tuple(c.shape) for c in aux["centroids"]]
    (torch.Size([2, 10]), [(2, 64, 3), (2, 16, 3)])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = [
    "PointNet2Classifier",
    "SetAbstraction",
    "SetAbstractionMSG",
    "ball_query",
    "farthest_point_sample",
    "group_points",
    "index_points",
    "pointnet2_cls",
]


def farthest_point_sample(xyz: torch.Tensor, npoint: int, start: int | torch.Tensor = 0) -> torch.Tensor:
    """Indices of ``npoint`` points chosen by farthest point sampling.

    The first index is ``start``; each next one is the point whose distance to the nearest chosen point is largest.

    Args:
        xyz: ``[B, N, 3]`` (or ``[N, 3]``).
        npoint: how many points to pick (at most ``N``).
        start: the first index, for all clouds (int) or per cloud (``[B]`` tensor); open3d also starts at 0.

    Returns:
        ``int64 [B, npoint]`` (or ``[npoint]`` for an unbatched input).

    Example:
        >>> xyz = torch.tensor([[0., 0, 0], [1, 0, 0], [0.1, 0, 0], [5, 0, 0]])
        >>> farthest_point_sample(xyz, 3).tolist()
        [0, 3, 1]
    """
    single = xyz.ndim == 2
    if single:
        xyz = xyz.unsqueeze(0)
    b, n, _ = xyz.shape
    if not 0 < npoint <= n:
        raise ValueError(f"npoint must be in 1..{n} (the number of points), got {npoint}")
    idx = torch.empty(b, npoint, dtype=torch.long, device=xyz.device)
    nearest = torch.full((b, n), float("inf"), dtype=xyz.dtype, device=xyz.device)
    current = torch.as_tensor(start, device=xyz.device).long().expand(b).clone()
    rows = torch.arange(b, device=xyz.device)
    for i in range(npoint):
        idx[:, i] = current
        chosen = xyz[rows, current].unsqueeze(1)  # [B, 1, 3]
        nearest = torch.minimum(nearest, ((xyz - chosen) ** 2).sum(dim=2))
        current = nearest.argmax(dim=1)
    return idx[0] if single else idx


def index_points(points: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Gather ``points [B, N, C]`` at ``idx [B, ...]`` -> ``[B, ..., C]``.

    Example:
        >>> index_points(torch.arange(6.).view(1, 3, 2), torch.tensor([[2, 0]])).tolist()
        [[[4.0, 5.0], [0.0, 1.0]]]
    """
    b = points.shape[0]
    flat = idx.reshape(b, -1)
    out = torch.gather(points, 1, flat.unsqueeze(-1).expand(-1, -1, points.shape[-1]))
    return out.view(*idx.shape, points.shape[-1])


def ball_query(xyz: torch.Tensor, centroids: torch.Tensor, radius: float, nsample: int) -> torch.Tensor:
    """For each centroid, the first ``nsample`` points (in index order) within ``radius``.

    Groups with fewer points are padded by repeating their first point, as the reference implementation does, so
    that every group has ``nsample`` entries; a centroid with no point in reach gets its nearest point.

    Args:
        xyz: all points ``[B, N, 3]``.
        centroids: ``[B, S, 3]``.
        radius: the ball's radius.
        nsample: group size.

    Returns:
        ``int64 [B, S, nsample]`` indices into ``xyz``.

    Example:
        >>> xyz = torch.tensor([[[0., 0, 0], [0.05, 0, 0], [1, 0, 0]]])
        >>> ball_query(xyz, xyz[:, :1], radius=0.1, nsample=3).tolist()
        [[[0, 1, 0]]]
    """
    b, n, _ = xyz.shape
    d2 = torch.cdist(centroids, xyz, compute_mode="donot_use_mm_for_euclid_dist") ** 2  # [B, S, N], exact
    order = torch.arange(n, device=xyz.device).expand_as(d2)
    key = torch.where(d2 <= radius * radius, order, order + n)  # points in reach first, in index order
    k = min(nsample, n)
    idx = key.topk(k, dim=2, largest=False, sorted=True).values
    inside = idx < n
    first = torch.where(inside[..., :1], idx[..., :1], d2.argmin(dim=2, keepdim=True))
    idx = torch.where(inside, idx, first)
    if k < nsample:
        idx = torch.cat([idx, first.expand(-1, -1, nsample - k)], dim=2)
    return idx


def group_points(xyz: torch.Tensor, features: torch.Tensor | None, centroids: torch.Tensor,
                 idx: torch.Tensor) -> torch.Tensor:
    """Build the local regions: for each group, the neighbours' coordinates relative to the centroid, followed by
    their features.

    Args:
        xyz: ``[B, N, 3]``.
        features: ``[B, N, C]`` or ``None``.
        centroids: ``[B, S, 3]``.
        idx: ``[B, S, K]`` from :func:`ball_query`.

    Returns:
        ``[B, S, K, 3 + C]``.
    """
    grouped = index_points(xyz, idx) - centroids.unsqueeze(2)
    if features is not None:
        grouped = torch.cat([grouped, index_points(features, idx)], dim=-1)
    return grouped


def _mlp2d(channels: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for cin, cout in zip(channels[:-1], channels[1:], strict=True):
        layers += [nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class SetAbstraction(nn.Module):
    """One set abstraction level with single-scale grouping (or one PointNet over everything: ``group_all``).

    Args:
        npoint: centroids to sample (ignored with ``group_all``).
        radius: ball query radius.
        nsample: points per group.
        in_channels: feature channels of the input points (0 for bare x, y, z).
        mlp: output widths of the shared MLP.
        group_all: one group holding every point (the last level of the classifier).

    Example:
        >>> sa = SetAbstraction(32, 0.4, 16, 0, [16, 32])
        >>> xyz, feat = sa(torch.rand(2, 128, 3), None)
        >>> xyz.shape, feat.shape
        (torch.Size([2, 32, 3]), torch.Size([2, 32, 32]))
    """

    def __init__(self, npoint: int | None, radius: float | None, nsample: int | None, in_channels: int,
                 mlp: Sequence[int], group_all: bool = False):
        super().__init__()
        self.npoint, self.radius, self.nsample, self.group_all = npoint, radius, nsample, group_all
        self.mlp = _mlp2d([in_channels + 3, *mlp])
        self.out_channels = mlp[-1]

    def forward(self, xyz: torch.Tensor, features: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """``xyz [B, N, 3]``, ``features [B, N, C] | None`` -> centroids ``[B, S, 3]``, features ``[B, S, C']``."""
        if self.group_all:
            centroids = xyz.new_zeros(xyz.shape[0], 1, 3)
            grouped = xyz.unsqueeze(1)
            if features is not None:
                grouped = torch.cat([grouped, features.unsqueeze(1)], dim=-1)  # [B, 1, N, 3 + C]
        else:
            centroids = index_points(xyz, farthest_point_sample(xyz.detach(), min(self.npoint, xyz.shape[1])))
            idx = ball_query(xyz.detach(), centroids.detach(), self.radius, self.nsample)
            grouped = group_points(xyz, features, centroids, idx)  # [B, S, K, 3 + C]
        out = self.mlp(grouped.permute(0, 3, 1, 2))  # [B, C', S, K]
        return centroids, out.max(dim=3).values.transpose(1, 2)


class SetAbstractionMSG(nn.Module):
    """A set abstraction level with multi-scale grouping: one ball query and PointNet per radius, concatenated.

    Args:
        npoint: centroids to sample.
        radii: one radius per scale.
        nsamples: group size per scale.
        in_channels: input feature channels.
        mlps: one list of widths per scale.
    """

    def __init__(self, npoint: int, radii: Sequence[float], nsamples: Sequence[int], in_channels: int,
                 mlps: Sequence[Sequence[int]]):
        super().__init__()
        if not len(radii) == len(nsamples) == len(mlps):
            raise ValueError("radii, nsamples and mlps need one entry per scale")
        self.npoint, self.radii, self.nsamples = npoint, tuple(radii), tuple(nsamples)
        self.mlps = nn.ModuleList(_mlp2d([in_channels + 3, *m]) for m in mlps)
        self.out_channels = sum(m[-1] for m in mlps)

    def forward(self, xyz: torch.Tensor, features: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        centroids = index_points(xyz, farthest_point_sample(xyz.detach(), min(self.npoint, xyz.shape[1])))
        outs = []
        for radius, nsample, mlp in zip(self.radii, self.nsamples, self.mlps, strict=True):
            idx = ball_query(xyz.detach(), centroids.detach(), radius, nsample)
            grouped = group_points(xyz, features, centroids, idx).permute(0, 3, 1, 2)
            outs.append(mlp(grouped).max(dim=3).values)
        return centroids, torch.cat(outs, dim=1).transpose(1, 2)


def _w(channels: Sequence[int], width: float) -> list[int]:
    return [max(4, int(round(c * width))) for c in channels]


class PointNet2Classifier(nn.Module):
    """PointNet++ classifier: two set abstraction levels, a global PointNet, fully connected (512, 256).

    Args:
        num_classes: number of classes.
        in_channels: 3 (x, y, z) or 6 (with normals, fed as point features).
        variant: ``"ssg"`` (single-scale grouping) or ``"msg"`` (multi-scale grouping).
        width: width multiplier of every layer (1.0 = the paper).
        npoints: centroids of the two levels (paper: 512, 128).
        radii: SSG radii of the two levels (paper: 0.2, 0.4); MSG uses three radii per level derived from them
            (x0.5, x1, x2).
        nsamples: SSG group sizes (paper: 32, 64); MSG uses (x0.5, x1, x2) of them.
        dropout: dropout in the head (the paper keeps 50 %).
    """

    def __init__(self, num_classes: int, in_channels: int = 3, variant: str = "ssg", width: float = 1.0,
                 npoints: Sequence[int] = (512, 128), radii: Sequence[float] = (0.2, 0.4),
                 nsamples: Sequence[int] = (32, 64), dropout: float = 0.5):
        super().__init__()
        if variant not in ("ssg", "msg"):
            raise ValueError(f"variant must be 'ssg' or 'msg', got {variant!r}")
        if in_channels < 3:
            raise ValueError(f"in_channels must be at least 3, got {in_channels}")
        self.in_channels, self.variant = in_channels, variant
        extra = in_channels - 3
        if variant == "ssg":
            self.sa1 = SetAbstraction(npoints[0], radii[0], nsamples[0], extra, _w([64, 64, 128], width))
            self.sa2 = SetAbstraction(npoints[1], radii[1], nsamples[1], self.sa1.out_channels,
                                      _w([128, 128, 256], width))
        else:
            scales = (0.5, 1.0, 2.0)
            self.sa1 = SetAbstractionMSG(npoints[0], [radii[0] * s for s in scales],
                                         [max(4, int(nsamples[0] * s)) for s in scales], extra,
                                         [_w(m, width) for m in ([32, 32, 64], [64, 64, 128], [64, 96, 128])])
            self.sa2 = SetAbstractionMSG(npoints[1], [radii[1] * s for s in scales],
                                         [max(4, int(nsamples[1] * s)) for s in scales], self.sa1.out_channels,
                                         [_w(m, width) for m in ([64, 64, 128], [128, 128, 256], [128, 128, 256])])
        self.sa3 = SetAbstraction(None, None, None, self.sa2.out_channels, _w([256, 512, 1024], width),
                                  group_all=True)
        c512, c256 = _w([512, 256], width)
        self.head = nn.Sequential(
            nn.Linear(self.sa3.out_channels, c512, bias=False), nn.BatchNorm1d(c512), nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(c512, c256, bias=False), nn.BatchNorm1d(c256), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(c256, num_classes),
        )
        self.num_classes = num_classes

    def forward(self, points: torch.Tensor) -> tuple[torch.Tensor, dict[str, list[torch.Tensor]]]:
        if points.ndim != 3 or points.shape[2] != self.in_channels:
            raise ValueError(f"PointNet++ expects points [B, N, {self.in_channels}], got shape {tuple(points.shape)}")
        xyz = points[..., :3].contiguous()
        features = points[..., 3:] if self.in_channels > 3 else None
        xyz1, f1 = self.sa1(xyz, features)
        xyz2, f2 = self.sa2(xyz1, f1)
        _, f3 = self.sa3(xyz2, f2)
        return self.head(f3[:, 0]), {"centroids": [xyz1, xyz2]}


def pointnet2_cls(*, num_classes: int, in_channels: int = 3, variant: str = "ssg", width: float = 1.0,
                  npoints: Sequence[int] = (512, 128), radii: Sequence[float] = (0.2, 0.4),
                  nsamples: Sequence[int] = (32, 64), dropout: float = 0.5) -> PointNet2Classifier:
    """PointNet++ classification network (Qi et al. 2017, arXiv:1706.02413), single- or multi-scale grouping.

    Args:
        num_classes: number of shape classes.
        in_channels: 3 or 6 (with normals).
        variant: ``"ssg"`` or ``"msg"``.
        width: width multiplier (1.0 = the paper, 1.5 M parameters for SSG on 40 classes).
        npoints, radii, nsamples: the two grouping levels (see :class:`PointNet2Classifier`).
        dropout: head dropout rate.

    Example:
        >>> m = pointnet2_cls(num_classes=40)
        >>> sum(p.numel() for p in m.parameters())
        1472360
    """
    return PointNet2Classifier(num_classes, in_channels, variant, width, npoints, radii, nsamples, dropout)
