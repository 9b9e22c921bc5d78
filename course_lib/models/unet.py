"""U-Net (Ronneberger, Fischer & Brox, "U-Net: Convolutional Networks for Biomedical Image Segmentation",
MICCAI 2015, https://arxiv.org/abs/1505.04597), for 2-D images and 3-D volumes.

Introduced in Chapter 3 (polyp segmentation on Kvasir-SEG); the 3-D U-Net of the BraTS notebook is the same class
with ``spatial_dims=3`` (Cicek et al., https://arxiv.org/abs/1606.06650).

The network is a contracting path (encoder) and an expanding path (decoder) of ``depth`` steps each::

    input -> DoubleConv(w) ----------------------------------------> cat -> DoubleConv(w) -> 1x1 conv -> logits
               Down(2w) ---------------------------------> cat -> DoubleConv(2w) -^ (Up)
                 Down(4w) ----------------------> cat -> DoubleConv(4w) -^
                   Down(8w) ------------> cat -> DoubleConv(8w) -^
                     Down(16w) (bottleneck) -^

Each ``Down`` halves the size and doubles the channels; each ``Up`` doubles the size, halves the channels and
concatenates the encoder map of the same size: the *skip connection* that carries the fine detail (edges) the
bottleneck has lost. ``width=64, depth=4`` is the paper's network (31 M parameters). Differences to the paper:
padded ("same") convolutions, so the output has the input's size and no cropping is needed, and a normalisation
after every convolution.

The input size must be divisible by ``2 ** depth`` along every axis (16 for depth 4); :class:`UNet` says so
with the nearest valid sizes instead of failing inside ``torch.cat``.
"""

from __future__ import annotations

import torch
from torch import nn

from .blocks import DoubleConv, Down, Up, conv_nd

__all__ = ["UNet", "unet", "valid_size"]


def valid_size(size: int, depth: int) -> tuple[int, int]:
    """The valid input lengths nearest to ``size`` (below and above) for a U-Net of ``depth`` levels.

    Example:
        >>> valid_size(250, 4)
        (240, 256)
    """
    step = 2**depth
    below = max(step, size // step * step)
    above = -(-size // step) * step
    return below, above


class UNet(nn.Module):
    """U-Net with configurable depth and width; 2-D or 3-D through ``spatial_dims``.

    Args:
        in_channels: input channels (3 for RGB endoscopy frames, 4 for the BraTS MRI modalities).
        out_channels: output channels: 1 logit for binary segmentation, ``K`` logits for ``K`` classes.
        spatial_dims: 2 (images ``[N, C, H, W]``) or 3 (volumes ``[N, C, D, H, W]``).
        width: channels of the first level; level ``i`` has ``width * 2**i`` (64 in the paper).
        depth: number of down/up steps (4 in the paper); the input size must be divisible by ``2**depth``.
        norm: ``"batch"``, ``"instance"``, ``"group"`` or ``None`` (see :func:`course_lib.models.blocks.norm_nd`).
        upsample: ``"transpose"`` (the paper's 2x2 up-convolution) or ``"interpolate"``.
        skip: ``False`` removes the skip connections (an encoder-decoder of the same depth): the ablation of the
            chapter.
        dropout: dropout inside the two deepest levels (the paper uses dropout at the end of the contracting path).

    Example:
        >>> model = UNet(3, 1, width=8, depth=3)
        >>> model(torch.randn(2, 3, 64, 48)).shape
        torch.Size([2, 1, 64, 48])
        >>> UNet(4, 3, spatial_dims=3, width=4, depth=2)(torch.randn(1, 4, 16, 16, 16)).shape
        torch.Size([1, 3, 16, 16, 16])
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 1, *, spatial_dims: int = 2, width: int = 64,
                 depth: int = 4, norm: str | None = "batch", upsample: str = "transpose", skip: bool = True,
                 dropout: float = 0.0):
        super().__init__()
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        if width < 1:
            raise ValueError(f"width must be a positive number of channels, got {width}")
        self.spatial_dims, self.depth, self.skip = spatial_dims, depth, skip
        channels = [width * 2**i for i in range(depth + 1)]
        self.channels = channels

        def drop(level: int) -> float:
            return dropout if level >= depth - 1 else 0.0

        self.stem = DoubleConv(in_channels, channels[0], spatial_dims, norm)
        self.down = nn.ModuleList(Down(channels[i], channels[i + 1], spatial_dims, norm, drop(i + 1))
                                  for i in range(depth))
        self.up = nn.ModuleList(Up(channels[i + 1], channels[i], spatial_dims, norm, skip, upsample)
                                for i in reversed(range(depth)))
        self.head = conv_nd(spatial_dims)(channels[0], out_channels, kernel_size=1)

    def check_input(self, x: torch.Tensor) -> None:
        """Raise ``ValueError`` for a wrong number of dimensions or a size not divisible by ``2**depth``."""
        if x.ndim != self.spatial_dims + 2:
            layout = "[N, C, H, W]" if self.spatial_dims == 2 else "[N, C, D, H, W]"
            raise ValueError(f"UNet(spatial_dims={self.spatial_dims}) expects {layout}, got shape {tuple(x.shape)}")
        step = 2**self.depth
        bad = [s for s in x.shape[2:] if s % step]
        if bad:
            hints = ", ".join(f"{s} -> {valid_size(s, self.depth)[0]} or {valid_size(s, self.depth)[1]}"
                              for s in bad)
            raise ValueError(f"UNet of depth {self.depth} needs every spatial size divisible by 2**{self.depth} = "
                             f"{step}, got input size {tuple(x.shape[2:])} ({hints}); resize or pad the input")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        features = [self.stem(x)]
        for down in self.down:
            features.append(down(features[-1]))
        y = features.pop()  # the bottleneck
        for up in self.up:
            skip = features.pop()
            y = up(y, skip if self.skip else None)
        return self.head(y)


def unet(*, in_channels: int = 3, out_channels: int = 1, spatial_dims: int = 2, width: int = 64, depth: int = 4,
         norm: str | None = "batch", upsample: str = "transpose", skip: bool = True, dropout: float = 0.0) -> UNet:
    """Build a :class:`UNet` (keyword-only, like the torchvision builders). Ronneberger et al., arXiv 1505.04597.

    Args:
        in_channels, out_channels, spatial_dims, width, depth, norm, upsample, skip, dropout: see :class:`UNet`.

    Example:
        >>> sum(p.numel() for p in unet(width=64, depth=4).parameters()) // 10**6  # the paper's size
        31
    """
    return UNet(in_channels, out_channels, spatial_dims=spatial_dims, width=width, depth=depth, norm=norm,
                upsample=upsample, skip=skip, dropout=dropout)
