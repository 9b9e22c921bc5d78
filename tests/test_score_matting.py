"""``python -m course_lib.score matting``: hand-worked images (their figures also from the DIM MATLAB files run in
Octave 7.3, see tests/test_matting_metrics.py), the command end to end, and bad inputs naming the file."""

import json
import math
import re

import numpy as np
import pytest
from PIL import Image

from course_lib.score import ScoreError, score_matting
from course_lib.score.__main__ import main


def _write(folder, name, array, mode=None):
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, np.uint8), mode).save(folder / name)


def _step_case():
    """6 x 10: prediction 0 left of column 4 and 255 from it, alpha all 0, only column 4 unknown."""
    pred = np.zeros((6, 10), np.uint8)
    pred[:, 4:] = 255
    trimap = np.zeros((6, 10), np.uint8)
    trimap[:, 4] = 128
    return pred, np.zeros((6, 10), np.uint8), trimap


def _h1_case():
    """2 x 3, all unknown: alpha [[255, 255, 0], [0, 0, 255]], prediction [[255, 166, 0], [0, 0, 89]]."""
    return (np.array([[255, 166, 0], [0, 0, 89]], np.uint8), np.array([[255, 255, 0], [0, 0, 255]], np.uint8),
            np.full((2, 3), 128, np.uint8))


# step: 6 unknown pixels each off by 1: SAD 6 / 1000, MSE 1; Grad = 6 gx(4)^2 / 1000 with gx(4) = 2.6620 (worked out
# in tests/test_matting_metrics.py); Conn: nothing reaches 0.1 in both, so l = 0 everywhere and phi is 0 (pred) vs
# 1 (alpha) on the 6 pixels: 6 / 1000. Octave: 0.006, 1, 0.04251735657, 0.006.
_STEP = {"sad": 0.006, "mse": 1.0, "grad": 0.04251735657, "conn": 0.006}
# h1: SAD (|166 - 255| + |89 - 255|) / 255 / 1000 = 0.001; MSE ((89/255)^2 + (166/255)^2) / 6 = 0.0909317;
# Conn (4-connectivity): (0, 1) stays in the largest component up to 0.6 (l = .6: phi 1 vs .6), (1, 2) touches it
# only diagonally (l = 0: phi 1 - 89/255 vs 0): (0.4 + 166/255) / 1000. Octave: Grad 0.001219453639.
_H1 = {"sad": 0.001, "mse": ((89 / 255) ** 2 + (166 / 255) ** 2) / 6, "grad": 0.001219453639,
       "conn": (0.4 + 166 / 255) / 1000}


def _folders(root, cases, pred_ext=".png", alpha_ext=".png", trimap_ext=".png"):
    for name, (pred, alpha, trimap) in cases.items():
        _write(root / "pred", name + pred_ext, pred)
        _write(root / "alpha", name + alpha_ext, alpha)
        _write(root / "trimap", name + trimap_ext, trimap)
    return root / "pred", root / "alpha", root / "trimap"


def test_hand_worked_images(tmp_path):
    report = score_matting(*_folders(tmp_path, {"step": _step_case(), "h1": _h1_case()}))
    rows = {row["name"]: row for row in report.items}
    assert list(rows) == ["h1", "step"]
    for name, expected in (("step", _STEP), ("h1", _H1)):
        for key, value in expected.items():
            assert rows[name][key] == pytest.approx(value, rel=1e-6), (name, key)
    assert report.overall["images"] == 2
    for key in ("sad", "mse", "grad", "conn"):
        assert report.overall[key] == pytest.approx((_STEP[key] + _H1[key]) / 2, rel=1e-6)


