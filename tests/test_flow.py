"""Flow pictures (viz), warping and occlusion (models.flow_ops), KITTI metrics, Lucas-Kanade, Farneback (Ch. 9)."""

import cv2
import numpy as np
import pytest
import torch
from scipy.ndimage import map_coordinates

from course_lib.classical import (
    farneback_flow,
    lucas_kanade_tracks,
    lucas_kanade_window,
    row_correlation,
    to_gray_uint8,
)
from course_lib.metrics import FlowMetrics, endpoint_error, flow_metrics, flow_outliers
from course_lib.models.flow_ops import forward_backward_occlusion, pad_to_multiple, unpad, warp
from course_lib.synthetic.flow_scenes import make_pair, make_sequence
from course_lib.viz import color_wheel, color_wheel_legend, draw_tracks, flow_to_color


# ------------------------------------------------------------------------------------------------ colour
def test_color_wheel_is_the_middlebury_wheel():
    wheel = color_wheel()
    assert wheel.shape == (55, 3) and wheel.dtype == np.uint8
    assert wheel[0].tolist() == [255, 0, 0] and wheel[15].tolist() == [255, 255, 0]  # red, then yellow
    assert wheel[21].tolist() == [0, 255, 0] and wheel[25].tolist() == [0, 255, 255]  # green, cyan
    assert wheel[36].tolist() == [0, 0, 255] and wheel[49].tolist() == [255, 0, 255]  # blue, magenta


@pytest.mark.parametrize("seed", [0, 1])
def test_flow_to_color_matches_torchvision(seed):
    from torchvision.utils import flow_to_image

    g = torch.Generator().manual_seed(seed)
    flow = torch.randn(2, 33, 47, generator=g) * 7
    flow[:, :5] = 0  # some still pixels
    ours = flow_to_color(flow)
    theirs = flow_to_image(flow).permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(ours, theirs)
    # NumPy [H, W, 2] input gives the same picture
    np.testing.assert_array_equal(flow_to_color(flow.permute(1, 2, 0).numpy()), ours)


def test_flow_to_color_fixed_scale_and_batches():
    flow = np.zeros((2, 4, 4, 2), np.float32)
    flow[0, 0, 0] = (10.0, 0.0)
    flow[1, 0, 0] = (5.0, 0.0)
    pictures = flow_to_color(flow, max_flow=10.0)
    assert pictures.shape == (2, 4, 4, 3)
    assert pictures[0, 0, 0].tolist() == [255, 0, 0]  # full length: saturated
    assert pictures[1, 0, 0, 1] > 100  # half length: paler
    beyond = flow_to_color(flow[0], max_flow=5.0)[0, 0]
    assert beyond.tolist() == [191, 0, 0]  # longer than max_flow: darkened to 75 %
    nan = flow[0].copy()
    nan[1, 1] = np.nan
    assert flow_to_color(nan)[1, 1].tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="flow"):
        flow_to_color(np.zeros((4, 4, 3)))


def test_color_wheel_legend_directions():
    legend = color_wheel_legend(41)
    assert legend[20, 20].tolist() == [255, 255, 255]  # centre: no motion
    assert legend[20, 40].tolist() == [255, 0, 0]  # right edge: moving right = red
    assert legend[0, 0].tolist() == [255, 255, 255]  # outside the disk


