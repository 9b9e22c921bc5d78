"""The 3D U-Net (the shared UNet with spatial_dims=3), the region loss and the unet3d-brats recipe end to end."""

import json

import pytest
import torch
from torch import nn

from course_lib.models.blocks import DoubleConv
from course_lib.models.unet import UNet
from course_lib.recipes import get_recipe
from course_lib.recipes.brats import (
    check_patch,
    predict_volume,
    region_loss,
    saved_activation_bytes,
    training_memory_estimate,
)

TINY = ["--set", "width=4", "--set", "depth=2", "--set", "patch_size=16", "--set", "samples_per_case=2",
        "--set", "downsample=2", "--set", "batch_size=2"]


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from course_lib.data import brats

    root = tmp_path_factory.mktemp("brats_u3d")
    brats.write_sample(root, n_cases=3, size=32, seed=2)
    return root


def test_unet3d_shapes_gradients_and_shared_blocks():
    model = UNet(4, 3, spatial_dims=3, width=4, depth=2, norm="instance")
    x = torch.randn(2, 4, 16, 24, 8)
    y = model(x)
    assert y.shape == (2, 3, 16, 24, 8)
    y.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    assert isinstance(model.stem, DoubleConv) and isinstance(model.stem[0][0], nn.Conv3d)
    with pytest.raises(ValueError, match=r"\[N, C, D, H, W\]"):
        model(torch.randn(1, 4, 16, 16))
    with pytest.raises(ValueError, match="divisible"):
        model(torch.randn(1, 4, 16, 16, 10))


def test_3d_weights_are_the_2d_ones_with_one_more_kernel_axis():
    """Same channels: every 3x3 convolution has 3x as many weights in 3-D (27 vs 9), every 2x2 up-convolution 2x."""
    m2 = UNet(4, 3, spatial_dims=2, width=8, depth=3)
    m3 = UNet(4, 3, spatial_dims=3, width=8, depth=3)

    def weights(model, kind):
        return sum(m.weight.numel() for m in model.modules() if isinstance(m, kind))

    assert weights(m3, nn.Conv3d) - 3 * (weights(m2, nn.Conv2d) - 8 * 3) == 8 * 3  # the 1x1 head stays the same
    assert weights(m3, nn.ConvTranspose3d) == 2 * weights(m2, nn.ConvTranspose2d)


def test_region_loss_matches_monai_dice_plus_bce():
    losses = pytest.importorskip("monai.losses")
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 6, 6, 6, requires_grad=True)
    target = (torch.rand(2, 3, 6, 6, 6) > 0.7).float()
    target[:, 2] = 0  # a region absent from the whole batch
    ours = region_loss(logits, target)
    dice = losses.DiceLoss(sigmoid=True, batch=True, smooth_nr=1.0, smooth_dr=1.0)(logits, target)
    bce = nn.functional.binary_cross_entropy_with_logits(logits, target)
    torch.testing.assert_close(ours, dice + bce)
    ours.backward()
    assert torch.isfinite(logits.grad).all()


def test_region_loss_soft_targets_and_errors():
    perfect = region_loss(torch.full((1, 3, 4, 4, 4), 30.0), torch.ones(1, 3, 4, 4, 4))
    assert perfect < 1e-6
    soft = region_loss(torch.zeros(1, 3, 4, 4, 4), torch.full((1, 3, 4, 4, 4), 0.5))
    assert torch.isfinite(soft)
    with pytest.raises(ValueError, match="same shape"):
        region_loss(torch.zeros(1, 3, 4, 4, 4), torch.zeros(1, 2, 4, 4, 4))


def test_activation_memory_grows_with_the_voxel_count():
    model = UNet(4, 3, spatial_dims=3, width=4, depth=2, norm="instance")
    small = saved_activation_bytes(model, (1, 4, 8, 8, 8))
    large = saved_activation_bytes(model, (1, 4, 16, 16, 16))
    assert 7.0 < large / small < 8.5
    half = saved_activation_bytes(model, (1, 4, 16, 16, 16), dtype=torch.bfloat16)
    assert half < large
    est = training_memory_estimate(model, patch=64, batch=2, probe=16)
    assert est["activations"] == pytest.approx(2 * 4**3 * saved_activation_bytes(model, (1, 4, 16, 16, 16),
                                                                                    torch.bfloat16) / 1024**3)


def test_recipe_profiles_and_model():
    recipe = get_recipe("unet3d-brats")
    quick, full = recipe.hparams("quick"), recipe.hparams("full")
    assert full["patch_size"] == 128 and full["amp"] and full["downsample"] == 1
    assert quick["patch_size"] * quick["downsample"] <= 128
    model = recipe.build_model(full)
    assert isinstance(model, UNet) and model.spatial_dims == 3 and model.channels[-1] == 512
    check_patch(full)
    with pytest.raises(ValueError, match="divisible"):
        check_patch({**quick, "patch_size": 20})


def test_predict_volume_handles_sizes_not_divisible_by_the_downsampling():
    model = UNet(4, 3, spatial_dims=3, width=4, depth=2).eval()
    image = torch.randn(4, 21, 17, 30)
    probs = predict_volume(model, image, {"downsample": 2, "patch_size": 8, "overlap": 0.5})
    assert probs.shape == (3, 21, 17, 30) and probs.min() >= 0 and probs.max() <= 1


def test_cli_trains_and_evaluates_on_the_sample(sample, tmp_path, capsys):
    from course_lib import evaluate, train

    out = tmp_path / "run"
    argv = ["unet3d-brats", "--data-root", str(sample), "--profile", "quick", "--epochs", "1", "--out", str(out),
            "--no-progress", "--set", f"cache_dir={tmp_path / 'cache'}", "--set", "hd95=true", *TINY]
    assert train.main(argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["recipe"] == "unet3d-brats" and summary["epochs"] == 1
    for key in ("val_dice_wt", "val_dice_tc", "val_dice_et", "val_dice", "val_hd95_wt"):
        assert 0.0 <= summary[key] <= (1.0 if "dice" in key else 400.0)
    assert any((tmp_path / "cache").glob("*.image.npy"))
    assert evaluate.main(["unet3d-brats", "--checkpoint", str(out / "last.pt"), "--data-root", str(sample),
                          "--split", "val", "--no-progress"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["dice_wt"] == pytest.approx(summary["val_dice_wt"], abs=1e-6)
