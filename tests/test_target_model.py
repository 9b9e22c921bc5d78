"""Chapter 8's online target model (FRTM-VOS / LWL): the steepest-descent step against autograd and the closed-form
ridge solution, a fitted filter that separates target from background, and the frtm recipe end to end."""

from __future__ import annotations

import json

import pytest
import torch

from course_lib.models.target_model import TargetModel, balanced_pixel_weights, frtm_net, target_loss
from course_lib.recipes import FRTMConfig, frtm_segment, get_recipe
from course_lib.recipes.frtm import VideoPairs, memory_weights
from course_lib.score.davis import score_davis
from course_lib.synthetic.davis import write_sample_2016


def _problem(seed=0, n=2, c=5, h=6, w=7):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, h, w, generator=g, dtype=torch.float64)
    y = (torch.rand(n, 1, h, w, generator=g) > 0.6).double()
    return x, y


@pytest.mark.parametrize("k", [1, 3])
def test_gradient_matches_autograd(k):
    x, y = _problem()
    tm = TargetModel(channels=5, kernel_size=k, lam=0.05)
    tm.weight = torch.randn(1, 5, k, k, dtype=torch.float64)
    v, gw = balanced_pixel_weights(y).double(), torch.tensor([0.3, 0.7], dtype=torch.float64)
    w = tm.weight.clone().requires_grad_(True)
    (auto,) = torch.autograd.grad(target_loss(w, x, y, v, gw, tm.lam), w)
    torch.testing.assert_close(tm.gradient(x, y, v, gw), auto)


def test_step_length_is_the_exact_line_search():
    """The closed-form step minimises the loss along the negative gradient: any other length does worse."""
    x, y = _problem(1)
    tm = TargetModel(channels=5, kernel_size=3, lam=0.1)
    tm.weight = torch.randn(1, 5, 3, 3, dtype=torch.float64)
    v, gw = balanced_pixel_weights(y).double(), torch.full((2,), 0.5, dtype=torch.float64)
    w0, g = tm.weight.clone(), tm.gradient(x, y, v, gw)
    tm.step(x, y, v, gw)
    alpha = float(((w0 - tm.weight) / g).flatten()[g.flatten().abs().argmax()])
    best = target_loss(tm.weight, x, y, v, gw, tm.lam)
    for factor in (0.8, 0.95, 1.05, 1.25):
        assert target_loss(w0 - factor * alpha * g, x, y, v, gw, tm.lam) > best


def test_steepest_descent_reaches_the_ridge_solution():
    """1x1 filter: the minimiser solves (X^T G V^2 X / m + lam I) w = X^T G V^2 y / m (torch.linalg.solve)."""
    x, y = _problem(2, n=3, c=4, h=5, w=5)
    lam, m = 0.02, 25
    gw = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    v = balanced_pixel_weights(y).double()
    tm = TargetModel(channels=4, kernel_size=1, lam=lam)
    tm.weight = tm.weight.double()
    losses = tm.fit(x, y, iterations=300, sample_weights=gw)
    assert all(b <= a + 1e-12 for a, b in zip(losses[:-1], losses[1:], strict=True))  # monotone descent
    d = (v ** 2 * gw.view(-1, 1, 1, 1) / m).flatten()
    X = x.permute(0, 2, 3, 1).reshape(-1, 4)
    w_star = torch.linalg.solve(X.T @ (d[:, None] * X) + lam * torch.eye(4, dtype=torch.float64),
                                X.T @ (d * y.flatten()))
    torch.testing.assert_close(tm.weight.flatten(), w_star, atol=1e-6, rtol=1e-5)


