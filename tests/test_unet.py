"""course_lib.models.unet and blocks: shapes in 2-D and 3-D, the size check, skips, parameter counts, gradients."""

import pytest
import torch

from course_lib.models.blocks import ConvNormAct, DoubleConv, Up, norm_nd
from course_lib.models.unet import UNet, unet, valid_size


def n_params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("depth,size", [(1, (6, 10)), (2, (16, 12)), (3, (48, 80)), (4, (32, 64))])
def test_output_has_input_size_2d(depth, size):
    model = UNet(3, 2, width=4, depth=depth).eval()
    out = model(torch.randn(2, 3, *size))
    assert out.shape == (2, 2, *size)


def test_output_has_input_size_3d():
    model = UNet(4, 3, spatial_dims=3, width=2, depth=2, norm="instance").eval()
    assert model(torch.randn(1, 4, 8, 12, 16)).shape == (1, 3, 8, 12, 16)
    assert isinstance(model.stem[0][0], torch.nn.Conv3d)


def test_size_not_divisible_is_a_clear_error():
    model = UNet(3, 1, width=4, depth=4)
    with pytest.raises(ValueError, match=r"divisible by 2\*\*4 = 16.*250 -> 240 or 256"):
        model(torch.randn(1, 3, 250, 256))
    with pytest.raises(ValueError, match=r"expects \[N, C, H, W\]"):
        model(torch.randn(3, 64, 64))
    assert valid_size(250, 4) == (240, 256) and valid_size(5, 3) == (8, 8) and valid_size(32, 4) == (32, 32)


def test_bad_arguments():
    with pytest.raises(ValueError, match="spatial_dims"):
        UNet(spatial_dims=1)
    with pytest.raises(ValueError, match="depth"):
        UNet(depth=0)
    with pytest.raises(ValueError, match="norm"):
        norm_nd("layer", 2, 4)
    with pytest.raises(ValueError, match="upsample"):
        Up(8, 4, upsample="pixelshuffle")
    with pytest.raises(ValueError, match="skip map"):
        Up(8, 4)(torch.randn(1, 8, 4, 4))


def test_parameter_count_by_hand():
    # width 2, depth 1, BatchNorm, no conv biases: count every tensor by hand
    model = UNet(3, 1, width=2, depth=1)
    stem = 3 * 2 * 9 + 2 * 2 + 2 * 2 * 9 + 2 * 2  # conv 3->2, BN(2), conv 2->2, BN(2)
    down = 2 * 4 * 9 + 2 * 4 + 4 * 4 * 9 + 2 * 4  # pool, conv 2->4, BN(4), conv 4->4, BN(4)
    up = (4 * 2 * 4 + 2) + (4 * 2 * 9 + 2 * 2) + (2 * 2 * 9 + 2 * 2)  # 2x2 transposed conv 4->2 (bias), cat: 4->2
    head = 2 * 1 + 1
    assert n_params(model) == stem + down + up + head
    # the paper's configuration: about 31 million parameters
    assert 31.0e6 < n_params(unet(width=64, depth=4)) < 31.1e6


def test_skip_ablation_removes_the_concatenation():
    with_skip, without = UNet(3, 1, width=4, depth=3), UNet(3, 1, width=4, depth=3, skip=False)
    assert n_params(without) < n_params(with_skip)
    # the first conv of each decoder level sees 2C channels with skips, C without
    assert [u.conv[0][0].in_channels for u in with_skip.up] == [32, 16, 8]
    assert [u.conv[0][0].in_channels for u in without.up] == [16, 8, 4]
    assert without(torch.randn(1, 3, 16, 16)).shape == (1, 1, 16, 16)


def test_every_parameter_gets_a_gradient():
    model = UNet(3, 1, width=4, depth=2, dropout=0.1, upsample="interpolate", norm="group")
    model(torch.randn(2, 3, 16, 16)).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing


def test_channels_last_gives_the_same_output():
    torch.manual_seed(0)
    model = UNet(3, 1, width=4, depth=2).eval()
    x = torch.randn(2, 3, 16, 16)
    ref = model(x)
    model = model.to(memory_format=torch.channels_last)
    assert torch.allclose(model(x.contiguous(memory_format=torch.channels_last)), ref, atol=1e-5)


def test_blocks_keep_the_size_and_reject_even_kernels():
    assert DoubleConv(3, 5, spatial_dims=3)(torch.randn(1, 3, 4, 6, 8)).shape == (1, 5, 4, 6, 8)
    with pytest.raises(ValueError, match="odd"):
        ConvNormAct(3, 4, kernel_size=2)
