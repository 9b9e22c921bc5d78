"""DeepLabV3+ (Chen, Zhu, Papandreou, Schroff & Adam, "Encoder-Decoder with Atrous Separable Convolution for
Semantic Image Segmentation", ECCV 2018, arXiv 1802.02611), and the atrous convolution it is built on.

Introduced in Chapter 3. An atrous (dilated) 3x3 convolution with rate ``r`` samples its input every ``r`` pixels:
the same 9 weights cover ``2r + 1`` pixels (:func:`atrous_receptive_field`), so a network can see far without
pooling away resolution. A backbone dilated to output stride 16 (or 8, :mod:`course_lib.models.backbones`) feeds
*atrous spatial pyramid pooling* (ASPP, DeepLabV3, arXiv 1706.05587): a 1x1 conv, three 3x3 atrous convs at rates
6, 12, 18 (doubled to 12, 24, 36 at output stride 8) and an image-level branch (global average pooling, 1x1 conv,
broadcast back), each with BN + ReLU, concatenated and projected to 256 channels by a 1x1 conv (+ BN, ReLU,
dropout 0.5 as torchvision). DeepLabV3+ adds a *decoder*: the ASPP output is upsampled 4x and concatenated with
the stride-4 low-level features reduced to 48 channels by a 1x1 conv (few channels, so that they do not outweigh
the semantic ones), refined by two 3x3 convs (256) and classified; bilinear upsampling restores the input size.

The ASPP here has the layout of torchvision's DeepLabV3 head (the tests load torchvision's weights into it and get
the same outputs) with readable module names. The paper's Xception backbone with separable convolutions is not
in torchvision; a dilated ResNet (also in the paper) or MobileNetV2 (its mobile variant) is used instead.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .backbones import RESNETS, MobileNetV2Backbone, ResNetBackbone, load_imagenet_weights
from .weights import load_state_strict

__all__ = ["ASPP", "DeepLabV3Plus", "aspp_from_torchvision", "deeplabv3plus", "atrous_receptive_field",
           "receptive_field",
           "gradient_receptive_field"]


def atrous_receptive_field(kernel: int, rate: int) -> int:
    """Pixels one side of a ``kernel`` x ``kernel`` atrous convolution with ``rate`` spans: ``rate * (k - 1) + 1``.

    Example:
        >>> atrous_receptive_field(3, 1), atrous_receptive_field(3, 2), atrous_receptive_field(3, 6)
        (3, 5, 13)
    """
    if kernel < 1 or rate < 1:
        raise ValueError(f"kernel and rate must be positive, got kernel={kernel}, rate={rate}")
    return rate * (kernel - 1) + 1


def receptive_field(layers: Sequence[tuple[int, int, int]]) -> int:
    """Receptive field (pixels, one side) of a stack of ``(kernel, stride, rate)`` layers, first layer first.

    Each layer widens it by ``(effective kernel - 1)`` times the product of the strides before it.

    Example:
        >>> receptive_field([(3, 1, 1)] * 3)  # three plain 3x3 convs
        7
        >>> receptive_field([(3, 1, 1), (3, 1, 2), (3, 1, 4)])  # rates 1, 2, 4: exponential growth
        15
    """
    field, jump = 1, 1
    for kernel, stride, rate in layers:
        field += (atrous_receptive_field(kernel, rate) - 1) * jump
        jump *= stride
    return field


def gradient_receptive_field(net: nn.Module, in_channels: int = 1, size: int = 65) -> int:
    """Receptive field of ``net`` measured, not computed: the width of the input region whose gradient at the
    centre output pixel is non-zero for an input of ones (weights set to 1 / fan-in so that no gradient cancels or
    dies in a ReLU; ``net`` itself is left unchanged).

    The measurement is repeated on a ``2 * size - 1`` input; if the two differ, the field was cut by the border.

    Example:
        >>> gradient_receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3, padding=2, dilation=2),
        ...                                        nn.Conv2d(1, 1, 3, padding=4, dilation=4)))
        13
    """
    import copy

    probe = copy.deepcopy(net).eval()
    with torch.no_grad():
        for m in probe.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.fill_(1.0 / m.weight[0].numel())
                if m.bias is not None:
                    m.bias.zero_()

    def measure(side: int) -> int:
        x = torch.ones(1, in_channels, side, side, requires_grad=True)  # positive: ReLUs pass the gradient
        y = probe(x)
        h, w = y.shape[-2:]
        y[..., h // 2, w // 2].sum().backward()
        cols = x.grad.abs().sum(dim=(0, 1, 2)).nonzero()
        if len(cols) == 0:
            raise ValueError("no input pixel reaches the centre output pixel")
        return int(cols[-1] - cols[0] + 1)

    field = measure(size)
    if field != measure(2 * size - 1):
        raise ValueError(f"the receptive field does not fit in a {size}-pixel probe; pass a larger size")
    return field


def _conv_bn_relu(cin: int, cout: int, kernel: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, padding=dilation * (kernel // 2), dilation=dilation,
                                   bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling (Chen et al., arXiv 1706.05587), torchvision's DeepLabV3 layout.

    Args:
        in_channels: channels of the backbone output.
        rates: the atrous rates of the three 3x3 branches (6, 12, 18 at output stride 16).
        out_channels: channels of each branch and of the projection (256).
        dropout: dropout after the projection (0.5, as torchvision).

    The image-level branch needs more than one value per channel in training mode (BatchNorm on a 1x1 map):
    train with batches of 2 or more.

    Example:
        >>> aspp = ASPP(64, rates=(1, 2, 3), out_channels=16)
        >>> aspp(torch.randn(2, 64, 9, 11)).shape
        torch.Size([2, 16, 9, 11])
    """

    def __init__(self, in_channels: int, rates: Sequence[int] = (6, 12, 18), out_channels: int = 256,
                 dropout: float = 0.5):
        super().__init__()
        self.rates = tuple(rates)
        self.conv1x1 = _conv_bn_relu(in_channels, out_channels)
        self.atrous = nn.ModuleList(_conv_bn_relu(in_channels, out_channels, 3, r) for r in self.rates)
        self.image_pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), *_conv_bn_relu(in_channels, out_channels))
        self.project = nn.Sequential(*_conv_bn_relu(out_channels * (len(self.rates) + 2), out_channels),
                                     nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = F.interpolate(self.image_pool(x), size=x.shape[-2:], mode="bilinear", align_corners=False)
        branches = [self.conv1x1(x), *(conv(x) for conv in self.atrous), pooled]
        return self.project(torch.cat(branches, dim=1))


def aspp_from_torchvision(ref: nn.Module) -> ASPP:
    """An :class:`ASPP` holding the weights of torchvision's ``models.segmentation.deeplabv3.ASPP`` ``ref``.

    torchvision names the branches ``convs.0`` (1x1), ``convs.1 .. n`` (atrous) and ``convs.n+1`` (image pooling);
    every tensor is copied (strict), so both compute the same function: the oracle of the tests and the notebook.

    Example:
        >>> from torchvision.models.segmentation.deeplabv3 import ASPP as TorchvisionASPP
        >>> ref = TorchvisionASPP(16, [1, 2, 3], 8).eval()
        >>> x = torch.randn(2, 16, 7, 9)
        >>> torch.allclose(aspp_from_torchvision(ref).eval()(x), ref(x))
        True
    """
    first = ref.convs[0][0]
    rates = tuple(int(branch[0].dilation[0]) for branch in list(ref.convs)[1:-1])
    mine = ASPP(first.in_channels, rates, first.out_channels, dropout=float(ref.project[-1].p))
    n = len(rates)
    mapping = {"convs.0.": "conv1x1.", f"convs.{n + 1}.": "image_pool.", "project.": "project."}
    mapping.update({f"convs.{i + 1}.": f"atrous.{i}." for i in range(n)})
    state = {}
    for key, value in ref.state_dict().items():
        prefix = next(p for p in mapping if key.startswith(p))
        state[mapping[prefix] + key[len(prefix):]] = value
    mine.load_state_dict(state)
    return mine


class DeepLabV3Plus(nn.Module):
    """DeepLabV3+: dilated backbone, ASPP, and a decoder fusing 48-channel stride-4 features.

    Args:
        num_classes: output classes.
        backbone: ``"resnet50"``, ``"resnet101"`` (the paper's ResNet variant), ``"resnet18"``/``"resnet34"``, or
            ``"mobilenet_v2"`` (the mobile variant, a CPU choice).
        output_stride: 16 (ASPP rates 6, 12, 18) or 8 (rates doubled: 12, 24, 36).
        rates: override the ASPP rates.
        aspp_channels: channels of ASPP and decoder (256).
        low_level_channels: channels the low-level features are reduced to (48).
        in_channels: input channels.

    Example:
        >>> model = DeepLabV3Plus(11, backbone="resnet18", aspp_channels=32).eval()
        >>> model(torch.randn(1, 3, 45, 61)).shape
        torch.Size([1, 11, 45, 61])
    """

    def __init__(self, num_classes: int, *, backbone: str = "resnet50", output_stride: int = 16,
                 rates: Sequence[int] | None = None, aspp_channels: int = 256, low_level_channels: int = 48,
                 in_channels: int = 3):
        super().__init__()
        if output_stride not in (8, 16):
            raise ValueError(f"DeepLabV3+ output_stride must be 8 or 16, got {output_stride!r}")
        if backbone == "mobilenet_v2":
            self.backbone = MobileNetV2Backbone(output_stride=output_stride, in_channels=in_channels)
            low, high = self.backbone.channels
        elif backbone in RESNETS:
            self.backbone = ResNetBackbone(backbone, output_stride=output_stride, in_channels=in_channels)
            low, high = self.backbone.channels[0], self.backbone.channels[3]
        else:
            raise ValueError(f"DeepLabV3+ backbone must be one of {(*RESNETS, 'mobilenet_v2')}, got {backbone!r}")
        self.arch = backbone
        rates = tuple(rates) if rates is not None else tuple(r * 16 // output_stride for r in (6, 12, 18))
        self.aspp = ASPP(high, rates, aspp_channels)
        self.reduce = _conv_bn_relu(low, low_level_channels)
        self.fuse = nn.Sequential(_conv_bn_relu(aspp_channels + low_level_channels, aspp_channels, 3),
                                  _conv_bn_relu(aspp_channels, aspp_channels, 3))
        self.classifier = nn.Conv2d(aspp_channels, num_classes, 1)
        self.num_classes = num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"DeepLabV3+ expects a batch [N, C, H, W], got shape {tuple(x.shape)}")
        feats = self.backbone(x)
        low, high = (feats[0], feats[-1])
        context = F.interpolate(self.aspp(high), size=low.shape[-2:], mode="bilinear", align_corners=False)
        y = self.classifier(self.fuse(torch.cat([context, self.reduce(low)], dim=1)))
        return F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)


