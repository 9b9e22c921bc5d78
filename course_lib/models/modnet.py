"""MODNet (Ke, Sun, Li, Yan & Lau, "MODNet: Real-Time Trimap-Free Portrait Matting via Objective Decomposition",
AAAI 2022, arXiv 2011.11961).

Introduced in Chapter 2. Matting without a trimap, split into three sub-objectives that are supervised separately
(:class:`course_lib.losses.MODNetLoss`), each a branch of one network:

``semantic`` (low-resolution branch)
    A MobileNetV2 encoder down to 1/32, a squeeze-and-excitation block (channel attention, where the paper's
    e-ASPP is; the official code uses this SE block), two 5x5 convolutions back up to 1/8 and a strided 3x3
    convolution to a 1/16 map: *where* the person is, coarse, trained against the blurred, downsampled alpha.
``detail`` (high-resolution branch)
    Full-resolution image, the encoder's 1/2 and 1/4 features and the semantic features at 1/4: the alpha in the
    transition region only (the boundary band), at full resolution.
``alpha`` (fusion branch)
    Semantic features upsampled, concatenated with the detail features and the image: the final matte.

Layers follow the official code (``src/models/modnet.py``): convolutions followed by *IBNorm* (BatchNorm on half of
the channels, InstanceNorm on the other half) and ReLU, 32 high-resolution channels, MobileNetV2 encoder stages
ending at blocks 1, 3, 6, 13 and 18 of ``torchvision.models.mobilenet_v2().features``. The official model starts
from a MobileNetV2 pretrained on human segmentation; here ``weights="imagenet"`` loads torchvision's ImageNet
MobileNetV2 (``weights=None``, the default, loads and downloads nothing). ``width_mult < 1`` narrows MobileNetV2 and
its last 1x1 layer (torchvision keeps that one at 1280 channels) for the book's quick profile.

Sizes: inputs whose sides are multiples of 32 give maps of exactly ``H/16`` (semantic) and ``H`` (detail, alpha);
other sizes work too (every upsampling goes to the size of the map it joins).
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import mobilenet_v2
from torchvision.ops.misc import Conv2dNormActivation

from .dim import IMAGENET_MEAN, IMAGENET_STD
from .weights import torchvision_state

__all__ = ["MODNet", "modnet", "IBNorm", "SEBlock", "MOBILENET_STAGE_ENDS"]

#: ``features[:2], [2:4], [4:7], [7:14], [14:19]`` of torchvision's MobileNetV2: strides 2, 4, 8, 16, 32
MOBILENET_STAGE_ENDS = (2, 4, 7, 14, 19)


class IBNorm(nn.Module):
    """BatchNorm on the first half of the channels and InstanceNorm (no affine) on the rest (MODNet's norm).

    Example:
        >>> IBNorm(4)(torch.randn(2, 4, 3, 3)).shape
        torch.Size([2, 4, 3, 3])
    """

    def __init__(self, channels: int):
        super().__init__()
        self.split = channels // 2
        self.bnorm = nn.BatchNorm2d(self.split)
        self.inorm = nn.InstanceNorm2d(channels - self.split, affine=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.bnorm(x[:, :self.split].contiguous()), self.inorm(x[:, self.split:].contiguous())], 1)


def conv_ibn_relu(cin: int, cout: int, kernel: int, stride: int = 1, norm: bool = True,
                  relu: bool = True) -> nn.Sequential:
    """Convolution (padding ``kernel // 2``) + IBNorm + ReLU, as MODNet's ``Conv2dIBNormRelu``."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2)]
    if norm:
        layers.append(IBNorm(cout))
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class SEBlock(nn.Module):
    """Squeeze-and-excitation (Hu et al., arXiv 1709.01507): channel weights from the global average.

    Example:
        >>> SEBlock(8, reduction=4)(torch.ones(1, 8, 2, 2)).shape
        torch.Size([1, 8, 2, 2])
    """

    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc = nn.Sequential(nn.Linear(channels, hidden, bias=False), nn.ReLU(inplace=True),
                                nn.Linear(hidden, channels, bias=False), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.fc(x.mean(dim=(2, 3)))
        return x * w[:, :, None, None]


def _up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


class MODNet(nn.Module):
    """MODNet: semantic, detail and fusion branches over a MobileNetV2 encoder (see the module docstring).

    Args:
        width_mult: MobileNetV2 width multiplier (1.0 = the paper); below 1 the last 1x1 layer narrows too.
        hr_channels: channels of the high-resolution and fusion branches (32 in the official code).
        normalize: normalise the ``[0, 1]`` image with ImageNet's mean and standard deviation inside the model.

    ``forward(image)`` takes ``[N, 3, H, W]`` in ``[0, 1]`` and returns ``{"semantic": [N, 1, H/16, W/16],
    "detail": [N, 1, H, W], "alpha": [N, 1, H, W]}``, all probabilities in ``[0, 1]``.

    Example:
        >>> out = MODNet(width_mult=0.25, hr_channels=8)(torch.rand(2, 3, 64, 64))
        >>> {k: tuple(v.shape) for k, v in out.items()}
        {'semantic': (2, 1, 4, 4), 'detail': (2, 1, 64, 64), 'alpha': (2, 1, 64, 64)}
    """

    #: trimap-free: the image is the only input
    uses_trimap = False

    def __init__(self, *, width_mult: float = 1.0, hr_channels: int = 32, normalize: bool = True):
        super().__init__()
        if width_mult <= 0 or hr_channels < 2:
            raise ValueError(f"width_mult must be > 0 and hr_channels >= 2, got {width_mult} and {hr_channels}")
        self.width_mult = width_mult
        self.normalize = normalize
        features = mobilenet_v2(weights=None, width_mult=width_mult).features
        if width_mult < 1.0:  # torchvision keeps 1280 channels at the end; narrow it with the rest
            last = features[18]
            features[18] = Conv2dNormActivation(last[0].in_channels, max(8, int(round(1280 * width_mult / 8)) * 8),
                                                kernel_size=1, activation_layer=nn.ReLU6)
        self.backbone = features
        enc = [features[end - 1].out_channels for end in MOBILENET_STAGE_ENDS]
        self.enc_channels = enc
        hr = hr_channels
        # low-resolution (semantic) branch
        self.se_block = SEBlock(enc[4], reduction=4)
        self.conv_lr16x = conv_ibn_relu(enc[4], enc[3], 5)
        self.conv_lr8x = conv_ibn_relu(enc[3], enc[2], 5)
        self.conv_lr = conv_ibn_relu(enc[2], 1, 3, stride=2, norm=False, relu=False)
        # high-resolution (detail) branch
        self.tohr_enc2x = conv_ibn_relu(enc[0], hr, 1)
        self.conv_enc2x = conv_ibn_relu(hr + 3, hr, 3, stride=2)
        self.tohr_enc4x = conv_ibn_relu(enc[1], hr, 1)
        self.conv_enc4x = conv_ibn_relu(2 * hr, 2 * hr, 3)
        self.conv_hr4x = nn.Sequential(conv_ibn_relu(2 * hr + enc[2] + 3, 2 * hr, 3), conv_ibn_relu(2 * hr, 2 * hr, 3),
                                       conv_ibn_relu(2 * hr, hr, 3))
        self.conv_hr2x = nn.Sequential(conv_ibn_relu(2 * hr, 2 * hr, 3), conv_ibn_relu(2 * hr, hr, 3),
                                       conv_ibn_relu(hr, hr, 3), conv_ibn_relu(hr, hr, 3))
        self.conv_hr = nn.Sequential(conv_ibn_relu(hr + 3, hr, 3), conv_ibn_relu(hr, 1, 1, norm=False, relu=False))
        # fusion branch
        self.conv_f_lr4x = conv_ibn_relu(enc[2], hr, 5)
        self.conv_f2x = conv_ibn_relu(2 * hr, hr, 3)
        self.conv_f = nn.Sequential(conv_ibn_relu(hr + 3, hr // 2, 3), conv_ibn_relu(hr // 2, 1, 1, norm=False,
                                                                                        relu=False))
        for name, m in self.named_modules():
            if isinstance(m, nn.Conv2d) and not name.startswith("backbone"):
                nn.init.kaiming_uniform_(m.weight, a=0, mode="fan_in", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.backbone_source: str | None = None

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        """MobileNetV2's features at strides 2, 4, 8, 16 and 32."""
        out, start = [], 0
        for end in MOBILENET_STAGE_ENDS:
            for layer in self.backbone[start:end]:
                x = layer(x)
            out.append(x)
            start = end
        return out

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        if image.dim() != 4 or image.shape[1] != 3:
            raise ValueError(f"MODNet expects an image batch [N, 3, H, W], got shape {tuple(image.shape)}")
        img = (image - self.mean) / self.std if self.normalize else image
        enc2x, enc4x, enc8x, enc16x, enc32x = self.encode(img)
        # semantic branch: 1/32 -> 1/16 -> 1/8 features, a 1/16 prediction
        lr16x = self.conv_lr16x(_up(self.se_block(enc32x), enc16x))
        lr8x = self.conv_lr8x(_up(lr16x, enc8x))
        semantic = torch.sigmoid(self.conv_lr(lr8x))
        # detail branch: the image at 1/2 and 1/4, encoder features at 1/2 and 1/4, semantic features at 1/4
        img2x = F.interpolate(img, size=enc2x.shape[-2:], mode="bilinear", align_corners=False)
        img4x = F.interpolate(img, size=enc4x.shape[-2:], mode="bilinear", align_corners=False)
        hr2x_enc = self.tohr_enc2x(enc2x)
        hr4x = self.conv_enc2x(torch.cat([img2x, hr2x_enc], 1))
        hr4x = self.conv_enc4x(torch.cat([_up(hr4x, enc4x), self.tohr_enc4x(enc4x)], 1))
        hr4x = self.conv_hr4x(torch.cat([hr4x, _up(lr8x, enc4x), img4x], 1))
        hr2x = self.conv_hr2x(torch.cat([_up(hr4x, enc2x), hr2x_enc], 1))
        detail = torch.sigmoid(self.conv_hr(torch.cat([_up(hr2x, img), img], 1)))
        # fusion branch
        lr4x = self.conv_f_lr4x(_up(lr8x, enc4x))
        f2x = self.conv_f2x(torch.cat([_up(lr4x, enc2x), hr2x], 1))
        alpha = torch.sigmoid(self.conv_f(torch.cat([_up(f2x, img), img], 1)))
        return {"semantic": semantic, "detail": detail, "alpha": alpha}

    def load_backbone(self, source: str | os.PathLike | dict | None = None) -> str | None:
        """Load ImageNet MobileNetV2 weights (torchvision's layout, ``features.*`` keys) into the encoder.

        Args:
            source: a state-dict file or dict; ``None`` asks torchvision's weight API for
                ``MobileNet_V2_Weights.IMAGENET1K_V1`` (downloaded once into ``$TORCH_HOME``; offline, a message says
                so and ``None`` is returned).

        Raises:
            ValueError: naming the file when it is not a MobileNetV2 state dict, or when ``width_mult != 1``.
        """
        if self.width_mult != 1.0:
            raise ValueError(f"ImageNet MobileNetV2 weights need width_mult=1.0, this model has {self.width_mult}")
        described = None
        if source is None:
            from torchvision.models import MobileNet_V2_Weights

            source, described = torchvision_state(MobileNet_V2_Weights.IMAGENET1K_V1)
            if source is None:
                print(f"MODNet: no ImageNet MobileNetV2 weights ({described}); the encoder is trained from scratch.")
                return None
        where = described or (str(source) if not isinstance(source, dict) else "<state dict>")
        if not isinstance(source, dict):
            try:
                source = torch.load(source, map_location="cpu", weights_only=True)
            except Exception as err:  # corrupt file, pickle with code, ...
                raise ValueError(f"{where}: not a loadable weights-only state dict ({err})") from err
        if not isinstance(source, dict):
            raise ValueError(f"{where}: not a state dict (got {type(source).__name__})")
        state = {k[len("features."):]: v for k, v in source.items() if k.startswith("features.")}
        if not state:
            raise ValueError(f"{where}: no 'features.*' keys; expected a torchvision mobilenet_v2 state dict")
        try:
            self.backbone.load_state_dict(state)
        except RuntimeError as err:
            raise ValueError(f"{where}: does not fit MobileNetV2: {str(err).splitlines()[0]}") from None
        return where


def modnet(*, weights: str | os.PathLike | dict | None = None, width_mult: float = 1.0, hr_channels: int = 32,
           **kwargs) -> MODNet:
    """MODNet, trimap-free matting (Ke et al., arXiv 2011.11961).

    Args:
        weights: ``None`` (default; nothing is loaded or downloaded): random initialisation; ``"imagenet"``:
            torchvision's ImageNet MobileNetV2 through its weight API (``MobileNet_V2_Weights.IMAGENET1K_V1``,
            cached in ``$TORCH_HOME``; offline, a message says so and the encoder starts from scratch); a path or a
            state dict in torchvision's MobileNetV2 layout. ``model.backbone_source`` records what was loaded.
        width_mult: MobileNetV2 width multiplier (1.0: the paper's network, 6.5 M parameters).
        hr_channels: channels of the high-resolution branches (32 in the official code).
        **kwargs: see :class:`MODNet`.

    Example:
        >>> model = modnet(width_mult=0.25, hr_channels=8).eval()
        >>> model(torch.rand(1, 3, 64, 64))["semantic"].shape
        torch.Size([1, 1, 4, 4])
    """
    model = MODNet(width_mult=width_mult, hr_channels=hr_channels, **kwargs)
    if weights is not None:
        model.backbone_source = model.load_backbone(None if isinstance(weights, str) and weights == "imagenet"
                                                    else weights)
    return model
