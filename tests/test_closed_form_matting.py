"""Closed-form matting (Levin et al., TPAMI 2008): the Laplacian by hand, its properties, alpha and F/B, and
``pymatting`` as the oracle (imported inside the tests only: its numba kernels compile on the first import, which
takes from 30 s to minutes on 2 cores, hence ``slow``)."""

import math

import numpy as np
import pytest
from scipy import ndimage

from course_lib.classical import closed_form_matting, estimate_foreground, matting_laplacian
from course_lib.metrics import trimap_codes


def _scene(h, w, seed=0):
    """A smooth foreground over a smooth background through a soft disc with hair-like spikes; trimap from alpha."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    fg = np.stack([0.8 + 0.1 * np.sin(9 * x), 0.3 + 0.2 * y, 0.2 + 0.1 * np.cos(7 * y)], -1)
    bg = np.stack([0.1 + 0.3 * x, 0.5 + 0.3 * np.sin(5 * y + 3 * x), 0.9 - 0.4 * x * y], -1)
    r = np.hypot(y - 0.5, x - 0.5)
    spikes = 0.3 * np.sin(40 * np.arctan2(y - 0.5, x - 0.5)) * (r > 0.22)
    alpha = np.clip((0.3 - r) / 0.08 + 0.5 + spikes, 0, 1)
    image = np.clip(alpha[..., None] * fg + (1 - alpha[..., None]) * bg + rng.normal(0, 0.005, (h, w, 3)), 0, 1)
    trimap = np.full((h, w), 128, np.uint8)
    band = max(2, h // 40)
    trimap[ndimage.binary_erosion(alpha >= 1, iterations=band)] = 255
    trimap[ndimage.binary_erosion(alpha <= 0, iterations=band)] = 0
    return image, alpha, trimap, fg


def test_laplacian_of_one_window_by_hand():
    # one 3 x 3 window whose colours vary in red only: v_i = i / 8 (i = 0..8), green = blue = 0.
    # mu = (1/2, 0, 0); Sigma = diag(s2, 0, 0) with s2 = mean (v - 1/2)^2 = 60/64/9 = 0.104167; the regularised
    # inverse is diag(1 / (s2 + eps/9), 9/eps, 9/eps) and the centred colours have no green/blue part, so
    # L_ij = delta_ij - (1 + (v_i - 1/2)(v_j - 1/2) / (s2 + eps / 9)) / 9.
    eps = 1e-7
    v = np.arange(9) / 8
    image = np.zeros((3, 3, 3))
    image[..., 0] = v.reshape(3, 3)
    s2 = ((v - 0.5) ** 2).mean()
    assert s2 == pytest.approx(60 / 64 / 9)
    expected = np.eye(9) - (1 + np.outer(v - 0.5, v - 0.5) / (s2 + eps / 9)) / 9
    L = matting_laplacian(image, eps=eps).toarray()
    np.testing.assert_allclose(L, expected, atol=1e-12)
    # e.g. the corners: L_00 = 1 - (1 + 0.25 / 0.104167) / 9 = 0.62222, L_08 = -(1 - 0.25 / 0.104167) / 9 = 0.15556
    assert L[0, 0] == pytest.approx(0.62222, abs=1e-5) and L[0, 8] == pytest.approx(0.15556, abs=1e-5)


def test_laplacian_properties_and_the_colour_line_model():
    rng = np.random.default_rng(1)
    image = rng.random((7, 8, 3))
    L = matting_laplacian(image)
    dense = L.toarray()
    np.testing.assert_allclose(dense, dense.T, atol=1e-10)  # symmetric
    np.testing.assert_allclose(dense.sum(1), 0, atol=1e-8)  # constants cost nothing
    assert np.linalg.eigvalsh(dense).min() > -1e-8  # positive semi-definite
    # the paper's claim: alpha = a^T I + b (an affine function of the colour) costs ~nothing (eps -> 0)
    affine = image.reshape(-1, 3) @ np.array([0.3, -0.5, 0.8]) + 0.1
    random_alpha = rng.random(56)
    assert affine @ L @ affine < 1e-5 * (random_alpha @ L @ random_alpha)
    # windows (2 r + 1)^2: radius 2 couples pixels up to 4 apart; a mask keeps only the chosen windows' entries
    assert matting_laplacian(image, radius=2)[0, 4 * 8 + 4] != 0 and L[0, 3 * 8 + 3] == 0
    only_centre = np.zeros((7, 8), bool)
    only_centre[3, 4] = True
    assert matting_laplacian(image, mask=only_centre).nnz == 81
    with pytest.raises(ValueError, match="RGB"):
        matting_laplacian(np.zeros((5, 5)))
    with pytest.raises(ValueError, match="mask"):
        matting_laplacian(image, mask=np.ones((3, 3), bool))


def test_closed_form_on_a_colour_line_image():
    # black left, white right, a ramp of greys between: on a colour line alpha is the grey level itself
    grey = np.clip((np.arange(12) - 3) / 5, 0, 1)
    image = np.repeat(np.tile(grey, (8, 1))[..., None], 3, axis=2)
    trimap = np.full((8, 12), 128, np.uint8)
    trimap[:, :2], trimap[:, -2:] = 0, 255
    for lam in (100.0, math.inf):
        alpha = closed_form_matting(image, trimap, lam=lam)
        assert alpha.dtype == np.float32 and alpha.shape == (8, 12)
        np.testing.assert_allclose(alpha, np.tile(grey, (8, 1)), atol=2e-3)
    # a dataset's float trimap (0 / 0.5 / 1) goes through trimap_codes first: the same alpha
    floats = np.where(trimap == 128, 0.5, trimap / 255.0)
    np.testing.assert_array_equal(closed_form_matting(image, trimap_codes(floats)), closed_form_matting(image, trimap))
    with pytest.raises(ValueError, match="differ in size"):
        closed_form_matting(image, trimap[:, :-1])
    with pytest.raises(ValueError, match=r"trimap holds values \[7\]"):
        closed_form_matting(image, np.full((8, 12), 7, np.uint8))
    with pytest.raises(ValueError, match="0 \\(background\\), 128"):
        closed_form_matting(image, floats)
    with pytest.raises(ValueError, match="lam"):
        closed_form_matting(image, trimap, lam=0)


def test_closed_form_recovers_a_composited_matte():
    image, alpha, trimap, _ = _scene(40, 40)
    unknown = trimap == 128
    estimate = closed_form_matting(image, trimap)
    assert np.abs(estimate - alpha)[unknown].mean() < 0.03  # the colour-line model holds for smooth F and B
    assert np.abs(0.5 - alpha)[unknown].mean() > 0.2  # ... while a flat guess is far off


def test_foreground_recomposes_the_image():
    image, alpha, _, fg_true = _scene(32, 32)
    fg, bg = estimate_foreground(image, alpha)
    assert fg.shape == bg.shape == image.shape and fg.dtype == np.float32
    recomposed = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
    assert np.abs(recomposed - image).mean() < 5e-3
    seen = alpha > 0.1
    assert np.abs(fg - fg_true)[seen].mean() < 0.02  # the true foreground, where it shows
    assert np.abs(image - fg_true)[seen].mean() > 0.05  # the image itself is not (it mixes in the background)
    with pytest.raises(ValueError, match="differ in size"):
        estimate_foreground(image, alpha[:-1])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        estimate_foreground(image, alpha + 1)


@pytest.fixture(scope="module")
def pymatting():
    return pytest.importorskip("pymatting")


@pytest.mark.slow
def test_laplacian_matches_pymatting(pymatting):
    image, _, trimap, _ = _scene(24, 30)
    ours = matting_laplacian(image)
    oracle = pymatting.cf_laplacian(image, epsilon=1e-7, radius=1)
    assert abs(ours - oracle).max() < 1e-9
    # windows of known pixels only skipped: our mask = windows touching an unknown pixel
    known = trimap != 128
    touching = ndimage.binary_dilation(~known, structure=np.ones((3, 3), bool))
    oracle = pymatting.cf_laplacian(image, epsilon=1e-7, radius=1, is_known=known)
    assert abs(matting_laplacian(image, mask=touching) - oracle).max() < 1e-9


@pytest.mark.slow
def test_alpha_matches_pymatting(pymatting):
    image, alpha, trimap, _ = _scene(24, 30)
    oracle = pymatting.estimate_alpha_cf(image, trimap / 255.0)  # hard constraints, ichol-preconditioned CG
    np.testing.assert_allclose(closed_form_matting(image, trimap, lam=math.inf), oracle, atol=1e-5)
    soft = closed_form_matting(image, trimap)  # Levin's lam = 100: known pixels may move a little
    assert np.abs(soft - oracle).max() < 5e-3 and np.abs(soft - oracle).max() > 0


@pytest.mark.slow
def test_foreground_matches_pymatting(pymatting):
    image, alpha, _, fg_true = _scene(24, 30)
    # pymatting's closed-form foreground counts each neighbour pair twice; solved to convergence it is our system
    fg_o, bg_o = pymatting.estimate_foreground_cf(image, alpha, return_background=True, rtol=1e-12,
                                                  cg_kwargs={"maxiter": 100000})
    fg, bg = estimate_foreground(image, alpha, regularization=2e-5, gradient_weight=2.0)
    np.testing.assert_allclose(fg, fg_o, atol=1e-5)
    np.testing.assert_allclose(bg, bg_o, atol=1e-5)
    # the multi-level method (Germer et al.) is another estimator: close where the object shows
    fg_ml = pymatting.estimate_foreground_ml(image, alpha)
    fg, _ = estimate_foreground(image, alpha)
    seen = alpha > 0.05
    assert np.abs(fg - fg_ml)[seen].mean() < 0.01
    assert np.abs(fg - fg_true)[seen].mean() < 0.02 and np.abs(fg_ml - fg_true)[seen].mean() < 0.02