# ------------------------------------------------------------------------------------------------ warping
def test_warp_matches_cv2_remap():
    rng = np.random.default_rng(0)
    image = rng.random((3, 20, 30)).astype(np.float32)
    flow = rng.normal(0, 2, (2, 20, 30)).astype(np.float32)
    warped, inside = warp(torch.from_numpy(image), torch.from_numpy(flow))
    yy, xx = np.mgrid[0:20, 0:30].astype(np.float32)
    m = inside.numpy()
    for c in range(3):
        # exact bilinear interpolation (float64) as the oracle ...
        exact = map_coordinates(image[c].astype(np.float64), [yy + flow[1], xx + flow[0]], order=1, mode="constant")
        np.testing.assert_allclose(warped[c].numpy()[m], exact[m], atol=1e-5)
        # ... and OpenCV, whose INTER_LINEAR weights are fixed point in steps of 1/32 pixel: within 1/32 of a
        # unit step of the image (values in [0, 1]), depending on the build's code path
        ref = cv2.remap(image[c], xx + flow[0], yy + flow[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        np.testing.assert_allclose(warped[c].numpy()[m], ref[m], atol=1 / 32)
    assert not inside.all() and inside.any()


def test_warp_integer_shift_and_errors():
    image = torch.arange(2 * 5 * 6, dtype=torch.float32).view(1, 2, 5, 6)
    flow = torch.zeros(1, 2, 5, 6)
    flow[:, 1] = 2.0  # sample two rows further down
    warped, inside = warp(image, flow)
    assert torch.equal(warped[0, :, :3], image[0, :, 2:]) and inside[0, :3].all() and not inside[0, 3:].any()
    with pytest.raises(ValueError, match="differ"):
        warp(image, torch.zeros(1, 2, 4, 6))


def test_pad_to_multiple_round_trip():
    x = torch.rand(2, 3, 13, 21)
    padded, pads = pad_to_multiple(x, 8)
    assert padded.shape[-2:] == (16, 24) and torch.equal(padded[..., 12, :21], x[..., 12, :])  # replicated edge
    assert torch.equal(unpad(padded, pads), x)
    same, none = pad_to_multiple(x[..., :8, :16], 8)
    assert none == (0, 0) and same.shape[-2:] == (8, 16)


# ------------------------------------------------------------------------------------------------ metrics
def test_endpoint_error_and_outlier_rule():
    gt = torch.zeros(2, 1, 4)
    gt[0] = torch.tensor([0.0, 10.0, 100.0, 100.0])
    pred = gt.clone()
    pred[0] += torch.tensor([2.0, 4.0, 4.0, 6.0])
    assert endpoint_error(pred, gt).tolist() == [[2.0, 4.0, 4.0, 6.0]]
    # 2 px: under 3 px; 4 px on 10 px: > 3 px and > 5 %; 4 px on 100 px: under 5 %; 6 px on 100 px: both
    assert flow_outliers(pred, gt).tolist() == [[False, True, False, True]]
    with pytest.raises(ValueError):
        endpoint_error(pred, gt[:, :, :3])


def test_flow_metrics_accumulate_like_kitti():
    rng = np.random.default_rng(0)
    gts = [rng.normal(0, 20, (2, 6, 7)) for _ in range(3)]
    preds = [g + rng.normal(0, 4, g.shape) for g in gts]
    valids = [rng.random((6, 7)) > 0.4 for _ in range(3)]
    valids[2][:] = False  # a pair without ground truth is skipped
    m = FlowMetrics()
    for p, g, v in zip(preds, gts, valids, strict=True):
        m.update(torch.tensor(p, dtype=torch.float32)[None], torch.tensor(g, dtype=torch.float32)[None],
                 torch.tensor(v)[None])
    r = m.compute()
    # by hand, over the pixels of all pairs together
    epe = [np.linalg.norm(p - g, axis=0)[v] for p, g, v in zip(preds, gts, valids, strict=True)]
    mag = [np.linalg.norm(g, axis=0)[v] for g, v in zip(gts, valids, strict=True)]
    all_epe, all_mag = np.concatenate(epe), np.concatenate(mag)
    assert r["pairs"] == 2 and r["pixels"] == all_epe.size
    assert r["epe"] == pytest.approx(all_epe.mean(), rel=1e-5)
    assert r["epe_per_image"] == pytest.approx(np.mean([e.mean() for e in epe[:2]]), rel=1e-5)
    outliers = (all_epe > 3) & (all_epe > 0.05 * all_mag)
    assert r["fl_all"] == pytest.approx(100 * outliers.mean(), rel=1e-5)
    assert r["px3"] == pytest.approx(100 * (all_epe < 3).mean(), rel=1e-5)
    empty = FlowMetrics().compute()
    assert np.isnan(empty["epe"]) and empty["pairs"] == 0


def test_flow_metrics_of_one_batch():
    r = flow_metrics(torch.zeros(1, 2, 3, 3), torch.full((1, 2, 3, 3), 3.0))
    assert r["epe"] == pytest.approx(18**0.5) and r["fl_all"] == 100.0 and r["px5"] == 100.0


# ------------------------------------------------------------------------------------------------ occlusion
def test_forward_backward_check_finds_true_occlusions():
    from course_lib.synthetic.flow_scenes import make_scene

    scene = make_scene(np.random.default_rng(4), size=(96, 72), num_objects=(2, 3))
    labels1, labels2 = scene.render(0)[1], scene.render(1)[1]
    fw = scene.flow(labels1)
    # exact backward flow: a pixel y of frame 2 on layer k came from inverse(motion_k) @ y
    yy, xx = np.mgrid[0:72, 0:96].astype(np.float64)
    bw = np.zeros_like(fw)
    for k, layer in enumerate(scene.layers):
        inv = np.linalg.inv(layer.motion)
        where = labels2 == k
        bw[where, 0] = inv[0, 0] * xx[where] + inv[0, 1] * yy[where] + inv[0, 2] - xx[where]
        bw[where, 1] = inv[1, 0] * xx[where] + inv[1, 1] * yy[where] + inv[1, 2] - yy[where]
    found = forward_backward_occlusion(torch.from_numpy(fw).permute(2, 0, 1), torch.from_numpy(bw).permute(2, 0, 1))
    truth = torch.from_numpy(scene.occlusion(labels1, fw, labels2))
    assert truth.any() and (found == truth).float().mean() > 0.97
    assert (found & truth).sum() / (found | truth).sum() > 0.7
    still = torch.zeros(2, 8, 8)
    assert not forward_backward_occlusion(still, still).any()
    moved = torch.zeros(2, 8, 8)
    moved[0] = 3.0
    assert forward_backward_occlusion(moved, -moved)[:, 5:].all()  # leaves the frame


# ------------------------------------------------------------------------------------------------ key ideas
def blob(x0, y0=16.0, size=32):
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    return np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / 30)


def test_lucas_kanade_window_recovers_small_motion():
    result = lucas_kanade_window(blob(15), blob(15.4, 16.3), (15, 16), radius=5)
    np.testing.assert_allclose(result.flow, [0.4, 0.3], atol=0.05)
    assert result.eigenvalues.min() > 0.1 * result.eigenvalues.max()  # a blob: both directions constrained


def test_lucas_kanade_window_aperture_problem():
    xx = np.mgrid[0:32, 0:32][1].astype(float)
    edge = lambda x0: 1 / (1 + np.exp(-(xx - x0)))  # noqa: E731 - a vertical edge
    result = lucas_kanade_window(edge(15), edge(15.5), (15, 16), radius=4)
    assert result.eigenvalues[0] < 1e-9 * result.eigenvalues[1]  # only one direction is constrained
    assert result.flow[0] == pytest.approx(0.5, abs=0.05) and abs(result.flow[1]) < 1e-6  # normal flow only
    with pytest.raises(ValueError, match="does not fit"):
        lucas_kanade_window(edge(15), edge(15), (1, 16), radius=4)


def test_row_correlation_finds_the_shift():
    row = np.random.default_rng(0).random(40)
    shifted = np.roll(row, 3)
    corr = row_correlation(row, shifted)
    assert corr.shape == (40, 40) and corr.max() <= 1 + 1e-9
    assert (corr.argmax(axis=1)[5:35] - np.arange(5, 35) == 3).all()
    features = np.random.default_rng(1).normal(size=(10, 4))
    np.testing.assert_allclose(row_correlation(features, features), features @ features.T)


# ------------------------------------------------------------------------------------------------ classical
def test_farneback_beats_zero_flow_on_a_synthetic_pair():
    pair = make_pair(np.random.default_rng(1), size=(128, 96))
    flow = farneback_flow(pair.image1, pair.image2)
    assert flow.shape == (96, 128, 2) and flow.dtype == np.float32
    visible = ~pair.occlusion
    epe = np.linalg.norm(flow - pair.flow, axis=-1)[visible].mean()
    zero = np.linalg.norm(pair.flow, axis=-1)[visible].mean()
    assert epe < 0.6 * zero
    with pytest.raises(ValueError, match="differ in size"):
        farneback_flow(pair.image1, pair.image2[:50])


def test_lucas_kanade_tracks_follow_the_true_motion():
    frames, flows, labels = make_sequence(np.random.default_rng(0), num_frames=5, size=(128, 96), noise=1.0,
                                          object_shift=0.02)
    tracks = lucas_kanade_tracks(frames, max_corners=60)
    n = tracks.points.shape[1]
    assert n > 10 and tracks.alive[0].all() and tracks.alive[-1].sum() > n // 3
    # a track alive in frame 1 moved by the true flow of frame 0 at its start point (up to a pixel)
    start = tracks.points[0]
    ok = tracks.alive[1]
    ix = np.clip(np.round(start[ok]).astype(int), 0, [127, 95])
    true = flows[0][ix[:, 1], ix[:, 0]]
    error = np.linalg.norm(tracks.points[1, ok] - start[ok] - true, axis=1)
    assert np.median(error) < 0.5
    picture = draw_tracks(frames[-1], tracks)
    assert picture.shape == (96, 128, 3) and not np.array_equal(picture, frames[-1])
    with pytest.raises(ValueError, match="two frames"):
        lucas_kanade_tracks(frames[:1])


def test_to_gray_uint8_inputs():
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 1] = 200
    gray = to_gray_uint8(rgb)
    assert gray.shape == (4, 5) and gray.dtype == np.uint8 and 100 < gray[0, 0] < 130  # green's weight ~0.59
    assert to_gray_uint8(torch.ones(3, 4, 5))[0, 0] == 255
    assert to_gray_uint8(np.full((4, 5), 0.5))[0, 0] == 128
