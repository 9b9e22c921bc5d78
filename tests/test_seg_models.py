"""SegNet, PSPNet, DeepLabV3+ and PraNet (Chapter 3): shapes, output strides, parameter counts from the papers'
layer lists, the pieces that teach (index unpooling, pyramid pooling, atrous convolution, reverse attention)
checked against torchvision or hand-worked values, and their losses."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torchvision.models.segmentation.deeplabv3 import ASPP as TorchvisionASPP

from course_lib.losses import AuxCrossEntropy, DeepSupervisionLoss, boundary_weights, structure_loss
from course_lib.models import (
    ASPP,
    MobileNetV2Backbone,
    PraNet,
    ResNetBackbone,
    aspp_from_torchvision,
    atrous_receptive_field,
    deeplabv3plus,
    dilate_resnet_,
    gradient_receptive_field,
    pranet,
    pspnet,
    receptive_field,
    segnet,
    unpool_demo,
)
from course_lib.models.pranet import ReverseAttention

CAMVID = (360, 480)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def randomise_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial BatchNorm statistics, so that eval-mode comparisons test more than the identity."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return model


# ---------------------------------------------------------------- SegNet
def test_unpool_demo_puts_maxima_back_where_they_were():
    d = unpool_demo()
    x, pooled, idx, un, tr = d["input"], d["pooled"], d["indices"], d["unpooled"], d["transposed"]
    for i in range(2):
        for j in range(2):
            cell = x[2 * i:2 * i + 2, 2 * j:2 * j + 2]
            assert pooled[i, j] == cell.max()
            r, c = divmod(int(idx[i, j]), 4)
            assert x[r, c] == cell.max() and un[r, c] == cell.max()
            assert (un[2 * i:2 * i + 2, 2 * j:2 * j + 2] != 0).sum() == 1  # one value per cell, zeros elsewhere
            assert torch.all(tr[2 * i:2 * i + 2, 2 * j:2 * j + 2] == cell.max())  # copied over the whole cell
    with pytest.raises(ValueError, match="4x4"):
        unpool_demo(torch.zeros(3, 3))


@pytest.mark.parametrize("size", [CAMVID, (45, 61), (33, 17)])
def test_segnet_output_size(size):
    model = segnet(num_classes=11, width=0.125).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, *size)).shape == (1, 11, *size)


def test_segnet_decoder_unpools_with_the_encoder_indices():
    model = segnet(num_classes=5, width=0.125).eval()
    seen = {}
    last_pool = model.features[model._stages[-1][1] - 1]
    last_pool.register_forward_hook(lambda m, i, o: seen.update(pooled=o[0], indices=o[1], before=i[0]))
    model.decoder[0].register_forward_pre_hook(lambda m, i: seen.update(unpooled=i[0]))
    with torch.no_grad():
        model(torch.randn(2, 3, 45, 61))
    un, pooled, idx, before = seen["unpooled"], seen["pooled"], seen["indices"], seen["before"]
    assert un.shape == before.shape  # the exact pre-pooling size (3x4 from 2x2 with ceil mode)
    flat = un.flatten(2)
    assert torch.equal(flat.gather(2, idx.flatten(2)), pooled.flatten(2))  # each value at its encoder index
    mask = torch.zeros_like(flat, dtype=torch.bool).scatter_(2, idx.flatten(2), True)
    assert torch.all(flat[~mask] == 0)  # and zeros everywhere else


def test_segnet_parameter_count_matches_the_paper():
    n = n_params(segnet(num_classes=11))
    assert abs(n - 29.45e6) / 29.45e6 < 0.005, n  # Badrinarayanan et al.: 29.5 M


def test_segnet_loads_torchvision_vgg16_bn_features(tmp_path):
    from torchvision.models.vgg import cfgs, make_layers

    feats = make_layers(cfgs["D"], batch_norm=True)  # torchvision's vgg16_bn.features
    path = tmp_path / "vgg16_bn.pth"
    torch.save({f"features.{k}": v for k, v in feats.state_dict().items()}, path)
    model = segnet(num_classes=11, pretrained_backbone=path)
    assert model.backbone_source == str(path)
    assert torch.equal(model.features[0].weight, feats[0].weight)
    assert torch.equal(model.features[41].running_var, feats[41].running_var)
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        segnet(num_classes=11, weights=tmp_path / "missing.pth")


# ---------------------------------------------------------------- backbones
def test_hand_dilation_equals_torchvision_replace_stride_with_dilation():
    torch.manual_seed(0)
    x = torch.randn(1, 3, 64, 80)
    for output_stride, flags in ((8, [False, True, True]), (16, [False, False, True])):
        ref = randomise_bn(torchvision.models.resnet50(replace_stride_with_dilation=flags)).eval()
        mine = ResNetBackbone("resnet50", output_stride=output_stride).eval()
        mine.load_state_dict({k: v for k, v in ref.state_dict().items() if not k.startswith("fc.")})
        with torch.no_grad():
            expected = nn.Sequential(*list(ref.children())[:-2])(x)
            got = mine(x)[-1]
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("arch", ["resnet18", "mobilenet_v2"])
def test_dilated_output_sampled_every_k_pixels_equals_the_strided_network(arch):
    """The atrous trick: same weights, denser grid; every (32 / output_stride)-th pixel is the original output."""
    torch.manual_seed(0)
    x = torch.randn(1, 3, 64, 96)

    def build(os_):
        return (ResNetBackbone(arch, output_stride=os_) if arch != "mobilenet_v2"
                else MobileNetV2Backbone(output_stride=os_))

    ref = randomise_bn(build(32)).eval()
    for os_ in (16, 8):
        dense = build(os_).eval()
        dense.load_state_dict(ref.state_dict())
        with torch.no_grad():
            a, b = ref(x)[-1], dense(x)[-1]
        k = 32 // os_
        assert b.shape[-2:] == (64 // os_, 96 // os_)
        torch.testing.assert_close(b[..., ::k, ::k], a, rtol=1e-4, atol=1e-4)


def test_output_strides_of_the_backbones():
    x = torch.randn(1, 3, 64, 96)
    for os_ in (8, 16, 32):
        with torch.no_grad():
            feats = ResNetBackbone("resnet18", output_stride=os_)(x)
        assert [f.shape[-1] for f in feats] == [24, 12, 96 // min(16, os_), 96 // os_]
    with torch.no_grad():
        low, high = MobileNetV2Backbone(output_stride=8)(x)
    assert low.shape[1:] == (24, 16, 24) and high.shape[1:] == (320, 8, 12)
    with pytest.raises(ValueError, match="output_stride"):
        ResNetBackbone("resnet18", output_stride=4)
    with pytest.raises(TypeError, match="BasicBlock"):
        dilate_resnet_(torchvision.models.alexnet(), 8)


def test_pretrained_backbone_file_is_found_without_the_network(tmp_path):
    ref = torchvision.models.resnet18()
    name = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[-1]
    torch.save(ref.state_dict(), tmp_path / name)
    model = pspnet(num_classes=3, backbone="resnet18", pretrained_backbone=True, weight_folders=[tmp_path])
    assert model.backbone_source == str(tmp_path / name)
    assert torch.equal(model.backbone.layer4[1].conv2.weight, ref.layer4[1].conv2.weight)
    torch.save(torchvision.models.resnet34().state_dict(), tmp_path / "r34.pth")
    with pytest.raises(ValueError, match="r34.pth"):
        pspnet(num_classes=3, backbone="resnet18", pretrained_backbone=tmp_path / "r34.pth")
    from course_lib.checkpoint import save_checkpoint

    save_checkpoint({"model": model.state_dict(), "epoch": 1}, tmp_path / "best.pt")  # a training run's checkpoint
    again = pspnet(num_classes=3, backbone="resnet18", weights=tmp_path / "best.pt")
    assert torch.equal(again.head[-1].weight, model.head[-1].weight)
    with pytest.raises(ValueError, match="best.pt"):
        pspnet(num_classes=4, backbone="resnet18", weights=tmp_path / "best.pt")  # another number of classes


# ---------------------------------------------------------------- PSPNet
def test_pyramid_pooling_bins_and_concatenation():
    model = pspnet(num_classes=4, backbone="resnet18", head_channels=32).eval()
    ppm = randomise_bn(model.ppm)
    assert ppm.bins == (1, 2, 3, 6)
    x = torch.rand(2, 512, 12, 15)
    with torch.no_grad():
        pooled, out = ppm.pooled(x), ppm(x)
        branch1 = ppm.stages[0][1:](x.mean(dim=(2, 3), keepdim=True))  # bin 1 = conv of the global mean
    assert [tuple(p.shape) for p in pooled] == [(2, 128, b, b) for b in (1, 2, 3, 6)]
    torch.testing.assert_close(pooled[0], branch1)
    assert out.shape == (2, 512 + 4 * 128, 12, 15)
    assert torch.equal(out[:, :512], x)  # the map itself, then the four upsampled branches
    torch.testing.assert_close(out[:, 512:640], pooled[0].expand(-1, -1, 12, 15))


@pytest.mark.parametrize("size", [CAMVID, (45, 61)])
def test_pspnet_aux_output_only_in_training(size):
    model = pspnet(num_classes=11, backbone="resnet18", head_channels=32)
    x = torch.randn(2, 3, *size) if size != CAMVID else torch.randn(1, 3, *size)
    with torch.no_grad():
        assert model.eval()(x).shape == (x.shape[0], 11, *size)
    if size != CAMVID:
        main, aux = model.train()(x)
        assert main.shape == aux.shape == (2, 11, *size)
        assert pspnet(num_classes=11, backbone="resnet18", head_channels=32, aux=False).train()(x).shape == main.shape
        assert model.backbone.output_stride == 8


def test_pspnet_parameter_count_from_its_layer_list():
    c = 150
    backbone = n_params(torchvision.models.resnet50()) - (2048 * 1000 + 1000)
    ppm = 4 * (2048 * 512 + 2 * 512)
    head = 4096 * 512 * 9 + 2 * 512 + 512 * c + c
    aux = 1024 * 256 * 9 + 2 * 256 + 256 * c + c
    assert n_params(pspnet(num_classes=c)) == backbone + ppm + head + aux  # 49.06 M
    assert n_params(pspnet(num_classes=c, aux=False)) == backbone + ppm + head  # 46.66 M at test time


# ---------------------------------------------------------------- DeepLabV3+
def test_aspp_equals_torchvision_deeplabv3_head_with_copied_weights():
    torch.manual_seed(0)
    ref = randomise_bn(TorchvisionASPP(64, [6, 12, 18], 32)).eval()
    mine = aspp_from_torchvision(ref).eval()  # strict: every tensor mapped
    assert mine.rates == (6, 12, 18) and isinstance(mine, ASPP)
    x = torch.randn(2, 64, 13, 17)
    with torch.no_grad():
        torch.testing.assert_close(mine(x), ref(x))


def test_aspp_rates_double_at_output_stride_8():
    assert deeplabv3plus(num_classes=2, backbone="resnet18", output_stride=16).aspp.rates == (6, 12, 18)
    assert deeplabv3plus(num_classes=2, backbone="resnet18", output_stride=8).aspp.rates == (12, 24, 36)
    with pytest.raises(ValueError, match="output_stride"):
        deeplabv3plus(num_classes=2, backbone="resnet18", output_stride=32)


@pytest.mark.parametrize("backbone,size", [("mobilenet_v2", CAMVID), ("resnet18", (45, 61)), ("resnet18", (33, 47))])
def test_deeplabv3plus_decoder_fuses_48_low_level_channels_at_stride_4(backbone, size):
    model = deeplabv3plus(num_classes=11, backbone=backbone, aspp_channels=32 if backbone == "resnet18" else 256)
    model.eval()
    seen = {}
    model.fuse.register_forward_pre_hook(lambda m, i: seen.update(fused=i[0]))
    with torch.no_grad():
        y = model(torch.randn(1, 3, *size))
    assert y.shape == (1, 11, *size)
    fused = seen["fused"]
    assert fused.shape[1] == model.aspp.project[0].out_channels + 48
    assert fused.shape[-2:] == tuple(-(-s // 4) for s in size)  # the stride-4 grid of the low-level features


def test_deeplabv3plus_parameter_count_from_its_layer_list():
    c, a = 21, 256
    backbone = n_params(torchvision.models.resnet101()) - (2048 * 1000 + 1000)
    aspp = 2 * (2048 * a + 2 * a) + 3 * (2048 * a * 9 + 2 * a) + (5 * a * a + 2 * a)
    decoder = (256 * 48 + 2 * 48) + (304 * a * 9 + 2 * a) + (a * a * 9 + 2 * a) + a * c + c
    assert n_params(deeplabv3plus(num_classes=c, backbone="resnet101")) == backbone + aspp + decoder  # 59.3 M
    assert 5.5e6 < n_params(deeplabv3plus(num_classes=c, backbone="mobilenet_v2")) < 6.0e6  # the mobile variant


def test_atrous_receptive_field_analytic_equals_measured_by_gradient():
    assert [atrous_receptive_field(3, r) for r in (1, 2, 6, 12)] == [3, 5, 13, 25]
    for layers in ([(3, 1, 1)] * 3, [(3, 1, 1), (3, 1, 2), (3, 1, 4)], [(3, 2, 1), (3, 1, 2)], [(5, 1, 3)]):
        net = nn.Sequential(*(nn.Conv2d(1, 1, k, stride=s, dilation=r, padding=r * (k // 2)) for k, s, r in layers))
        assert gradient_receptive_field(net) == receptive_field(layers), layers
    layer4 = ResNetBackbone("resnet18", output_stride=8).layer4  # dilations 2, 4, 4, 4 after the atrous trick
    assert gradient_receptive_field(layer4, 256, size=33) == receptive_field([(3, 1, 2)] + [(3, 1, 4)] * 3) == 29
    with pytest.raises(ValueError, match="larger size"):
        gradient_receptive_field(nn.Conv2d(1, 1, 3, padding=20, dilation=20), size=21)


# ---------------------------------------------------------------- PraNet
@pytest.mark.parametrize("size", [(64, 64), (40, 56)])
def test_pranet_deep_supervision_in_training_final_map_in_eval(size):
    model = pranet(backbone="resnet18", channels=8)
    outs = model.train()(torch.randn(2, 3, *size))
    assert len(outs) == 4 and all(o.shape == (2, 1, *size) for o in outs)
    loss = DeepSupervisionLoss()(outs, torch.randint(0, 2, (2, *size)))
    loss.backward()
    for p in (model.backbone.conv1.weight, model.decoder.conv5.weight, model.ra2.convs[0][0].weight):
        assert p.grad is not None and p.grad.abs().sum() > 0
    with torch.no_grad():
        assert model.eval()(torch.randn(1, 3, *size)).shape == (1, 1, *size)


def test_reverse_attention_erases_what_is_already_found():
    ra = randomise_bn(ReverseAttention(8, 4, kernel=3, depth=2, last_kernel=3)).eval()
    prior = torch.full((1, 1, 5, 6), 30.0)  # confidently foreground everywhere: nothing left to look for
    with torch.no_grad():
        a, b = ra(torch.randn(1, 8, 10, 12), prior), ra(torch.randn(1, 8, 10, 12) * 5, prior)
    torch.testing.assert_close(a, b)  # the feature is multiplied by 1 - sigmoid(30) ~ 0
    torch.testing.assert_close(ReverseAttention.attention(torch.tensor([0.0, 30.0])), torch.tensor([0.5, 0.0]))


def test_pranet_res2net_parameter_count():
    pytest.importorskip("timm")
    model = pranet()
    assert model.backbone.channels == (256, 512, 1024, 2048)
    n = n_params(model)
    assert abs(n + 2048 * 1000 + 1000 - 32.55e6) < 0.01e6, n  # the authors' count includes the unused fc: 32.55 M
    with pytest.raises(ValueError, match="backbone"):
        PraNet(backbone="vgg16")


# ---------------------------------------------------------------- losses
def test_structure_loss_hand_worked_single_pixel_polyp():
    mask = torch.zeros(1, 1, 3, 3)
    mask[0, 0, 1, 1] = 1
    # every 31x31 window holds the whole 3x3 image: local mean 1/961 everywhere
    w = torch.full((3, 3), 1 + 5 / 961)
    w[1, 1] = 1 + 5 * 960 / 961
    torch.testing.assert_close(boundary_weights(mask)[0, 0], w)
    logits = torch.zeros(1, 1, 3, 3)  # p = 0.5 everywhere, BCE = log 2 at every pixel
    inter = 0.5 * w[1, 1]
    union = 0.5 * w.sum() + w[1, 1]
    expected = torch.log(torch.tensor(2.0)) + 1 - (inter + 1) / (union - inter + 1)
    torch.testing.assert_close(structure_loss(logits, mask), expected)


def test_structure_loss_matches_the_authors_code_and_its_bce_quirk():
    torch.manual_seed(0)
    pred, mask = torch.randn(2, 1, 40, 40), (torch.rand(2, 1, 40, 40) > 0.7).float()

    def authors(pred, mask):  # MyTrain.py of DengPingFan/PraNet, verbatim but for the deprecated flag
        weit = 1 + 5 * torch.abs(F.avg_pool2d(mask, kernel_size=31, stride=1, padding=15) - mask)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wbce = F.binary_cross_entropy_with_logits(pred, mask, reduce="none")
        wbce = (weit * wbce).sum(dim=(2, 3)) / weit.sum(dim=(2, 3))
        pred = torch.sigmoid(pred)
        inter = ((pred * mask) * weit).sum(dim=(2, 3))
        union = ((pred + mask) * weit).sum(dim=(2, 3))
        wiou = 1 - (inter + 1) / (union - inter + 1)
        return (wbce + wiou).mean()

    torch.testing.assert_close(structure_loss(pred, mask, paper_code_bce=True), authors(pred, mask))
    assert not torch.allclose(structure_loss(pred, mask), authors(pred, mask))  # the weighted BCE differs
    with pytest.raises(ValueError, match="do not match"):
        structure_loss(pred, mask[:, :, :20])


def test_aux_cross_entropy_weights_the_auxiliary_output_by_0_4():
    torch.manual_seed(0)
    main, aux = torch.randn(2, 4, 5, 6), torch.randn(2, 4, 5, 6)
    target = torch.randint(0, 5, (2, 5, 6))  # 4 = void
    ce = lambda x: F.cross_entropy(x, target, ignore_index=4)  # noqa: E731
    loss = AuxCrossEntropy(ignore_index=4)
    torch.testing.assert_close(loss((main, aux), target), ce(main) + 0.4 * ce(aux))
    torch.testing.assert_close(loss({"out": main, "aux": aux}, target), ce(main) + 0.4 * ce(aux))
    torch.testing.assert_close(loss(main, target), ce(main))
    with pytest.raises(TypeError, match="tuple"):
        loss("logits", target)
