"""FlowNetS, RAFT (and its torchvision-compatible weights), their losses and the flow recipes (Chapter 9)."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from course_lib.classical import FarnebackFlow, ZeroFlow
from course_lib.data.kitti_flow import KittiFlow
from course_lib.losses import multiscale_epe_loss, sequence_loss
from course_lib.models.flownet import FlowNetS, flownets
from course_lib.models.raft import (
    RAFT,
    CorrPyramid,
    convex_upsample,
    coords_grid,
    find_raft_small_weights,
    load_raft_weights,
    raft_small,
)
from course_lib.recipes import get_recipe
from course_lib.recipes.flow import FlowConfig, predict_flow
from course_lib.synthetic.chairs import write_sample as write_chairs_sample
from course_lib.synthetic.kitti_flow import write_sample as write_kitti_sample

TINY_RAFT = dict(feature_dims=(8, 8, 8, 8, 16), context_dims=(8, 8, 8, 8, 24), hidden_dim=16, corr_levels=2,
                 corr_radius=1, motion_corr_dims=(8,), motion_flow_dims=(8, 8), motion_dim=12, flow_head_dim=8,
                 mask_dim=8, iters=2)


# ------------------------------------------------------------------------------------------------ FlowNetS
def test_flownets_outputs_and_gradients():
    net = FlowNetS(width=0.125, batch_norm=True)
    x = torch.rand(2, 6, 64, 128)
    preds = net(x)
    assert [tuple(p.shape[-2:]) for p in preds] == [(16, 32), (8, 16), (4, 8), (2, 4), (1, 2)]
    loss = multiscale_epe_loss(preds, torch.randn(2, 2, 64, 128), torch.ones(2, 64, 128))
    loss.backward()
    assert torch.isfinite(loss) and all(p.grad is not None for p in net.parameters() if p.requires_grad)
    net.eval()
    assert net(x[:, :3], x[:, 3:]).shape == (2, 2, 64, 128)
    with pytest.raises(ValueError, match="divisible by 64"):
        net(torch.rand(1, 6, 64, 100))
    with pytest.raises(ValueError, match="6, H, W"):
        net(torch.rand(1, 3, 64, 64))


def test_flownets_paper_size():
    assert 38_000_000 < sum(p.numel() for p in flownets().parameters()) < 39_500_000


def test_multiscale_loss_uses_only_valid_pixels():
    pred = [torch.zeros(1, 2, 4, 4)]
    flow = torch.zeros(1, 2, 16, 16)
    flow[:, :, :8] = 100.0  # huge but invalid
    valid = torch.zeros(1, 16, 16)
    valid[:, 8:] = 1
    assert float(multiscale_epe_loss(pred, flow, valid)) == 0.0


# ------------------------------------------------------------------------------------------------ RAFT
def test_raft_small_equals_torchvision_with_its_state_dict(tmp_path):
    from torchvision.models.optical_flow import raft_small as tv_raft_small

    torch.manual_seed(0)
    reference = tv_raft_small(weights=None).eval()
    path = tmp_path / "raft_small_C_T_V2-01064c6d.pth"
    torch.save(reference.state_dict(), path)
    ours = raft_small(weights=path).eval()
    assert sum(p.numel() for p in ours.parameters()) == 990162
    x1, x2 = torch.rand(1, 3, 128, 136), torch.rand(1, 3, 128, 136)
    with torch.no_grad():
        expected = reference(x1 * 2 - 1, x2 * 2 - 1, num_flow_updates=3)[-1]  # torchvision takes [-1, 1]
        got = ours(torch.cat([x1, x2], 1), iters=3)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    # found by the search, through the environment variable or a folder
    assert find_raft_small_weights([tmp_path]) == path


def test_find_weights_env_and_load_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_RAFT_WEIGHTS", str(tmp_path / "w.pth"))
    torch.save(raft_small().state_dict(), tmp_path / "w.pth")
    assert find_raft_small_weights() == tmp_path / "w.pth"
    # convex upsampling: everything but the mask predictor loads
    left = load_raft_weights(raft_small(upsample="convex"), tmp_path / "w.pth")
    assert left and all(name.startswith("mask_predictor.") for name in left)
    with pytest.raises(ValueError, match="does not fit"):
        load_raft_weights(RAFT(**TINY_RAFT), tmp_path / "w.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a state dict")
    with pytest.raises(ValueError, match="junk.pth"):
        load_raft_weights(raft_small(), tmp_path / "junk.pth")
    with pytest.raises(FileNotFoundError):
        load_raft_weights(raft_small(), tmp_path / "missing.pth")


def test_corr_pyramid_lookup_is_the_dot_product():
    torch.manual_seed(0)
    f1, f2 = torch.randn(1, 4, 8, 8), torch.randn(1, 4, 8, 8)
    corr = CorrPyramid(f1, f2, levels=1, radius=1)
    coords = coords_grid(1, 8, 8)
    out = corr(coords)  # [1, 9, 8, 8], x offset changes slowest
    y, x = 3, 4
    for k, (dx, dy) in enumerate([(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]):
        expected = (f1[0, :, y, x] * f2[0, :, y + dy, x + dx]).sum() / 2.0  # / sqrt(C)
        assert out[0, k, y, x] == pytest.approx(float(expected), abs=1e-5)
    with pytest.raises(ValueError, match="too small"):
        CorrPyramid(torch.randn(1, 4, 4, 4), torch.randn(1, 4, 4, 4), levels=3)


def test_convex_upsampling_of_a_constant_field():
    flow = torch.full((1, 2, 3, 4), 1.5)
    up = convex_upsample(flow, torch.randn(1, 9 * 64, 3, 4))
    assert up.shape == (1, 2, 24, 32)
    torch.testing.assert_close(up[..., 8:16, 8:24], torch.full((1, 2, 8, 16), 12.0))  # 8 x 1.5, any weights


def test_raft_trains_and_predicts():
    torch.manual_seed(0)
    net = RAFT(**TINY_RAFT)
    x = torch.rand(2, 6, 32, 40)
    preds = net(x)
    assert len(preds) == 2 and preds[-1].shape == (2, 2, 32, 40)
    loss = sequence_loss(preds, torch.randn(2, 2, 32, 40), torch.ones(2, 32, 40))
    loss.backward()
    assert torch.isfinite(loss) and net.update_block.flow_head.conv2.weight.grad.abs().sum() > 0
    net.eval()
    assert net(x, iters=3).shape == (2, 2, 32, 40)
    with pytest.raises(ValueError, match="divisible by 8"):
        net(torch.rand(1, 6, 30, 40))


def test_sequence_loss_weights_later_iterations_more():
    gt = torch.ones(1, 2, 4, 4)
    good, bad = gt.clone(), torch.zeros(1, 2, 4, 4)
    valid = torch.ones(1, 4, 4)
    assert sequence_loss([bad, good], gt, valid) < sequence_loss([good, bad], gt, valid)
    huge = torch.full((1, 2, 4, 4), 1000.0)
    assert float(sequence_loss([bad], huge, valid)) == 0.0  # |flow| > max_flow is left out


# ------------------------------------------------------------------------------------------------ prediction
def test_predict_flow_pads_and_rescales():
    class Shift(torch.nn.Module):
        size_multiple = 8

        def forward(self, images):
            assert images.shape[-2] % 8 == 0 and images.shape[-1] % 8 == 0
            flow = torch.zeros(images.shape[0], 2, *images.shape[-2:])
            flow[:, 0] = 2.0  # two pixels right, at the resolution it is run at
            return flow

    out = predict_flow(Shift(), torch.rand(1, 6, 21, 30))
    assert out.shape == (1, 2, 21, 30) and torch.allclose(out[:, 0], torch.tensor(2.0))
    half = predict_flow(Shift(), torch.rand(1, 6, 40, 48), scale=0.5)
    assert half.shape == (1, 2, 40, 48) and torch.allclose(half[:, 0], torch.tensor(4.0))  # back in input pixels
    assert predict_flow(ZeroFlow(), torch.rand(2, 6, 5, 7)).abs().sum() == 0


def test_farneback_module_follows_a_translation():
    rng = np.random.default_rng(0)
    base = rng.random((1, 3, 70, 90)).astype(np.float32)
    import cv2

    base = np.stack([cv2.GaussianBlur(c, (0, 0), 2) for c in base[0]])[None]
    image1 = torch.from_numpy(base[..., 5:69, 5:85])
    image2 = torch.from_numpy(base[..., 5:69, 3:83])  # content moves 2 px to the right
    flow = FarnebackFlow()(torch.cat([image1, image2], 1))
    assert flow.shape == (1, 2, 64, 80)
    assert flow[0, 0, 10:-10, 10:-10].median() == pytest.approx(2.0, abs=0.3)


# ------------------------------------------------------------------------------------------------ recipes
@pytest.fixture(scope="module")
def flow_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("flowdata")
    write_chairs_sample(root, n_train=8, n_val=2, size=(96, 64))
    write_kitti_sample(root, n_train=2, n_test=1, scale=0.2)
    return root


def test_recipes_are_registered():
    for name in ("flownets-chairs", "raft-small-chairs", "flow-zero", "flow-farneback"):
        recipe = get_recipe(name)
        assert recipe.chapter == "9" and recipe.monitor == "px3"
    assert get_recipe("flow-zero").requires_checkpoint is False
    assert get_recipe("raft-small-chairs").requires_checkpoint is True
    with pytest.raises(ValueError, match="nothing to train"):
        get_recipe("flow-zero").train("unused")


def test_train_then_evaluate_on_kitti_and_chairs(flow_data, tmp_path):
    recipe = get_recipe("raft-small-chairs")
    small = {"width": 0.25, "corr_levels": 2, "iters": 2, "eval_iters": 2, "crop_size": [32, 48], "batch_size": 4,
             "max_eval_items": 2, "kitti_eval_scale": 1.0}
    result = recipe.train(flow_data / "FlyingChairs_release", profile="quick", overrides=small, epochs=1,
                          out_dir=tmp_path, progress=False)
    assert len(result.history) == 1 and (tmp_path / "last.pt").is_file()
    assert {"epe", "fl_all", "px3", "noc_epe", "occ_epe"} <= set(result.metrics)
    model, cfg = recipe.load_model(tmp_path / "last.pt", torch.device("cpu"))
    assert cfg.width == 0.25
    kitti = recipe.evaluate_splits(model, flow_data, "all", cfg, progress=False)["train"]
    assert kitti["dataset"].startswith("KITTI 2015 training") and kitti["pairs"] == 2
    assert {"noc_fl_all", "occ_fl_all", "noc_epe", "occ_epe"} <= set(kitti)
    cfg_chairs = dataclasses.replace(cfg, eval_dataset="chairs")
    chairs = recipe.evaluate_splits(model, flow_data / "FlyingChairs_release", "val", cfg_chairs, progress=False)
    assert chairs["pairs"] == 2
    with pytest.raises(ValueError, match="--split train"):
        recipe.evaluate_splits(model, flow_data, "val", cfg, progress=False)


def test_zero_flow_epe_is_the_mean_flow_length(flow_data):
    recipe = get_recipe("flow-zero")
    model, cfg = recipe.load_model(None, torch.device("cpu"))
    metrics = recipe.evaluate_splits(model, flow_data, "train", cfg, progress=False)
    ds = KittiFlow(flow_data, "train")
    lengths = np.concatenate([np.linalg.norm(ds.load_raw(i).flow, axis=-1)[ds.load_raw(i).valid_noc]
                              for i in range(len(ds))])
    assert metrics["noc_epe"] == pytest.approx(lengths.mean(), rel=1e-5)
    with pytest.raises(ValueError, match="needs --checkpoint"):
        get_recipe("flownets-chairs").load_model(None)


def test_evaluate_command_line_without_checkpoint(flow_data, capsys):
    # in-process: the code path of `python -m course_lib.evaluate` without a Python start-up
    from course_lib import evaluate

    code = evaluate.main(["flow-farneback", "--data-root", str(flow_data), "--split", "all", "--no-progress"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and out["checkpoint"] is None and 0 <= out["splits"]["train"]["occ_fl_all"] <= 100
    assert out["splits"]["train"]["dataset"].startswith("KITTI 2015 training")
    assert evaluate.main(["flownets-chairs", "--data-root", str(flow_data), "--split", "all"]) == 2
    assert "needs --checkpoint" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------ typed settings
#: the hyper-parameters of the flow recipes before they were typed (defaults merged with each profile)
_OLD_COMMON = {"seed": 0, "max_items": None, "max_eval_items": None, "amp": True, "grad_clip": 1.0, "val_every": 1,
               "eval_scale": 1.0, "kitti_eval_scale": 1.0, "eval_dataset": "auto", "eval_batch_size": 1,
               "num_workers": 0, "hflip": 0.5, "vflip": 0.1}
_OLD_QUICK = {"lr": 1e-3, "batch_size": 8, "epochs": 20, "schedule": "cosine", "max_eval_items": 8, "val_every": 5,
              "kitti_eval_scale": 0.25}
_OLD = {
    ("flownets-chairs", "full"): {**_OLD_COMMON, "optimizer": "adam", "weight_decay": 4e-4, "width": 1.0,
                                  "batch_norm": False, "lr": 1e-4, "batch_size": 8, "crop_size": [320, 448],
                                  "epochs": 100, "schedule": "poly", "num_workers": 4},
    ("flownets-chairs", "quick"): {**_OLD_COMMON, "optimizer": "adam", "weight_decay": 4e-4, "width": 0.25,
                                   "batch_norm": True, "crop_size": [64, 128], **_OLD_QUICK},
    ("raft-small-chairs", "full"): {**_OLD_COMMON, "optimizer": "adamw", "weight_decay": 1e-4, "gamma": 0.8,
                                    "init_weights": None, "width": 1.0, "corr_levels": 4, "corr_radius": 3,
                                    "upsample": "convex", "iters": 12, "eval_iters": 24, "lr": 4e-4,
                                    "batch_size": 10, "crop_size": [368, 496], "epochs": 45, "schedule": "cosine",
                                    "num_workers": 4},
    ("raft-small-chairs", "quick"): {**_OLD_COMMON, "optimizer": "adamw", "weight_decay": 1e-4, "gamma": 0.8,
                                     "init_weights": None, "width": 0.5, "corr_levels": 3, "corr_radius": 3,
                                     "upsample": "convex", "iters": 4, "eval_iters": 8, "crop_size": [64, 96],
                                     **_OLD_QUICK},
    ("flow-farneback", "quick"): {**_OLD_COMMON, "farneback": {"pyr_scale": 0.5, "levels": 5, "winsize": 15,
                                                               "iterations": 3, "poly_n": 5, "poly_sigma": 1.2,
                                                               "gaussian": False}},
    ("flow-zero", "full"): dict(_OLD_COMMON),
}


@pytest.mark.parametrize("name, profile", sorted(_OLD))
def test_flow_configs_keep_the_old_settings(name, profile):
    cfg = get_recipe(name).config(profile)
    assert isinstance(cfg, FlowConfig) and cfg.profile == profile
    for key, value in _OLD[(name, profile)].items():
        got = getattr(cfg, key)
        assert (list(got) if isinstance(got, tuple) else got) == value, key


def test_flow_config_overrides_are_checked():
    recipe = get_recipe("raft-small-chairs")
    cfg = recipe.config("quick", {"crop_size": "[32, 48]", "eval_iters": None, "farneback": {"levels": 3}})
    assert cfg.crop_size == (32, 48) and cfg.eval_iters is None and cfg.farneback == {"levels": 3}
    with pytest.raises(KeyError, match="valid keys"):
        recipe.config("quick", {"corr_level": 2})
    with pytest.raises(TypeError, match="iters"):
        recipe.config("quick", {"iters": 2.5})


def test_chairs_falls_back_to_the_work_dir_sample_in_quick_only(tmp_path, monkeypatch, capsys):
    from functools import partial

    from course_lib.synthetic import chairs as chairs_writer

    monkeypatch.setenv("COURSE_WORK_DIR", str(tmp_path / "work"))
    monkeypatch.setattr(chairs_writer, "write_sample", partial(chairs_writer.write_sample, n_train=2, n_val=1,
                                                               size=(48, 32)))
    recipe = get_recipe("raft-small-chairs")
    (tmp_path / "data").mkdir()
    root = recipe.resolve_data_root(tmp_path / "data", "quick")
    assert root == tmp_path / "work" / "samples" / "chairs" / "FlyingChairs_release"
    assert "SYNTHETIC" in capsys.readouterr().out and not any((tmp_path / "data").iterdir())  # data root untouched
    assert recipe.resolve_data_root(root, "full") == root  # a folder that holds the data is used as it is
    with pytest.raises(FileNotFoundError, match="FlyingChairs.zip"):
        recipe.resolve_data_root(tmp_path / "data", "full")


def test_flow_sample_writers_are_registered():
    from course_lib.data import registry
    from course_lib.synthetic import chairs, kitti_flow

    assert registry.get("chairs").sample_writer_fn() is chairs.write_sample
    assert registry.get("kitti").sample_writer_fn() is kitti_flow.write_sample


def test_flow_models_import_neither_data_nor_config():
    import ast
    import inspect

    from course_lib.models import flow_ops, flownet, raft

    for module in (raft, flownet, flow_ops):
        tree = ast.parse(inspect.getsource(module))
        imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        imported += [a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names]
        assert not [m for m in imported if m.strip(".").split(".")[0] in ("data", "config", "course_lib")], module


def test_raft_small_weights_through_torchvisions_weight_api(tmp_path, monkeypatch, capsys):
    """``weights="torchvision"`` runs torchvision's weight API; a state dict under its cached name stands in for the
    download (TORCH_HOME points at a fresh folder), so the real API path runs without the network."""
    import urllib.error

    import torchvision
    import torchvision.models._api as tv_api

    from course_lib.models.raft import TORCHVISION_RAFT_SMALL_FILES, raft_small

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    cache = tmp_path / "torch" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    weights = torchvision.models.optical_flow.Raft_Small_Weights.C_T_V2
    name = weights.url.rsplit("/", 1)[-1]
    assert name == TORCHVISION_RAFT_SMALL_FILES[0]
    torch.manual_seed(3)
    reference = torchvision.models.optical_flow.raft_small(weights=None)
    torch.save(reference.state_dict(), cache / name)
    model = raft_small(weights="torchvision")
    assert model.backbone_source.startswith("torchvision Raft_Small_Weights.C_T_V2") and name in model.backbone_source
    for key, value in reference.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key

    def offline(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable (simulated)")

    (cache / name).unlink()
    monkeypatch.setattr(tv_api, "load_state_dict_from_url", offline)
    model = raft_small(weights="torchvision")
    assert model.backbone_source is None and "random initialisation" in capsys.readouterr().out
