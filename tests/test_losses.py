"""course_lib.losses: hand-written BCE, soft Dice and their sum, checked against torch and MONAI."""

import pytest
import torch
import torch.nn.functional as F

from course_lib.losses import BCEDiceLoss, bce_dice_loss, bce_loss, soft_dice_loss

monai_losses = pytest.importorskip("monai.losses", reason="MONAI is the oracle of the Dice tests")


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 1, 12, 10, generator=g) * 3
    target = (torch.rand(4, 12, 10, generator=g) > 0.6).long()
    target[1] = 0  # an image without object
    return logits, target


def test_bce_matches_torch(batch):
    logits, target = batch
    expected = F.binary_cross_entropy_with_logits(logits, target[:, None].float())
    assert bce_loss(logits, target).item() == pytest.approx(expected.item(), rel=1e-6)
    # logits without the channel axis and a float target [N, 1, H, W] are accepted too
    assert bce_loss(logits[:, 0], target.float()).item() == pytest.approx(expected.item(), rel=1e-6)
    weighted = F.binary_cross_entropy_with_logits(logits, target[:, None].float(), pos_weight=torch.tensor(3.0))
    assert bce_loss(logits, target, pos_weight=3.0).item() == pytest.approx(weighted.item(), rel=1e-6)


def test_bce_is_stable_for_huge_logits():
    logits = torch.tensor([[1000.0, -1000.0, 1000.0, -1000.0]], requires_grad=True)
    target = torch.tensor([[1, 0, 0, 1]])
    loss = bce_loss(logits, target)
    loss.backward()
    assert torch.isfinite(loss) and loss.item() == pytest.approx(500.0)  # two of four pixels wrong by 1000
    assert torch.isfinite(logits.grad).all()


def test_bce_valid_mask_equals_bce_on_the_valid_pixels(batch):
    logits, target = batch
    valid = torch.zeros_like(target, dtype=torch.bool)
    valid[:, :6] = True
    expected = F.binary_cross_entropy_with_logits(logits[:, 0][valid], target[valid].float())
    assert bce_loss(logits, target, valid=valid).item() == pytest.approx(expected.item(), rel=1e-6)


@pytest.mark.parametrize("per_image", [True, False])
@pytest.mark.parametrize("smooth", [1.0, 1e-5])
def test_soft_dice_matches_monai(batch, per_image, smooth):
    logits, target = batch
    oracle = monai_losses.DiceLoss(sigmoid=True, smooth_nr=smooth, smooth_dr=smooth, batch=not per_image)
    expected = oracle(logits, target[:, None].float())
    got = soft_dice_loss(logits, target, smooth=smooth, per_image=per_image)
    assert got.item() == pytest.approx(expected.item(), rel=1e-5, abs=1e-6)


def test_bce_dice_matches_monai_dice_ce(batch):
    logits, target = batch
    oracle = monai_losses.DiceCELoss(sigmoid=True, smooth_nr=1.0, smooth_dr=1.0, lambda_dice=0.7, lambda_ce=1.3)
    expected = oracle(logits, target[:, None].float())
    got = bce_dice_loss(logits, target, bce_weight=1.3, dice_weight=0.7, smooth=1.0)
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)
    assert BCEDiceLoss(1.3, 0.7)(logits, target).item() == pytest.approx(expected.item(), rel=1e-5)


def test_dice_known_values():
    # confident and right: 0; confident and completely wrong: close to 1
    target = torch.tensor([[1, 1, 0, 0]])
    right = torch.tensor([[30.0, 30.0, -30.0, -30.0]])
    assert soft_dice_loss(right, target).item() == pytest.approx(0.0, abs=1e-6)
    assert soft_dice_loss(-right, target, smooth=1e-6).item() == pytest.approx(1.0, abs=1e-4)
    # an empty target predicted empty scores a perfect 0 thanks to the smoothing
    assert soft_dice_loss(torch.full((1, 4), -30.0), torch.zeros(1, 4)).item() == pytest.approx(0.0, abs=1e-6)
    # p = 1/2 everywhere on 2 of 4 positive: 1 - (2 * 1 + 1) / (2 + 2 + 1)
    assert soft_dice_loss(torch.zeros(1, 4), target).item() == pytest.approx(1 - 3 / 5)


def test_gradients_match_autograd_numerics():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 1, 3, 3, dtype=torch.float64, generator=g, requires_grad=True)
    target = (torch.rand(2, 3, 3, generator=g) > 0.5).double()
    assert torch.autograd.gradcheck(lambda x: bce_dice_loss(x, target), (logits,))


def test_loss_decreases_when_optimised(batch):
    logits, target = batch
    x = torch.zeros_like(logits, requires_grad=True)
    opt = torch.optim.Adam([x], lr=0.3)
    first = None
    for _ in range(30):
        loss = bce_dice_loss(x, target)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.3 * first


def test_bad_inputs_are_clear():
    with pytest.raises(ValueError, match="do not match"):
        bce_loss(torch.zeros(2, 1, 4, 4), torch.zeros(2, 5, 4))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        soft_dice_loss(torch.zeros(1, 1, 2, 2), torch.full((1, 2, 2), 255))
    with pytest.raises(ValueError, match="weights"):
        BCEDiceLoss(bce_weight=0.0, dice_weight=0.0)
