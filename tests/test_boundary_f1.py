"""The boundary F-score (course_lib.metrics.boundary) against an independent computation with distance transforms."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from course_lib.metrics import boundary_f1, boundary_map, davis_tolerance, mean_boundary_f1


def oracle_f1(pred: np.ndarray, target: np.ndarray, tol: int) -> float:
    """Boundaries by shifted comparisons in numpy; matching by Euclidean distance transforms (scipy)."""
    def bmap(m):
        b = np.zeros(m.shape, bool)
        b[:, :-1] |= m[:, :-1] != m[:, 1:]
        b[:-1, :] |= m[:-1, :] != m[1:, :]
        b[:-1, :-1] |= m[:-1, :-1] != m[1:, 1:]
        return b
    bp, bt = bmap(pred), bmap(target)
    if not bp.any() and not bt.any():
        return 1.0
    if not bp.any() or not bt.any():
        return 0.0
    dist_to_t = ndimage.distance_transform_edt(~bt)
    dist_to_p = ndimage.distance_transform_edt(~bp)
    precision = (dist_to_t[bp] <= tol).mean()
    recall = (dist_to_p[bt] <= tol).mean()
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def test_hand_worked_shift():
    truth = np.zeros((12, 12), bool)
    truth[3:9, 3:9] = True
    pred = np.roll(truth, 2, axis=1)  # two pixels to the right
    assert boundary_f1(pred, truth, tolerance=2) == 1.0
    # tolerance 1: of the 6x6 square's boundary (7x7 ring of 24 pixels with the seg2bmap rule), the two vertical
    # sides move by 2 and are missed; the horizontal sides overlap except their ends
    f = boundary_f1(pred, truth, tolerance=1)
    assert 0 < f < 1
    assert f == pytest.approx(oracle_f1(pred, truth, 1))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("tol", [0, 1, 3])
def test_against_distance_transform_oracle(seed, tol):
    rng = np.random.default_rng(seed)
    truth = ndimage.binary_opening(rng.random((40, 50)) < 0.5, iterations=2)
    pred = ndimage.binary_dilation(truth, iterations=int(rng.integers(0, 3))) ^ (rng.random((40, 50)) < 0.02)
    assert boundary_f1(pred, truth, tolerance=tol) == pytest.approx(oracle_f1(pred, truth, tol))


def test_empty_cases_and_errors():
    empty = torch.zeros(8, 8, dtype=torch.bool)
    full = torch.ones(8, 8, dtype=torch.bool)  # no boundary either
    square = empty.clone()
    square[2:5, 2:5] = True
    assert boundary_f1(empty, full) == 1.0
    assert boundary_f1(square, empty) == 0.0 and boundary_f1(empty, square) == 0.0
    with pytest.raises(ValueError, match="differ in shape"):
        boundary_f1(square, torch.zeros(8, 9, dtype=torch.bool))
    with pytest.raises(ValueError, match="2-D"):
        boundary_map(torch.zeros(2, 2, 2))


def test_davis_tolerance_and_default():
    assert davis_tolerance(480, 854) == int(np.ceil(0.008 * np.hypot(480, 854)))
    truth = np.zeros((100, 100), bool)
    truth[20:80, 20:80] = True
    pred = np.roll(truth, 2, axis=0)
    assert boundary_f1(pred, truth, tolerance=None) == 1.0  # ceil(0.008 * 141.4) = 2 pixels
    assert boundary_f1(pred, truth, tolerance=1) < 1.0


def test_mean_over_classes_and_void():
    truth = np.zeros((20, 20), np.int64)
    truth[:, 10:] = 1
    truth[5:15, 2:6] = 2
    pred = truth.copy()
    pred[5:15, 2:6] = 0  # class 2 missed entirely: F(2) = 0; classes 0 and 1 lose only the small square's border
    expected = np.mean([oracle_f1(pred == c, truth == c, 2) for c in range(3)])
    assert mean_boundary_f1(pred, truth, num_classes=3) == pytest.approx(expected)
    assert mean_boundary_f1(pred, truth, num_classes=3) < 0.7
    void = truth.copy()
    void[5:15, 2:6] = 255  # the missed square is void: no border counts there
    assert mean_boundary_f1(pred, void, num_classes=3, ignore_index=255) == 1.0
