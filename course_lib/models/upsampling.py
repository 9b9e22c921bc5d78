"""Learnable upsampling: transposed convolution by hand, bilinear kernels and feature alignment.

Introduced in Chapter 3 (FCN). A transposed convolution ("deconvolution" in the FCN paper) can be read three
equivalent ways, and this module writes each one out so that the notebook and the tests can show they agree with
``torch.nn.ConvTranspose2d``:

1. scatter: every input pixel stamps a scaled copy of the kernel into the output, ``stride`` pixels apart;
2. zero insertion + convolution: put ``stride - 1`` zeros between input pixels, pad by ``k - 1 - p`` and run an
   ordinary convolution with the kernel flipped and its in/out channels swapped (:func:`conv_transpose2d_by_hand`);
3. the gradient of a convolution with respect to its input (:func:`conv_transpose2d_as_gradient`).

It also holds the coordinate-map arithmetic (after Caffe's ``coord_map``) that tells FCN where to crop a skip
connection so that it lines up with the upsampled coarse scores (:func:`coord_map`, :func:`crop_like`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "conv_output_size",
    "conv_transpose_output_size",
    "insert_zeros",
    "conv_transpose2d_by_hand",
    "conv_transpose2d_as_gradient",
    "bilinear_kernel",
    "BilinearUpsample",
    "overlap_count",
    "CoordMap",
    "coord_map",
    "crop_like",
]


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1,
                     ceil_mode: bool = False) -> int:
    """Output length of a convolution or pooling along one axis.

    ``floor((size + 2p - d(k-1) - 1) / s) + 1`` (``ceil`` with ``ceil_mode``, as Caffe's pooling).

    Example:
        >>> conv_output_size(224, 3, 1, 1), conv_output_size(7, 2, 2, ceil_mode=True)
        (224, 4)
    """
    span = size + 2 * padding - dilation * (kernel_size - 1) - 1
    out = (math.ceil(span / stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:  # PyTorch's rule: the last window must start inside
        out -= 1
    return out


def conv_transpose_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0,
                               output_padding: int = 0, dilation: int = 1) -> int:
    """Output length of a transposed convolution along one axis.

    ``(size - 1) s - 2p + d(k - 1) + output_padding + 1``: the inverse of :func:`conv_output_size`.

    Example:
        >>> conv_transpose_output_size(7, kernel_size=4, stride=2, padding=1)
        14
    """
    return (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1


def insert_zeros(x: torch.Tensor, stride: int) -> torch.Tensor:
    """Put ``stride - 1`` zeros between neighbouring pixels of ``x`` (``[N, C, H, W]``)."""
    if stride == 1:
        return x
    n, c, h, w = x.shape
    out = x.new_zeros(n, c, (h - 1) * stride + 1, (w - 1) * stride + 1)
    out[:, :, ::stride, ::stride] = x
    return out


def conv_transpose2d_by_hand(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                             stride: int = 1, padding: int = 0, output_padding: int = 0) -> torch.Tensor:
    """Transposed convolution as zero insertion followed by an ordinary convolution.

    Args:
        x: input ``[N, C_in, H, W]``.
        weight: kernel laid out as ``nn.ConvTranspose2d`` stores it, ``[C_in, C_out, k, k]``.
        bias: optional ``[C_out]``.
        stride, padding, output_padding: as in ``nn.ConvTranspose2d`` (square, groups = 1, dilation = 1).

    Example:
        >>> up = nn.ConvTranspose2d(2, 3, 4, stride=2, padding=1)
        >>> x = torch.randn(1, 2, 5, 5)
        >>> torch.allclose(conv_transpose2d_by_hand(x, up.weight, up.bias, 2, 1), up(x), atol=1e-5)
        True
    """
    k = weight.shape[-1]
    if padding > k - 1:
        raise ValueError(f"padding {padding} larger than kernel_size - 1 = {k - 1} is not supported here")
    z = insert_zeros(x, stride)
    pad = k - 1 - padding
    z = F.pad(z, (pad, pad + output_padding, pad, pad + output_padding))
    # the same kernel, seen from the output side: flipped in space, in/out channels swapped
    w = weight.flip(-1, -2).transpose(0, 1)
    return F.conv2d(z, w, bias)


def conv_transpose2d_as_gradient(x: torch.Tensor, weight: torch.Tensor, stride: int = 1, padding: int = 0,
                                 output_size: tuple[int, int] | None = None) -> torch.Tensor:
    """Transposed convolution as the gradient of ``conv2d`` with respect to its input.

    A convolution ``y = conv(z, W)`` is linear in ``z``: ``y = C z`` for a (sparse) matrix ``C``. Its transpose
    ``C^T x`` is exactly what autograd computes as ``d <conv(z, W), x> / dz``, hence the name.

    Args:
        x: ``[N, C_in, h, w]`` where ``C_in`` is the *output* channel count of the forward convolution.
        weight: ``[C_in, C_out, k, k]`` (``nn.ConvTranspose2d`` layout = ``nn.Conv2d`` layout of the forward conv).
        stride, padding: of the forward convolution.
        output_size: ``(H, W)`` of the result; default the smallest size the forward convolution maps to ``h, w``.
    """
    k = weight.shape[-1]
    if output_size is None:
        output_size = tuple(conv_transpose_output_size(s, k, stride, padding) for s in x.shape[-2:])
    z = torch.zeros(x.shape[0], weight.shape[1], *output_size, dtype=x.dtype, device=x.device, requires_grad=True)
    with torch.enable_grad():
        y = F.conv2d(z, weight, stride=stride, padding=padding)
        if y.shape[-2:] != x.shape[-2:]:
            raise ValueError(f"output_size {output_size} maps to {tuple(y.shape[-2:])}, not {tuple(x.shape[-2:])}")
        (grad,) = torch.autograd.grad(y, z, grad_outputs=x, create_graph=x.requires_grad or weight.requires_grad)
    return grad


def bilinear_kernel(in_channels: int, out_channels: int, kernel_size: int) -> torch.Tensor:
    """The FCN initialisation: a ``[C_in, C_out, k, k]`` kernel that makes a transposed conv bilinear upsampling.

    Channel ``i`` maps to channel ``i`` only (the others are zero), so each class score is upsampled separately.
    With ``kernel_size = 2 f`` and ``stride = f`` this is bilinear interpolation by a factor ``f``.
    """
    if in_channels != out_channels:
        raise ValueError(f"bilinear_kernel needs in_channels == out_channels, got {in_channels} and {out_channels}")
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    og = torch.arange(kernel_size, dtype=torch.float64)
    filt1d = 1 - (og - center).abs() / factor
    filt = (filt1d[:, None] * filt1d[None, :]).float()
    weight = torch.zeros(in_channels, out_channels, kernel_size, kernel_size)
    idx = torch.arange(in_channels)
    weight[idx, idx] = filt
    return weight


class BilinearUpsample(nn.ConvTranspose2d):
    """A transposed convolution initialised to bilinear upsampling by ``factor`` (learnable unless frozen).

    Args:
        channels: number of channels (each upsampled on its own).
        factor: integer upsampling factor; the kernel is ``2 * factor`` wide with stride ``factor``.
        padding: ``"same"`` pads by ``factor // 2`` so that the output is exactly ``factor`` times the input
            (``H * factor``) and aligned with it; ``"none"`` keeps the FCN/Caffe layer (no padding, larger output
            that the network crops).
        learnable: if False, the weight is frozen (a fixed bilinear interpolation).

    Example:
        >>> up = BilinearUpsample(3, factor=2)
        >>> up(torch.randn(1, 3, 8, 8)).shape
        torch.Size([1, 3, 16, 16])
    """

    def __init__(self, channels: int, factor: int, padding: str = "same", learnable: bool = True):
        if padding not in ("same", "none"):
            raise ValueError(f"padding must be 'same' or 'none', got {padding!r}")
        k = 2 * factor
        super().__init__(channels, channels, kernel_size=k, stride=factor,
                         padding=factor // 2 if padding == "same" else 0, bias=False)
        self.factor = factor
        with torch.no_grad():
            self.weight.copy_(bilinear_kernel(channels, channels, k))
        self.weight.requires_grad_(learnable)


def overlap_count(size: int, kernel_size: int, stride: int) -> torch.Tensor:
    """How many kernel stamps cover each output pixel of a 2-D transposed conv on a ``size x size`` input.

    Uneven counts (when ``kernel_size`` is not a multiple of ``stride``) are the source of checkerboard artefacts.
    """
    ones = torch.ones(1, 1, size, size)
    w = torch.ones(1, 1, kernel_size, kernel_size)
    return F.conv_transpose2d(ones, w, stride=stride)[0, 0]


@dataclass(frozen=True)
class CoordMap:
    """Affine map from a feature map's index to input-pixel coordinates: ``x_input = scale * i + offset``."""

    scale: float = 1.0
    offset: float = 0.0

    def then(self, layer: nn.Module) -> CoordMap:
        """The map of the output of ``layer`` applied after this feature map."""
        if isinstance(layer, nn.ConvTranspose2d):
            k, s, p = layer.kernel_size[0], layer.stride[0], layer.padding[0]
            d = layer.dilation[0]
            # out index j sits over input index (j - d(k-1)/2 + p) / s
            return CoordMap(self.scale / s, self.offset + self.scale * (p - d * (k - 1) / 2) / s)
        if isinstance(layer, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            k, s, p = (_pair0(layer.kernel_size), _pair0(layer.stride), _pair0(layer.padding))
            d = _pair0(getattr(layer, "dilation", 1))
            # out index j sees input indices s*j - p ... s*j - p + d(k-1): its centre is s*j - p + d(k-1)/2
            return CoordMap(self.scale * s, self.offset + self.scale * (d * (k - 1) / 2 - p))
        return self  # element-wise layers (ReLU, BatchNorm, Dropout) keep coordinates


def _pair0(v) -> int:
    return v[0] if isinstance(v, tuple) else int(v)


def coord_map(layers: Iterable[nn.Module], start: CoordMap | None = None) -> CoordMap:
    """Compose the coordinate maps of ``layers`` (applied in order), starting from the input (identity)."""
    cm = start or CoordMap()
    for layer in layers:
        cm = cm.then(layer)
    return cm


def crop_like(x: torch.Tensor, ref_hw: tuple[int, int], offset: int) -> torch.Tensor:
    """Crop ``x`` to ``ref_hw`` starting at ``offset`` in both spatial axes (Caffe's ``Crop`` layer)."""
    h, w = ref_hw
    if offset < 0 or x.shape[-2] < offset + h or x.shape[-1] < offset + w:
        raise ValueError(f"cannot crop {tuple(x.shape[-2:])} at offset {offset} to {(h, w)}: the map is too small "
                         "(input too small for this network?)")
    return x[..., offset:offset + h, offset:offset + w]
