"""Sliding-window inference (course_lib.inference) and the BraTS region metrics, checked against MONAI."""

import pytest
import torch
from torch import nn

from course_lib.inference import importance_map, sliding_window_inference, window_starts
from course_lib.metrics import BRATS_MAX_DISTANCE, dice_per_region, hd95_per_region


def _net(in_channels: int = 2, out_channels: int = 3, dims: int = 3) -> nn.Module:
    conv = nn.Conv3d if dims == 3 else nn.Conv2d
    torch.manual_seed(0)
    return nn.Sequential(conv(in_channels, 4, 3, padding=1), nn.Tanh(), conv(4, out_channels, 3, padding=1)).eval()


@pytest.mark.parametrize("size,roi,overlap", [(10, 4, 0.5), (11, 4, 0.5), (37, 16, 0.25), (16, 16, 0.5), (9, 4, 0.0)])
def test_window_starts_cover_the_axis_without_leaving_it(size, roi, overlap):
    starts = window_starts(size, roi, overlap)
    assert starts[0] == 0 and starts[-1] == size - roi and starts == sorted(set(starts))
    covered = torch.zeros(size, dtype=torch.bool)
    for s in starts:
        covered[s:s + roi] = True
    assert covered.all()
    steps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert all(step <= max(1, int(roi * (1 - overlap))) for step in steps)


def test_window_starts_errors():
    with pytest.raises(ValueError, match="larger"):
        window_starts(3, 4, 0.5)
    with pytest.raises(ValueError, match="overlap"):
        window_starts(10, 4, 1.0)


def test_importance_map():
    g = importance_map((9, 7, 5))
    assert g.shape == (9, 7, 5) and g.argmax() == torch.tensor(4 * 35 + 3 * 5 + 2)
    assert g.min() >= 1e-3 and g[0, 0, 0] < g[4, 3, 2]
    assert torch.equal(importance_map((3, 3), "constant"), torch.ones(3, 3))
    with pytest.raises(ValueError, match="blending"):
        importance_map((3,), "linear")


@pytest.mark.parametrize("shape,roi", [((1, 2, 20, 18, 9), 8), ((2, 3, 30, 17), (8, 12)), ((1, 1, 5, 6, 7), 8)])
@pytest.mark.parametrize("mode", ["gaussian", "constant"])
def test_pointwise_predictor_is_reproduced_exactly(shape, roi, mode):
    x = torch.randn(*shape)
    y = sliding_window_inference(x, roi, lambda w: 3 * w - 1, overlap=0.5, mode=mode, sw_batch_size=3)
    assert y.shape == x.shape
    torch.testing.assert_close(y, 3 * x - 1, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("mode", ["gaussian", "constant"])
@pytest.mark.parametrize("overlap", [0.25, 0.5])
@pytest.mark.parametrize("shape,roi", [((1, 2, 21, 18, 10), (8, 8, 8)), ((1, 2, 33, 17, 25), (16, 8, 12)),
                                       ((1, 2, 5, 30, 7), (8, 8, 8))])
def test_matches_monai_sliding_window_inference(shape, roi, overlap, mode):
    monai = pytest.importorskip("monai.inferers")
    net = _net()
    x = torch.randn(*shape)
    ours = sliding_window_inference(x, roi, net, overlap=overlap, mode=mode, sw_batch_size=4)
    theirs = monai.sliding_window_inference(x, roi, 4, net, overlap=overlap, mode=mode)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
    # the comparison can fail: another overlap gives another blend with a network that sees context
    other = sliding_window_inference(x, roi, net, overlap=0.75 - overlap, mode=mode)
    assert (other - theirs).abs().max() > 1e-4


def test_gaussian_blending_differs_from_constant_near_window_borders():
    net = _net()
    x = torch.randn(1, 2, 24, 24, 24)
    g = sliding_window_inference(x, 12, net, overlap=0.5, mode="gaussian")
    c = sliding_window_inference(x, 12, net, overlap=0.5, mode="constant")
    assert (g - c).abs().max() > 1e-4


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"\[N, C"):
        sliding_window_inference(torch.zeros(2, 8), 4, lambda w: w)
    with pytest.raises(ValueError, match="roi_size"):
        sliding_window_inference(torch.zeros(1, 1, 8, 8), (4, 4, 4), lambda w: w)
    with pytest.raises(ValueError, match="spatial size"):
        sliding_window_inference(torch.zeros(1, 1, 8, 8), 4, lambda w: w[..., :2, :2])
    with pytest.raises(ValueError, match="sw_batch_size"):
        sliding_window_inference(torch.zeros(1, 1, 8, 8), 4, lambda w: w, sw_batch_size=0)


# ------------------------------------------------------------------------------------------- region metrics
def test_dice_per_region_matches_monai_and_follows_brats_for_empty_regions():
    metrics = pytest.importorskip("monai.metrics")
    torch.manual_seed(1)
    target = torch.rand(3, 12, 12, 12) > 0.6
    pred = target ^ (torch.rand(3, 12, 12, 12) > 0.8)
    ours = dice_per_region(pred, target)
    theirs = metrics.compute_dice(pred[None].float(), target[None].float(), include_background=True)[0]
    torch.testing.assert_close(torch.tensor(ours, dtype=torch.float32), theirs.float())
    empty = torch.zeros(2, 4, 4, 4, dtype=torch.bool)
    some = empty.clone()
    some[1, 0, 0, 0] = True
    assert dice_per_region(empty, empty) == [1.0, 1.0]
    assert dice_per_region(some, empty) == [1.0, 0.0]
    with pytest.raises(ValueError, match="shape"):
        dice_per_region(empty, empty[:1])


def test_hd95_per_region_known_shift_and_conventions():
    pytest.importorskip("monai.metrics")
    t = torch.zeros(3, 20, 20, 20, dtype=torch.bool)
    t[:, 5:12, 5:12, 5:12] = True
    p = t.roll(2, dims=1)
    p[1] = False  # predicted empty, target present
    t[2] = False
    p[2] = False  # both empty
    d = hd95_per_region(p, t)
    assert d[0] == pytest.approx(2.0) and d[1] == BRATS_MAX_DISTANCE and d[2] == 0.0
    assert hd95_per_region(t.roll(2, dims=1)[:1], t[:1], spacing=(2.0, 1.0, 1.0))[0] == pytest.approx(4.0)
