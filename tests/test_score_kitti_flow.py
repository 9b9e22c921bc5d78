"""``python -m course_lib.score kitti-flow``: EPE and Fl-all as the KITTI devkit computes them (gaps of the estimate
filled first, Fl over all pixels of the set, EPE per image then averaged), checked by hand and on the devkit's own
demo files against a direct NumPy computation."""

import json
import re
import shutil

import cv2
import numpy as np
import pytest

from course_lib.io.flow import read_kitti_flow, write_kitti_flow
from course_lib.score import ScoreError, score_kitti_flow
from course_lib.score.__main__ import main
from course_lib.score.kitti_flow import interpolate_background


def _flow(folder, name, uv, valid=None):
    folder.mkdir(parents=True, exist_ok=True)
    write_kitti_flow(folder / name, np.asarray(uv, np.float32), valid)


def test_hand_worked_two_images(tmp_path, capsys):
    gt = [[(0, 0), (10, 0), (100, 0)], [(0, 4), (3, 4), (40, 0)]]
    valid = np.array([[1, 1, 1], [0, 1, 1]], bool)
    est = [[(0, 0), (14, 0), (104, 0)], [(9, 9), (3, 0), (40, 2)]]
    # valid pixels: EPE 0, 4, 4, 4, 2. Outliers (EPE > 3 and > 5 % of |F_gt|): 4 vs |10| yes, 4 vs |100| no
    # (4 < 5), 4 vs |(3, 4)| = 5 yes, 2 no -> 2 of 5
    _flow(tmp_path / "flow_occ", "000000_10.png", gt, valid)
    _flow(tmp_path / "pred", "000000_10.png", est)
    _flow(tmp_path / "flow_occ", "000001_10.png", [[(0, 0), (0, 0)]])
    _flow(tmp_path / "pred", "000001_10.png", [[(1, 0), (1, 0)]])  # EPE 1, 1; no outlier
    assert main(["kitti-flow", "--gt", str(tmp_path / "flow_occ"), "--pred", str(tmp_path / "pred")]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0] == "000000_10: epe 2.8000, fl_all 40.0000, pixels 5, density 1.0000"
    r = json.loads(out[-1])
    assert r["epe"] == pytest.approx((2.8 + 1.0) / 2)  # per image, then the mean over images
    assert r["epe_pixels"] == pytest.approx(16 / 7)  # all valid pixels of the set
    assert r["fl_all"] == pytest.approx(100 * 2 / 7)  # outliers of the set / valid pixels of the set
    assert r["pairs"] == 2 and r["pixels"] == 7


def test_gaps_of_the_estimate_are_filled_as_the_devkit_does(tmp_path):
    f = np.zeros((1, 5, 2), np.float32)
    f[0, 1], f[0, 3] = (3, 1), (2, 4)
    filled, valid = interpolate_background(f, np.array([[False, True, False, True, False]]))
    assert filled[0].tolist() == [[3, 1], [3, 1], [2, 1], [2, 4], [2, 4]] and valid.all()
    # rows without a valid pixel: above the first / below the last such row copied, rows between them left alone
    g = np.zeros((4, 1, 2), np.float32)
    g[1, 0], g[3, 0] = (4, 0), (6, 0)
    filled, valid = interpolate_background(g, np.array([[False], [True], [False], [True]]))
    assert filled[:, 0, 0].tolist() == [4, 4, 0, 6] and valid[:, 0].tolist() == [True, True, False, True]
    # through the scorer: a sparse estimate on zero ground truth
    _flow(tmp_path / "gt", "000000_10.png", np.zeros((1, 5, 2)))
    _flow(tmp_path / "pred", "000000_10.png", f, np.array([[False, True, False, True, False]]))
    r = score_kitti_flow(tmp_path / "gt", tmp_path / "pred").overall
    assert r["epe"] == pytest.approx(np.mean(np.hypot([3, 3, 2, 2, 2], [1, 1, 1, 4, 4])))
    assert r["density"] == pytest.approx(0.4)


