"""BiSeNet V2: a real-time two-branch network for driving scenes.

Introduced in Chapter 10. C. Yu, C. Gao, J. Wang, G. Yu, C. Shen, N. Sang, *BiSeNet V2: Bilateral Network with Guided
Aggregation for Real-time Semantic Segmentation*, IJCV 2021 (https://arxiv.org/abs/2004.02147).

Two branches see the picture at once (the paper's Fig. 3 and Table 1; the lecture's PaddleSeg figure):

- the **detail branch**: wide and shallow, three stages of plain 3x3 convolutions (64, 64, 128 channels) down to
  1/8 of the input, keeping the spatial detail;
- the **semantic branch**: narrow and deep (``lambda`` = 1/4 of the channels: 16 ... 128), a fast **stem** (a
  strided conv, then a conv branch and a max-pool branch concatenated) to 1/4, **gather-and-expansion** (GE)
  layers to 1/32 (a 3x3 conv gathers, a depth-wise conv on 6x the channels expands, a 1x1 conv projects back, a
  residual shortcut; strided GE layers add a second depth-wise conv and a depth-wise + 1x1 shortcut), and a
  **context embedding** (CE) block: global average pooling added back to every pixel;
- **bilateral guided aggregation** (BGA): each branch gates the other (the semantic features, upsampled and passed
  through a sigmoid, weight the detail features at 1/8; the detail features, pooled to 1/32, are weighted by the
  semantic ones), the two are summed and fused by a 3x3 conv;
- a segmentation head (3x3 conv, 1x1 classifier) upsampled 8x to the input, and in training four **booster** heads
  on the semantic branch's stages (1/4, 1/8, 1/16, 1/32), each with its own cross-entropy, dropped at inference.

In training mode the model returns ``(main, aux1, aux2, aux3, aux4)`` (read by
:class:`course_lib.losses.AuxCrossEntropy`), in eval mode the main logits only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BiSeNetV2", "bisenetv2"]


def _cbr(cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, nn.ReLU(inplace=True)) if act else nn.Sequential(*layers)


class DetailBranch(nn.Sequential):
    """Three stages of 3x3 convs (``c1, c1, c2`` channels, each stage starting with stride 2) -> 1/8."""

    def __init__(self, c1: int = 64, c2: int = 128, in_channels: int = 3):
        super().__init__(_cbr(in_channels, c1, stride=2), _cbr(c1, c1),
                         _cbr(c1, c1, stride=2), _cbr(c1, c1), _cbr(c1, c1),
                         _cbr(c1, c2, stride=2), _cbr(c2, c2), _cbr(c2, c2))


class StemBlock(nn.Module):
    """The semantic branch's stem: 3x3/2 conv, then [1x1 conv, 3x3/2 conv] and [3x3/2 max-pool], concatenated,
    fused by a 3x3 conv -> 1/4 of the input."""

    def __init__(self, out_channels: int = 16, in_channels: int = 3):
        super().__init__()
        self.conv = _cbr(in_channels, out_channels, stride=2)
        self.left = nn.Sequential(_cbr(out_channels, out_channels // 2, k=1), _cbr(out_channels // 2, out_channels,
                                                                                  stride=2))
        self.right = nn.MaxPool2d(3, 2, 1)
        self.fuse = _cbr(2 * out_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        return self.fuse(torch.cat([self.left(x), self.right(x)], dim=1))


class GatherExpansion(nn.Module):
    """The gather-and-expansion layer (paper Fig. 5 b, c); ``stride`` 2 halves the size and may change channels."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, expansion: int = 6):
        super().__init__()
        mid = in_channels * expansion
        self.gather = _cbr(in_channels, in_channels)
        expand = [_cbr(in_channels, mid, stride=stride, groups=in_channels, act=False)]
        if stride == 2:
            expand.append(_cbr(mid, mid, groups=mid, act=False))
        self.expand = nn.Sequential(*expand)
        self.project = _cbr(mid, out_channels, k=1, act=False)
        self.shortcut: nn.Module = nn.Identity()
        if stride == 2 or in_channels != out_channels:
            self.shortcut = nn.Sequential(_cbr(in_channels, in_channels, stride=stride, groups=in_channels, act=False),
                                          _cbr(in_channels, out_channels, k=1, act=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.project(self.expand(self.gather(x))) + self.shortcut(x))


class ContextEmbedding(nn.Module):
    """Global average pooling (BN, 1x1 conv) broadcast-added to the features, then a 3x3 conv (paper Fig. 5 d)."""

    def __init__(self, channels: int = 128):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels)
        self.gap_conv = _cbr(channels, channels, k=1)
        self.fuse = _cbr(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fuse(x + self.gap_conv(self.bn(x.mean(dim=(2, 3), keepdim=True))))


class SemanticBranch(nn.Module):
    """Stem (1/4), GE stages (1/8, 1/16, 1/32) and the CE block; returns the four booster features and the output."""

    def __init__(self, channels: tuple[int, int, int, int] = (16, 32, 64, 128), in_channels: int = 3):
        super().__init__()
        c1, c2, c3, c4 = channels
        self.stem = StemBlock(c1, in_channels)
        self.s3 = nn.Sequential(GatherExpansion(c1, c2, 2), GatherExpansion(c2, c2))
        self.s4 = nn.Sequential(GatherExpansion(c2, c3, 2), GatherExpansion(c3, c3))
        self.s5 = nn.Sequential(GatherExpansion(c3, c4, 2), *(GatherExpansion(c4, c4) for _ in range(3)))
        self.ce = ContextEmbedding(c4)

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        f2 = self.stem(x)
        f3 = self.s3(f2)
        f4 = self.s4(f3)
        f5 = self.s5(f4)
        return [f2, f3, f4, f5], self.ce(f5)


class BilateralGuidedAggregation(nn.Module):
    """BGA (paper Fig. 6): detail (1/8) and semantic (1/32) features guide each other, then sum and 3x3 conv."""

    def __init__(self, channels: int = 128):
        super().__init__()
        c = channels
        self.detail_keep = nn.Sequential(_cbr(c, c, groups=c, act=False), nn.Conv2d(c, c, 1, bias=False))
        self.detail_down = nn.Sequential(_cbr(c, c, stride=2, act=False), nn.AvgPool2d(3, 2, 1, ceil_mode=False))
        self.semantic_up = _cbr(c, c, act=False)
        self.semantic_keep = nn.Sequential(_cbr(c, c, groups=c, act=False), nn.Conv2d(c, c, 1, bias=False))
        self.fuse = _cbr(c, c)

    def forward(self, detail: torch.Tensor, semantic: torch.Tensor) -> torch.Tensor:
        size = detail.shape[-2:]
        up = F.interpolate(self.semantic_up(semantic), size=size, mode="bilinear", align_corners=False)
        left = self.detail_keep(detail) * torch.sigmoid(up)
        down = self.detail_down(detail)
        right = down * torch.sigmoid(F.interpolate(self.semantic_keep(semantic), size=down.shape[-2:],
                                                   mode="bilinear", align_corners=False))
        right = F.interpolate(right, size=size, mode="bilinear", align_corners=False)
        return self.fuse(left + right)


class SegHead(nn.Sequential):
    """3x3 conv (``mid`` channels), dropout, 1x1 classifier; the caller upsamples to the input size."""

    def __init__(self, in_channels: int, mid: int, num_classes: int, dropout: float = 0.1):
        super().__init__(_cbr(in_channels, mid), nn.Dropout(dropout), nn.Conv2d(mid, num_classes, 1))


class BiSeNetV2(nn.Module):
    """BiSeNet V2 (see the module docstring); ``(main, *boosters)`` logits in training, ``main`` in eval mode.

    Args:
        num_classes: output classes.
        detail_channels: the detail branch's ``(c1, c2)`` (64, 128 in the paper).
        semantic_channels: the semantic branch's four stage widths (16, 32, 64, 128 = ``lambda`` 1/4; the last
            must equal ``detail_channels[1]``, as the aggregation adds them).
        head_channels: the main head's hidden channels (1024 in the paper's code).
        booster_channels: the booster heads' hidden channels (128); 0 drops them.
        dropout: dropout in the heads (0.1).
        in_channels: input channels.

    Example:
        >>> net = BiSeNetV2(num_classes=5, head_channels=32, booster_channels=16).eval()
        >>> net(torch.randn(1, 3, 64, 96)).shape
        torch.Size([1, 5, 64, 96])
    """

    def __init__(self, num_classes: int, detail_channels: tuple[int, int] = (64, 128),
                 semantic_channels: tuple[int, int, int, int] = (16, 32, 64, 128), head_channels: int = 1024,
                 booster_channels: int = 128, dropout: float = 0.1, in_channels: int = 3):
        super().__init__()
        self.num_classes = num_classes
        if semantic_channels[-1] != detail_channels[-1]:
            raise ValueError(f"the last semantic width {semantic_channels[-1]} must equal the detail branch's "
                             f"{detail_channels[-1]} (the aggregation combines them)")
        self.detail = DetailBranch(*detail_channels, in_channels=in_channels)
        self.semantic = SemanticBranch(tuple(semantic_channels), in_channels)
        self.bga = BilateralGuidedAggregation(detail_channels[-1])
        self.head = SegHead(detail_channels[-1], head_channels, num_classes, dropout)
        self.boosters = nn.ModuleList(SegHead(c, booster_channels, num_classes, dropout)
                                      for c in semantic_channels) if booster_channels > 0 else nn.ModuleList()

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        if x.dim() != 4:
            raise ValueError(f"BiSeNetV2 expects a batch [N, C, H, W], got shape {tuple(x.shape)}")
        size = x.shape[-2:]
        stages, semantic = self.semantic(x)
        out = F.interpolate(self.head(self.bga(self.detail(x), semantic)), size=size, mode="bilinear",
                            align_corners=False)
        if not (self.training and len(self.boosters)):
            return out
        aux = [F.interpolate(h(f), size=size, mode="bilinear", align_corners=False)
               for h, f in zip(self.boosters, stages, strict=True)]
        return (out, *aux)


def bisenetv2(*, num_classes: int, width: float = 1.0, head_channels: int = 1024, booster_channels: int = 128,
              dropout: float = 0.1, in_channels: int = 3) -> BiSeNetV2:
    """BiSeNet V2 of Yu et al. (arXiv 2004.02147), trained from scratch as in the paper (it uses no ImageNet weights).

    Args:
        num_classes: output classes (CamVid 11, Cityscapes 19).
        width: multiplies every branch width (1.0 = the paper's 64/128 detail and 16..128 semantic channels); the
            CPU profile of the book uses 0.5.
        head_channels: hidden channels of the main head (1024).
        booster_channels: hidden channels of the four booster heads (128); 0 drops them.
        dropout: dropout of the heads.
        in_channels: input channels.

    Example:
        >>> sum(p.numel() for p in bisenetv2(num_classes=19).parameters()) > 3_000_000
        True
    """
    if width <= 0:
        raise ValueError(f"width must be > 0, got {width}")

    def w(c: int) -> int:
        return max(8, int(round(c * width / 8)) * 8)

    return BiSeNetV2(num_classes, (w(64), w(128)), (w(16), w(32), w(64), w(128)), head_channels,
                     booster_channels, dropout, in_channels)
