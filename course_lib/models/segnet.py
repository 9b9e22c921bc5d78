"""SegNet (Badrinarayanan, Kendall & Cipolla, "SegNet: A Deep Convolutional Encoder-Decoder Architecture for Image
Segmentation", TPAMI 2017, arXiv 1511.00561).

Introduced in Chapter 3. The encoder is the 13 convolutions of VGG16 with batch normalisation; each 2x2 max
pooling also returns *where* its maximum was (the pooling indices, 2 bits per window). The decoder mirrors the
encoder: ``MaxUnpool2d`` puts every value back at the remembered position and zeros elsewhere (a sparse map), and
the convolutions that follow densify it. Unlike FCN (which learns transposed convolutions and adds encoder maps)
and U-Net (which concatenates whole encoder maps), SegNet transfers only the indices: boundaries come back where
the encoder saw them, at almost no memory cost. The paper's network has 29.5 M parameters; the last decoder conv
outputs the class scores (no 1x1 classifier).

:func:`unpool_demo` shows index unpooling next to a transposed convolution on a 4x4 input.

Pooling uses ``ceil_mode=True`` (as the Caffe original), so no row is lost on CamVid's 360x480 frames
(360 -> 180 -> 90 -> 45 -> 23 -> 12); each unpooling restores the exact size the encoder had.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .vgg import load_vgg16_weights, make_vgg_features, stage_ends, vgg16_weight_source
from .weights import load_state_strict

__all__ = ["SegNet", "segnet", "unpool_demo"]


def unpool_demo(x: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """2x2 max pooling of a 4x4 map, then back to 4x4 twice: by its indices, and by a transposed convolution.

    Index unpooling (SegNet) puts each maximum back where it came from and zeros elsewhere; a stride-2 transposed
    convolution with a 2x2 kernel of ones (FCN's learnable upsampling, here fixed) copies each value over its whole
    2x2 cell, forgetting where the maximum was.

    Args:
        x: a ``[4, 4]`` map; by default ``arange(16)`` shuffled by a fixed permutation.

    Returns:
        ``{"input", "pooled", "indices", "unpooled", "transposed"}``, all 2-D tensors.

    Example:
        >>> d = unpool_demo(torch.tensor([[1., 2, 0, 0], [0, 0, 0, 3], [4, 0, 0, 0], [0, 0, 5, 0]]))
        >>> d["pooled"].tolist(), d["indices"].tolist()
        ([[2.0, 3.0], [4.0, 5.0]], [[1, 7], [8, 14]])
        >>> d["unpooled"].tolist()[1], d["transposed"].tolist()[1]
        ([0.0, 0.0, 0.0, 3.0], [2.0, 2.0, 3.0, 3.0])
    """
    if x is None:
        x = torch.tensor([3, 12, 0, 7, 9, 1, 14, 4, 6, 15, 2, 10, 8, 5, 11, 13], dtype=torch.float32).view(4, 4)
    x = torch.as_tensor(x, dtype=torch.float32)
    if x.shape != (4, 4):
        raise ValueError(f"unpool_demo expects a 4x4 map, got shape {tuple(x.shape)}")
    pooled, indices = F.max_pool2d(x[None, None], 2, 2, return_indices=True)
    unpooled = F.max_unpool2d(pooled, indices, 2, 2, output_size=(4, 4))
    transposed = F.conv_transpose2d(pooled, torch.ones(1, 1, 2, 2), stride=2)
    return {"input": x, "pooled": pooled[0, 0], "indices": indices[0, 0], "unpooled": unpooled[0, 0],
            "transposed": transposed[0, 0]}


def _conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class SegNet(nn.Module):
    """SegNet: a VGG16-BN encoder whose max-pooling indices drive the unpooling of a mirrored decoder.

    Args:
        num_classes: output classes (11 for CamVid, whose void label 11 is ignored by the loss).
        width: channel multiplier (1.0 = the paper's 64 ... 512 channels; 0.25 trains on a CPU).
        in_channels: input channels.

    The encoder's layer indices are torchvision's ``vgg16_bn.features`` (:func:`course_lib.models.vgg
    .make_vgg_features`), so ImageNet weights load at ``width=1`` (:meth:`load_backbone`).

    Example:
        >>> model = SegNet(11, width=0.125)
        >>> model(torch.randn(1, 3, 45, 60)).shape
        torch.Size([1, 11, 45, 60])
    """

    def __init__(self, num_classes: int, *, width: float = 1.0, in_channels: int = 3):
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be positive, got {num_classes}")
        self.num_classes = num_classes
        self.features = make_vgg_features(width, batch_norm=True, in_channels=in_channels)
        ends = stage_ends(self.features)
        self._stages = list(zip([0, *ends[:-1]], ends, strict=True))  # [start, end) of each stage, pooling last
        for _, end in self._stages:
            self.features[end - 1].return_indices = True  # the pooling also returns where its maxima were
        # mirrored decoder: stage s gets as many convs as encoder stage s; its last conv maps to the channels of
        # encoder stage s-1 (or to the classes after the first stage)
        enc_channels = [[m.out_channels for m in self.features[s:e] if isinstance(m, nn.Conv2d)]
                        for s, e in self._stages]
        self.unpool = nn.MaxUnpool2d(2, 2)
        decoder = []
        for i in reversed(range(len(enc_channels))):
            chans = enc_channels[i]
            out = enc_channels[i - 1][-1] if i > 0 else None
            layers: list[nn.Module] = []
            for _ in range(len(chans) - 1):
                layers += _conv_bn_relu(chans[-1], chans[-1])
            if out is not None:
                layers += _conv_bn_relu(chans[-1], out)
            else:  # the paper's last decoder conv outputs the class scores (followed by a softmax in the loss)
                layers.append(nn.Conv2d(chans[-1], num_classes, 3, padding=1))
            decoder.append(nn.Sequential(*layers))
        self.decoder = nn.ModuleList(decoder)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"SegNet expects a batch [N, C, H, W], got shape {tuple(x.shape)}")
        remembered = []
        for start, end in self._stages:
            x = self.features[start:end - 1](x)
            size = x.shape[-2:]
            x, indices = self.features[end - 1](x)
            remembered.append((indices, size))
        for stage in self.decoder:
            indices, size = remembered.pop()
            x = stage(self.unpool(x, indices, output_size=size))
        return x

    def load_backbone(self, source: str | os.PathLike | dict | None = None,
                      search: Sequence[str | os.PathLike] = (), use_torchvision: bool = False) -> str | None:
        """Load ImageNet VGG16-BN weights into the encoder (the paper initialised it from VGG16).

        Args:
            source: a state-dict file or dict; ``None`` looks for torchvision's ``vgg16_bn-6c64b313.pth`` in
                ``search`` (never downloads), then, with ``use_torchvision``, asks torchvision's weight API
                (``VGG16_BN_Weights.IMAGENET1K_V1``, downloaded once into ``$TORCH_HOME``).
            search: folders to look in.
            use_torchvision: allow torchvision's weight API.

        Returns:
            Where the weights came from, or ``None`` (none found, or a narrower encoder): the encoder stays random.
        """
        if self.features[0].out_channels != 64:
            print("SegNet: ImageNet VGG16-BN weights need width=1.0; this narrower encoder is trained from scratch.")
            return None
        described = None
        if source is None:
            source, described = vgg16_weight_source(batch_norm=True, search=search, use_torchvision=use_torchvision)
            if source is None:
                print(f"SegNet: no ImageNet VGG16-BN weights ({described or 'none found in ' + str(list(search))}). "
                      "The encoder is trained from scratch.")
                return None
        load_vgg16_weights(self.features, source)
        return described or (str(source) if not isinstance(source, dict) else "<state dict>")


def segnet(*, num_classes: int = 11, width: float = 1.0, in_channels: int = 3,
           weights: str | os.PathLike | None = None, pretrained_backbone: bool | str | os.PathLike = False,
           weight_folders: Sequence[str | os.PathLike] = ()) -> SegNet:
    """Build a :class:`SegNet` (Badrinarayanan et al., arXiv 1511.00561). Never downloads unless asked.

    Args:
        num_classes: output classes (11 for CamVid).
        width: channel multiplier of encoder and decoder (1.0 = the paper, 29.4 M parameters with 11 classes).
        in_channels: input channels.
        weights: a state dict file of the whole model (e.g. a course_lib checkpoint) to load.
        pretrained_backbone: ``True`` looks for torchvision's VGG16-BN ImageNet file in ``weight_folders``, then asks
            torchvision's weight API (downloads once; offline, a message and a random encoder); a path loads that
            file; ``False`` (default) starts from scratch. ``model.backbone_source`` says what was loaded.
        weight_folders: where ``pretrained_backbone=True`` looks first.

    Example:
        >>> sum(p.numel() for p in segnet(num_classes=11).parameters())
        29449355
    """
    model = SegNet(num_classes, width=width, in_channels=in_channels)
    model.backbone_source = None
    if pretrained_backbone:
        source = None if pretrained_backbone is True else pretrained_backbone
        model.backbone_source = model.load_backbone(source, weight_folders, use_torchvision=True)
    if weights is not None:
        model.backbone_source = load_state_strict(model, weights, what="SegNet weights")
    return model
