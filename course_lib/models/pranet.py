"""PraNet (Fan, Ji, Zhou, Chen, Fu, Shen & Shao, "PraNet: Parallel Reverse Attention Network for Polyp
Segmentation", MICCAI 2020, arXiv 2006.11392).

Introduced in Chapter 3 (polyps on Kvasir-SEG, next to the U-Net). Three ideas on a Res2Net-50 backbone:

*Receptive field blocks* (RFB-lite)
    The three high-level features (strides 8, 16, 32) are each reduced to 32 channels by four parallel branches
    (1x1; then 1xk, kx1 and a 3x3 conv dilated by 3, 5, 7 for k = 3, 5, 7), concatenated, fused by a 3x3 conv and
    added to a 1x1 shortcut.
*Parallel partial decoder* (PPD)
    Only the high-level features are aggregated (the low-level ``layer1`` is skipped: large and costly, little
    semantics): products of upsampled deeper features with shallower ones, then concatenation, give a coarse
    *global map* ``S_g`` at stride 8 that locates the polyp roughly.
*Reverse attention* (RA), three times, deepest first
    ``1 - sigmoid(S)`` of the current map highlights what is *not yet* foreground: the high-level feature of the
    stage is multiplied by it, a few convolutions predict a residual, and the residual is added to ``S``. Each
    stage thus erases the found region and looks for the missing parts and the boundary.

*Deep supervision*: in training mode the model returns the four maps (``S_g`` and the three refined ones, all at
the input size, as logits) and the loss is summed over them (:class:`course_lib.losses.DeepSupervisionLoss` with
:func:`course_lib.losses.structure_loss`); in eval mode it returns the last, finest map.

The layers follow the authors' code (``lib/PraNet_Res2Net.py``): its ``BasicConv2d`` is conv + BN *without* ReLU
(the ReLU it defines is never called), so the decoder is linear between its products; ReLUs are where the code
puts them. Maps are resized to the size of the next feature instead of by fixed factors, so any input size works
(the paper trains at 352x352). Backbones: ``"res2net50"`` (timm's ``res2net50d`` = Res2Net-50 v1b 26w x 4s, the
paper's) or a torchvision ResNet (the authors' repository has a ResNet-50 version, ``lib/PraNet_ResNet.py``;
``"resnet18"`` for CPU runs).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .backbones import RESNETS, Res2NetBackbone, ResNetBackbone, load_imagenet_weights
from .weights import load_state_strict

__all__ = ["PraNet", "RFB", "PartialDecoder", "ReverseAttention", "pranet"]


def _conv_bn(cin: int, cout: int, kernel: int | tuple[int, int] = 1, dilation: int = 1) -> nn.Sequential:
    """The authors' ``BasicConv2d``: conv (no bias) + BN, no activation; 'same' padding."""
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    return nn.Sequential(nn.Conv2d(cin, cout, (kh, kw), padding=(dilation * (kh // 2), dilation * (kw // 2)),
                                   dilation=dilation, bias=False), nn.BatchNorm2d(cout))


def _resize(x: torch.Tensor, size, align_corners: bool = False) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=align_corners)


class RFB(nn.Module):
    """PraNet's receptive field block ("RFB_modified"): 4 branches of growing receptive field + a 1x1 shortcut.

    Example:
        >>> RFB(64, 8)(torch.randn(1, 64, 11, 13)).shape
        torch.Size([1, 8, 11, 13])
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        branches = [_conv_bn(in_channels, out_channels)]
        for k in (3, 5, 7):
            branches.append(nn.Sequential(_conv_bn(in_channels, out_channels), _conv_bn(out_channels, out_channels,
                                          (1, k)), _conv_bn(out_channels, out_channels, (k, 1)),
                                          _conv_bn(out_channels, out_channels, 3, dilation=k)))
        self.branches = nn.ModuleList(branches)
        self.conv_cat = _conv_bn(4 * out_channels, out_channels, 3)
        self.conv_res = _conv_bn(in_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cat = self.conv_cat(torch.cat([b(x) for b in self.branches], dim=1))
        return F.relu(cat + self.conv_res(x))


class PartialDecoder(nn.Module):
    """The parallel partial decoder ("aggregation"): fuses features at strides 32, 16, 8 into one map at stride 8.

    Example:
        >>> dec = PartialDecoder(8)
        >>> x4, x3, x2 = torch.randn(1, 8, 3, 4), torch.randn(1, 8, 6, 7), torch.randn(1, 8, 11, 13)
        >>> dec(x4, x3, x2).shape
        torch.Size([1, 1, 11, 13])
    """

    def __init__(self, channels: int):
        super().__init__()
        c = channels
        self.conv_upsample1, self.conv_upsample2, self.conv_upsample3, self.conv_upsample4 = (
            _conv_bn(c, c, 3) for _ in range(4))
        self.conv_upsample5 = _conv_bn(2 * c, 2 * c, 3)
        self.conv_concat2 = _conv_bn(2 * c, 2 * c, 3)
        self.conv_concat3 = _conv_bn(3 * c, 3 * c, 3)
        self.conv4 = _conv_bn(3 * c, 3 * c, 3)
        self.conv5 = nn.Conv2d(3 * c, 1, 1)

    def forward(self, x4: torch.Tensor, x3: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        s3, s2 = x3.shape[-2:], x2.shape[-2:]

        def up(t, size):  # the authors upsample by 2 with align_corners=True
            return _resize(t, size, align_corners=True)

        x3_1 = self.conv_upsample1(up(x4, s3)) * x3
        x2_1 = self.conv_upsample2(up(x4, s2)) * self.conv_upsample3(up(x3, s2)) * x2
        x3_2 = self.conv_concat2(torch.cat([x3_1, self.conv_upsample4(up(x4, s3))], dim=1))
        x2_2 = self.conv_concat3(torch.cat([x2_1, self.conv_upsample5(up(x3_2, s2))], dim=1))
        return self.conv5(self.conv4(x2_2))


class ReverseAttention(nn.Module):
    """One reverse-attention stage: ``S + convs(feature * (1 - sigmoid(S)))`` with ``S`` resized to the feature.

    Args:
        in_channels: channels of the high-level feature.
        channels: channels of the convolutions (256 on ``layer4``, 64 on ``layer3``/``layer2``).
        kernel: their kernel size (5 on ``layer4``, 3 otherwise).
        depth: number of ``kernel`` x ``kernel`` conv + ReLU layers (3 on ``layer4``, 2 otherwise).
        last_kernel: kernel of the final conv to one channel (1 on ``layer4``, 3 otherwise).

    Example:
        >>> ra = ReverseAttention(16, 8, kernel=3, depth=2, last_kernel=3)
        >>> ra(torch.randn(1, 16, 6, 7), torch.randn(1, 1, 3, 4)).shape
        torch.Size([1, 1, 6, 7])
    """

    def __init__(self, in_channels: int, channels: int, *, kernel: int, depth: int, last_kernel: int):
        super().__init__()
        layers: list[nn.Module] = [_conv_bn(in_channels, channels)]
        for _ in range(depth):
            layers += [_conv_bn(channels, channels, kernel), nn.ReLU(inplace=True)]
        layers.append(_conv_bn(channels, 1, last_kernel))
        self.convs = nn.Sequential(*layers)

    @staticmethod
    def attention(prior: torch.Tensor) -> torch.Tensor:
        """The reverse attention weights ``1 - sigmoid(prior)``: high where the map says 'not polyp (yet)'."""
        return 1 - torch.sigmoid(prior)

    def forward(self, feature: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
        prior = _resize(prior, feature.shape[-2:])
        return self.convs(feature * self.attention(prior)) + prior


class PraNet(nn.Module):
    """PraNet: backbone, three RFBs, a parallel partial decoder and three reverse-attention stages.

    Args:
        backbone: ``"res2net50"`` (the paper; needs ``timm``), ``"resnet50"``, ``"resnet101"``, ``"resnet34"`` or
            ``"resnet18"`` (torchvision).
        channels: channels of the RFB outputs and the decoder (32).
        in_channels: input channels.

    Returns (forward):
        Training mode: ``(S_g, S_4, S_3, S_2)`` logits ``[N, 1, H, W]``, coarse to fine; eval mode: ``S_2``.

    Example:
        >>> model = PraNet(backbone="resnet18", channels=8)
        >>> [tuple(s.shape) for s in model(torch.randn(2, 3, 64, 80))]
        [(2, 1, 64, 80), (2, 1, 64, 80), (2, 1, 64, 80), (2, 1, 64, 80)]
        >>> model.eval()(torch.randn(1, 3, 50, 70)).shape
        torch.Size([1, 1, 50, 70])
    """

    def __init__(self, *, backbone: str = "res2net50", channels: int = 32, in_channels: int = 3):
        super().__init__()
        if backbone == "res2net50":
            self.backbone = Res2NetBackbone(in_channels=in_channels)
        elif backbone in RESNETS:
            self.backbone = ResNetBackbone(backbone, output_stride=32, in_channels=in_channels)
        else:
            raise ValueError(f"PraNet backbone must be 'res2net50' or one of {RESNETS}, got {backbone!r}")
        self.arch = backbone
        _, c2, c3, c4 = self.backbone.channels
        self.rfb2, self.rfb3, self.rfb4 = RFB(c2, channels), RFB(c3, channels), RFB(c4, channels)
        self.decoder = PartialDecoder(channels)
        self.ra4 = ReverseAttention(c4, 256, kernel=5, depth=3, last_kernel=1)
        self.ra3 = ReverseAttention(c3, 64, kernel=3, depth=2, last_kernel=3)
        self.ra2 = ReverseAttention(c2, 64, kernel=3, depth=2, last_kernel=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        if x.dim() != 4:
            raise ValueError(f"PraNet expects a batch [N, C, H, W], got shape {tuple(x.shape)}")
        size = x.shape[-2:]
        _, x2, x3, x4 = self.backbone(x)
        global_map = self.decoder(self.rfb4(x4), self.rfb3(x3), self.rfb2(x2))  # stride 8
        s4 = self.ra4(x4, global_map)  # stride 32
        s3 = self.ra3(x3, s4)  # stride 16
        s2 = self.ra2(x2, s3)  # stride 8
        if not self.training:
            return _resize(s2, size)
        return tuple(_resize(s, size) for s in (global_map, s4, s3, s2))


def pranet(*, backbone: str = "res2net50", channels: int = 32, in_channels: int = 3,
           weights: str | os.PathLike | None = None, pretrained_backbone: bool | str | os.PathLike = False,
           weight_folders: Sequence[str | os.PathLike] = ()) -> PraNet:
    """Build a :class:`PraNet` (Fan et al., arXiv 2006.11392). Never downloads unless asked.

    Args:
        backbone: ``"res2net50"`` (the paper's, from ``timm``) or a torchvision ResNet (``"resnet18"`` on a CPU).
        channels: RFB/decoder channels (32).
        in_channels: input channels.
        weights: a state dict file of the whole model (e.g. a course_lib checkpoint).
        pretrained_backbone: ``True``: ImageNet weights (torchvision's file in ``weight_folders`` / torch hub's cache,
            then torchvision's weight API; for Res2Net timm's, from the Hugging Face hub); offline, a message and a
            random backbone. A path loads that file (torchvision's or timm's parameter names); ``False`` (default)
            starts from scratch. ``model.backbone_source`` says what was loaded.
        weight_folders: where ``pretrained_backbone=True`` looks first (torchvision ResNets).

    Example:
        >>> round(sum(p.numel() for p in pranet(backbone="resnet50").parameters()) / 1e6, 2)
        30.34
    """
    model = PraNet(backbone=backbone, channels=channels, in_channels=in_channels)
    model.backbone_source = None
    if pretrained_backbone:
        if backbone == "res2net50":
            model.backbone_source = model.backbone.load_pretrained(pretrained_backbone)
        else:
            model.backbone_source = load_imagenet_weights(model.backbone, backbone, pretrained_backbone,
                                                          weight_folders)
    if weights is not None:
        model.backbone_source = load_state_strict(model, weights, what="PraNet weights")
    return model
