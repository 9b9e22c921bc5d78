"""Matting errors (SAD, MSE, Grad, Conn) against hand-worked cases and the Deep Image Matting MATLAB files.

The reference figures of ``test_matches_the_matlab_files_run_in_octave`` come from running the evaluation code
(``compute_*.m``, ``gaussgradient.m`` of GCA-Matting's ``DIM_evaluation_code/``; IndexNet's ``evaluation_code/`` for
the one case where the two copies differ) in GNU Octave 7.3 with the image package 2.14, outside the project, on the
8-bit cases :func:`_octave_cases` builds; the evaluation script's ``/1000`` for Grad and Conn applied.
"""

import math

import numpy as np
import pytest
import torch

from course_lib.metrics import matting as mm
from course_lib.metrics.matting import (
    MattingMeter,
    connectivity_error,
    gauss_gradient,
    gradient_error,
    matting_errors,
    mse_error,
    sad_error,
    trimap_unknown,
    whole_image_errors,
)

U = 128  # unknown


def test_sad_and_mse_hand_worked():
    pred = np.array([[0, 0.5, 1], [0.25, 1, 0]])
    alpha = np.array([[0, 1, 1], [0, 0, 0]], float)
    trimap = np.array([[U, U, 0], [U, 255, U]], np.uint8)
    # unknown pixels: |0-0| + |0.5-1| + |0.25-0| + |0-0| = 0.75 -> SAD 0.75 / 1000; the known pixel (1, 1), off by 1,
    # is not counted. MSE = (0.25 + 0.0625) / 4 unknown pixels = 0.078125 (Octave: 0.00075, 0.078125)
    assert sad_error(pred, alpha, trimap) == pytest.approx(0.00075, abs=1e-15)
    assert mse_error(pred, alpha, trimap) == pytest.approx(0.078125, abs=1e-15)
    # as 8-bit files: 0.5 -> 128 and 0.25 -> 64 once rounded, so SAD = (|128 - 255| + |64 - 0|) / 255 / 1000
    as_u8 = (np.round(pred * 255).astype(np.uint8), (alpha * 255).astype(np.uint8))
    assert sad_error(*as_u8, trimap) == pytest.approx((127 + 64) / 255 / 1000, abs=1e-15)
    # no unknown pixel: MATLAB's 0/0 is NaN (Python ports adding 1e-8 print 0)
    assert math.isnan(mse_error(pred, alpha, np.zeros((2, 3), np.uint8)))
    assert sad_error(pred, alpha, np.zeros((2, 3), np.uint8)) == 0.0


def _gx_by_hand(f, x, sigma=1.4):
    """gaussgradient.m's x-derivative of an image whose columns are ``f`` (rows all equal), borders replicated.

    The 9 x 9 kernel is ``g(u) g'(v) / N`` (N its Frobenius norm, separable: ``sqrt(sum g^2 * sum g'^2)``); along the
    rows it sums to ``S = sum g(u)``, so ``gx(x) = S / N * sum_v g'(v) f(clip(x - v))`` (a convolution).
    """
    vs = range(-4, 5)
    g = {v: math.exp(-v * v / (2 * sigma ** 2)) / (sigma * math.sqrt(2 * math.pi)) for v in vs}
    dg = {v: -v * g[v] / sigma ** 2 for v in vs}
    norm = math.sqrt(sum(g[v] ** 2 for v in vs) * sum(dg[v] ** 2 for v in vs))
    return sum(g.values()) / norm * sum(dg[v] * f[min(max(x - v, 0), len(f) - 1)] for v in vs)


