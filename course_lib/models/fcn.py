"""FCN-32s, FCN-16s and FCN-8s (Long, Shelhamer & Darrell, "Fully Convolutional Networks for Semantic
Segmentation", CVPR 2015, arXiv 1411.4038).

Introduced in Chapter 3. A VGG16 backbone is made fully convolutional (``fc6``/``fc7`` become 7x7 and 1x1
convolutions), a 1x1 ``score`` layer predicts class scores at stride 32, and learnable transposed convolutions
initialised to bilinear upsampling bring them back to the input size. FCN-16s and FCN-8s add *skip* layers:
1x1 scores on ``pool4`` (stride 16) and ``pool3`` (stride 8) are summed with the upsampled coarse scores, which
sharpens boundaries.

Two layouts:

``padding="paper"``
    The original Caffe network: the first conv is padded by 100 pixels, ``fc6`` and the transposed convolutions
    are unpadded, and every skip is aligned by cropping at offsets that :func:`coord_map` computes (5, 9 and 31
    for FCN-8s, exactly the numbers in the authors' prototxt).
``padding="same"``
    Padded convolutions and transposed convolutions, so that every map is ``H / stride`` and all crop offsets are
    0: cheaper (no 200-pixel border), used by the book's quick profile.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from torch import nn

from .upsampling import BilinearUpsample, coord_map, crop_like
from .vgg import load_vgg16_weights, make_vgg_features, stage_ends, vgg16_weight_source

__all__ = ["FCN", "fcn32s", "fcn16s", "fcn8s"]

_VARIANTS = {"32s": 32, "16s": 16, "8s": 8}


class FCN(nn.Module):
    """Fully convolutional network with optional pool4 / pool3 skips.

    Args:
        num_classes: number of output classes (21 for PASCAL VOC, 11 for CamVid).
        variant: ``"32s"``, ``"16s"`` or ``"8s"``: the stride of the finest prediction that is fused.
        width: VGG channel multiplier (1.0 = the paper; smaller for CPU training).
        fc_channels: channels of ``fc6``/``fc7`` (4096 in the paper).
        batch_norm: BatchNorm in the backbone (not in the paper; helps training from scratch).
        padding: ``"paper"`` (pad 100 + crops) or ``"same"`` (see the module docstring).
        learnable_upsampling: train the bilinear-initialised transposed convolutions (the paper's choice for the
            2x layers).
        dropout: dropout after ``fc6`` and ``fc7`` (0.5 in the paper).
        in_channels: input channels.

    Example:
        >>> model = FCN(num_classes=11, variant="8s", width=0.125, fc_channels=64, padding="same")
        >>> model(torch.randn(2, 3, 64, 96)).shape
        torch.Size([2, 11, 64, 96])
    """

    def __init__(self, num_classes: int, variant: str = "8s", *, width: float = 1.0, fc_channels: int = 4096,
                 batch_norm: bool = False, padding: str = "paper", learnable_upsampling: bool = True,
                 dropout: float = 0.5, in_channels: int = 3):
        super().__init__()
        if variant not in _VARIANTS:
            raise ValueError(f"variant must be one of {sorted(_VARIANTS)}, got {variant!r}")
        if padding not in ("paper", "same"):
            raise ValueError(f"padding must be 'paper' or 'same', got {padding!r}")
        self.num_classes = num_classes
        self.variant = variant
        self.padding = padding
        paper = padding == "paper"
        self.features = make_vgg_features(width, batch_norm, first_padding=100 if paper else 1,
                                          in_channels=in_channels)
        ends = stage_ends(self.features)
        self._pool3, self._pool4, self._pool5 = ends[2], ends[3], ends[4]
        c3, c4 = self._out_channels(self._pool3), self._out_channels(self._pool4)
        self.fc6 = nn.Conv2d(self._out_channels(self._pool5), fc_channels, 7, padding=0 if paper else 3)
        self.fc7 = nn.Conv2d(fc_channels, fc_channels, 1)
        self.drop = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.relu = nn.ReLU(inplace=True)
        self.score_fr = nn.Conv2d(fc_channels, num_classes, 1)
        up_pad = "none" if paper else "same"
        final = _VARIANTS[variant]
        if variant == "32s":
            self.upscore = BilinearUpsample(num_classes, 32, up_pad, learnable_upsampling)
        else:
            self.upscore2 = BilinearUpsample(num_classes, 2, up_pad, learnable_upsampling)
            self.score_pool4 = nn.Conv2d(c4, num_classes, 1)
            if variant == "16s":
                self.upscore = BilinearUpsample(num_classes, 16, up_pad, learnable_upsampling)
            else:
                self.upscore_pool4 = BilinearUpsample(num_classes, 2, up_pad, learnable_upsampling)
                self.score_pool3 = nn.Conv2d(c3, num_classes, 1)
                self.upscore = BilinearUpsample(num_classes, 8, up_pad, learnable_upsampling)
        assert self.upscore.factor == final
        for layer in (self.score_fr, getattr(self, "score_pool4", None), getattr(self, "score_pool3", None)):
            if layer is not None:  # the paper initialises the scoring layers to zero
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)
        self.offsets = self.crop_offsets()

    def _out_channels(self, end: int) -> int:
        return next(m.out_channels for m in reversed(self.features[:end]) if isinstance(m, nn.Conv2d))

    def crop_offsets(self) -> dict[str, int]:
        """Where each skip is cropped, from the coordinate maps of the layers (see :mod:`.upsampling`)."""
        feats = list(self.features)
        pool3 = coord_map(feats[: self._pool3])
        pool4 = coord_map(feats[: self._pool4])
        score = coord_map(feats + [self.fc6, self.fc7])
        offsets: dict[str, int] = {}

        def offset(big, small) -> int:  # index in `big` of `small`'s first pixel
            value = (small.offset - big.offset) / big.scale
            if abs(value - round(value)) > 1e-6 or abs(big.scale - small.scale) > 1e-9:
                raise RuntimeError(f"maps are not aligned on a whole pixel: {big} vs {small}")
            return int(round(value))

        if self.variant == "32s":
            offsets["final"] = offset(score.then(self.upscore), coord_map([]))
            return offsets
        up2 = score.then(self.upscore2)
        offsets["pool4"] = offset(pool4, up2)
        if self.variant == "16s":
            offsets["final"] = offset(up2.then(self.upscore), coord_map([]))
            return offsets
        up4 = up2.then(self.upscore_pool4)
        offsets["pool3"] = offset(pool3, up4)
        offsets["final"] = offset(up4.then(self.upscore), coord_map([]))
        return offsets

    def _skip(self, skip: torch.Tensor, up: torch.Tensor, offset: int) -> torch.Tensor:
        # "paper": the skip map is larger and is cropped to the upsampled scores (offset >= 0);
        # "same": the upsampled scores may be a little larger than the skip (odd sizes) and are cropped instead.
        if offset >= 0 and self.padding == "paper":
            return crop_like(skip, up.shape[-2:], offset) + up
        return skip + crop_like(up, skip.shape[-2:], -offset)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"FCN expects a batch [N, C, H, W], got shape {tuple(x.shape)}")
        size = x.shape[-2:]
        f = self.features
        pool3 = f[: self._pool3](x)
        pool4 = f[self._pool3: self._pool4](pool3)
        pool5 = f[self._pool4: self._pool5](pool4)
        h = self.drop(self.relu(self.fc6(pool5)))
        h = self.drop(self.relu(self.fc7(h)))
        score = self.score_fr(h)
        if self.variant != "32s":
            score = self._skip(self.score_pool4(pool4), self.upscore2(score), self.offsets["pool4"])
            if self.variant == "8s":
                score = self._skip(self.score_pool3(pool3), self.upscore_pool4(score), self.offsets["pool3"])
        return crop_like(self.upscore(score), size, self.offsets["final"])

    def load_backbone(self, source: str | os.PathLike | dict | None = None,
                      search: Sequence[str | os.PathLike] = (), use_torchvision: bool = False) -> str | None:
        """Load ImageNet VGG16 weights (backbone + convolutionalised fc6/fc7), as the paper started from them.

        Args:
            source: a state-dict file or dict; ``None`` looks for torchvision's file in the folders ``search``
                (:func:`find_vgg16_weights`), then asks torchvision's weight API (:func:`torchvision_vgg16_state`,
                which downloads once into ``$TORCH_HOME``).
            search: the folders to look in when ``source`` is ``None``.
            use_torchvision: ask torchvision's weight API when no file is found (it may download 528 MB; the
                builders do with ``pretrained_backbone=True``).

        Returns:
            Where the weights came from, or ``None`` when none could be had (offline): the model stays randomly
            initialised and a message says so.
        """
        described = None
        if source is None and self.features[0].out_channels != 64:
            print("FCN: ImageNet VGG16 weights need width=1.0; this narrower backbone is trained from scratch.")
            return None
        if source is None:
            bn = any(isinstance(m, nn.BatchNorm2d) for m in self.features)
            source, described = vgg16_weight_source(batch_norm=bn, search=search, use_torchvision=use_torchvision)
            if source is None:
                if use_torchvision:
                    print(f"FCN: no ImageNet VGG16 weights: {described}. The backbone is trained from scratch.")
                return None
        fc_ok = self.fc6.weight.shape[0] == 4096 and self.fc6.weight.shape[1] == 512
        load_vgg16_weights(self.features, source, self.fc6 if fc_ok else None, self.fc7 if fc_ok else None)
        return described or (str(source) if not isinstance(source, dict) else "<state dict>")


def _builder(variant: str):
    def build(*, num_classes: int = 21, pretrained_backbone: str | os.PathLike | bool = False,
              weight_folders: Sequence[str | os.PathLike] = (), **kwargs) -> FCN:
        model = FCN(num_classes, variant, **kwargs)
        if pretrained_backbone:
            found = model.load_backbone(None if pretrained_backbone is True else pretrained_backbone, weight_folders,
                                        use_torchvision=True)
            model.backbone_source = found
        else:
            model.backbone_source = None
        return model

    build.__name__ = f"fcn{variant}"
    build.__doc__ = f"""FCN-{variant} over a VGG16-style backbone (Long et al., arXiv 1411.4038).

    Args:
        num_classes: output classes.
        pretrained_backbone: ``True`` looks for torchvision's VGG16 ImageNet weights in ``weight_folders``, then
            gets them through torchvision's weight API (``VGG16_Weights.IMAGENET1K_V1``, downloaded once into
            ``$TORCH_HOME``; offline, the backbone is trained from scratch and a message says so); a path loads that
            file; ``False`` trains from scratch. ``model.backbone_source`` says what was loaded (``None``: nothing).
        weight_folders: where ``pretrained_backbone=True`` looks for the file.
        **kwargs: see :class:`FCN` (``width``, ``fc_channels``, ``batch_norm``, ``padding``, ...).
    """
    return build


fcn32s = _builder("32s")
fcn16s = _builder("16s")
fcn8s = _builder("8s")
