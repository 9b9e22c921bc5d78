"""PointNet: deep learning directly on unordered point sets, with T-Nets; and the patch networks built on it.

Introduced in Chapter 6. C. R. Qi, H. Su, K. Mo, L. J. Guibas, *PointNet: Deep Learning on Point Sets for 3D
Classification and Segmentation*, CVPR 2017, https://arxiv.org/abs/1612.00593.

The idea in three lines: a *shared* MLP embeds every point on its own (a 1x1 convolution over the points), a
*symmetric* function (max pooling over the points) turns the set of embeddings into one global feature that does
not depend on the order of the points, and a classifier reads the global feature. Two small networks (T-Nets)
predict a 3x3 transform of the input and a 64x64 transform of the point features, so the network can undo a pose
change; an orthogonality regulariser ``||I - A A^T||^2`` keeps the 64x64 transform close to a rotation (it is a loss:
:func:`course_lib.losses.points.orthogonality_loss`).

Every model here takes points as ``[B, N, C]`` (C = 3 for x, y, z; 6 with normals, which the input transform
leaves alone) and returns ``(logits, aux)``: ``aux`` holds the two transforms (for the regulariser), and the index of
the point that won the max pooling in each channel (the *critical points*).

The end of the file holds the patch network of the chapter's last section: PCPNet (Guerrero et al.,
https://arxiv.org/abs/1710.04954) and PointCleanNet (Rakotosaona et al., https://arxiv.org/abs/1901.01060) run a
small PointNet on the neighbourhood of each point to estimate its normal or to score it as an outlier (the patches
come from :func:`course_lib.data.point_transforms.knn_patches`; the training loop of the demo is
:func:`course_lib.recipes.pointnet_demos.train_outlier_scorer`).

Example:
    >>> model = pointnet_cls(num_classes=10, width=0.25)
    >>> logits, aux = model(torch.randn(2, 128, 3))
    >>> logits.shape, aux["feature_transform"].shape
    (torch.Size([2, 10]), torch.Size([2, 16, 16]))
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "SHAPENET_PART_CATEGORIES",
    "PatchPointNet",
    "PointNetClassifier",
    "PointNetEncoder",
    "PointNetPartSegmenter",
    "TNet",
    "critical_points",
    "pointnet_cls",
    "pointnet_partseg",
    "shared_mlp",
    "upper_bound_shape",
]

#: The 16 categories of the ShapeNet part benchmark (Yi et al. 2016) and their number of part labels (50 in all).
SHAPENET_PART_CATEGORIES = {
    "airplane": 4, "bag": 2, "cap": 2, "car": 4, "chair": 4, "earphone": 3, "guitar": 3, "knife": 2, "lamp": 4,
    "laptop": 2, "motorbike": 6, "mug": 2, "pistol": 3, "rocket": 3, "skateboard": 3, "table": 3,
}  # fmt: skip


def _c(channels: int, width: float) -> int:
    return max(4, int(round(channels * width)))


def shared_mlp(channels: Sequence[int], last_act: bool = True) -> nn.Sequential:
    """A per-point MLP: 1x1 convolutions over ``[B, C, N]`` with BatchNorm and ReLU (the "mlp" of the paper).

    Args:
        channels: ``(in, hidden..., out)``.
        last_act: BatchNorm and ReLU after the last layer too.

    Example:
        >>> shared_mlp([3, 64, 128])(torch.randn(2, 3, 50)).shape
        torch.Size([2, 128, 50])
    """
    layers: list[nn.Module] = []
    for i, (cin, cout) in enumerate(zip(channels[:-1], channels[1:], strict=True)):
        last = i == len(channels) - 2
        layers.append(nn.Conv1d(cin, cout, 1, bias=last and not last_act))
        if not last or last_act:
            layers += [nn.BatchNorm1d(cout), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


def _fc(channels: Sequence[int], dropout: float = 0.0) -> nn.Sequential:
    layers: list[nn.Module] = []
    for cin, cout in zip(channels[:-1], channels[1:], strict=True):
        layers += [nn.Linear(cin, cout, bias=False), nn.BatchNorm1d(cout), nn.ReLU(inplace=True)]
        if dropout:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class TNet(nn.Module):
    """A mini-PointNet that predicts a ``k x k`` transform of its input (the input or feature transform).

    Shared MLP (64, 128, 1024), max pooling, fully connected (512, 256) and a last layer to ``k*k`` numbers that
    starts at zero with the identity as bias, so that training starts from "no transform".

    Args:
        k: size of the transform (3 for x, y, z; 64 for the features).
        width: multiplier of the hidden widths (1.0 = the paper).

    Example:
        >>> TNet(3)(torch.randn(4, 3, 100)).shape
        torch.Size([4, 3, 3])
    """

    def __init__(self, k: int, width: float = 1.0):
        super().__init__()
        self.k = k
        self.mlp = shared_mlp([k, _c(64, width), _c(128, width), _c(1024, width)])
        self.fc = _fc([_c(1024, width), _c(512, width), _c(256, width)])
        self.out = nn.Linear(_c(256, width), k * k)
        nn.init.zeros_(self.out.weight)
        with torch.no_grad():
            self.out.bias.copy_(torch.eye(k).flatten())

    def forward(self, x: torch.Tensor, return_pool: bool = False):
        """``x [B, k, N]`` -> transform ``[B, k, k]`` (applied as ``points @ T`` to points ``[B, N, k]``).

        With ``return_pool``, also the max pooling's ``(values [B, D], indices [B, D])``: a T-Net has its own
        critical points.
        """
        pooled = self.mlp(x).max(dim=2)
        transform = self.out(self.fc(pooled.values)).view(-1, self.k, self.k)
        return (transform, pooled) if return_pool else transform


class PointNetEncoder(nn.Module):
    """The PointNet trunk: input T-Net, shared MLP (64, 64), feature T-Net, shared MLP (64, 128, 1024), max pool.

    Args:
        in_channels: 3 (x, y, z) or 6 (x, y, z and normals; only x, y, z go through the input transform).
        width: multiplier of every width (1.0 = the paper: a 1024-d global feature).
        input_transform: use the 3x3 T-Net.
        feature_transform: use the 64x64 T-Net.

    Example:
        >>> out = PointNetEncoder(width=0.25)(torch.randn(2, 100, 3))
        >>> out["global"].shape, out["point_features"].shape
        (torch.Size([2, 256]), torch.Size([2, 16, 100]))
    """

    def __init__(self, in_channels: int = 3, width: float = 1.0, input_transform: bool = True,
                 feature_transform: bool = True):
        super().__init__()
        if in_channels < 3:
            raise ValueError(f"in_channels must be at least 3 (x, y, z), got {in_channels}")
        self.in_channels = in_channels
        c64 = _c(64, width)
        self.input_tnet = TNet(3, width) if input_transform else None
        self.mlp1 = shared_mlp([in_channels, c64, c64])
        self.feature_tnet = TNet(c64, width) if feature_transform else None
        self.mlp2 = shared_mlp([c64, _c(128, width), _c(1024, width)])
        self.out_channels = _c(1024, width)
        self.point_channels = c64

    def point_embeddings(self, points: torch.Tensor) -> dict[str, torch.Tensor]:
        """Everything before the max pooling: per-point embeddings ``[B, D, N]``, the transforms, and the pooled
        maxima and their indices inside the T-Nets (``input_tnet_max``, ``input_tnet_indices``, ...)."""
        if points.ndim != 3 or points.shape[2] != self.in_channels:
            raise ValueError(f"PointNet expects points [B, N, {self.in_channels}], got shape {tuple(points.shape)}")
        out: dict[str, torch.Tensor] = {}
        x = points
        if self.input_tnet is not None:
            xyz = points[..., :3]
            t, pooled = self.input_tnet(xyz.transpose(1, 2), return_pool=True)
            x = torch.cat([xyz @ t, points[..., 3:]], dim=2)
            out["input_transform"], out["input_tnet_max"], out["input_tnet_indices"] = t, *pooled
        x = self.mlp1(x.transpose(1, 2))  # [B, 64, N]
        if self.feature_tnet is not None:
            t, pooled = self.feature_tnet(x, return_pool=True)
            x = (x.transpose(1, 2) @ t).transpose(1, 2)
            out["feature_transform"], out["feature_tnet_max"], out["feature_tnet_indices"] = t, *pooled
        out["point_features"] = x
        out["embeddings"] = self.mlp2(x)  # [B, 1024, N]
        return out

    def forward(self, points: torch.Tensor) -> dict[str, torch.Tensor]:
        """``points [B, N, C]`` -> dict with ``global [B, 1024]``, ``critical_indices [B, 1024]`` (the point that
        won the max in each channel), ``point_features [B, 64, N]`` and the transforms."""
        out = self.point_embeddings(points)
        pooled = out.pop("embeddings").max(dim=2)
        out["global"], out["critical_indices"] = pooled.values, pooled.indices
        return out


class PointNetClassifier(nn.Module):
    """PointNet for shape classification: encoder, then fully connected (512, 256) with dropout, then classes.

    ``forward(points [B, N, C])`` returns ``(logits [B, num_classes], aux)`` where ``aux`` holds
    ``input_transform``, ``feature_transform`` and ``critical_indices``.
    """

    def __init__(self, num_classes: int, in_channels: int = 3, width: float = 1.0, dropout: float = 0.3,
                 input_transform: bool = True, feature_transform: bool = True):
        super().__init__()
        self.encoder = PointNetEncoder(in_channels, width, input_transform, feature_transform)
        self.head = nn.Sequential(
            nn.Linear(self.encoder.out_channels, _c(512, width), bias=False), nn.BatchNorm1d(_c(512, width)),
            nn.ReLU(inplace=True),
            nn.Linear(_c(512, width), _c(256, width), bias=False), nn.BatchNorm1d(_c(256, width)),
            nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(_c(256, width), num_classes),
        )
        self.num_classes = num_classes

    def forward(self, points: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        out = self.encoder(points)
        logits = self.head(out["global"])
        aux = {k: v for k, v in out.items() if k in ("input_transform", "feature_transform", "critical_indices")}
        return logits, aux


class PointNetPartSegmenter(nn.Module):
    """PointNet for part segmentation (the segmentation network of Fig. 2 of the paper).

    Each point's 64-d local feature is concatenated with the global feature and a one-hot vector of the object
    category (as in the paper's ShapeNet part experiments), then a shared MLP (512, 256, 128) scores the parts.

    ``forward(points [B, N, C], category [B] or None)`` returns ``(logits [B, num_parts, N], aux)``: the logits are
    channels-first, ready for ``F.cross_entropy(logits, labels [B, N])``.

    Args:
        num_parts: number of part labels (50 for the ShapeNet part benchmark).
        num_categories: number of object categories given as one-hot input (16 there; 0 = none).
        in_channels, width, input_transform, feature_transform: as :class:`PointNetEncoder`.
        dropout: dropout before the last layer.
    """

    def __init__(self, num_parts: int, num_categories: int = 16, in_channels: int = 3, width: float = 1.0,
                 dropout: float = 0.2, input_transform: bool = True, feature_transform: bool = True):
        super().__init__()
        self.encoder = PointNetEncoder(in_channels, width, input_transform, feature_transform)
        self.num_categories = num_categories
        cin = self.encoder.point_channels + self.encoder.out_channels + num_categories
        self.head = nn.Sequential(
            shared_mlp([cin, _c(512, width), _c(256, width), _c(128, width)]),
            nn.Dropout(dropout),
            nn.Conv1d(_c(128, width), num_parts, 1),
        )

    def forward(self, points: torch.Tensor, category: torch.Tensor | None = None):
        out = self.encoder(points)
        n = points.shape[1]
        parts = [out["point_features"], out["global"].unsqueeze(2).expand(-1, -1, n)]
        if self.num_categories:
            if category is None:
                raise ValueError("this part segmenter was built with num_categories > 0: pass category [B]")
            onehot = F.one_hot(category.long(), self.num_categories).to(points.dtype)
            parts.append(onehot.unsqueeze(2).expand(-1, -1, n))
        logits = self.head(torch.cat(parts, dim=1))
        aux = {k: v for k, v in out.items() if k in ("input_transform", "feature_transform", "critical_indices")}
        return logits, aux


def pointnet_cls(*, num_classes: int, in_channels: int = 3, width: float = 1.0, dropout: float = 0.3,
                 input_transform: bool = True, feature_transform: bool = True) -> PointNetClassifier:
    """PointNet classification network (Qi et al. 2017, arXiv:1612.00593).

    Args:
        num_classes: number of shape classes (40 for ModelNet40).
        in_channels: 3 (x, y, z) or 6 (with normals).
        width: width multiplier (1.0 = the paper, 3.5 M parameters for 40 classes; 0.25 for quick CPU runs).
        dropout: dropout rate before the last layer (the paper keeps 70 %, i.e. 0.3).
        input_transform: use the input T-Net.
        feature_transform: use the feature T-Net (train it with
            :func:`course_lib.losses.points.orthogonality_loss`).

    Example:
        >>> m = pointnet_cls(num_classes=40)
        >>> sum(p.numel() for p in m.parameters())
        3469745
    """
    return PointNetClassifier(num_classes, in_channels, width, dropout, input_transform, feature_transform)


def pointnet_partseg(*, num_parts: int = 50, num_categories: int = 16, in_channels: int = 3, width: float = 1.0,
                     dropout: float = 0.2) -> PointNetPartSegmenter:
    """PointNet part segmentation network (Qi et al. 2017, Fig. 2, bottom branch).

    Args:
        num_parts: number of part labels (50 on the ShapeNet part benchmark, see :data:`SHAPENET_PART_CATEGORIES`).
        num_categories: object categories fed as one-hot (16 there; 0 for none).
        in_channels: 3 or 6.
        width: width multiplier.
        dropout: dropout rate before the last layer.

    Example:
        >>> m = pointnet_partseg(num_parts=4, num_categories=0, width=0.25)
        >>> m(torch.randn(2, 64, 3))[0].shape
        torch.Size([2, 4, 64])
    """
    return PointNetPartSegmenter(num_parts, num_categories, in_channels, width, dropout)


# ----------------------------------------------------------------------------------------------- what PointNet sees
@torch.no_grad()
def critical_points(model: nn.Module, points: torch.Tensor) -> torch.Tensor:
    """The critical point set of one cloud: the points that win a max pooling in at least one channel.

    The network pools three times (in the input T-Net, in the feature T-Net and for the global feature), so the
    set is the union of the three sets of winners. Any cloud that contains these points and whose other points stay
    below the maxima (see :func:`upper_bound_shape`) has exactly the same global feature, hence the same prediction.

    Args:
        model: a :class:`PointNetClassifier` or :class:`PointNetEncoder`.
        points: ``[N, C]``.

    Returns:
        Sorted indices into ``points``.

    Example:
        >>> m = pointnet_cls(num_classes=3, width=0.25).eval()
        >>> idx = critical_points(m, torch.randn(200, 3))
        >>> 0 < len(idx) <= 200
        True
    """
    encoder = model.encoder if hasattr(model, "encoder") else model
    was_training = encoder.training
    encoder.eval()
    out = encoder(points.unsqueeze(0))
    encoder.train(was_training)
    winners = [out[k][0] for k in ("critical_indices", "input_tnet_indices", "feature_tnet_indices") if k in out]
    return torch.unique(torch.cat(winners))


@torch.no_grad()
def upper_bound_shape(model: nn.Module, points: torch.Tensor, candidates: torch.Tensor,
                      batch: int = 4096) -> torch.Tensor:
    """The candidates whose embedding stays below the cloud's global feature in every channel.

    Adding any of them to the cloud leaves the max-pooled feature, and so the prediction, unchanged: together
    they sketch the largest shape PointNet would confuse with this one (the "upper-bound shape" of the paper).
    A candidate must also stay below the maxima inside the two T-Nets, so that the transforms do not change.

    Args:
        model: a :class:`PointNetClassifier` or :class:`PointNetEncoder` (with 3 input channels).
        points: the cloud ``[N, 3]``.
        candidates: points to test ``[M, 3]`` (e.g. a grid filling the unit cube).
        batch: candidates per forward pass.

    Returns:
        A boolean mask over ``candidates``.
    """
    encoder = model.encoder if hasattr(model, "encoder") else model
    was_training = encoder.training
    encoder.eval()
    ref = encoder.point_embeddings(points.unsqueeze(0))
    global_feature = ref["embeddings"].max(dim=2).values[0]  # [D]

    def below(embeddings: torch.Tensor, maxima: torch.Tensor) -> torch.Tensor:  # [1, D, m], [1, D] -> [m]
        return (embeddings[0] <= maxima[0][:, None] + 1e-6).all(dim=0)

    keep = []
    for chunk in candidates.split(batch):
        x = chunk.unsqueeze(0)
        ok = torch.ones(len(chunk), dtype=torch.bool, device=chunk.device)
        if encoder.input_tnet is not None:
            ok &= below(encoder.input_tnet.mlp(x.transpose(1, 2)), ref["input_tnet_max"])
            x = x @ ref["input_transform"]
        x = encoder.mlp1(x.transpose(1, 2))
        if encoder.feature_tnet is not None:
            ok &= below(encoder.feature_tnet.mlp(x), ref["feature_tnet_max"])
            x = (x.transpose(1, 2) @ ref["feature_transform"]).transpose(1, 2)
        ok &= below(encoder.mlp2(x), global_feature[None])
        keep.append(ok)
    encoder.train(was_training)
    return torch.cat(keep)


# ----------------------------------------------------------------------------------------------- patch networks
class PatchPointNet(nn.Module):
    """A small PointNet over local patches ``[M, k, 3]`` that outputs ``out_channels`` numbers per patch.

    With ``out_channels=1`` and a sigmoid it scores how likely the patch centre is an outlier (PointCleanNet's
    first stage); with ``out_channels=3`` it regresses a normal (PCPNet). The papers add spatial transformers,
    several patch radii and, for PointCleanNet, a second network that moves the remaining points onto the surface.

    Example:
        >>> PatchPointNet(out_channels=1)(torch.randn(5, 32, 3)).shape
        torch.Size([5, 1])
    """

    def __init__(self, out_channels: int = 1, width: Sequence[int] = (32, 64, 128), hidden: int = 64):
        super().__init__()
        self.mlp = shared_mlp([3, *width])
        self.head = nn.Sequential(nn.Linear(width[-1], hidden), nn.ReLU(inplace=True), nn.Linear(hidden, out_channels))

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        return self.head(self.mlp(patches.transpose(1, 2)).max(dim=2).values)
