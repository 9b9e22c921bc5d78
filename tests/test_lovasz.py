"""Chapter 4: the hand-written Lovász-softmax against a brute force over sets, the convex closure and smp."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from course_lib.losses.lovasz import jaccard_set_loss, lovasz_grad, lovasz_softmax, lovasz_softmax_flat


def _brute_extension(errors: torch.Tensor, fg: torch.Tensor) -> float:
    """The Lovász extension as an integral over thresholds: ``int_0^1 Delta({i: m_i >= t}) dt``, level set by set."""
    values = sorted({float(v) for v in errors} | {0.0}, reverse=True)
    total = 0.0
    for high, low in itertools.pairwise(values):
        level = errors >= high
        total += (high - low) * float(jaccard_set_loss(level, fg.bool()))
    return total


def _brute_loss(probas: torch.Tensor, labels: torch.Tensor) -> float:
    losses = []
    for c in range(probas.shape[1]):
        fg = labels == c
        if fg.any():
            losses.append(_brute_extension((fg.float() - probas[:, c]).abs(), fg))
    return float(np.mean(losses))


def test_lovasz_grad_is_the_increment_of_the_jaccard_loss():
    gt = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0])
    fg = gt.bool()
    by_set = [float(jaccard_set_loss(torch.arange(5) < i, fg)) for i in range(6)]
    np.testing.assert_allclose(lovasz_grad(gt).numpy(), np.diff(by_set), rtol=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_equals_the_brute_force_extension_on_small_cases(seed):
    g = torch.Generator().manual_seed(seed)
    probas = torch.softmax(torch.randn(7, 3, generator=g) * 2, 1)
    labels = torch.randint(0, 3, (7,), generator=g)
    assert float(lovasz_softmax_flat(probas, labels)) == pytest.approx(_brute_loss(probas, labels), abs=1e-6)


def test_hard_predictions_give_one_minus_iou():
    """At the corners of the cube the extension is the Jaccard loss itself: mean over present classes of 1 - IoU."""
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 2])
    pred = torch.tensor([0, 1, 1, 1, 2, 0, 2])
    probas = torch.nn.functional.one_hot(pred, 3).float()
    ious = [((pred == c) & (labels == c)).sum() / ((pred == c) | (labels == c)).sum() for c in range(3)]
    assert float(lovasz_softmax_flat(probas, labels)) == pytest.approx(float(1 - torch.stack(ious).mean()))


def test_is_the_convex_closure_of_the_jaccard_loss():
    """Submodular Jaccard loss: the extension at m is the least mixture of set losses whose mixture of sets is m."""
    from scipy.optimize import linprog

    fg = torch.tensor([True, True, False, True, False])
    m = torch.tensor([0.9, 0.2, 0.6, 0.0, 0.3])
    subsets = list(itertools.product([0, 1], repeat=5))
    cost = [float(jaccard_set_loss(torch.tensor(s).bool(), fg)) for s in subsets]
    a_eq = np.vstack([np.array(subsets, float).T, np.ones(len(subsets))])
    best = linprog(cost, A_eq=a_eq, b_eq=np.r_[m.numpy(), 1.0], bounds=(0, None)).fun
    assert _brute_extension(m, fg) == pytest.approx(best, abs=1e-6)
    p0 = torch.where(fg, 1 - m, m)[:, None]  # one class whose per-pixel error |[y = 0] - p0| is m
    assert float(lovasz_softmax_flat(p0, torch.where(fg, 0, 1))) == pytest.approx(best, abs=1e-6)


def test_matches_segmentation_models_pytorch_with_void():
    smp_losses = pytest.importorskip("segmentation_models_pytorch.losses")
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 6, 7, generator=g, requires_grad=True)
    labels = torch.randint(0, 5, (2, 6, 7), generator=g)
    labels[0, :2] = 255
    ours = lovasz_softmax(logits, labels, ignore_index=255)
    theirs = smp_losses.LovaszLoss("multiclass", ignore_index=255)(logits, labels)
    assert float(ours.detach()) == pytest.approx(float(theirs.detach()), abs=1e-5)
    per_image = lovasz_softmax(logits, labels, per_image=True)
    theirs_pi = smp_losses.LovaszLoss("multiclass", per_image=True, ignore_index=255)(logits, labels)
    assert float(per_image.detach()) == pytest.approx(float(theirs_pi.detach()), abs=1e-5)
    ours.backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all() and logits.grad[0, :, :2].abs().sum() == 0


def test_shapes_are_checked_and_all_void_is_zero():
    with pytest.raises(ValueError, match="expected logits"):
        lovasz_softmax(torch.zeros(1, 3, 4, 4), torch.zeros(1, 4, 5, dtype=torch.long))
    logits = torch.zeros(1, 3, 2, 2, requires_grad=True)
    loss = lovasz_softmax(logits, torch.full((1, 2, 2), 255))
    assert float(loss.detach()) == 0.0 and loss.requires_grad
