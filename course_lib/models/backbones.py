"""Dilated (atrous) ResNet and MobileNetV2 backbones for the context models of Chapter 3 (PSPNet, DeepLabV3+,
PraNet).

Introduced in Chapter 3. A classification network halves its maps five times (output stride 32): a 360x480
CamVid frame becomes 12x15 cells, too coarse for thin poles and pedestrians. The *atrous trick* of DeepLab
(Chen et al., arXiv 1606.00915) removes the stride of the last stages and dilates every 3x3 convolution after it
by the factor the stride would have had, so that each kernel still sees the same neighbours as in the pretrained
network, only on a denser grid: output stride 16 (DeepLabV3+) or 8 (PSPNet), with the same weights.

:func:`dilate_resnet_` does this by hand for torchvision's ResNets, BasicBlock (ResNet-18/34, which torchvision's
``replace_stride_with_dilation`` refuses) and Bottleneck (ResNet-50/101, where it gives the same network as
torchvision: the tests check it) alike; :func:`dilate_mobilenet_v2_` for MobileNetV2, which has no such option.
The rule in both: the convolution that used to stride keeps the previous dilation, every 3x3 convolution after
it gets the new one. The dense output sampled every ``2**k`` pixels then equals the original network's output.

ImageNet weights come through torchvision's weight API, only when asked (:func:`load_imagenet_weights`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
import torchvision
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck

from .weights import load_backbone_state, load_state_strict

__all__ = ["RESNETS", "ResNetBackbone", "MobileNetV2Backbone", "Res2NetBackbone", "dilate_resnet_",
           "dilate_mobilenet_v2_", "load_imagenet_weights"]

RESNETS = ("resnet18", "resnet34", "resnet50", "resnet101")
_WEIGHTS = {"resnet18": "ResNet18_Weights", "resnet34": "ResNet34_Weights", "resnet50": "ResNet50_Weights",
            "resnet101": "ResNet101_Weights", "mobilenet_v2": "MobileNet_V2_Weights"}


def _set_dilation(conv: nn.Conv2d, dilation: int) -> None:
    if conv.kernel_size[0] > 1:
        conv.dilation = (dilation, dilation)
        conv.padding = (dilation * (conv.kernel_size[0] // 2), dilation * (conv.kernel_size[1] // 2))


def _check_output_stride(output_stride: int) -> None:
    if output_stride not in (8, 16, 32):
        raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride!r}")


def dilate_resnet_(resnet: torchvision.models.ResNet, output_stride: int = 8) -> torchvision.models.ResNet:
    """Turn the last stages of a torchvision ResNet into dilated ones, in place (weights unchanged).

    Output stride 16 dilates ``layer4`` (rate 2), 8 also ``layer3`` (rates 2 and 4): like torchvision's
    ``replace_stride_with_dilation=[False, True, True]`` for Bottleneck blocks, and for BasicBlock too.

    Args:
        resnet: a ``torchvision.models.resnet18/34/50/101`` (stride 32).
        output_stride: 8, 16 or 32 (32 leaves it as it is).

    Example:
        >>> net = dilate_resnet_(torchvision.models.resnet18(), output_stride=8)
        >>> net.layer4[1].conv2.dilation, net.layer3[0].conv1.stride
        ((4, 4), (1, 1))
    """
    _check_output_stride(output_stride)
    if not isinstance(resnet, torchvision.models.ResNet):
        raise TypeError(f"dilate_resnet_ expects a torchvision ResNet (BasicBlock/Bottleneck), got {type(resnet)}")
    dilation, stride = 1, 4  # after the stem (conv1 + max pooling)
    for layer in (resnet.layer2, resnet.layer3, resnet.layer4):
        first = layer[0]
        if isinstance(first, Bottleneck):
            strided, after = first.conv2, []
        elif isinstance(first, BasicBlock):
            strided, after = first.conv1, [first.conv2]
        else:
            raise TypeError(f"dilate_resnet_ expects torchvision BasicBlock/Bottleneck blocks, got {type(first)}")
        if stride * 2 <= output_stride:
            stride *= 2
            continue
        previous, dilation = dilation, dilation * 2
        strided.stride = (1, 1)
        _set_dilation(strided, previous)
        if first.downsample is not None:
            first.downsample[0].stride = (1, 1)
        for block in layer[1:]:
            after += [m for m in (block.conv1, block.conv2) if m.kernel_size[0] > 1]
        for conv in after:
            _set_dilation(conv, dilation)
    return resnet


def dilate_mobilenet_v2_(features: nn.Sequential, output_stride: int = 16) -> nn.Sequential:
    """Dilate torchvision's ``mobilenet_v2().features`` in place so that it stops at ``output_stride``.

    The stride-2 depthwise convolutions past ``output_stride`` become stride 1 (keeping the previous dilation),
    and every later depthwise 3x3 convolution is dilated by the accumulated factor.

    Example:
        >>> f = dilate_mobilenet_v2_(torchvision.models.mobilenet_v2().features, output_stride=8)
        >>> f(torch.randn(1, 3, 64, 64)).shape
        torch.Size([1, 1280, 8, 8])
    """
    _check_output_stride(output_stride)
    stride, dilation = 1, 1
    for block in features:
        depthwise = [m for m in block.modules() if isinstance(m, nn.Conv2d) and m.kernel_size[0] == 3]
        for conv in depthwise:  # one 3x3 conv per block: the stem's conv or the block's depthwise conv
            if conv.stride[0] == 2:
                if stride * 2 <= output_stride:
                    stride *= 2
                else:
                    conv.stride = (1, 1)
                    _set_dilation(conv, dilation)
                    dilation *= 2
                    continue
            _set_dilation(conv, dilation)
    return features


def load_imagenet_weights(module: nn.Module, arch: str, source: bool | str | os.PathLike | dict = True,
                          folders: Sequence[str | os.PathLike] = ()) -> str | None:
    """Load torchvision's ImageNet weights of ``arch`` into a backbone whose parameter names match torchvision's.

    Args:
        module: a :class:`ResNetBackbone` or :class:`MobileNetV2Backbone` at full width.
        arch: ``"resnet18"`` ... ``"resnet101"`` or ``"mobilenet_v2"``.
        source: ``True`` looks for torchvision's file in ``folders`` and torch hub's cache, then asks torchvision's
            weight API (``IMAGENET1K_V1``, downloaded once into ``$TORCH_HOME``); a path or a state dict loads that.
        folders: where to look for the file first.

    Returns:
        Where the weights came from, or ``None`` (offline: the backbone stays random and a message says so).
    """
    weights = getattr(torchvision.models, _WEIGHTS[arch]).IMAGENET1K_V1
    return load_backbone_state(module, weights if source is True else source, folders=folders,
                               ignore=("fc.", "classifier.", "features.18."), what=f"{arch} ImageNet weights")


class ResNetBackbone(nn.Module):
    """A torchvision ResNet without its classifier, dilated to ``output_stride``; returns the four stage outputs.

    Parameter names are torchvision's (``conv1``, ``bn1``, ``layer1`` ... ``layer4``), so its ImageNet state dict
    loads unchanged (:func:`load_imagenet_weights`).

    Args:
        arch: ``"resnet18"``, ``"resnet34"``, ``"resnet50"`` or ``"resnet101"``.
        output_stride: 8, 16 or 32.
        in_channels: input channels (3; another number replaces ``conv1``, which then starts random).

    Example:
        >>> net = ResNetBackbone("resnet18", output_stride=8)
        >>> [tuple(f.shape[1:]) for f in net(torch.randn(1, 3, 64, 64))]
        [(64, 16, 16), (128, 8, 8), (256, 8, 8), (512, 8, 8)]
    """

    def __init__(self, arch: str = "resnet50", *, output_stride: int = 8, in_channels: int = 3):
        super().__init__()
        if arch not in RESNETS:
            raise ValueError(f"ResNet backbone must be one of {RESNETS}, got {arch!r}")
        net = dilate_resnet_(getattr(torchvision.models, arch)(weights=None), output_stride)
        if in_channels != 3:
            net.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        self.arch, self.output_stride = arch, output_stride
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        expansion = 4 if arch in ("resnet50", "resnet101") else 1
        #: channels of the four stage outputs (strides 4, 8, 16, 32 before dilation)
        self.channels = tuple(c * expansion for c in (64, 128, 256, 512))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        feats = [self.layer1(x)]
        for layer in (self.layer2, self.layer3, self.layer4):
            feats.append(layer(feats[-1]))
        return feats


class MobileNetV2Backbone(nn.Module):
    """torchvision's MobileNetV2 (Sandler et al., arXiv 1801.04381) as DeepLabV3+ uses it on a phone.

    ``low`` = ``features[:4]`` (24 channels, stride 4: the decoder's low-level features), ``high`` =
    ``features[4:18]`` (320 channels, dilated to ``output_stride``); the last 1x1 conv to 1280 channels is dropped.
    Parameter names stay ``features.N`` so torchvision's ImageNet weights load (:func:`load_imagenet_weights`).

    Example:
        >>> low, high = MobileNetV2Backbone(output_stride=16)(torch.randn(1, 3, 64, 64))
        >>> tuple(low.shape), tuple(high.shape)
        ((1, 24, 16, 16), (1, 320, 4, 4))
    """

    def __init__(self, *, output_stride: int = 16, in_channels: int = 3):
        super().__init__()
        features = torchvision.models.mobilenet_v2(weights=None).features[:18]
        if in_channels != 3:
            features[0][0] = nn.Conv2d(in_channels, 32, 3, 2, 1, bias=False)
        self.features = dilate_mobilenet_v2_(features, output_stride)
        self.output_stride = output_stride
        self.channels = (24, 320)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        low = self.features[:4](x)
        return low, self.features[4:](low)


class Res2NetBackbone(nn.Module):
    """Res2Net-50 (Gao et al., arXiv 1904.01169), 26w x 4s, "v1b" (three-conv stem, average-pooling shortcut):
    the backbone of PraNet, from ``timm`` (``res2net50d``); returns the four stage outputs (strides 4 ... 32).

    A Res2Net block splits the 3x3 convolution of a bottleneck into 4 groups of 26 channels chained
    hierarchically, so one block sees several scales. ``timm`` is imported only when this class is built.

    Example:
        >>> net = Res2NetBackbone()  # doctest: +SKIP
        >>> [f.shape[1] for f in net(torch.randn(1, 3, 64, 64))]  # doctest: +SKIP
        [256, 512, 1024, 2048]
    """

    def __init__(self, *, in_channels: int = 3):
        super().__init__()
        try:
            import timm
        except ImportError as err:
            raise ImportError("the Res2Net backbone needs timm: pip install timm (or use backbone='resnet50')") from err
        self.body = timm.create_model("res2net50d", pretrained=False, features_only=True, out_indices=(1, 2, 3, 4),
                                      in_chans=in_channels)
        self.arch = "res2net50"
        self.channels = tuple(self.body.feature_info.channels())

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return list(self.body(x))

    def load_pretrained(self, source: bool | str | os.PathLike | dict = True) -> str | None:
        """ImageNet weights: a file (or dict) of timm's ``res2net50d`` parameter names, or ``True`` for timm's own
        (downloaded from the Hugging Face hub into its cache; offline, a message and ``None``)."""
        if source is not True:
            return load_state_strict(self.body, source, what="Res2Net-50 weights", ignore=("fc.",))
        from ..runtime import has_internet

        if not has_internet("huggingface.co"):
            print("Res2Net-50: no ImageNet weights (the Hugging Face hub cannot be reached). "
                  "The backbone starts from a random initialisation.")
            return None
        import timm

        state = timm.create_model("res2net50d", pretrained=True).state_dict()
        load_state_strict(self.body, state, what="Res2Net-50 weights", ignore=("fc.",))
        return "timm res2net50d.in1k"