def deeplabv3plus(*, num_classes: int = 21, backbone: str = "resnet50", output_stride: int = 16,
                  rates: Sequence[int] | None = None, aspp_channels: int = 256, low_level_channels: int = 48,
                  in_channels: int = 3, weights: str | os.PathLike | None = None,
                  pretrained_backbone: bool | str | os.PathLike = False,
                  weight_folders: Sequence[str | os.PathLike] = ()) -> DeepLabV3Plus:
    """Build a :class:`DeepLabV3Plus` (Chen et al., arXiv 1802.02611). Never downloads unless asked.

    Args:
        num_classes: output classes (21 for PASCAL VOC, 11 for CamVid, 150 for ADE20K).
        backbone, output_stride, rates, aspp_channels, low_level_channels, in_channels: see :class:`DeepLabV3Plus`.
        weights: a state dict file of the whole model (e.g. a course_lib checkpoint).
        pretrained_backbone: ``True`` looks for torchvision's ImageNet file in ``weight_folders`` and torch hub's
            cache, then asks torchvision's weight API (downloads once; offline, a message and a random backbone);
            a path loads that file; ``False`` (default) starts from scratch. ``model.backbone_source`` says which.
        weight_folders: where ``pretrained_backbone=True`` looks first.

    Example:
        >>> round(sum(p.numel() for p in deeplabv3plus(num_classes=21).parameters()) / 1e6, 1)
        40.4
    """
    model = DeepLabV3Plus(num_classes, backbone=backbone, output_stride=output_stride, rates=rates,
                          aspp_channels=aspp_channels, low_level_channels=low_level_channels, in_channels=in_channels)
    model.backbone_source = None
    if pretrained_backbone:
        model.backbone_source = load_imagenet_weights(model.backbone, backbone, pretrained_backbone, weight_folders)
    if weights is not None:
        model.backbone_source = load_state_strict(model, weights, what="DeepLabV3+ weights")
    return model
