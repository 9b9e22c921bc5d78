"""FCN-32s/16s/8s: the paper's crop offsets, shapes, skips, pretrained backbone loading."""

import pytest
import torch
import torchvision

from course_lib.models import count_parameters, fcn8s, fcn16s, fcn32s
from course_lib.models.fcn import FCN
from course_lib.models.vgg import VGG16_WEIGHT_FILES, find_vgg16_weights, load_vgg16_weights, make_vgg_features
from course_lib.recipes import get_recipe
from course_lib.recipes.fcn import vgg16_weight_folders

TINY = dict(width=0.125, fc_channels=32, batch_norm=True)


def test_paper_layout_reproduces_caffe_offsets():
    # the numbers in the authors' Caffe prototxts, derived here from the layers' geometry
    assert FCN(21, "32s", width=0.0625, fc_channels=8).offsets == {"final": 19}
    assert FCN(21, "16s", width=0.0625, fc_channels=8).offsets == {"pool4": 5, "final": 27}
    assert FCN(21, "8s", width=0.0625, fc_channels=8).offsets == {"pool4": 5, "pool3": 9, "final": 31}
    assert FCN(21, "8s", padding="same", width=0.0625, fc_channels=8).offsets == {"pool4": 0, "pool3": 0,
                                                                                    "final": 0}


@pytest.mark.parametrize("builder", [fcn32s, fcn16s, fcn8s])
@pytest.mark.parametrize("padding", ["paper", "same"])
@pytest.mark.parametrize("size", [(32, 32), (45, 71)])
def test_output_matches_input_size(builder, padding, size):
    model = builder(num_classes=5, padding=padding, **TINY).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, *size))
    assert out.shape == (2, 5, *size)


def test_full_size_parameter_count_matches_vgg16_fcn():
    # FCN-8s/VGG16 on 21 classes: VGG16 conv layers + fc6/fc7 as convs (134 M in the paper's table)
    n = count_parameters(FCN(21, "8s"))
    assert 134_000_000 < n < 135_000_000


def test_skips_reach_the_fine_layers():
    model = fcn8s(num_classes=4, padding="same", **TINY)
    with torch.no_grad():  # zero-initialised score layers get no gradient through the skip at first: perturb
        for layer in (model.score_fr, model.score_pool4, model.score_pool3):
            layer.weight.normal_(0, 0.1)
    model(torch.randn(1, 3, 64, 64)).sum().backward()
    assert model.score_pool3.weight.grad.abs().sum() > 0
    assert model.features[0].weight.grad.abs().sum() > 0
    assert not hasattr(fcn32s(num_classes=4, **TINY), "score_pool3")


def test_score_layers_zero_and_upsampling_bilinear():
    model = fcn16s(num_classes=3, **TINY)
    assert model.score_fr.weight.abs().sum() == 0
    w = model.upscore2.weight
    assert w[0, 0].max() > 0 and w[0, 1].abs().sum() == 0


def test_loads_torchvision_vgg16_state_dict(tmp_path):
    tv = torchvision.models.vgg16(weights=None)
    path = tmp_path / "vgg16-397923af.pth"
    torch.save(tv.state_dict(), path)
    model = fcn8s(num_classes=21, pretrained_backbone=str(path))
    assert model.backbone_source == str(path)
    assert torch.equal(model.features[28].weight, tv.features[28].weight)
    assert torch.equal(model.fc6.weight, tv.classifier[0].weight.reshape(4096, 512, 7, 7))
    assert torch.equal(model.fc7.weight.flatten(1), tv.classifier[3].weight)


def test_loads_vgg16_bn_layout():
    tv = torchvision.models.vgg16_bn(weights=None)
    feats = make_vgg_features(batch_norm=True)
    report = load_vgg16_weights(feats, tv.state_dict())
    assert torch.equal(feats[1].running_var, tv.features[1].running_var)
    assert "features.0.weight" in report["loaded"]