def test_gradient_of_a_step_hand_worked():
    # a 6 x 10 step (0 left of column 4, 1 from it), scored against an all-zero alpha (zero gradient), the unknown
    # region one column: Grad = 6 rows * gx(col)^2 / 1000, and gy = 0 (rows are equal, borders replicated).
    # g(0..4) = 0.28496, 0.22080, 0.10271, 0.02869, 0.00481; S = 0.99897; N = 0.10177; at column 4 the taps
    # v = 1..4 see the step: gx = S / N * sum v g(v) / 1.96 = 9.8161 * 0.27119 = 2.6620, Grad = 6 * 7.0864 / 1000.
    f = [0.0] * 4 + [1.0] * 6
    step = np.tile(f, (6, 1))
    zero = np.zeros((6, 10))
    for col, octave in ((4, 0.04251735657), (0, 5.571174188e-05), (9, 0.0)):
        trimap = np.zeros((6, 10), np.uint8)
        trimap[:, col] = U
        expected = 6 * _gx_by_hand(f, col) ** 2 / 1000
        assert gradient_error(step, zero, trimap) == pytest.approx(expected, rel=1e-12, abs=1e-20)
        assert gradient_error(step, zero, trimap) == pytest.approx(octave, rel=1e-6, abs=1e-20)
    # column 4 by hand; column 0 sees the step only through its last tap v = -4; column 9 (right border) sees
    # replicated ones only: zero, where zero padding would put a spurious edge there
    assert 6 * _gx_by_hand(f, 4) ** 2 / 1000 == pytest.approx(0.042517, rel=1e-4)
    padded = np.zeros((6, 20))
    padded[:, :10] = step
    trimap = np.zeros((6, 20), np.uint8)
    trimap[:, 9] = U
    assert gradient_error(padded, np.zeros((6, 20)), trimap) > 1e-3
    gx, gy = gauss_gradient(step)
    assert np.abs(gy).max() < 1e-12 and gx[3, 4] == pytest.approx(_gx_by_hand(f, 4), rel=1e-12)


def test_gradient_stretches_each_matte_like_mat2gray():
    step = np.zeros((8, 12))
    step[:, 6:] = 1.0
    trimap = np.full((8, 12), U, np.uint8)
    ramp = np.tile(np.linspace(0, 1, 12), (8, 1))
    # mat2gray maps 0.25 + 0.5 * step back to the step: the same error as the step itself (a port dividing by 255
    # instead would see half the gradient)
    assert gradient_error(0.25 + 0.5 * step, ramp, trimap) == pytest.approx(gradient_error(step, ramp, trimap),
                                                                             rel=1e-12)
    assert gradient_error(0.25 + 0.5 * step, step, trimap) == pytest.approx(0.0, abs=1e-20)
    # a constant matte has no gradient, whatever its value
    assert gradient_error(np.full((8, 12), 0.3), np.zeros((8, 12)), trimap) == 0.0
    assert gradient_error(step, ramp, trimap) > 0


def test_connectivity_hand_worked_4_connectivity():
    # alpha [[1, 1, 0], [0, 0, 1]], pred [[1, .65, 0], [0, 0, .35]], all unknown. Intersections (both >= t):
    # t = .1-.3: {(0,0), (0,1)} and {(1,2)} ((1,2) only touches (0,1) diagonally) -> largest is the pair, so the
    #            other pixels get l = 0 at t = .1;
    # t = .4-.6: the pair; t = .7: only (0,0) -> l(0,1) = .6; (0,0) stays to t = 1 -> l = 1.
    # d = a - l: pred (0,1) .05 (< .15: phi 1), alpha (0,1) .4 (phi .6): .4; pred (1,2) .35 (phi .65), alpha 1 (phi 0):
    # .65. Conn = 1.05 / 1000 (Octave: 0.00105). With 8-connectivity (1,2) would join the pair until t = .4
    # (l = .3: phi 1 vs .3) and the error would be 1.1 / 1000.
    pred = np.array([[1, 0.65, 0], [0, 0, 0.35]])
    alpha = np.array([[1, 1, 0], [0, 0, 1]], float)
    assert connectivity_error(pred, alpha, np.full((2, 3), U, np.uint8)) == pytest.approx(0.00105, abs=1e-15)
    known = np.full((2, 3), U, np.uint8)
    known[1, 2] = 255  # scored over the unknown region only: the .65 of (1, 2) drops out
    assert connectivity_error(pred, alpha, known) == pytest.approx(0.0004, abs=1e-15)


def test_connectivity_ties_go_to_the_first_component_in_column_major_order():
    # pred [[0, 0, .55], [1, 0, 0]], alpha [[0, 0, 1], [1, 0, 0]]: up to t = .5 two one-pixel components, X = (1, 0)
    # and Y = (0, 2). MATLAB's bwconncomp numbers X first (column-major), max() keeps the first: Y gets l = 0,
    # phi .45 vs 0 -> .45 / 1000 (Octave: 0.00045). Row-major order would keep Y (l = .5: phi 1 vs .5) -> .5 / 1000.
    pred = np.array([[0, 0, 0.55], [1, 0, 0]])
    alpha = np.array([[0, 0, 1], [1, 0, 0]], float)
    assert connectivity_error(pred, alpha, np.full((2, 3), U, np.uint8)) == pytest.approx(0.00045, abs=1e-15)