@pytest.mark.parametrize("case, message", [
    ("missing", "missing prediction"), ("extra", "prediction without a ground-truth file"),
    ("size", "estimate is 4x2 (WxH), its ground truth"), ("eight_bit", "must be 16-bit"),
    ("no_valid", "ground truth has no valid pixel"), ("training", "holds flow_occ/ and flow_noc/"),
])
def test_bad_inputs_name_the_file(tmp_path, capsys, case, message):
    gt, pred = tmp_path / "flow_occ", tmp_path / "pred"
    _flow(gt, "000000_10.png", np.ones((2, 3, 2)))
    _flow(pred, "000000_10.png", np.ones((2, 3, 2)))
    bad = pred / "000000_10.png"
    if case == "missing":
        _flow(gt, "000001_10.png", np.ones((2, 3, 2)))
        bad = pred / "000001_10.png"
    elif case == "extra":
        _flow(pred, "000002_10.png", np.ones((2, 3, 2)))
        bad = pred / "000002_10.png"
    elif case == "size":
        _flow(pred, "000000_10.png", np.ones((2, 4, 2)))
    elif case == "eight_bit":
        cv2.imwrite(str(bad), np.full((2, 3, 3), 128, np.uint8))
    elif case == "no_valid":
        _flow(gt, "000000_10.png", np.ones((2, 3, 2)), np.zeros((2, 3), bool))
        bad = gt / "000000_10.png"
    elif case == "training":
        shutil.copytree(gt, tmp_path / "flow_noc")
        gt = bad = tmp_path
    with pytest.raises(ScoreError, match=re.escape(message)) as err:
        score_kitti_flow(gt, pred)
    assert str(bad) in str(err.value)
    assert main(["kitti-flow", "--gt", str(gt), "--pred", str(pred)]) == 2
    printed = capsys.readouterr().err
    assert printed.startswith("error: ") and str(bad) in printed


def _direct(gt_path, est_path):
    """EPE and outliers over the valid ground-truth pixels, computed directly (dense estimates only)."""
    flow_gt, valid = read_kitti_flow(gt_path)
    flow_est, valid_est = read_kitti_flow(est_path)
    assert valid_est.all()
    epe = np.linalg.norm(flow_est.astype(np.float64) - flow_gt, axis=-1)[valid]
    magnitude = np.linalg.norm(flow_gt.astype(np.float64), axis=-1)[valid]
    return epe.mean(), 100 * np.mean((epe > 3) & (epe > 0.05 * magnitude))


@pytest.mark.realdata
def test_real_kitti_files(real_root, tmp_path):
    noc = real_root / "kitti" / "data_stereo_flow" / "training" / "flow_noc"
    demo = real_root / "kitti" / "devkit_scene_flow" / "devkit" / "matlab" / "data"
    if not noc.is_dir() and not demo.is_dir():
        pytest.skip("no KITTI flow files under COURSE_REAL_DATA")
    if noc.is_dir():
        same = score_kitti_flow(noc, noc).overall
        assert same["epe"] == 0 and same["fl_all"] == 0 and same["density"] == 1
        for path in sorted(noc.glob("*_10.png")):
            flow, valid = read_kitti_flow(path)
            _flow(tmp_path / "moved", path.name, np.where(valid[..., None], flow + (4.0, 0.0), 0.0))
        r = score_kitti_flow(noc, tmp_path / "moved").overall
        expected = [_direct(p, tmp_path / "moved" / p.name) for p in sorted(noc.glob("*_10.png"))]
        assert r["epe"] == pytest.approx(np.mean([e for e, _ in expected]), abs=1e-4)
        if len(expected) == 1:
            assert r["fl_all"] == pytest.approx(expected[0][1], abs=1e-9) and r["fl_all"] > 0
    if demo.is_dir():  # the devkit's demo pair: a dense estimate and its ground truth
        (tmp_path / "gt").mkdir()
        (tmp_path / "est").mkdir()
        shutil.copy(demo / "flow_gt.png", tmp_path / "gt" / "000000_10.png")
        shutil.copy(demo / "flow_est.png", tmp_path / "est" / "000000_10.png")
        r = score_kitti_flow(tmp_path / "gt", tmp_path / "est").overall
        epe, fl = _direct(tmp_path / "gt" / "000000_10.png", tmp_path / "est" / "000000_10.png")
        assert r["epe"] == pytest.approx(epe, abs=1e-4) and r["fl_all"] == pytest.approx(fl, abs=1e-9)