def test_pretrained_absent_trains_from_scratch(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_DATA_ROOT", str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    model = fcn32s(num_classes=3, pretrained_backbone=True, **TINY)
    assert model.backbone_source is None and "width=1.0" in capsys.readouterr().out  # narrow: never downloads


def _offline(*args, **kwargs):
    import urllib.error

    raise urllib.error.URLError("network is unreachable (simulated)")


def test_pretrained_weights_come_through_torchvisions_weight_api(tmp_path, monkeypatch, capsys):
    import torchvision.models._api as tv_api

    # torchvision's VGG16 features under the name its weight API caches them as, in a fresh TORCH_HOME: the real API
    # path runs, without the network (the classifier is left out: it is 400 MB and FCN here is narrow in fc6)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    cache = tmp_path / "torch" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    tv = torchvision.models.vgg16(weights=None)
    state = {k: v for k, v in tv.state_dict().items() if k.startswith("features.")}
    name = torchvision.models.VGG16_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[-1]
    assert name == VGG16_WEIGHT_FILES[False]
    torch.save(state, cache / name)
    monkeypatch.setattr(tv_api, "load_state_dict_from_url", _wrap_no_download(tv_api.load_state_dict_from_url))
    model = fcn32s(num_classes=3, pretrained_backbone=True, fc_channels=16)
    assert model.backbone_source.startswith("torchvision VGG16_Weights.IMAGENET1K_V1") and name in model.backbone_source
    assert torch.equal(model.features[28].weight, tv.features[28].weight)
    # offline and nothing cached: trained from scratch, and said so
    (cache / name).unlink()
    monkeypatch.setattr(tv_api, "load_state_dict_from_url", _offline)
    model = fcn32s(num_classes=3, pretrained_backbone=True, fc_channels=16)
    assert model.backbone_source is None
    out = capsys.readouterr().out
    assert "trained from scratch" in out and "URLError" in out


def _wrap_no_download(load):
    """torch.hub's loader, failing the test if it would download (the file must come from the cache)."""
    def wrapped(url, *args, **kwargs):
        import torch.hub

        def no_download(*a, **k):
            raise AssertionError(f"tried to download {url}; the cached file should have been used")

        original = torch.hub.download_url_to_file
        torch.hub.download_url_to_file = no_download
        try:
            return load(url, *args, **kwargs)
        finally:
            torch.hub.download_url_to_file = original
    return wrapped


def test_weights_are_searched_in_the_folders_the_recipe_names(tmp_path, monkeypatch):
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / VGG16_WEIGHT_FILES[False]).touch()
    found = find_vgg16_weights(search=[tmp_path / "nothing", tmp_path / "weights"])
    assert found == tmp_path / "weights" / "vgg16-397923af.pth"
    assert find_vgg16_weights(batch_norm=True, search=[tmp_path / "weights"]) is None  # vgg16_bn-*.pth is absent
    assert find_vgg16_weights() is None  # the model code knows no folder of its own
    monkeypatch.setenv("COURSE_DATA_ROOT", str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    assert vgg16_weight_folders() == [tmp_path / "weights", tmp_path / "torch" / "hub" / "checkpoints"]
    (tmp_path / "weights" / VGG16_WEIGHT_FILES[False]).unlink()
    recipe = get_recipe("fcn32s-camvid")
    cfg = recipe.config("full", {"width": 0.125, "fc_channels": 32})
    assert cfg.pretrained_backbone and recipe.build_model(cfg).backbone_source is None  # nothing there: scratch


def test_bad_weight_files_raise_naming_the_file(tmp_path):
    feats = make_vgg_features(width=0.125)
    bad = tmp_path / "truncated.pth"
    torch.save(torchvision.models.vgg16(weights=None).state_dict(), bad)
    bad.write_bytes(bad.read_bytes()[:1000])
    with pytest.raises(ValueError, match="truncated.pth"):
        load_vgg16_weights(feats, bad)
    other = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(1)}, other)
    with pytest.raises(ValueError, match="resnet.pth.*features"):
        load_vgg16_weights(feats, other)
    full = tmp_path / "vgg.pth"
    torch.save(torchvision.models.vgg16(weights=None).state_dict(), full)
    with pytest.raises(ValueError, match="width=1.0"):
        load_vgg16_weights(feats, full)  # a narrow backbone cannot take full-size weights


def test_pickled_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("owned",))

    path = tmp_path / "evil.pth"
    torch.save({"features.0.weight": Evil()}, path)
    with pytest.raises(ValueError, match="evil.pth"):
        load_vgg16_weights(make_vgg_features(width=0.125), path)


def test_bad_arguments():
    with pytest.raises(ValueError, match="variant"):
        FCN(3, "4s")
    with pytest.raises(ValueError, match="padding"):
        FCN(3, "8s", padding="valid")
    with pytest.raises(ValueError, match="batch"):
        fcn8s(num_classes=3, **TINY)(torch.randn(3, 32, 32))


def test_fcn_recipe_settings_are_typed():
    from course_lib.recipes.segmentation import SegmentationConfig

    quick, full = get_recipe("fcn8s-camvid").config("quick"), get_recipe("fcn8s-camvid").config("full")
    assert isinstance(quick, SegmentationConfig) and quick.profile == "quick" and full.profile == "full"
    # the paper's recipe (full) and the CPU one (quick), as documented in course_lib/recipes/fcn.py
    assert (full.padding, full.optimizer, full.lr, full.weight_decay, full.bias_lr_mult) == ("paper", "sgd", 1e-3,
                                                                                             5e-4, 2.0)
    assert full.pretrained_backbone and full.crop_size == (352, 480) and full.epochs == 100
    assert (quick.padding, quick.optimizer, quick.width, quick.crop_size) == ("same", "adam", 0.1875, (128, 160))
    assert get_recipe("fcn32s-voc").config("quick").variant == "32s"
    assert get_recipe("fcn16s-voc").config("quick", {"crop_size": "[48,64]"}).crop_size == (48, 64)
    with pytest.raises(TypeError, match="crop_size"):
        get_recipe("fcn8s-voc").config("quick", {"crop_size": [48]})
    with pytest.raises(KeyError, match="valid keys"):
        get_recipe("fcn8s-voc").config("quick", {"crop": [48, 64]})
