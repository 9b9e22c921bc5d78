"""A-CE2P, the parsing network of Self-Correction Human Parsing (Li, Dong, Sun & Yang, arXiv 1910.09777).

Introduced in Chapter 4. SCHP's "augmented CE2P" (after CE2P, Ruan et al., arXiv 1809.05996) has three branches on a
dilated ResNet (output stride 16, :class:`course_lib.models.backbones.ResNetBackbone`):

- **parsing**: a context encoder (PSPNet's pyramid pooling, :class:`course_lib.models.pspnet.PyramidPooling`, then a
  3x3 bottleneck to 512 channels) on the last stage, and a DeepLabV3+-style decoder that upsamples it to stride 4,
  concatenates the stride-4 features reduced to 48 channels and classifies (the "parsing" output);
- **edge**: 1x1 convolutions (256 channels) on the stages of strides 4, 8 and 16, one shared 3x3 classifier of
  edge / no edge on each, upsampled to stride 4 and merged by a 1x1 convolution (the "edge" output);
- **fusion**: the decoder's 256 features and the three edge feature maps (768) concatenated, a 1x1 convolution to
  256, dropout 0.1, a 1x1 classifier (the "fusion" output: the network's prediction at test time).

In training mode the network returns ``{"parsing", "fusion", "edge"}`` logits at stride 4 (the loss upsamples them to
the labels, as SCHP does); in eval mode only the fusion logits, upsampled to the input size, so that the shared
evaluation code (:func:`course_lib.recipes.segmentation.predict`) uses it as any segmentation model. The paper's
InPlace-ABN is BatchNorm + ReLU here.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from .backbones import RESNETS, ResNetBackbone, load_imagenet_weights
from .pspnet import PyramidPooling
from .weights import load_state_strict

__all__ = ["ACE2P", "ace2p"]


def _cbr(cin: int, cout: int, kernel: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


def _up(x: torch.Tensor, size) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class EdgeBranch(nn.Module):
    """SCHP's edge module: per-stage 1x1 features, one shared 3x3 edge classifier, a 1x1 merge of the three."""

    def __init__(self, in_channels: tuple[int, int, int], channels: int = 256):
        super().__init__()
        self.reduce = nn.ModuleList(_cbr(c, channels) for c in in_channels)
        self.classify = nn.Conv2d(channels, 2, 3, padding=1)
        self.merge = nn.Conv2d(2 * len(in_channels), 2, 1)
        self.out_channels = channels * len(in_channels)

    def forward(self, feats: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        size = feats[0].shape[-2:]
        reduced = [_up(r(f), size) for r, f in zip(self.reduce, feats, strict=True)]
        edges = torch.cat([self.classify(r) for r in reduced], dim=1)
        return self.merge(edges), torch.cat(reduced, dim=1)


class ACE2P(nn.Module):
    """The A-CE2P parsing network of SCHP (parsing, edge and fusion branches) on a dilated ResNet.

    Args:
        num_classes: part labels (20 for LIP and CIHP, 18 for ATR, 7 for PASCAL-Person-Part).
        backbone: ``"resnet101"`` (the paper), ``"resnet50"``, ``"resnet34"`` or ``"resnet18"`` (a CPU choice).
        output_stride: of the backbone (16 in SCHP).
        context_channels: channels of the context encoder's output (512).
        decoder_channels: channels of the decoder and the fusion layer (256).
        edge_channels: channels of each edge feature map (256).
        in_channels: input channels.

    Example:
        >>> net = ACE2P(20, backbone="resnet18", context_channels=32, decoder_channels=16, edge_channels=8)
        >>> out = net(torch.randn(2, 3, 64, 48))
        >>> [tuple(out[k].shape) for k in ("parsing", "fusion", "edge")]
        [(2, 20, 16, 12), (2, 20, 16, 12), (2, 2, 16, 12)]
        >>> net.eval()(torch.randn(1, 3, 64, 48)).shape
        torch.Size([1, 20, 64, 48])
    """

    def __init__(self, num_classes: int, *, backbone: str = "resnet101", output_stride: int = 16,
                 context_channels: int = 512, decoder_channels: int = 256, edge_channels: int = 256,
                 in_channels: int = 3):
        super().__init__()
        if backbone not in RESNETS:
            raise ValueError(f"A-CE2P backbone must be one of {RESNETS}, got {backbone!r}")
        self.backbone = ResNetBackbone(backbone, output_stride=output_stride, in_channels=in_channels)
        c1, c2, c3, c4 = self.backbone.channels
        self.arch, self.num_classes = backbone, num_classes
        self.pyramid = PyramidPooling(c4, reduction_channels=context_channels)
        self.context = _cbr(self.pyramid.out_channels, context_channels, 3)
        self.decoder_context = _cbr(context_channels, decoder_channels)
        self.decoder_low = _cbr(c1, 48)
        self.decoder = nn.Sequential(_cbr(decoder_channels + 48, decoder_channels),
                                     _cbr(decoder_channels, decoder_channels))
        self.parsing_head = nn.Conv2d(decoder_channels, num_classes, 1)
        self.edge = EdgeBranch((c1, c2, c3), edge_channels)
        self.fusion = nn.Sequential(_cbr(decoder_channels + self.edge.out_channels, decoder_channels),
                                    nn.Dropout2d(0.1), nn.Conv2d(decoder_channels, num_classes, 1))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor] | torch.Tensor:
        out = self.branches(x)
        return out if self.training else _up(out["fusion"], x.shape[-2:])

    def branches(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The three outputs at stride 4 in either mode: ``{"parsing", "fusion", "edge"}`` logits."""
        if x.dim() != 4:
            raise ValueError(f"A-CE2P expects a batch [N, C, H, W], got shape {tuple(x.shape)}")
        f1, f2, f3, f4 = self.backbone(x)
        context = self.context(self.pyramid(f4))
        decoded = self.decoder(torch.cat([_up(self.decoder_context(context), f1.shape[-2:]),
                                          self.decoder_low(f1)], dim=1))
        edge, edge_features = self.edge([f1, f2, f3])
        fusion = self.fusion(torch.cat([decoded, edge_features], dim=1))
        return {"parsing": self.parsing_head(decoded), "fusion": fusion, "edge": edge}


def ace2p(*, num_classes: int = 20, backbone: str = "resnet101", output_stride: int = 16,
          context_channels: int = 512, decoder_channels: int = 256, edge_channels: int = 256,
          weights: str | os.PathLike | None = None, pretrained_backbone: bool | str | os.PathLike = False,
          weight_folders=()) -> ACE2P:
    """Build an :class:`ACE2P` (SCHP, Li et al., arXiv 1910.09777). Never downloads unless asked.

    Args:
        num_classes, backbone, output_stride, context_channels, decoder_channels, edge_channels: see :class:`ACE2P`.
        weights: a state dict file of the whole model.
        pretrained_backbone: ``True`` looks for torchvision's ImageNet file (then its weight API), a path loads that
            file, ``False`` (default) starts from scratch; ``model.backbone_source`` says which.
        weight_folders: where ``pretrained_backbone=True`` looks first.

    Example:
        >>> round(sum(p.numel() for p in ace2p(num_classes=20).parameters()) / 1e6, 1)
        66.6
    """
    model = ACE2P(num_classes, backbone=backbone, output_stride=output_stride, context_channels=context_channels,
                  decoder_channels=decoder_channels, edge_channels=edge_channels)
    model.backbone_source = None
    if pretrained_backbone:
        model.backbone_source = load_imagenet_weights(model.backbone, backbone, pretrained_backbone, weight_folders)
    if weights is not None:
        model.backbone_source = load_state_strict(model, weights, what="A-CE2P weights")
    return model
