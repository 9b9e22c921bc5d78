"""The 3D U-Net (the shared UNet with spatial_dims=3), the region loss and the unet3d-brats recipe end to end."""

import dataclasses
import json

import pytest
import torch
from torch import nn

from course_lib.losses import region_loss
from course_lib.models.blocks import DoubleConv
from course_lib.models.unet import UNet
from course_lib.recipes import get_recipe
from course_lib.recipes.brats import (
    BratsConfig,
    check_patch,
    predict_volume,
    saved_activation_bytes,
    training_memory_estimate,
)

TINY = ["--set", "width=4", "--set", "depth=2", "--set", "patch_size=16", "--set", "samples_per_case=2",
        "--set", "downsample=2", "--set", "batch_size=2"]


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from course_lib.synthetic.brats import write_sample

    root = tmp_path_factory.mktemp("brats_u3d")
    write_sample(root, n_cases=3, size=32, seed=2)
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
    quick, full = recipe.config("quick"), recipe.config("full")
    assert full.patch_size == 128 and full.amp and full.downsample == 1
    assert quick.patch_size * quick.downsample <= 128
    model = recipe.build_model(full)
    assert isinstance(model, UNet) and model.spatial_dims == 3 and model.channels[-1] == 512
    check_patch(full)
    with pytest.raises(ValueError, match="divisible"):
        check_patch(dataclasses.replace(quick, patch_size=20))


def test_recipe_settings_are_typed_and_unchanged():
    """The quick and full settings, field by field, as they were before the settings became a dataclass."""
    recipe = get_recipe("unet3d-brats")
    quick, full = recipe.config("quick"), recipe.config("full")
    assert isinstance(quick, BratsConfig) and isinstance(full, BratsConfig)
    shared = {"seed": 0, "split_seed": 0, "val_fraction": 0.2, "val_cases": None, "cache_dir": "auto", "margin": 2,
              "norm": "instance", "upsample": "transpose", "dropout": 0.0, "bce_weight": 1.0,
              "dice_weight": 1.0, "overlap": 0.5, "blend": "gaussian", "threshold": 0.5, "amp": True,
              "grad_clip": 12.0, "weight_decay": 1e-5, "eval_batch_size": 1, "momentum": 0.9, "bias_lr_mult": 1.0}
    expected_quick = {**shared, "width": 8, "depth": 3, "patch_size": 32, "downsample": 3, "batch_size": 2,
                      "samples_per_case": 8, "epochs": 6, "optimizer": "adam", "lr": 3e-3, "schedule": "poly",
                      "sw_batch_size": 2, "num_workers": 0, "max_items": 16, "max_eval_items": 4, "hd95": False,
                      "foreground_ratio": 0.5, "val_every": 1,
                      # the augmentation for few training cases (issue 10), measured in results/ch03.yaml
                      "intensity_aug": 0.2, "gamma_aug": 0.3, "zoom_out": 0.5, "rim_ratio": 0.3}
    expected_full = {**shared, "width": 32, "depth": 4, "patch_size": 128, "downsample": 1, "batch_size": 2,
                     "samples_per_case": 1, "epochs": 300, "optimizer": "adamw", "lr": 3e-4, "schedule": "cosine",
                     "sw_batch_size": 4, "num_workers": 8, "max_items": None, "max_eval_items": 50, "hd95": True,
                     "intensity_aug": 0.1, "gamma_aug": 0.0, "zoom_out": 0.0, "rim_ratio": 0.0,
                     "foreground_ratio": 0.33, "val_every": 10}
    for cfg, expected in ((quick, expected_quick), (full, expected_full)):
        assert {k: getattr(cfg, k) for k in expected} == expected
    # overrides are checked against the fields: typed, and unknown keys are errors
    cfg = recipe.config("quick", {"val_cases": ["BraTS2021_00003"], "patch_size": "16", "cache_dir": None})
    assert cfg.val_cases == ("BraTS2021_00003",) and cfg.patch_size == 16 and recipe.cache_dir(cfg) is None
    with pytest.raises(KeyError, match="max_cases"):
        recipe.config("quick", {"max_cases": 2})
    with pytest.raises(TypeError, match="hd95"):
        recipe.config("quick", {"hd95": "sometimes"})


def test_predict_volume_handles_sizes_not_divisible_by_the_downsampling():
    model = UNet(4, 3, spatial_dims=3, width=4, depth=2).eval()
    image = torch.randn(4, 21, 17, 30)
    probs = predict_volume(model, image, BratsConfig(downsample=2, patch_size=8, overlap=0.5))
    assert probs.shape == (3, 21, 17, 30) and probs.min() >= 0 and probs.max() <= 1


def test_predict_volume_restores_the_mode_and_matches_the_plain_windows():
    from course_lib.inference import sliding_window_inference

    model = UNet(4, 3, spatial_dims=3, width=4, depth=2).train()
    image = torch.randn(4, 16, 12, 20)
    cfg = BratsConfig(downsample=1, patch_size=8, overlap=0.5, blend="constant", sw_batch_size=3)
    probs = predict_volume(model, image, cfg)
    assert model.training and not probs.requires_grad
    model.eval()
    with torch.no_grad():
        expected = torch.sigmoid(sliding_window_inference(image[None], 8, model, overlap=0.5, mode="constant")[0])
    torch.testing.assert_close(probs, expected)


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
    assert any((tmp_path / "cache").rglob("*.image-*.npy"))
    assert evaluate.main(["unet3d-brats", "--checkpoint", str(out / "last.pt"), "--data-root", str(sample),
                          "--split", "val", "--no-progress"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["dice_wt"] == pytest.approx(summary["val_dice_wt"], abs=1e-6)
