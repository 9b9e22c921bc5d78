"""Tests for course_lib.synthetic.scenes: the synthetic scenes must be deterministic and their labels consistent."""

import numpy as np
import pytest

from course_lib.synthetic import scenes
from course_lib.synthetic.scenes import (
    OFFSET,
    SCENE_CLASSES,
    make_point_cloud,
    make_scene,
    make_video,
    trimap_from_alpha,
)


@pytest.fixture(scope="module")
def scene():
    return make_scene(seed=3, size=96)


def test_scene_shapes_and_dtypes(scene):
    assert scene.image.shape == (96, 96, 3) and scene.image.dtype == np.uint8
    for name in ("semantic", "instances", "parts"):
        arr = getattr(scene, name)
        assert arr.shape == (96, 96) and arr.dtype == np.int64, name
    assert scene.alpha.shape == (96, 96) and scene.alpha.dtype == np.float32
    assert scene.semantic.min() >= 0 and scene.semantic.max() < len(SCENE_CLASSES)
    assert 0.0 <= scene.alpha.min() and scene.alpha.max() <= 1.0


def test_scene_is_deterministic_and_seed_dependent():
    a, b, c = make_scene(seed=7, size=64), make_scene(seed=7, size=64), make_scene(seed=8, size=64)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.semantic, b.semantic)
    assert np.array_equal(a.alpha, b.alpha)
    assert not np.array_equal(a.image, c.image)


def test_instances_are_things_and_agree_with_semantics(scene):
    things = {SCENE_CLASSES.index(n) for n in scenes.THING_CLASSES}
    stuff = ~np.isin(scene.semantic, list(things))
    assert (scene.instances[stuff] == 0).all(), "stuff pixels must carry no instance id"
    assert (scene.instances[~stuff] > 0).all(), "every thing pixel belongs to an instance"
    for inst, cls in scene.instance_classes.items():
        assert (scene.semantic[scene.instances == inst] == cls).all()
    assert set(np.unique(scene.instances[scene.instances > 0]).tolist()) == set(scene.instance_classes)


def test_panoptic_ids_decode_and_segments_cover_the_image(scene):
    pan = scene.panoptic
    assert np.array_equal(pan // OFFSET, scene.semantic)
    assert np.array_equal(pan % OFFSET, scene.instances)
    segs = scene.segments()
    assert sum(s["area"] for s in segs) == 96 * 96
    assert {s["class"] for s in segs if not s["isthing"]} <= set(scenes.STUFF_CLASSES)


def test_parts_lie_inside_the_person(scene):
    person = scene.semantic == SCENE_CLASSES.index("person")
    assert (scene.parts[~person] == 0).all()
    assert (scene.parts[person] > 0).all()
    visible = set(np.unique(scene.parts[person]).tolist())
    assert visible <= {1, 2, 3, 4} and 1 in visible


def test_compositing_equation_holds(scene):
    a = scene.alpha[..., None]
    composite = a * scene.foreground + (1 - a) * scene.background
    assert np.abs(composite - scene.image.astype(np.float32)).max() <= 0.5 + 1e-3
    soft = (scene.alpha > 0) & (scene.alpha < 1)
    assert soft.sum() > 20, "the matte should have a soft fringe"
    assert (scene.alpha[scene.semantic != SCENE_CLASSES.index("sky")] == 0).all()


def test_occlusion_nearer_objects_win():
    # the labels follow the painting order, so no pixel carries a thing class without an instance
    for seed in range(5):
        s = make_scene(seed=seed, size=64, num_balls=3, num_boxes=3)
        assert (s.instances[s.semantic >= 2] > 0).all()


def test_trimap_from_alpha():
    alpha = np.zeros((9, 9), np.float32)
    alpha[3:6, 3:6] = 1.0
    alpha[4, 6] = 0.5
    tri = trimap_from_alpha(alpha, band=1)
    assert tri.dtype == np.uint8 and set(np.unique(tri).tolist()) <= {0, 128, 255}
    assert tri[4, 6] == 128 and tri[4, 7] == 128 and tri[4, 5] == 128  # the soft pixel and its neighbours
    assert tri[3, 3] == 255 and tri[0, 0] == 0
    assert (trimap_from_alpha(alpha, band=0) == 128).sum() == 1
    with pytest.raises(ValueError, match="2-D"):
        trimap_from_alpha(np.zeros((2, 2, 2)))


def test_video_masks_follow_objects():
    v = make_video(seed=1, size=48, num_frames=6, num_objects=3)
    assert v.frames.shape == (6, 48, 48, 3) and v.frames.dtype == np.uint8
    assert v.masks.shape == (6, 48, 48) and v.masks.max() <= 3
    assert not np.array_equal(v.masks[0], v.masks[-1]), "objects must move"
    for t in range(6):  # the centre of each visible object lies near its mask's centroid
        for k in range(3):
            ys, xs = np.nonzero(v.masks[t] == k + 1)
            if len(ys) > 50:
                assert np.hypot(ys.mean() + 0.5 - v.centers[t, k, 0], xs.mean() + 0.5 - v.centers[t, k, 1]) < 6
    assert np.array_equal(make_video(seed=1, size=48, num_frames=6, num_objects=3).frames, v.frames)


def test_point_cloud_labels_match_geometry():
    pc = make_point_cloud(seed=2, num_points=1000, noise=0.0)
    assert pc.points.shape == (1000, 3) and pc.points.dtype == np.float32
    assert pc.labels.shape == (1000,) and set(pc.labels.tolist()) == {0, 1, 2, 3}
    assert np.allclose(pc.points[pc.labels == 0, 2], 0.0), "floor points lie on z = 0"
    assert (pc.points[pc.labels > 0, 2] > -1e-6).all(), "objects stand on the floor"
    sphere = pc.points[pc.labels == 1]
    center = np.array([*sphere[:, :2].mean(0), 0.0])
    center[2] = (sphere[:, 2].max() + sphere[:, 2].min()) / 2
    r = np.linalg.norm(sphere - center, axis=1)
    assert r.std() < 0.05 * r.mean(), "sphere points are equidistant from the centre"
    assert np.array_equal(pc.instances == 0, pc.labels == 0)


@pytest.mark.parametrize("call", [lambda: make_scene(size=8), lambda: make_video(num_frames=0),
                                  lambda: make_point_cloud(num_points=2)])
def test_bad_sizes_are_rejected(call):
    with pytest.raises(ValueError, match=">="):
        call()