def test_connectivity_empty_intersection_and_threshold_ties():
    # pred .75 .75, alpha 1 1: connected up to t = .7, nothing reaches .8 in both. GCA-Matting's copy of the .m file
    # leaves both pixels at l = .7: phi 1 vs .7, 2 * .3 / 1000 (Octave: 0.0006; IndexNet's copy gives 0, the
    # original file fails)
    tri = np.full((1, 2), U, np.uint8)
    assert connectivity_error(np.array([[0.75, 0.75]]), np.ones((1, 2)), tri) == pytest.approx(0.0006, abs=1e-15)
    # 8-bit 153 = 0.6 exactly counts as reaching t = .6 (as MATLAB's single(153)/255): l = .6, phi 1 vs .6 ->
    # 0.8 / 1000 (Octave: 0.0008); missing the tie would give l = .5 and 1.0 / 1000
    u8 = np.array([[153, 153]], np.uint8), np.array([[255, 255]], np.uint8)
    assert connectivity_error(*u8, tri) == pytest.approx(0.0008, abs=1e-15)
    assert connectivity_error(*u8, tri) == pytest.approx(connectivity_error(u8[0] / 255, u8[1] / 255.0, tri))


def _octave_cases():
    """8-bit cases (16 x 20) built with integer arithmetic only; the same arrays were fed to Octave."""
    i, j = np.mgrid[0:16, 0:20]
    # A: a soft vertical edge with a comb of strands; 0 and 255 in both, values on the thresholds (51, 102, ...)
    t = np.clip((j - 5) * 17 + (i % 4) * 17, 0, 255)
    p = np.clip(t + (i * 7 + j * 13) % 61 - 30, 0, 255)
    p[6:9, 9:11] = 0
    tri = np.where(j < 4, 0, np.where(j > 15, 255, U))
    yield "A", p, t, tri
    # B: the prediction stays below 200 (empty intersections from threshold 0.8 on), no 0 either (mat2gray stretches)
    yield "B", np.clip(t * 3 // 4 + 10 + (i * j) % 11, 0, 200), t, tri
    # C: two blobs in the truth, the prediction splits one and adds an island; background larger than any blob
    r1, r2 = (i - 5) ** 2 + (j - 5) ** 2, (i - 10) ** 2 + (j - 14) ** 2
    t3 = np.clip(255 - 18 * np.minimum(r1, 2 * r2), 0, 255)
    p3 = t3.copy()
    p3[:, 13] = p3[:, 13] // 3
    p3[1:3, 16:19] = 200
    p3 = np.clip(p3 + (i + 2 * j) % 7 - 3, 0, 255)
    tri3 = np.where(t3 >= 250, 255, np.where(t3 == 0, 0, U))
    tri3[0, :] = U
    yield "C", p3, t3, tri3


# Octave 7.3 running DIM_evaluation_code/*.m (single precision: compare to 1e-6 relative)
_OCTAVE = {
    "A": {"sad": 0.01300784294, "mse": 0.009844531305, "grad": 0.005999520887, "conn": 0.008860784583},
    "B": {"sad": 0.0121450983, "mse": 0.005953559652, "grad": 0.0001200247643, "conn": 0.008900001645},
    "C": {"sad": 0.00241568638, "mse": 0.01055637933, "grad": 0.007649421692, "conn": 0.002262745285},
}
_OCTAVE_INDEXNET_CONN_B = 0.008566667326  # IndexNet's copy (``continue`` on an empty intersection)


@pytest.mark.parametrize("case", ["A", "B", "C"])
def test_matches_the_matlab_files_run_in_octave(case):
    p, t, tri = next((p, t, tri) for name, p, t, tri in _octave_cases() if name == case)
    ours = matting_errors(p.astype(np.uint8), t.astype(np.uint8), tri.astype(np.uint8))
    for key, value in _OCTAVE[case].items():
        assert ours[key] == pytest.approx(value, rel=1e-6), key
    # floats in [0, 1] give the same numbers as the 8-bit files
    floats = matting_errors(p / 255.0, t / 255.0, tri.astype(np.uint8))
    assert floats == pytest.approx(ours, rel=1e-12)
    if case == "B":
        assert abs(ours["conn"] - _OCTAVE_INDEXNET_CONN_B) > 1e-4  # the documented choice between the copies


def test_inputs_are_checked():
    a, tri = np.zeros((4, 5)), np.full((4, 5), U, np.uint8)
    with pytest.raises(ValueError, match="one size"):
        sad_error(np.zeros((4, 6)), a, tri)
    with pytest.raises(ValueError, match=r"0/128/255.*\[0, 100"):
        mse_error(a, a, np.array([[0, 100, 128, 255, 255]] * 4, np.uint8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        gradient_error(a + 1.5, a, tri)
    with pytest.raises(ValueError, match="single-channel"):
        connectivity_error(np.zeros((4, 5, 3)), a, tri)
    with pytest.raises(ValueError, match="0..255"):
        sad_error(np.full((4, 5), 300), a, tri)
    with pytest.raises(ValueError, match="only the integers 0 and 1"):  # a 0/1 mask is not an 8-bit matte
        sad_error(np.eye(4, 5, dtype=np.uint8), a, tri)
    with pytest.raises(ValueError, match="step"):
        connectivity_error(a, a, tri, step=0)
    # float trimaps 0 / 0.5 / 1 (the datasets' tensors) and [1, H, W] tensors are accepted
    trimap_f = torch.tensor([[[0.0, 0.5, 1.0]]])
    assert trimap_unknown(trimap_f).tolist() == [[False, True, False]]
    pred, alpha = torch.tensor([[[0.2, 0.4, 1.0]]]), torch.tensor([[[0.0, 0.0, 0.0]]])
    assert sad_error(pred, alpha, trimap_f) == pytest.approx(0.0004, abs=1e-9)  # only the middle pixel


def test_meter_keeps_per_image_values_and_averages():
    m = MattingMeter()
    assert math.isnan(m.compute()["sad"]) and m.compute()["images"] == 0
    rng = np.random.default_rng(0)
    cases = [(rng.random((12, 12)), rng.random((12, 12)), np.full((12, 12), U, np.uint8)) for _ in range(3)]
    for k, (p, a, t) in enumerate(cases):
        m.update(p, a, t, name=f"img{k}")
    expected = [{**matting_errors(*c), **whole_image_errors(c[0], c[1])} for c in cases]
    assert [r["name"] for r in m.per_image] == ["img0", "img1", "img2"]
    assert [{k: r[k] for k in MattingMeter.KEYS} for r in m.per_image] == expected
    r = m.compute()
    assert r["images"] == 3
    for key in MattingMeter.KEYS:
        assert r[key] == pytest.approx(np.mean([e[key] for e in expected]), rel=1e-12)
    # a batch of tensors [N, 1, H, W] with float trimaps; an image without unknown pixels has MSE NaN, left out
    m = MattingMeter()
    p = torch.tensor(np.stack([c[0] for c in cases[:2]]))[:, None]
    a = torch.tensor(np.stack([c[1] for c in cases[:2]]))[:, None]
    t = torch.full((2, 1, 12, 12), 0.5)
    t[1] = 1.0
    m.update(p, a, t, name=["x", "y"])
    assert math.isnan(m.per_image[1]["mse"]) and m.per_image[1]["sad"] == 0.0
    assert m.compute()["mse"] == pytest.approx(expected[0]["mse"], rel=1e-12)
    assert m.compute()["sad"] == pytest.approx(expected[0]["sad"] / 2, rel=1e-12)
    with pytest.raises(ValueError, match="batch sizes differ"):
        m.update(p, a[:1], t)
    assert mm.__all__ and "MattingMeter" in mm.__all__


def test_whole_image_errors_ignore_the_trimap():
    # MODNet's PPM-100 protocol: every pixel counts; 0.2 off on 2 of 8 pixels -> MSE 0.04 * 2 / 8, MAD 0.2 * 2 / 8
    alpha = np.zeros((2, 4))
    pred = alpha.copy()
    pred[0, :2] = 0.2
    assert whole_image_errors(pred, alpha) == pytest.approx({"mse_image": 0.01, "mad_image": 0.05})
    assert whole_image_errors(np.full((2, 4), 255, np.uint8), alpha) == {"mse_image": 1.0, "mad_image": 1.0}
    with pytest.raises(ValueError, match="one size"):
        whole_image_errors(pred, alpha[:, :3])
