"""Mask propagation by optical flow (Chapter 8): exact flows carry masks exactly, the forward-backward check stops
at disocclusions, Farneback beats standing still on the synthetic DAVIS clips, RAFT plugs in as a flow function."""

from __future__ import annotations

import numpy as np
import pytest

from course_lib.classical.propagation import farneback_flow_fn, module_flow_fn, propagate_labels, warp_labels
from course_lib.metrics.video import global_scores, sequence_scores


def _zero(a, b):
    return np.zeros((*a.shape[:2], 2), np.float32)


def test_the_true_flow_carries_a_moving_square_exactly():
    t, h, w = 5, 24, 40
    frames = np.zeros((t, h, w, 3), np.uint8)
    truth = np.zeros((t, h, w), np.uint8)
    for k in range(t):
        truth[k, 6:14, 4 + 3 * k:12 + 3 * k] = 2
    backward = lambda a, b: np.broadcast_to(np.float32([-3.0, 0.0]), (h, w, 2)).copy()  # noqa: E731
    out = propagate_labels(frames, truth[0], backward, consistency=False)
    assert (out == truth).all()
    standing = propagate_labels(frames, truth[0], _zero, consistency=False)
    assert (standing[-1] == truth[0]).all() and not (standing[-1] == truth[-1]).all()


def test_inconsistent_flow_is_cut_and_void_is_not_carried():
    labels = np.ones((6, 6), np.uint8)
    labels[0, 0] = 255
    backward = np.zeros((6, 6, 2), np.float32)
    same = warp_labels(labels, backward, [1])
    assert same[0, 0] == 0 and (same.reshape(-1)[1:] == 1).all()  # void (255) is carried as background
    occluded = np.zeros((6, 6), bool)
    occluded[:, :2] = True
    cut = warp_labels(labels, backward, [1], occluded)
    assert (cut[:, :2] == 0).all() and (cut[:, 2:] == 1).all()
    frames = np.zeros((2, 6, 6, 3), np.uint8)
    flows = [np.full((6, 6, 2), 2.0, np.float32), np.zeros((6, 6, 2), np.float32)]  # backward, then forward
    out = propagate_labels(frames, labels, lambda a, b: flows.pop(0), consistency=True)
    assert out[0, 0, 0] == 0 and (out[0].reshape(-1)[1:] == 1).all()  # void is not an object
    assert (out[1] == 0).all()  # backward flow of 2 px, forward 0: nothing comes back, everything is cut


def test_farneback_beats_standing_still_on_the_synthetic_clips(tmp_path):
    from course_lib.data.davis import DAVIS
    from course_lib.synthetic.davis import write_sample

    davis = DAVIS(write_sample(tmp_path, sequences=2, length=(8, 8)))
    scores = {"flow": [], "zero": []}
    for seq in davis:
        frames = np.stack([seq.frame(i) for i in range(len(seq))])
        labels = np.stack([seq.labels(i) for i in range(len(seq))])
        ids = seq.object_ids()
        truth = np.stack([labels == i for i in ids])
        for name, fn in (("flow", farneback_flow_fn(levels=2, winsize=7)), ("zero", _zero)):
            pred = propagate_labels(frames, labels[0], fn)
            scores[name] += sequence_scores(np.stack([pred == i for i in ids]), truth)
    flow, zero = global_scores(scores["flow"])["J&F-Mean"], global_scores(scores["zero"])["J&F-Mean"]
    assert flow > zero + 0.1, (flow, zero)


def test_raft_is_a_flow_function_on_small_frames():
    from course_lib.models.raft import raft_small

    fn = module_flow_fn(raft_small(iters=2))
    a = np.random.default_rng(0).integers(0, 255, (40, 56, 3), dtype=np.uint8)
    flow = fn(a, a)
    assert flow.shape == (40, 56, 2) and flow.dtype == np.float32 and np.isfinite(flow).all()
    from course_lib.classical.optical_flow import FarnebackFlow, farneback_flow

    b = np.roll(a, 2, axis=1)
    assert np.allclose(module_flow_fn(FarnebackFlow())(a, b), farneback_flow(a, b), atol=1e-3)


def test_frames_and_labels_of_other_sizes_are_refused():
    with pytest.raises(ValueError, match="labels' size"):
        propagate_labels(np.zeros((2, 4, 4, 3), np.uint8), np.zeros((5, 5), np.uint8), _zero)


def test_opencv_warp_and_check_agree_with_the_torch_versions_of_chapter_9():
    import torch

    from course_lib.classical.propagation import backward_warp, fb_occlusion
    from course_lib.models.flow_ops import forward_backward_occlusion, warp

    rng = np.random.default_rng(0)
    img = rng.random((20, 30, 3)).astype(np.float32)
    fw, bw = (rng.random((2, 20, 30, 2)) * 6 - 3).astype(np.float32)
    as_t = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))  # noqa: E731
    ours, inside = backward_warp(img, fw)
    theirs, inside_t = warp(as_t(img), as_t(fw))
    assert np.allclose(ours, theirs.numpy().transpose(1, 2, 0), atol=0.03)  # OpenCV interpolates in 1/32 px steps
    assert (inside == inside_t.numpy()).all()
    agree = fb_occlusion(fw, bw) == forward_backward_occlusion(as_t(fw), as_t(bw)).numpy()
    assert agree.mean() > 0.99
