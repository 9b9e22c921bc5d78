"""Flow-based motion detection (Chapter 10): ego-motion compensation checked on a rendered 3D scene and against
OpenCV's Sampson distance, the pixel/object scores on hand-worked cases, the pipeline on the KITTI 2015 sample."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from course_lib.classical.motion import ego_motion_residual, fit_ego_motion, moving_mask, sampson_distance
from course_lib.data.kitti_flow import KittiFlow, camera_matrix, read_calib_cam_to_cam
from course_lib.metrics.motion import MotionScores
from course_lib.recipes.motion import detect_moving, evaluate_motion
from course_lib.synthetic import kitti_flow

K = np.array([[300.0, 0, 160], [0, 300, 60], [0, 0, 1]])


def _driving_flow(h: int = 120, w: int = 320) -> np.ndarray:
    """The exact flow of a camera moving forward (and a little right) over a road plane below a far wall, plus one
    object moving down by 4 px."""
    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    z = np.where(yy > 60, 300 * 1.65 / np.maximum(yy - 60, 1), 40.0)
    x, y = (xx - 160) * z / 300, (yy - 60) * z / 300
    x2, z2 = x - 0.1, z - 1.0
    flow = np.stack([300 * x2 / z2 + 160 - xx, 300 * y / z2 + 60 - yy], -1).astype(np.float32)
    flow[30:50, 200:240, 1] += 4
    return flow


def test_essential_matrix_explains_a_translating_camera_and_a_homography_does_not():
    flow = _driving_flow()
    obj = np.zeros(flow.shape[:2], bool)
    obj[30:50, 200:240] = True
    essential = ego_motion_residual(flow, model="essential", K=K, step=4, threshold=0.5)
    homography = ego_motion_residual(flow, model="homography", step=4, threshold=0.5)
    assert np.percentile(essential[~obj], 99) < 0.05 and essential[obj].mean() > 1.0
    assert np.percentile(homography[~obj], 95) > 2.0  # the road's parallax is no homography
    with pytest.raises(ValueError, match="needs the camera matrix"):
        fit_ego_motion(flow, model="essential")
    with pytest.raises(ValueError, match="unknown camera model"):
        fit_ego_motion(flow, model="trifocal")


def test_sampson_distance_against_opencv():
    rng = np.random.default_rng(0)
    F = rng.normal(size=(3, 3))
    x1, x2 = rng.uniform(0, 100, (20, 2)), rng.uniform(0, 100, (20, 2))
    ours = sampson_distance(F, x1, x2)
    oracle = [cv2.sampsonDistance(np.array([*a, 1.0]), np.array([*b, 1.0]), F) for a, b in zip(x1, x2, strict=True)]
    np.testing.assert_allclose(ours ** 2, oracle, rtol=1e-6)  # OpenCV returns the squared distance


def test_moving_mask_removes_small_regions():
    residual = np.zeros((20, 20))
    residual[2:8, 2:8] = 5
    residual[15, 15] = 5
    assert moving_mask(residual, threshold=1).sum() == 37
    assert moving_mask(residual, threshold=1, min_area=4).sum() == 36


def test_scores_hand_worked_and_empty():
    gt = np.zeros((6, 6), np.uint8)
    gt[0:2, 0:2], gt[4:6, 4:6] = 1, 2
    pred = np.zeros((6, 6), bool)
    pred[0:2, 0:3] = True  # covers object 1 (4 of 6 pixels on it)
    pred[3, 0] = True  # a false region
    scores = MotionScores()
    counts = scores.update(pred, gt)
    assert counts == {"tp": 4, "fp": 3, "fn": 4, "objects": 2, "found": 1, "regions": 2, "correct": 1}
    r = scores.compute()
    assert r["pixel_precision"] == pytest.approx(4 / 7) and r["pixel_recall"] == 0.5
    assert r["object_f1"] == pytest.approx(0.5) and r["frames"] == 1
    valid = np.ones((6, 6), bool)
    valid[3] = False  # the false region is where nothing is known: left out
    again = MotionScores()
    again.update(pred, gt, valid)
    assert again.compute()["object_precision"] == 1.0
    assert MotionScores().compute()["pixel_f1"] == 0.0
    with pytest.raises(ValueError, match="differ in size"):
        MotionScores().update(pred, gt[:5])


def test_pipeline_on_the_kitti_2015_sample(tmp_path):
    root = kitti_flow.write_sample(tmp_path, n_train=2, n_test=0, scale=0.3)
    ds = KittiFlow(root)
    K_sample = ds.camera_matrix(0)
    assert K_sample[0, 0] == pytest.approx(721.5377 * 0.3, rel=1e-5)
    sample = ds.load_raw(0)
    mask, residual = detect_moving(sample.flow, K=K_sample, valid=sample.valid_occ)
    assert mask.shape == residual.shape == sample.flow.shape[:2]
    # the sample's camera motion is a 2D similarity: a homography explains it exactly
    rows = {r["flow"]: r for r in evaluate_motion(root, flows=("ground-truth", "farneback"), model="homography")}
    assert rows["ground-truth"]["pixel_f1"] > 0.95 and rows["ground-truth"]["pairs"] == 2
    assert 0.0 <= rows["farneback"]["pixel_f1"] <= 1.0 and rows["farneback"]["objects"] > 0


def test_calibration_reader(tmp_path):
    path = tmp_path / "000000.txt"
    path.write_text("calib_time: 09-Jan-2012 13:57:47\nP_rect_02: 7.215377e+02 0 6.095593e+02 4.485728e+01 0 "
                    "7.215377e+02 1.728540e+02 2.163791e-01 0 0 1 2.745884e-03\n")
    assert camera_matrix(path)[1, 2] == pytest.approx(172.854)
    assert "calib_time" not in read_calib_cam_to_cam(path)
    path.write_text("P_rect_02: 1 2 3\n")
    with pytest.raises(ValueError, match="000000.txt.*P_rect_02"):
        read_calib_cam_to_cam(path)


@pytest.mark.realdata
def test_real_kitti_2012_has_no_object_maps(real_root):
    try:
        KittiFlow(real_root)
    except FileNotFoundError:
        pytest.skip(f"no KITTI flow under {real_root}")
    with pytest.raises(FileNotFoundError, match="obj_map"):
        evaluate_motion(real_root)


def test_motion_overlay_colours_and_the_rig_figure():
    from course_lib.viz import motion_overlay, nuscenes_rig_figure

    picture = np.zeros((2, 3, 3), np.uint8)
    moving = np.array([[True, True, False], [False, False, False]])
    truth = np.array([[1, 0, 1], [0, 0, 0]])
    out = motion_overlay(picture, moving, truth, alpha=1.0)
    assert out[0, 0].tolist() == [255, 0, 255] and out[0, 1].tolist() == [255, 0, 0]  # hit, false alarm
    assert out[0, 2].tolist() == [0, 80, 255] and out[1, 1].tolist() == [0, 0, 0]  # missed, background
    fig = nuscenes_rig_figure(3)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert sum(label.startswith("CAM_") for label in labels) == 6 and any("radars" in lab for lab in labels)


def test_benchmark_script_writes_its_table(tmp_path, capsys):
    import importlib.util
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "motion_detection.py"
    spec = importlib.util.spec_from_file_location("motion_detection", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    root = kitti_flow.write_sample(tmp_path, n_train=1, n_test=0, scale=0.2)
    out = tmp_path / "motion.json"
    assert bench.main(["--data-root", str(root), "--flows", "ground-truth", "--models", "homography",
                       "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert rows[0]["flow"] == "ground-truth" and rows[0]["pairs"] == 1
    assert "| ground-truth | homography | 1 |" in capsys.readouterr().out
