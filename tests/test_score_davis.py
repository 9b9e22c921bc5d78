"""J&F (course_lib.metrics.video) and ``python -m course_lib.score davis``: hand-worked cases, and the numbers of
the official davis2017-evaluation on the synthetic DAVIS 2017 sample (computed with that code outside the project,
figures only)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image

from course_lib.metrics.boundary import boundary_f1, boundary_map
from course_lib.metrics.video import (
    contour_accuracy,
    davis_statistics,
    f_measure,
    global_scores,
    region_similarity,
    seg2bmap,
    sequence_scores,
)
from course_lib.score import ScoreError
from course_lib.score.__main__ import main
from course_lib.score.davis import score_davis
from course_lib.synthetic.davis import save_annotation, write_sample


def _square(size=8, box=(2, 6, 2, 6)):
    m = np.zeros((size, size), bool)
    m[box[0]:box[1], box[2]:box[3]] = True
    return m


# ------------------------------------------------------------------------------------------------ hand-worked
def test_one_pixel_shift_by_hand():
    """A 4x4 square moved one pixel right: J = 12 / 20; its boundary is the 16-pixel ring of the 5x5 square
    above-left of it, and the moved ring shares 8 of those pixels: F = 0.5 with no tolerance, 1 within 1 pixel."""
    t = _square()
    p = np.roll(t, 1, axis=1)
    assert region_similarity(p, t) == pytest.approx(0.6)
    assert seg2bmap(t).sum() == 16
    assert f_measure(p, t, bound_th=0.0) == pytest.approx(0.5)
    assert f_measure(p, t) == 1.0  # ceil(0.008 * diagonal) = 1 pixel at 8 x 8


def test_empty_prediction_and_empty_truth():
    t = np.stack([_square()] * 3)
    empty = np.zeros_like(t)
    assert region_similarity(empty, t).tolist() == [0.0] * 3
    assert contour_accuracy(empty, t).tolist() == [0.0] * 3
    assert region_similarity(empty, empty).tolist() == [1.0] * 3  # both empty: a perfect frame
    assert contour_accuracy(empty, empty).tolist() == [1.0] * 3
    assert contour_accuracy(t, empty).tolist() == [0.0] * 3


def test_void_pixels_are_ignored_when_passed():
    t = _square()
    p = t.copy()
    p[0, 0] = True
    void = np.zeros_like(t)
    void[0, 0] = True
    assert region_similarity(p, t) < 1 and region_similarity(p, t, void) == 1.0
    assert f_measure(p, t, void) == 1.0


def test_statistics_by_hand():
    """8 frames 1,1,1,1,0,0,0,0: bins at round(linspace(1, 8, 5)) - 1 = 0, 2, 4, 5, 7; first bin frames 0..2
    (mean 1), last bin frames 5..7 (mean 0): Decay 1; Recall 0.5."""
    assert davis_statistics([1, 1, 1, 1, 0, 0, 0, 0]) == (0.5, 0.5, 1.0)
    # NaN frames: skipped by the mean, not recalled (NaN > 0.5 is False); bins 0..1 and 2..3: 0.2 - 0.85
    mean, recall, decay = davis_statistics([0.2, math.nan, 0.8, 0.9])
    assert mean == pytest.approx(1.9 / 3) and recall == 0.5 and decay == pytest.approx(-0.65)


def test_first_and_last_frames_are_left_out_and_a_missing_object_scores_zero():
    truth = np.stack([np.stack([_square()] * 5), np.stack([_square(box=(0, 2, 0, 2))] * 5)])  # [K=2, T=5, H, W]
    pred = truth.copy()
    pred[0, 0] = pred[0, -1] = False  # wrong only on the first and last frame
    pred[1] = False  # object 2 never predicted
    rows = sequence_scores(pred, truth)
    assert rows[0]["J-Mean"] == 1.0 and rows[0]["F-Mean"] == 1.0 and len(rows[0]["J"]) == 3
    assert rows[1]["J-Mean"] == 0.0 and rows[1]["F-Recall"] == 0.0
    assert global_scores(rows)["J&F-Mean"] == 0.5
    assert sequence_scores(pred, truth, semi_supervised=False)[0]["J-Mean"] == pytest.approx(0.6)


def test_boundaries_agree_with_the_chapter_3_boundary_f1():
    rng = np.random.default_rng(0)
    for _ in range(5):
        a, b = rng.random((2, 23, 31)) > 0.6
        assert (seg2bmap(a) == boundary_map(a).numpy()).all()
        assert f_measure(a, b, bound_th=2) == pytest.approx(boundary_f1(a, b, tolerance=2))


# ------------------------------------------------------------------------------------------------ the scorer
@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return write_sample(tmp_path_factory.mktemp("davis17"))


def _results(sample, out, drop_object_2_of=None):
    """The official comparison's predictions: labels moved 1 px right, void predicted as object 1, object 2 of
    ``drop_object_2_of`` never predicted."""
    for seq_dir in sorted((sample / "Annotations" / "480p").iterdir()):
        (out / seq_dir.name).mkdir(parents=True, exist_ok=True)
        for png in sorted(seq_dir.glob("*.png")):
            b = np.roll(np.asarray(Image.open(png)), 1, axis=1)
            b = np.where(b == 255, 1, b)
            if seq_dir.name == drop_object_2_of:
                b = np.where(b == 2, 0, b)
            Image.fromarray(b.astype(np.uint8), "L").save(out / seq_dir.name / png.name)
    return out


def test_scorer_matches_the_official_evaluation_on_the_sample(sample, tmp_path):
    """Figures of davis2017-evaluation (semi-supervised, val / train lists) on the same sample and predictions."""
    results = _results(sample, tmp_path / "res", drop_object_2_of="synth-val-01")
    val = score_davis(sample, results, split="val")
    assert val.overall["J&F-Mean"] == pytest.approx(0.7406242097007616, abs=1e-12)
    assert val.overall["J-Recall"] == pytest.approx(0.8214285714285715, abs=1e-12)
    assert val.overall["F-Decay"] == pytest.approx(0.03117698371787525, abs=1e-12)
    rows = {r["name"]: r for r in val.items}
    assert rows["synth-val-01_2"]["J-Mean"] == 0.0
    assert rows["synth-val-03_1"]["F-Mean"] == pytest.approx(0.862135828287619, abs=1e-12)
    train = score_davis(sample, results, split="train")
    assert train.overall["J&F-Mean"] == pytest.approx(0.9136963763388457, abs=1e-12)
    assert train.overall["J-Decay"] == pytest.approx(0.010531122443826212, abs=1e-12)


def test_ground_truth_scores_one_and_the_command_prints_json_last(sample, tmp_path, capsys):
    out = tmp_path / "gt-as-results"
    for seq_dir in sorted((sample / "Annotations" / "480p").iterdir()):
        (out / seq_dir.name).mkdir(parents=True)
        for png in seq_dir.glob("*.png"):
            labels = np.asarray(Image.open(png))
            save_annotation(out / seq_dir.name / png.name, np.where(labels == 255, 0, labels))
    assert main(["davis", "--gt", str(sample), "--pred", str(out), "--sequences", "synth-train-00"]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["benchmark"] == "davis/2017" and last["J&F-Mean"] == 1.0 and list(last["sequences"]) == [
        "synth-train-00"]


@pytest.mark.parametrize("damage", ["missing_file", "id_too_high", "other_size", "rgb", "missing_sequence"])
def test_bad_results_are_named_errors(sample, tmp_path, damage, capsys):
    results = _results(sample, tmp_path / "res")
    target = results / "synth-train-00" / "00003.png"
    if damage == "missing_file":
        target.unlink()
    elif damage == "id_too_high":
        Image.fromarray(np.full((64, 96), 9, np.uint8), "L").save(target)
    elif damage == "other_size":
        Image.fromarray(np.zeros((32, 48), np.uint8), "L").save(target)
    elif damage == "rgb":
        Image.fromarray(np.zeros((64, 96, 3), np.uint8), "RGB").save(target)
    else:
        for p in (results / "synth-train-00").iterdir():
            p.unlink()
        (results / "synth-train-00").rmdir()
    with pytest.raises(ScoreError, match="synth-train-00"):
        score_davis(sample, results, sequences=["synth-train-00"])
    assert main(["davis", "--gt", str(sample), "--pred", str(results), "--sequences", "synth-train-00"]) == 2
    assert "error:" in capsys.readouterr().err


def test_2016_results_of_zeros_and_ones_are_refused(tmp_path):
    from course_lib.synthetic.davis import write_sample_2016

    gt = write_sample_2016(tmp_path / "gt", sequences=1, length=(4, 4), width=24, height=16)
    seq = next((gt / "Annotations" / "480p").iterdir())
    (tmp_path / "res" / seq.name).mkdir(parents=True)
    for png in seq.glob("*.png"):
        Image.fromarray((np.asarray(Image.open(png)) > 127).astype(np.uint8), "L").save(
            tmp_path / "res" / seq.name / png.name)
    with pytest.raises(ScoreError, match="0/255"):
        score_davis(gt, tmp_path / "res")
