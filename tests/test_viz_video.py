"""Video pictures of Chapter 7: tinted frames, the Jupyter slider and the plotly animation for the web page."""

from __future__ import annotations

import numpy as np
import pytest

from course_lib.viz.video import DAVIS_PALETTE, video_animation, video_frame_picture, video_viewer


def _clip(t=5):
    frames = np.full((t, 12, 16, 3), 100, np.uint8)
    labels = np.zeros((t, 12, 16), np.uint8)
    labels[:, 2:6, 2:6] = 1
    labels[:, 8:10, 8:12] = 2
    labels[:, 0, 0] = 255
    return frames, labels


def test_objects_are_tinted_in_their_palette_colour_and_void_is_not():
    frames, labels = _clip()
    pic = video_frame_picture(frames[0], labels[0], alpha=1.0)
    assert pic[3, 3].tolist() == DAVIS_PALETTE[1].tolist() and pic[9, 9].tolist() == DAVIS_PALETTE[2].tolist()
    assert pic[0, 0].tolist() == [100, 100, 100] and pic[11, 15].tolist() == [100, 100, 100]
    pred = np.roll(labels[0], 3, axis=1)
    with_pred = video_frame_picture(frames[0], labels[0], pred, alpha=0.0)
    assert (with_pred[2:6, 5] == DAVIS_PALETTE[1]).all()  # the moved object's outline
    assert video_frame_picture(frames[0], zoom=2).shape == (24, 32, 3)


def test_animation_plays_the_chosen_frames():
    frames, labels = _clip(50)
    fig = video_animation(frames, labels, max_frames=10, title="clip")
    assert len(fig.frames) == 10 and fig.frames[-1].name == "49"
    assert [b.label for b in fig.layout.updatemenus[0].buttons] == ["play", "pause"]
    assert len(fig.layout.sliders[0].steps) == 10 and fig.layout.title.text == "clip frame 0"
    assert fig.frames[0].data[0].source.startswith("data:image/png;base64,")


def test_viewer_updates_its_picture():
    frames, labels = _clip()
    box = video_viewer(frames, labels)
    slider, picture = box.children
    first = picture.value
    frames[3] = 0
    slider.value = 3
    assert picture.value != first


def test_maps_that_do_not_fit_the_frames_are_refused():
    frames, labels = _clip()
    with pytest.raises(ValueError, match="labels"):
        video_animation(frames, labels[:2])
    with pytest.raises(ValueError, match=r"\[T, H, W, 3\]"):
        video_animation(frames[0], None)
