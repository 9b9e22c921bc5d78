"""Transposed convolution by hand, as a gradient, bilinear kernels and coordinate maps."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.models.upsampling import (
    BilinearUpsample,
    CoordMap,
    bilinear_kernel,
    conv_output_size,
    conv_transpose2d_as_gradient,
    conv_transpose2d_by_hand,
    conv_transpose_output_size,
    coord_map,
    crop_like,
    insert_zeros,
    overlap_count,
)

CASES = [(3, 1, 0, 0), (4, 2, 1, 0), (3, 2, 1, 1), (16, 8, 4, 0), (5, 3, 2, 2), (4, 2, 0, 0)]


@pytest.mark.parametrize("k,s,p,op", CASES)
def test_by_hand_equals_conv_transpose(k, s, p, op):
    torch.manual_seed(0)
    layer = nn.ConvTranspose2d(3, 2, k, stride=s, padding=p, output_padding=op)
    x = torch.randn(2, 3, 5, 6)
    ours = conv_transpose2d_by_hand(x, layer.weight, layer.bias, s, p, op)
    assert ours.shape == layer(x).shape
    assert torch.allclose(ours, layer(x), atol=1e-5)
    assert ours.shape[-2] == conv_transpose_output_size(5, k, s, p, op)


@pytest.mark.parametrize("k,s,p", [(3, 1, 1), (4, 2, 1), (3, 2, 0)])
def test_gradient_view_equals_conv_transpose(k, s, p):
    torch.manual_seed(1)
    w = torch.randn(3, 2, k, k)
    x = torch.randn(1, 3, 4, 5)
    ref = F.conv_transpose2d(x, w, stride=s, padding=p)
    ours = conv_transpose2d_as_gradient(x, w, stride=s, padding=p)
    assert torch.allclose(ours, ref, atol=1e-5)


def test_transpose_is_adjoint_of_conv():
    # <conv(z), x> == <z, conv_transpose(x)> for every z, x: the defining property
    torch.manual_seed(2)
    w = torch.randn(4, 3, 3, 3)
    z = torch.randn(1, 3, 9, 9)
    y = F.conv2d(z, w, stride=2, padding=1)
    x = torch.randn_like(y)
    lhs = (y * x).sum()
    rhs = (z * conv_transpose2d_by_hand(x, w, None, 2, 1, output_padding=0)[..., :9, :9]).sum()
    assert torch.allclose(lhs, rhs, atol=1e-4)


def test_insert_zeros():
    x = torch.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    assert insert_zeros(x, 2)[0, 0].tolist() == [[1, 0, 2], [0, 0, 0], [3, 0, 4]]


@pytest.mark.parametrize("factor", [2, 4, 8])
def test_bilinear_kernel_reproduces_bilinear_interpolation(factor):
    torch.manual_seed(3)
    x = torch.randn(1, 2, 10, 12)
    up = BilinearUpsample(2, factor)  # padding "same"
    ref = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
    out = up(x)
    assert out.shape == ref.shape
    m = factor  # away from the zero-padded border the two agree exactly
    assert torch.allclose(out[..., m:-m, m:-m], ref[..., m:-m, m:-m], atol=1e-5)


def test_bilinear_kernel_is_per_channel_and_validates():
    w = bilinear_kernel(3, 3, 4)
    assert w[0, 1].abs().sum() == 0 and w[1, 1].sum() > 0
    assert w[0, 0].tolist()[0] == pytest.approx([0.0625, 0.1875, 0.1875, 0.0625])
    with pytest.raises(ValueError):
        bilinear_kernel(2, 3, 4)
    frozen = BilinearUpsample(1, 2, learnable=False)
    assert not frozen.weight.requires_grad


def test_overlap_count_shows_checkerboard():
    uneven = overlap_count(6, kernel_size=3, stride=2)
    even = overlap_count(6, kernel_size=4, stride=2)
    inner = (slice(3, -3), slice(3, -3))
    assert len(torch.unique(uneven[inner])) > 1  # checkerboard
    assert len(torch.unique(even[inner])) == 1  # kernel a multiple of the stride: uniform


def test_output_size_arithmetic_matches_layers():
    for size in (7, 8, 33):
        for k, s, p in [(3, 1, 1), (3, 2, 1), (7, 1, 0), (2, 2, 0)]:
            out = nn.Conv2d(1, 1, k, s, p)(torch.zeros(1, 1, size, size)).shape[-1]
            assert conv_output_size(size, k, s, p) == out
        pool = nn.MaxPool2d(2, 2, ceil_mode=True)(torch.zeros(1, 1, size, size)).shape[-1]
        assert conv_output_size(size, 2, 2, ceil_mode=True) == pool


def test_coord_map_and_crop():
    cm = coord_map([nn.Conv2d(1, 1, 3, padding=100), nn.MaxPool2d(2, 2)])
    assert cm == CoordMap(2.0, -99 + 0.5)
    up = cm.then(nn.ConvTranspose2d(1, 1, 4, stride=2, bias=False))
    assert up.scale == 1.0
    x = torch.arange(100.0).reshape(1, 1, 10, 10)
    assert crop_like(x, (2, 3), 4)[0, 0].tolist() == [[44, 45, 46], [54, 55, 56]]
    with pytest.raises(ValueError, match="too small"):
        crop_like(x, (8, 8), 4)
