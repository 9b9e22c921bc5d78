"""PSPNet (Zhao, Shi, Qi, Wang & Jia, "Pyramid Scene Parsing Network", CVPR 2017, arXiv 1612.01105).

Introduced in Chapter 3. A dilated ResNet (output stride 8, :mod:`course_lib.models.backbones`) gives a dense
feature map; the *pyramid pooling module* (PPM) adds global context: the map is average-pooled to 1x1, 2x2, 3x3
and 6x6 cells, each pooled map is reduced to ``C / 4`` channels by a 1x1 conv + BN + ReLU, upsampled back
(bilinear) and concatenated with the map itself (``C + 4 * C / 4 = 2C`` channels). A 3x3 conv (512 channels), BN,
ReLU, dropout 0.1 and a 1x1 classifier predict the classes at stride 8, bilinearly upsampled to the input.

The paper trains with an *auxiliary* classifier on the stage-3 (``layer3``) features; in training mode the model
returns ``(main, aux)`` and the loss weights the second by 0.4 (:class:`course_lib.losses.AuxCrossEntropy`);
in eval mode it returns the main output only. The paper's ResNet has a three-conv stem; torchvision's one conv
is used here so that torchvision's ImageNet weights apply.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .backbones import RESNETS, ResNetBackbone, load_imagenet_weights
from .weights import load_state_strict

__all__ = ["PSPNet", "PyramidPooling", "pspnet"]


def _conv_bn_relu(cin: int, cout: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class PyramidPooling(nn.Module):
    """The pyramid pooling module: ``cat([x, up(conv(pool_b(x))) for b in bins])``.

    Args:
        in_channels: ``C`` of the input map.
        bins: the pooled grid sizes (1, 2, 3, 6 in the paper).
        reduction_channels: channels of each branch (``C // len(bins)`` by default, ``C / 4`` in the paper).

    The bin-1 branch applies BatchNorm to a 1x1 map: in training mode it needs batches of 2 or more.

    Example:
        >>> ppm = PyramidPooling(64)
        >>> ppm(torch.randn(2, 64, 12, 15)).shape  # 64 + 4 * 16 channels
        torch.Size([2, 128, 12, 15])
    """

    def __init__(self, in_channels: int, bins: Sequence[int] = (1, 2, 3, 6), reduction_channels: int | None = None):
        super().__init__()
        if not bins or any(b < 1 for b in bins):
            raise ValueError(f"bins must be positive grid sizes, got {bins!r}")
        self.bins = tuple(bins)
        reduced = reduction_channels or in_channels // len(self.bins)
        self.stages = nn.ModuleList(nn.Sequential(nn.AdaptiveAvgPool2d(b), *_conv_bn_relu(in_channels, reduced, 1))
                                    for b in self.bins)
        self.out_channels = in_channels + reduced * len(self.bins)

    def pooled(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The branch outputs before upsampling: ``[N, C/4, b, b]`` for each bin ``b`` (for pictures and tests)."""
        return [stage(x) for stage in self.stages]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        ups = [F.interpolate(p, size=size, mode="bilinear", align_corners=True) for p in self.pooled(x)]
        return torch.cat([x, *ups], dim=1)


class PSPNet(nn.Module):
    """PSPNet over a dilated torchvision ResNet; ``(main, aux)`` logits in training, ``main`` in eval mode.

    Args:
        num_classes: output classes.
        backbone: ``"resnet50"`` (the paper's ADE20K/VOC model), ``"resnet101"``, or ``"resnet18"``/``"resnet34"``
            for CPU runs (dilated by hand, see :func:`course_lib.models.backbones.dilate_resnet_`).
        output_stride: 8 (the paper) or 16 (cheaper).
        bins: pyramid grid sizes.
        head_channels: channels of the 3x3 conv after the PPM (512 in the paper).
        aux: add the auxiliary head on ``layer3`` (its output is returned in training mode only).
        dropout: dropout before both classifiers (0.1 in the paper).
        in_channels: input channels.

    Example:
        >>> model = PSPNet(11, backbone="resnet18", head_channels=64).eval()
        >>> model(torch.randn(1, 3, 45, 61)).shape
        torch.Size([1, 11, 45, 61])
        >>> [t.shape[1] for t in model.train()(torch.randn(2, 3, 32, 32))]  # main and auxiliary logits
        [11, 11]
    """

    def __init__(self, num_classes: int, *, backbone: str = "resnet50", output_stride: int = 8,
                 bins: Sequence[int] = (1, 2, 3, 6), head_channels: int = 512, aux: bool = True,
                 dropout: float = 0.1, in_channels: int = 3):
        super().__init__()
        self.backbone = ResNetBackbone(backbone, output_stride=output_stride, in_channels=in_channels)
        c3, c4 = self.backbone.channels[2:]
        self.ppm = PyramidPooling(c4, bins)
        self.head = nn.Sequential(_conv_bn_relu(self.ppm.out_channels, head_channels, 3), nn.Dropout2d(dropout),
                                  nn.Conv2d(head_channels, num_classes, 1))
        self.aux_head = None
        if aux:
            self.aux_head = nn.Sequential(_conv_bn_relu(c3, c3 // 4, 3), nn.Dropout2d(dropout),
                                          nn.Conv2d(c3 // 4, num_classes, 1))
        self.num_classes = num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if x.dim() != 4:
            raise ValueError(f"PSPNet expects a batch [N, C, H, W], got shape {tuple(x.shape)}")
        size = x.shape[-2:]
        _, _, c3, c4 = self.backbone(x)
        out = F.interpolate(self.head(self.ppm(c4)), size=size, mode="bilinear", align_corners=True)
        if self.training and self.aux_head is not None:
            aux = F.interpolate(self.aux_head(c3), size=size, mode="bilinear", align_corners=True)
            return out, aux
        return out


def pspnet(*, num_classes: int = 150, backbone: str = "resnet50", output_stride: int = 8,
           bins: Sequence[int] = (1, 2, 3, 6), head_channels: int = 512, aux: bool = True, dropout: float = 0.1,
           in_channels: int = 3, weights: str | os.PathLike | None = None,
           pretrained_backbone: bool | str | os.PathLike = False,
           weight_folders: Sequence[str | os.PathLike] = ()) -> PSPNet:
    """Build a :class:`PSPNet` (Zhao et al., arXiv 1612.01105). Never downloads unless asked.

    Args:
        num_classes: output classes (150 for ADE20K SceneParsing, 11 for CamVid).
        backbone: one of ``"resnet18"``, ``"resnet34"``, ``"resnet50"``, ``"resnet101"``.
        output_stride, bins, head_channels, aux, dropout, in_channels: see :class:`PSPNet`.
        weights: a state dict file of the whole model (e.g. a course_lib checkpoint).
        pretrained_backbone: ``True`` looks for torchvision's ImageNet file in ``weight_folders`` and torch hub's
            cache, then asks torchvision's weight API (downloads once; offline, a message and a random backbone);
            a path loads that file; ``False`` (default) starts from scratch. ``model.backbone_source`` says which.
        weight_folders: where ``pretrained_backbone=True`` looks first.

    Example:
        >>> round(sum(p.numel() for p in pspnet(num_classes=150).parameters()) / 1e6, 1)
        49.1
    """
    if backbone not in RESNETS:
        raise ValueError(f"PSPNet backbone must be one of {RESNETS}, got {backbone!r}")
    model = PSPNet(num_classes, backbone=backbone, output_stride=output_stride, bins=bins,
                   head_channels=head_channels, aux=aux, dropout=dropout, in_channels=in_channels)
    model.backbone_source = None
    if pretrained_backbone:
        model.backbone_source = load_imagenet_weights(model.backbone, backbone, pretrained_backbone, weight_folders)
    if weights is not None:
        model.backbone_source = load_state_strict(model, weights, what="PSPNet weights")
    return model