def test_cli_end_to_end_names_match_across_extensions(tmp_path, capsys):
    # ground truth as BMP and TIFF, trimaps as PNG, predictions as PNG: matched by name
    pred, alpha, trimap = _folders(tmp_path, {"step": _step_case()}, alpha_ext=".bmp")
    p, a, t = _h1_case()
    _write(pred, "h1.png", p)
    _write(alpha, "h1.tif", a)
    _write(trimap, "h1.png", t)
    # an image without unknown pixels: MSE is NaN (0/0, as MATLAB) and left out of the mean, printed as null
    _write(pred, "flat.png", np.zeros((4, 4)))
    _write(alpha, "flat.png", np.zeros((4, 4)))
    _write(trimap, "flat.png", np.zeros((4, 4)))
    assert main(["matting", "--pred", str(pred), "--alpha", str(alpha), "--trimap", str(trimap)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0].startswith("flat: sad 0.0000, mse nan") and out[2].startswith("step: sad 0.0060, mse 1.0000")
    result = json.loads(out[-1])
    assert result["benchmark"] == "matting" and result["images"] == 3
    assert result["sad"] == pytest.approx((0.006 + 0.001) / 3, rel=1e-6)  # SAD of the flat image: 0
    assert result["mse"] == pytest.approx((1.0 + _H1["mse"]) / 2, rel=1e-6)
    assert result["conn"] == pytest.approx((_STEP["conn"] + _H1["conn"]) / 3, rel=1e-6)
    ids = tmp_path / "ids.txt"
    ids.write_text("step\n")
    assert main(["matting", "--pred", str(pred), "--alpha", str(alpha), "--trimap", str(trimap), "--ids",
                 str(ids)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["images"] == 1 and result["grad"] == pytest.approx(_STEP["grad"], rel=1e-6)


@pytest.mark.parametrize("case, message", [
    ("missing_pred", "missing prediction"), ("extra_pred", "prediction without a ground-truth file"),
    ("missing_trimap", "missing trimap"), ("extra_trimap", "trimap without a ground-truth matte"),
    ("pred_size", "12x6 (WxH), its ground truth"), ("trimap_size", "trimap is 10x5 (WxH)"),
    ("rgba_pred", "single-channel grey"), ("colour_pred", "colour picture"),
    ("trimap_values", "trimap holds values [127]"), ("empty_pred", "empty"),
])
def test_bad_inputs_name_the_file(tmp_path, capsys, case, message):
    pred, alpha, trimap = _folders(tmp_path, {"a": _step_case()})
    bad = pred / "a.png"
    p, a, t = _step_case()
    if case == "missing_pred":
        _write(alpha, "b.png", a)
        _write(trimap, "b.png", t)
        bad = pred / "b.png"
    elif case == "extra_pred":
        _write(pred, "c.png", p)
        bad = pred / "c.png"
    elif case == "missing_trimap":
        (trimap / "a.png").unlink()
        _write(trimap, "z.png", t)  # another file, so that the folder is not empty
        bad = trimap / "a.png"
    elif case == "extra_trimap":
        _write(trimap, "z.png", t)
        bad = trimap / "z.png"
    elif case == "pred_size":
        _write(pred, "a.png", np.zeros((6, 12)))
    elif case == "trimap_size":
        _write(trimap, "a.png", t[:5])
        bad = trimap / "a.png"
    elif case == "rgba_pred":
        _write(pred, "a.png", np.dstack([p, p, p, np.full_like(p, 255)]), "RGBA")
    elif case == "colour_pred":
        colour = np.zeros((6, 10, 3), np.uint8)
        colour[..., 0] = 200
        _write(pred, "a.png", colour)
    elif case == "trimap_values":
        _write(trimap, "a.png", np.where(t == 128, 127, t))
        bad = trimap / "a.png"
    elif case == "empty_pred":
        bad.write_bytes(b"")
    with pytest.raises(ScoreError, match=re.escape(message)) as err:
        score_matting(pred, alpha, trimap)
    assert str(bad) in str(err.value)
    assert main(["matting", "--pred", str(pred), "--alpha", str(alpha), "--trimap", str(trimap)]) == 2
    printed = capsys.readouterr().err
    assert printed.startswith("error: ") and str(bad) in printed


def test_scores_do_not_depend_on_how_the_files_are_stored(tmp_path):
    # a grey matte saved as RGB with equal channels (Composition-1k's alpha_copy holds some) reads as grey
    pred, alpha, trimap = _folders(tmp_path, {"a": _h1_case()})
    _write(alpha, "a.png", np.dstack([_h1_case()[1]] * 3))
    row = score_matting(pred, alpha, trimap).items[0]
    assert row["conn"] == pytest.approx(_H1["conn"], rel=1e-6) and not math.isnan(row["mse"])