def test_fitted_filter_separates_target_from_background():
    """Synthetic features: the target's pixels carry a direction the background lacks, under noise; ten steps on one
    frame give a score that ranks the target above the background on a new frame with the target moved."""
    g = torch.Generator().manual_seed(3)
    c, h, w = 16, 20, 24
    direction = torch.randn(c, 1, 1, generator=g)

    def frame(y0, x0):
        mask = torch.zeros(1, 1, h, w)
        mask[..., y0:y0 + 6, x0:x0 + 7] = 1
        return torch.randn(1, c, h, w, generator=g) + 1.5 * direction * mask, mask

    x0, m0 = frame(3, 4)
    x1, m1 = frame(10, 14)
    tm = TargetModel(channels=c, kernel_size=3, lam=1e-2)
    tm.fit(x0, m0, iterations=10)
    s = tm.score(x1)[0, 0]
    fg, bg = s[m1[0, 0] > 0], s[m1[0, 0] == 0]
    auc = (fg[:, None] > bg[None, :]).float().mean()
    assert auc > 0.95 and fg.mean() > 0.4 > bg.mean()


def test_memory_weights():
    assert memory_weights(1, 0.2).tolist() == [1.0]
    w = memory_weights(5, 0.2)
    assert w.sum().item() == pytest.approx(1) and w[0] == 0.5 and bool((w[2:] > w[1:-1]).all())


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return write_sample_2016(tmp_path_factory.mktemp("frtm"), sequences=2, length=(6, 7), width=64, height=48)


def test_online_segmentation_follows_a_moving_disc(one_thread, moving_disc):
    """An untrained decoder knows nothing, so the coarse score alone must follow the object: the fitted target
    model's score is higher inside the moving disc than outside on every later frame (random frozen backbone)."""
    torch.manual_seed(0)
    frames, labels = moving_disc(6, 48, 64, radius=10, step=4, grey=(60, 160))
    t, h, w = labels.shape
    net = frtm_net(pretrained=False, width=8)
    cfg = FRTMConfig(update_every=2, memory=3)
    out, scores, probs = frtm_segment(net, frames, labels[0], cfg, device="cpu", return_maps=True)
    assert out.shape == labels.shape and (out[0] == labels[0]).all()
    assert scores.shape[:2] == (t, 1) and probs.shape == (t, 1, h, w)
    small = torch.nn.functional.adaptive_avg_pool2d(torch.from_numpy(labels).float()[:, None], scores.shape[-2:])
    for k in range(1, t):
        s, m = scores[k, 0], small[k, 0]
        assert s[m > 0.5].mean() > s[m < 0.1].mean() + 0.3
    # the untrained decoder thresholds the score at 1/2: a coarse (stride 8, a 6 x 8 score map) but usable mask
    inter = ((out[1:] == 1) & (labels[1:] == 1)).sum()
    assert inter / ((out[1:] == 1) | (labels[1:] == 1)).sum() > 0.4


def test_video_pairs_give_episodes_of_one_object(sample):
    from course_lib.data.davis import DAVIS

    pairs = VideoPairs(DAVIS(sample, split="train").sequences, size=(32, 48), max_gap=3)
    (ref, ref_mask, test), test_mask = pairs[0]
    assert ref.shape == test.shape == (3, 32, 48) and ref_mask.shape == test_mask.shape == (32, 48)
    assert set(ref_mask.unique().tolist()) <= {0, 1, 255} and ref_mask.eq(1).any()


def test_frtm_recipe_trains_evaluates_and_scores_the_same(sample, tmp_path, monkeypatch, capsys, one_thread):
    from course_lib.evaluate import main

    monkeypatch.setenv("COURSE_WORK_DIR", str(tmp_path))
    recipe = get_recipe("frtm-davis2016")
    result = recipe.train(sample, overrides={"epochs": 1, "decoder_width": 8, "size": [48, 64],
                                             "pretrained_backbone": False}, out_dir=tmp_path / "run", progress=False)
    assert result.checkpoint.is_file() and 0 <= result.metrics["jf"] <= 1
    assert recipe.requires_checkpoint
    assert main(["frtm-davis2016", "--checkpoint", str(result.checkpoint), "--data-root", str(sample),
                 "--split", "val", "--no-progress"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    folder = recipe.results_dir("val")
    assert folder.is_relative_to(tmp_path) and len(list(folder.rglob("*.png"))) > 0
    scored = score_davis(sample, folder, split="val")
    assert scored.overall["J&F-Mean"] == pytest.approx(out["jf"], abs=1e-12)
