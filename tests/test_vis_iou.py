"""The spatio-temporal track IoU of YouTube-VIS (:func:`course_lib.metrics.track_iou`) against independent
computations: NumPy over the stacked volume, and pycocotools' RLE area/merge as the YouTube-VIS evaluation uses them."""

from __future__ import annotations

import numpy as np
import pytest

from course_lib.metrics import track_iou


def _random_track(rng, t=6, h=12, w=10, absent=0.3):
    masks = rng.random((t, h, w)) < 0.4
    present = rng.random(t) >= absent
    return masks, present


@pytest.mark.parametrize("seed", range(5))
def test_track_iou_equals_the_volume_iou(seed):
    """With absent frames as empty masks, the IoU is that of the stacked [T, H, W] volumes."""
    rng = np.random.default_rng(seed)
    (d, dp), (g, gp) = _random_track(rng), _random_track(rng)
    dv, gv = d & dp[:, None, None], g & gp[:, None, None]
    expected = (dv & gv).sum() / (dv | gv).sum()
    ours = track_iou([m if p else None for m, p in zip(d, dp, strict=True)],
                     [m if p else None for m, p in zip(g, gp, strict=True)])
    assert ours == pytest.approx(expected)
    assert track_iou(dv, gv) == pytest.approx(expected)


def test_track_iou_matches_ytvis_iou_seq_on_rle():
    """The ``iou_seq`` of youtubevos/cocoapi's ytvoseval, written with pycocotools on RLEs, gives the same number."""
    mask_util = pytest.importorskip("pycocotools.mask")
    rng = np.random.default_rng(7)
    (d, dp), (g, gp) = _random_track(rng), _random_track(rng)

    def rles(masks, present):
        return [mask_util.encode(np.asfortranarray(m.astype(np.uint8))) if p else None
                for m, p in zip(masks, present, strict=True)]

    i = u = 0.0
    for a, b in zip(rles(d, dp), rles(g, gp), strict=True):
        if a and b:
            i += mask_util.area(mask_util.merge([a, b], True))
            u += mask_util.area(mask_util.merge([a, b], False))
        elif b:
            u += mask_util.area(b)
        elif a:
            u += mask_util.area(a)
    assert track_iou([m if p else None for m, p in zip(d, dp, strict=True)],
                     [m if p else None for m, p in zip(g, gp, strict=True)]) == pytest.approx(i / u)


def test_track_iou_hand_cases():
    g = np.zeros((3, 4, 4), bool)
    g[:, 1:3, 1:3] = True                                  # 4 pixels per frame, 12 in all
    assert track_iou(g, g) == 1.0
    shifted = np.roll(g, 1, axis=2)                        # 2 of 4 pixels overlap in each frame: 6 / 18
    assert track_iou(shifted, g) == pytest.approx(6 / 18)
    assert track_iou([g[0], None, None], g) == pytest.approx(4 / 12)    # a track that stops after frame 0
    assert track_iou([None] * 3, [None] * 3) == 0.0        # nothing anywhere: 0, as ytvoseval
    assert track_iou(np.zeros_like(g), g) == 0.0


def test_track_iou_rejects_mismatched_tracks():
    g = np.zeros((3, 4, 4), bool)
    with pytest.raises(ValueError, match="frames"):
        track_iou(g[:2], g)
    with pytest.raises(ValueError, match="masks of"):
        track_iou([np.zeros((4, 5), bool)] * 3, g)


def test_vis_video_track_matches_the_frame_masks(tmp_path):
    """``VisVideo.track(k)`` (the input of ``track_iou``) holds instance k's masks, ``None`` where it is absent."""
    from course_lib.data.youtube import read_vis_json
    from course_lib.synthetic.youtube import write_vis_sample

    video = read_vis_json(write_vis_sample(tmp_path, videos=2, length=11, width=32, height=24) / "train.json")[0]
    for k, inst in enumerate(video.instances):
        track = video.track(k)
        assert len(track) == len(video) and [t for t, m in enumerate(track) if m is not None] == inst.frames_present()
        for t in inst.frames_present():
            present = [i.id for i in video.instances if i.segmentations[t] is not None]
            assert (video.masks(t)[0][present.index(inst.id)] == track[t]).all()
        assert track_iou(track, track) == 1.0
