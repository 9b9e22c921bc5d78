"""Deep Image Matting and MODNet (Chapter 2): shapes, parameter counts against the papers' networks, gradients,
unpooling with the encoder's indices, ImageNet weights with a zero-initialised trimap channel; the matting losses
against hand-computed values, their gradients, and MODNet's blur against SciPy."""

import math

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from course_lib.losses import (
    DIMLoss,
    MODNetLoss,
    alpha_prediction_loss,
    compositional_loss,
    modnet_blur_kernel,
    modnet_semantic_target,
    unknown_mask,
)
from course_lib.models import DeepImageMatting, MODNet, count_parameters, dim_vgg16, modnet
from course_lib.models.modnet import IBNorm, SEBlock

QUICK_DIM = {"width": 8, "fc6_channels": 16, "batch_norm": True}
QUICK_MODNET = {"width_mult": 0.25, "hr_channels": 8}


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: one torch thread (tests/conftest.py)


def _trimap(n=2, h=64, w=64):
    t = torch.full((n, 1, h, w), 0.5)
    t[..., : h // 4, :] = 0.0
    t[..., -h // 4:, :] = 1.0
    return t


# ------------------------------------------------------------------------------------------------ DIM
def test_dim_shapes_ranges_and_the_four_channel_form():
    torch.manual_seed(0)
    model = dim_vgg16(**QUICK_DIM).eval()
    image, trimap = torch.rand(2, 3, 64, 96), _trimap(2, 64, 96)
    out = model(image, trimap)
    assert set(out) == {"alpha_raw", "alpha"}
    for v in out.values():
        assert v.shape == (2, 1, 64, 96) and 0.0 <= v.min() and v.max() <= 1.0
    # the training loop passes one [N, 4, H, W] tensor: the same network, the same result
    assert torch.equal(model(torch.cat([image, trimap], 1))["alpha"], out["alpha"])
    with pytest.raises(ValueError, match=r"\[N, 4, H, W\]"):
        model(image)
    with pytest.raises(ValueError, match="trimap"):
        model(image, trimap[..., :32])


def test_dim_parameter_count_is_the_papers_network():
    with torch.device("meta"):
        model = DeepImageMatting()
        vgg = torchvision.models.vgg16().features
    encoder = count_parameters(vgg) + 64 * 9  # VGG16's 13 convs + the trimap channel of the first one
    fc6 = 512 * 7 * 7 * 4096 + 4096
    decoder = (4096 * 512 + 512) + sum(25 * a * b + b for a, b in ((512, 512), (512, 256), (256, 128), (128, 64),
                                                                   (64, 64))) + (25 * 64 + 1)
    refine = (4 * 9 * 64 + 64) + 2 * (64 * 9 * 64 + 64) + (64 * 9 + 1)
    assert count_parameters(model) == encoder + fc6 + decoder + refine
    assert 130e6 < count_parameters(model) < 131e6  # 130.6 M, as reported for DIM
    assert model.fc6.kernel_size == (7, 7) and model.fc6.out_channels == 4096
    assert [m.kernel_size for m in (model.deconv5[0], model.deconv1[0], model.pred)] == [(5, 5)] * 3


def test_dim_refinement_starts_as_identity_and_can_be_left_out():
    torch.manual_seed(0)
    image, trimap = torch.rand(1, 3, 32, 32), _trimap(1, 32, 32)
    out = dim_vgg16(**QUICK_DIM).eval()(image, trimap)
    assert torch.equal(out["alpha"], out["alpha_raw"])  # zero residual at initialisation
    plain = dim_vgg16(refine=False, **QUICK_DIM).eval()
    assert plain.refine is None
    out = plain(image, trimap)
    assert out["alpha"] is out["alpha_raw"]


def test_dim_unpooling_puts_values_back_at_the_encoders_argmax():
    torch.manual_seed(0)
    model = dim_vgg16(**QUICK_DIM).eval()
    calls = []
    model.unpool.register_forward_hook(lambda m, args, out: calls.append((args[0], args[1], out)))
    with torch.no_grad():
        model(torch.rand(1, 3, 64, 64), _trimap(1))
    assert len(calls) == 5  # one per pooling, coarsest first
    sizes = [tuple(out.shape[-2:]) for _, _, out in calls]
    assert sizes == [(4, 4), (8, 8), (16, 16), (32, 32), (64, 64)]
    for x, idx, out in calls:
        flat = out.flatten(2)
        assert torch.equal(flat.gather(2, idx.flatten(2)), x.flatten(2))  # each value sits at its argmax
        placed = torch.zeros_like(flat, dtype=torch.bool).scatter_(2, idx.flatten(2), True)
        assert not flat[~placed].any()  # and nothing anywhere else
    # the decoder depends on the indices: other indices, another matte
    with torch.no_grad():
        h, indices, sizes = model.encode(torch.cat([torch.rand(1, 3, 64, 64), _trimap(1)], 1))
        a = model.decode(h, indices, sizes)
        b = model.decode(h, [i ^ 1 for i in indices], sizes)  # the neighbouring column of each argmax
    assert not torch.allclose(a, b)


def test_dim_gradients_reach_every_layer():
    torch.manual_seed(0)
    model = dim_vgg16(**QUICK_DIM)
    image, trimap, alpha = torch.rand(2, 3, 64, 64), _trimap(), torch.rand(2, 1, 64, 64)
    out = model(image, trimap)
    DIMLoss()(out, {"alpha": alpha, "trimap": trimap, "image": image, "fg": torch.rand_like(image),
                    "bg": torch.rand_like(image)}).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing
    first = model.features[0].weight.grad
    assert first[:, 3].abs().sum() > 0  # the trimap channel learns
    assert model.refine[-1].weight.grad.abs().sum() > 0 and model.pred.weight.grad.abs().sum() > 0


def _fake_vgg16_state():
    """torchvision's VGG16 ``features`` layout with random weights (no classifier: 59 MB, not 528)."""
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(1)
    return {f"features.{k}": v for k, v in make_layers(cfgs["D"]).state_dict().items()}


def test_dim_imagenet_weights_from_a_local_file_zero_the_trimap_channel(tmp_path):
    state = _fake_vgg16_state()
    path = tmp_path / "vgg16-397923af.pth"  # torchvision's file name, as found in a weights folder
    torch.save(state, path)
    model = dim_vgg16(weights=path, fc6_channels=64)
    assert model.backbone_source == str(path)
    first = model.features[0].weight
    assert first.shape == (64, 4, 3, 3)
    assert torch.equal(first[:, :3], state["features.0.weight"]) and not first[:, 3].any()
    assert torch.equal(model.features[28].weight, state["features.28.weight"])  # conv5_3
    # weights="imagenet" finds the same file in a weights folder before asking torchvision
    found = dim_vgg16(weights="imagenet", weight_folders=[tmp_path], fc6_channels=64)
    assert found.backbone_source == str(path) and not found.features[0].weight[:, 3].any()
    # wrong files and narrow networks are errors that say so
    (tmp_path / "junk.pth").write_bytes(b"not a state dict")
    with pytest.raises(ValueError, match="junk.pth"):
        dim_vgg16(weights=tmp_path / "junk.pth", fc6_channels=64)
    with pytest.raises(ValueError, match="width=64"):
        dim_vgg16(weights=path, width=8)


def test_dim_imagenet_weights_offline_fall_back_with_a_message(monkeypatch, capsys, tmp_path):
    import course_lib.models.vgg as vgg  # where dim_vgg16 asks torchvision's weight API (vgg16_weight_source)

    monkeypatch.setattr(vgg, "torchvision_vgg16_state", lambda batch_norm=False: (None, "offline (test)"))
    model = dim_vgg16(weights="imagenet", weight_folders=[tmp_path], width=64, fc6_channels=16)
    assert model.backbone_source is None and "offline (test)" in capsys.readouterr().out
    assert model.features[0].weight[:, 3].abs().sum() > 0  # nothing loaded: random initialisation throughout


def test_dim_builder_downloads_nothing_by_default(monkeypatch):
    import course_lib.models.vgg as vgg

    def boom(*args, **kwargs):
        raise AssertionError("the default builder must not ask for weights")

    monkeypatch.setattr(vgg, "torchvision_vgg16_state", boom)
    assert dim_vgg16(**QUICK_DIM).backbone_source is None


# ------------------------------------------------------------------------------------------------ MODNet
def test_modnet_branch_resolutions():
    torch.manual_seed(0)
    model = modnet(**QUICK_MODNET).eval()
    out = model(torch.rand(2, 3, 64, 96))
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "semantic": (2, 1, 4, 6), "detail": (2, 1, 64, 96), "alpha": (2, 1, 64, 96)}
    assert all(0 <= v.min() and v.max() <= 1 for v in out.values())
    assert model(torch.rand(1, 3, 50, 70))["alpha"].shape == (1, 1, 50, 70)  # not a multiple of 32: still the size
    with pytest.raises(ValueError, match=r"\[N, 3, H, W\]"):
        model(torch.rand(1, 4, 32, 32))


def test_modnet_parameter_count_and_backbone():
    with torch.device("meta"):
        model = MODNet()
        mobilenet = torchvision.models.mobilenet_v2().features
    assert count_parameters(model.backbone) == count_parameters(mobilenet)
    # the official MODNet (MobileNetV2 + SE block + three branches, hr_channels 32) has 6,487,075 parameters
    assert count_parameters(model) == 6_487_075
    assert model.enc_channels == [16, 24, 32, 96, 1280]
    assert count_parameters(MODNet(**QUICK_MODNET)) < 0.5e6


def test_modnet_gradients_reach_all_three_branches():
    torch.manual_seed(0)
    model = modnet(**QUICK_MODNET)
    image, alpha = torch.rand(2, 3, 64, 64), torch.rand(2, 1, 64, 64)
    out = model(image)
    MODNetLoss()(out, {"alpha": alpha, "trimap": _trimap(), "image": image}).backward()
    assert not [n for n, p in model.named_parameters() if p.grad is None]
    for name in ("conv_lr", "conv_hr", "conv_f", "backbone"):  # semantic, detail, fusion, encoder
        grads = [p.grad.abs().sum() for n, p in model.named_parameters() if n.startswith(name)]
        assert sum(grads) > 0, name


def test_modnet_loads_a_torchvision_mobilenet_state_dict(tmp_path):
    torch.manual_seed(2)
    state = torchvision.models.mobilenet_v2().state_dict()
    torch.save(state, tmp_path / "mobilenet_v2.pth")
    model = modnet(weights=tmp_path / "mobilenet_v2.pth")
    assert model.backbone_source == str(tmp_path / "mobilenet_v2.pth")
    assert torch.equal(model.backbone[18][0].weight, state["features.18.0.weight"])
    with pytest.raises(ValueError, match="width_mult=1.0"):
        modnet(weights=tmp_path / "mobilenet_v2.pth", width_mult=0.5)
    with pytest.raises(ValueError, match="features"):
        modnet(weights={"classifier.1.weight": torch.zeros(1)})


def test_ibnorm_and_se_block_against_torch():
    torch.manual_seed(0)
    x = torch.randn(3, 6, 5, 4)
    norm = IBNorm(6).train()
    y = norm(x)
    assert torch.allclose(y[:, :3], F.batch_norm(x[:, :3], None, None, training=True), atol=1e-5)
    assert torch.allclose(y[:, 3:], F.instance_norm(x[:, 3:]), atol=1e-5)
    se = SEBlock(6, reduction=2)
    w1, w2 = se.fc[0].weight, se.fc[2].weight
    expected = x * torch.sigmoid(torch.relu(x.mean((2, 3)) @ w1.T) @ w2.T)[:, :, None, None]
    assert torch.allclose(se(x), expected, atol=1e-6)


# ------------------------------------------------------------------------------------------------ losses
def test_alpha_prediction_loss_by_hand_and_its_gradient():
    pred = torch.tensor([[[[0.2, 0.5], [0.9, 0.3]]]], requires_grad=True)
    gt = torch.tensor([[[[0.0, 0.5], [1.0, 0.3]]]])
    trimap = torch.tensor([[[[0.5, 0.5], [0.5, 1.0]]]])  # 3 unknown pixels
    loss = alpha_prediction_loss(pred, gt, unknown_mask(trimap))
    eps = 1e-6
    expected = (math.sqrt(0.04 + eps**2) + eps + math.sqrt(0.01 + eps**2)) / 3
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    # d/dp sqrt((p - g)^2 + eps^2) = (p - g) / sqrt(...): +-1 away from the target, 0 on it, 0 outside the mask
    assert torch.allclose(pred.grad, torch.tensor([[[[1 / 3, 0.0], [-1 / 3, 0.0]]]]), atol=1e-5)
    assert alpha_prediction_loss(gt, gt).item() == pytest.approx(eps)  # the Charbonnier floor
    with pytest.raises(ValueError, match="shape"):
        alpha_prediction_loss(pred, gt[..., :1])


def test_compositional_loss_by_hand():
    fg = torch.tensor([1.0, 0.0, 0.5]).view(1, 3, 1, 1).expand(1, 3, 1, 2)
    bg = torch.tensor([0.0, 1.0, 0.5]).view(1, 3, 1, 1).expand(1, 3, 1, 2)
    alpha = torch.tensor([[[[0.25, 1.0]]]])
    image = alpha * fg + (1 - alpha) * bg
    pred = torch.tensor([[[[0.75, 1.0]]]], requires_grad=True)
    loss = compositional_loss(pred, fg, bg, image, mask=torch.tensor([[[[1.0, 0.0]]]]))
    # pixel 1: composite (0.75, 0.25, 0.5) vs image (0.25, 0.75, 0.5): |diffs| 0.5, 0.5, 0 over 3 channels
    assert loss.item() == pytest.approx((0.5 + 0.5 + 1e-6) / 3, rel=1e-5)
    loss.backward()
    # d/da of |a (F - B) + B - I| summed over channels: (F - B) * sign = (1)(+1) + (-1)(-1) + 0 = 2, over 3 values
    assert pred.grad[0, 0, 0, 0].item() == pytest.approx(2 / 3, rel=1e-4) and pred.grad[0, 0, 0, 1] == 0
    assert compositional_loss(alpha, fg, bg, image).item() == pytest.approx(1e-6, abs=1e-7)


def test_dim_loss_weights_and_items_without_foreground():
    gt = torch.zeros(1, 1, 2, 2)
    trimap = torch.full((1, 1, 2, 2), 0.5)
    image = torch.full((1, 3, 2, 2), 0.2)
    fg, bg = torch.ones(1, 3, 2, 2), torch.full((1, 3, 2, 2), 0.2)  # I = 0 * F + 1 * B
    out = {"alpha_raw": torch.full((1, 1, 2, 2), 0.5), "alpha": torch.full((1, 1, 2, 2), 0.1)}
    loss = DIMLoss()
    value = loss(out, {"alpha": gt, "trimap": trimap, "image": image, "fg": fg, "bg": bg})
    # L_alpha 0.5, L_comp |0.5 * 1 + 0.5 * 0.2 - 0.2| = 0.4, refinement 0.1: 0.5 * 0.5 + 0.5 * 0.4 + 0.1
    assert value.item() == pytest.approx(0.55, abs=1e-5)
    assert set(loss.terms) == {"alpha", "comp", "refine"}
    portrait = loss(out, {"alpha": gt, "trimap": trimap, "image": image})  # no fg/bg: no compositional term
    assert portrait.item() == pytest.approx(0.5 + 0.1, abs=1e-5) and "comp" not in loss.terms
    assert DIMLoss(refine_weight=0)(out, {"alpha": gt, "trimap": trimap}).item() == pytest.approx(0.5, abs=1e-5)
    with pytest.raises(ValueError, match="w_l"):
        DIMLoss(alpha_weight=1.5)


def test_modnet_blur_matches_scipy_and_the_semantic_target():
    ndimage = pytest.importorskip("scipy.ndimage")
    import numpy as np

    impulse = np.zeros((3, 3))
    impulse[1, 1] = 1
    assert np.allclose(modnet_blur_kernel(3).numpy(), ndimage.gaussian_filter(impulse, 0.8), atol=1e-7)
    torch.manual_seed(0)
    alpha = torch.rand(1, 1, 64, 48)
    target = modnet_semantic_target(alpha, (4, 3))
    small = F.interpolate(alpha, size=(4, 3), mode="bilinear", align_corners=False)[0, 0].numpy()
    # MODNet's layer: reflection padding (scipy's "mirror") and a 3x3 correlation with the kernel
    expected = ndimage.correlate(small, modnet_blur_kernel(3).numpy().astype(np.float64), mode="mirror")
    assert np.allclose(target[0, 0].numpy(), expected, atol=1e-6)


def test_modnet_loss_terms_by_hand():
    gt = torch.zeros(1, 1, 32, 32)
    gt[..., 16:] = 1.0
    trimap = gt.clone()
    trimap[..., 14:18] = 0.5  # a 4-column band: 1/8 of the pixels
    pred = gt.clone()
    pred[..., 14:18] = 0.5  # wrong by 0.5 inside the band only
    semantic = modnet_semantic_target(gt, (2, 2))
    out = {"semantic": semantic, "detail": pred, "alpha": pred}
    loss = MODNetLoss(composition="none")
    value = loss(out, {"alpha": gt, "trimap": trimap, "image": torch.rand(1, 3, 32, 32)})
    band_error = 0.5 / 8  # mean over all pixels of band * |error|
    assert loss.terms["semantic"].item() == pytest.approx(0.0, abs=1e-12)
    assert loss.terms["detail"].item() == pytest.approx(band_error)
    assert loss.terms["fusion"].item() == pytest.approx(band_error + 4 * band_error)  # L1 + 4 x band L1
    assert value.item() == pytest.approx(10 * band_error + 1 * 5 * band_error)
    # with the true foreground and background the compositional term appears; the official variant needs neither
    fg, bg = torch.ones(1, 3, 32, 32), torch.zeros(1, 3, 32, 32)
    image = gt * fg + (1 - gt) * bg
    both = MODNetLoss()
    both(out, {"alpha": gt, "trimap": trimap, "image": image, "fg": fg, "bg": bg})
    assert both.terms["comp"].item() == pytest.approx(5 * band_error)
    portrait = MODNetLoss()
    portrait(out, {"alpha": gt, "trimap": trimap, "image": image})
    assert "comp" not in portrait.terms
    official = MODNetLoss(composition="image")
    official(out, {"alpha": gt, "trimap": trimap, "image": image})
    assert "comp" in official.terms
    with pytest.raises(ValueError, match="composition"):
        MODNetLoss(composition="fg")


def test_modnet_loss_gradient_flows_to_each_output():
    outputs = {k: torch.full(s, 0.3, requires_grad=True) for k, s in
               (("semantic", (1, 1, 2, 2)), ("detail", (1, 1, 32, 32)), ("alpha", (1, 1, 32, 32)))}
    MODNetLoss()(outputs, {"alpha": torch.ones(1, 1, 32, 32), "trimap": torch.full((1, 1, 32, 32), 0.5),
                           "image": torch.rand(1, 3, 32, 32)}).backward()
    assert all(v.grad.abs().sum() > 0 for v in outputs.values())


def test_unknown_mask_accepts_both_trimap_conventions():
    assert unknown_mask(torch.tensor([0, 128, 255], dtype=torch.uint8)).tolist() == [0.0, 1.0, 0.0]
    assert isinstance(DIMLoss(), nn.Module)
