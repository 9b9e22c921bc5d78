"""Building blocks shared by the encoder-decoder networks, for 2-D images and 3-D volumes alike.

Introduced in Chapter 3 (U-Net on Kvasir-SEG) and reused by the 3-D U-Net on BraTS. As in MONAI, one argument
``spatial_dims`` (2 or 3) picks ``Conv2d``/``Conv3d``, ``BatchNorm2d``/``BatchNorm3d``, ``MaxPool2d``/``MaxPool3d``
and so on, so the 2-D and the 3-D network share one code path. Reading the code, think of the 2-D case: a "pixel"
is a voxel in 3-D.

Example:
    >>> block = DoubleConv(3, 8, spatial_dims=2)
    >>> block(torch.randn(1, 3, 16, 16)).shape
    torch.Size([1, 8, 16, 16])
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ConvNormAct", "DoubleConv", "Down", "Up", "conv_nd", "conv_transpose_nd", "max_pool_nd", "norm_nd"]

NORMS = ("batch", "instance", "group", None)


def _check_dims(spatial_dims: int) -> int:
    if spatial_dims not in (2, 3):
        raise ValueError(f"spatial_dims must be 2 (images) or 3 (volumes), got {spatial_dims!r}")
    return spatial_dims


def conv_nd(spatial_dims: int) -> type[nn.Module]:
    """``nn.Conv2d`` or ``nn.Conv3d``."""
    return {2: nn.Conv2d, 3: nn.Conv3d}[_check_dims(spatial_dims)]


def conv_transpose_nd(spatial_dims: int) -> type[nn.Module]:
    """``nn.ConvTranspose2d`` or ``nn.ConvTranspose3d``."""
    return {2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}[_check_dims(spatial_dims)]


def max_pool_nd(spatial_dims: int) -> type[nn.Module]:
    """``nn.MaxPool2d`` or ``nn.MaxPool3d``."""
    return {2: nn.MaxPool2d, 3: nn.MaxPool3d}[_check_dims(spatial_dims)]


def norm_nd(norm: str | None, spatial_dims: int, channels: int) -> nn.Module:
    """A normalisation layer by name.

    Args:
        norm: ``"batch"`` (BatchNorm, the default of the book: fast and good with batches of 8 and more),
            ``"instance"`` (InstanceNorm with affine parameters, the MONAI/nnU-Net choice for small 3-D batches),
            ``"group"`` (GroupNorm with 8 groups, or fewer when ``channels`` is not divisible by 8) or ``None``.
        spatial_dims: 2 or 3.
        channels: number of channels.

    Example:
        >>> type(norm_nd("batch", 3, 4)).__name__, type(norm_nd("group", 2, 12)).__name__
        ('BatchNorm3d', 'GroupNorm')
    """
    _check_dims(spatial_dims)
    if norm == "batch":
        return {2: nn.BatchNorm2d, 3: nn.BatchNorm3d}[spatial_dims](channels)
    if norm == "instance":
        return {2: nn.InstanceNorm2d, 3: nn.InstanceNorm3d}[spatial_dims](channels, affine=True)
    if norm == "group":
        groups = next(g for g in (8, 4, 2, 1) if channels % g == 0)
        return nn.GroupNorm(groups, channels)
    if norm is None:
        return nn.Identity()
    raise ValueError(f"unknown norm {norm!r}; choose one of {NORMS}")


class ConvNormAct(nn.Sequential):
    """3x3 (or 3x3x3) convolution with padding 1, normalisation, ReLU: the unit every U-Net level is made of.

    The convolution has no bias when a normalisation follows (the norm's shift does the same job), and the ReLU
    works in place, which saves one feature map of memory per layer.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        spatial_dims: 2 or 3.
        norm: see :func:`norm_nd`.
        kernel_size: odd kernel size (3 in U-Net); the padding keeps the size.

    Example:
        >>> ConvNormAct(1, 4, spatial_dims=3)(torch.randn(1, 1, 8, 8, 8)).shape
        torch.Size([1, 4, 8, 8, 8])
    """

    def __init__(self, in_channels: int, out_channels: int, spatial_dims: int = 2, norm: str | None = "batch",
                 kernel_size: int = 3):
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd so that the padding keeps the size, got {kernel_size}")
        super().__init__(
            conv_nd(spatial_dims)(in_channels, out_channels, kernel_size, padding=kernel_size // 2,
                                  bias=norm is None),
            norm_nd(norm, spatial_dims, out_channels),
            nn.ReLU(inplace=True),
        )


class DoubleConv(nn.Sequential):
    """Two :class:`ConvNormAct` in a row (with optional dropout between): one level of U-Net.

    Ronneberger et al. use two unpadded 3x3 convolutions with ReLU; we pad them ("same" size), so the output of
    a level is as large as its input and no cropping of the skip connections is needed, and we add a
    normalisation, which lets the network train from scratch with Adam in a few epochs.

    Args:
        in_channels: input channels.
        out_channels: output channels of both convolutions.
        spatial_dims: 2 or 3.
        norm: see :func:`norm_nd`.
        dropout: dropout probability between the two convolutions (0 = none).

    Example:
        >>> DoubleConv(3, 16)(torch.randn(2, 3, 32, 32)).shape
        torch.Size([2, 16, 32, 32])
    """

    def __init__(self, in_channels: int, out_channels: int, spatial_dims: int = 2, norm: str | None = "batch",
                 dropout: float = 0.0):
        layers: list[nn.Module] = [ConvNormAct(in_channels, out_channels, spatial_dims, norm)]
        if dropout > 0:
            layers.append({2: nn.Dropout2d, 3: nn.Dropout3d}[spatial_dims](dropout))
        layers.append(ConvNormAct(out_channels, out_channels, spatial_dims, norm))
        super().__init__(*layers)


class Down(nn.Sequential):
    """One encoder step: 2x2 max pooling (halves the size), then :class:`DoubleConv`.

    Example:
        >>> Down(8, 16)(torch.randn(1, 8, 32, 32)).shape
        torch.Size([1, 16, 16, 16])
    """

    def __init__(self, in_channels: int, out_channels: int, spatial_dims: int = 2, norm: str | None = "batch",
                 dropout: float = 0.0):
        super().__init__(max_pool_nd(spatial_dims)(2), DoubleConv(in_channels, out_channels, spatial_dims, norm,
                                                                  dropout))


class Up(nn.Module):
    """One decoder step: double the size, concatenate the encoder's map of that size (the *skip*), DoubleConv.

    Upsampling is a learnable 2x2 transposed convolution with stride 2 that also halves the channels (the paper's
    "up-convolution"), or a fixed bilinear/trilinear interpolation followed by a 1x1 convolution
    (``upsample="interpolate"``, no checkerboard artefacts).

    Args:
        in_channels: channels of the coarse input (twice ``out_channels`` in U-Net).
        out_channels: channels of the skip map and of the output.
        spatial_dims: 2 or 3.
        norm: see :func:`norm_nd`.
        skip: concatenate the skip map; ``False`` gives a plain encoder-decoder (the chapter's ablation), and
            ``forward`` then takes no skip map.
        upsample: ``"transpose"`` or ``"interpolate"``.
        dropout: dropout inside the DoubleConv.

    Example:
        >>> up = Up(32, 16)
        >>> up(torch.randn(1, 32, 8, 8), torch.randn(1, 16, 16, 16)).shape
        torch.Size([1, 16, 16, 16])
    """

    def __init__(self, in_channels: int, out_channels: int, spatial_dims: int = 2, norm: str | None = "batch",
                 skip: bool = True, upsample: str = "transpose", dropout: float = 0.0):
        super().__init__()
        if upsample == "transpose":
            self.upsample = conv_transpose_nd(spatial_dims)(in_channels, out_channels, kernel_size=2, stride=2)
        elif upsample == "interpolate":
            mode = "bilinear" if spatial_dims == 2 else "trilinear"
            self.upsample = nn.Sequential(nn.Upsample(scale_factor=2, mode=mode, align_corners=False),
                                          conv_nd(spatial_dims)(in_channels, out_channels, kernel_size=1))
        else:
            raise ValueError(f"unknown upsample {upsample!r}; choose 'transpose' or 'interpolate'")
        self.skip = skip
        self.conv = DoubleConv(2 * out_channels if skip else out_channels, out_channels, spatial_dims, norm, dropout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        x = self.upsample(x)
        if self.skip:
            if skip is None:
                raise ValueError("this Up block concatenates a skip map; pass it as the second argument")
            if skip.shape[2:] != x.shape[2:]:
                raise ValueError(f"skip map of size {tuple(skip.shape[2:])} does not match the upsampled map "
                                 f"{tuple(x.shape[2:])}")
            x = torch.cat([skip, x], dim=1)
        return self.conv(x)
