"""FlowNetS: optical flow by a plain encoder-decoder on the two frames stacked (Chapter 9).

A. Dosovitskiy, P. Fischer, E. Ilg, P. Häusser, C. Hazırbaş, V. Golkov, P. van der Smagt, D. Cremers, T. Brox,
*FlowNet: Learning Optical Flow with Convolutional Networks*, ICCV 2015. https://arxiv.org/abs/1504.06852

The two RGB frames are concatenated into six channels and contracted by nine convolutions (strides 2 down to
1/64). The "refinement" expands again: at each scale a transposed convolution upsamples the features, which are
concatenated with the encoder features of that scale (skip connection) and with the upsampled coarser flow
prediction; a 3x3 convolution predicts flow at 1/64, 1/32, 1/16, 1/8 and 1/4 of the input size. The finest
prediction is upsampled bilinearly to full size. As in the paper the network predicts flow divided by 20
(``div_flow``), which keeps its outputs near unit scale; :class:`FlowNetS` multiplies back, so every output is in
pixels of the input image.

The paper's network has 38.7 M parameters; ``width`` shrinks every layer for CPU runs, and ``batch_norm`` gives the
"FlowNetS-BN" variant of later re-implementations, which trains more easily from scratch.
The training loss is :func:`course_lib.losses.multiscale_epe_loss`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["FlowNetS", "flownets"]

#: encoder (name, out channels at width 1, kernel, stride) as in the paper's Table of FlowNetSimple
_ENCODER = [("conv1", 64, 7, 2), ("conv2", 128, 5, 2), ("conv3", 256, 5, 2), ("conv3_1", 256, 3, 1),
            ("conv4", 512, 3, 2), ("conv4_1", 512, 3, 1), ("conv5", 512, 3, 2), ("conv5_1", 512, 3, 1),
            ("conv6", 1024, 3, 2), ("conv6_1", 1024, 3, 1)]


def _conv(cin: int, cout: int, kernel: int, stride: int, batch_norm: bool) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, kernel, stride, padding=(kernel - 1) // 2, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(cout))
    layers.append(nn.LeakyReLU(0.1, inplace=True))
    return nn.Sequential(*layers)


def _deconv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.LeakyReLU(0.1, inplace=True))


def _crop_like(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    return x[..., : ref.shape[-2], : ref.shape[-1]]


class FlowNetS(nn.Module):
    """FlowNetSimple: encoder-decoder with skip connections and flow predicted at five scales.

    Input: ``[B, 6, H, W]`` (two frames in ``[0, 1]``, stacked) or two ``[B, 3, H, W]`` tensors; ``H`` and ``W`` must be
    multiples of 64 (:attr:`size_multiple`; ``course_lib.recipes.flow.predict_flow`` pads). Output: in training mode
    the list of predictions at 1/4, 1/8, 1/16, 1/32 and 1/64 of the size (finest first), in eval mode the flow
    ``[B, 2, H, W]``. All flows are in pixels of the input.

    Args:
        width: channel multiplier (1.0 = the paper).
        batch_norm: BatchNorm after every encoder convolution.
        div_flow: the network's outputs are ``flow / div_flow`` (20 in the paper).

    Example:
        >>> net = FlowNetS(width=0.125).eval()
        >>> net(torch.rand(1, 6, 64, 128)).shape
        torch.Size([1, 2, 64, 128])
    """

    size_multiple = 64

    def __init__(self, width: float = 1.0, batch_norm: bool = False, div_flow: float = 20.0) -> None:
        super().__init__()
        self.div_flow = div_flow

        def ch(c: int) -> int:
            return max(8, int(round(c * width)))

        encoder, cin = {}, 6
        for name, cout, kernel, stride in _ENCODER:
            encoder[name] = _conv(cin, ch(cout), kernel, stride, batch_norm)
            cin = ch(cout)
        self.encoder = nn.ModuleDict(encoder)
        # decoder: at each level, concat(skip, deconv(features), upsampled flow)
        skips = {5: ch(512), 4: ch(512), 3: ch(256), 2: ch(128)}
        outs = {5: ch(512), 4: ch(256), 3: ch(128), 2: ch(64)}
        self.predict = nn.ModuleDict({"6": nn.Conv2d(ch(1024), 2, 3, 1, 1)})
        self.deconv, self.upflow = nn.ModuleDict(), nn.ModuleDict()
        cin = ch(1024)
        for level in (5, 4, 3, 2):
            self.deconv[str(level)] = _deconv(cin, outs[level])
            self.upflow[str(level)] = nn.ConvTranspose2d(2, 2, 4, 2, 1, bias=False)
            cin = skips[level] + outs[level] + 2
            self.predict[str(level)] = nn.Conv2d(cin, 2, 3, 1, 1)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(m.weight, a=0.1, nonlinearity="leaky_relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, images: torch.Tensor, image2: torch.Tensor | None = None):
        x = images if image2 is None else torch.cat([images, image2], dim=1)
        if x.dim() != 4 or x.shape[1] != 6:
            raise ValueError(f"FlowNetS expects [B, 6, H, W] (two RGB frames), got {tuple(x.shape)}")
        h, w = x.shape[-2:]
        if h % self.size_multiple or w % self.size_multiple:
            raise ValueError(f"FlowNetS needs H and W divisible by {self.size_multiple}, got {h}x{w}; pad the input "
                             "(course_lib.models.flow_ops.pad_to_multiple)")
        x = x * 2 - 1
        feats = {}
        for name, layer in self.encoder.items():
            x = layer(x)
            feats[name] = x
        skip = {5: feats["conv5_1"], 4: feats["conv4_1"], 3: feats["conv3_1"], 2: feats["conv2"]}
        flow = self.predict["6"](x)
        flows = [flow]
        for level in (5, 4, 3, 2):
            up_feat = _crop_like(self.deconv[str(level)](x), skip[level])
            up_flow = _crop_like(self.upflow[str(level)](flow), skip[level])
            x = torch.cat([skip[level], up_feat, up_flow], dim=1)
            flow = self.predict[str(level)](x)
            flows.append(flow)
        flows = [f * self.div_flow for f in reversed(flows)]  # finest (1/4) first, in input pixels
        if self.training:
            return flows
        return F.interpolate(flows[0], size=(h, w), mode="bilinear", align_corners=False)


def flownets(*, width: float = 1.0, batch_norm: bool = False) -> FlowNetS:
    """FlowNetS of Dosovitskiy et al., ICCV 2015 (https://arxiv.org/abs/1504.06852), randomly initialised.

    Args:
        width: channel multiplier; 1.0 is the paper's 38.7 M-parameter network.
        batch_norm: the FlowNetS-BN variant.

    Example:
        >>> sum(p.numel() for p in flownets().parameters()) > 38_000_000
        True
    """
    return FlowNetS(width=width, batch_norm=batch_norm)
