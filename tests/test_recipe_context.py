"""The context-model recipes (segnet-camvid, pspnet-camvid, deeplabv3plus-camvid, deeplabv3plus-ade20k) and
pranet-kvasir: paper settings in ``full``, one short epoch on each sample through Recipe.train, checkpoints that
evaluate to the same numbers, PraNet's multi-scale batches and deep-supervised loss, one command-line run."""

import json
import math
import subprocess
import sys

import pytest
import torch

from course_lib import evaluate
from course_lib.losses import AuxCrossEntropy, DeepSupervisionLoss
from course_lib.recipes import get_recipe
from course_lib.recipes.pranet import MultiScaleBatches, multiscale_size
from course_lib.synthetic import ade20k as synthetic_ade20k
from course_lib.synthetic import kvasir as synthetic_kvasir

CPU = torch.device("cpu")
# one short epoch: tiny crops, batches of 2 (BatchNorm on the 1x1 pooling branches needs 2)
TINY = {
    "segnet-camvid": {"width": 0.0625, "crop_size": [48, 64], "batch_size": 2, "eval_scale": 0.5},
    "pspnet-camvid": {"head_channels": 16, "crop_size": [48, 64], "batch_size": 2, "eval_scale": 0.5},
    "deeplabv3plus-camvid": {"head_channels": 16, "low_level_channels": 8, "crop_size": [48, 64],
                             "batch_size": 2, "eval_scale": 0.5},
    "deeplabv3plus-ade20k": {"head_channels": 16, "low_level_channels": 8, "crop_size": [48, 64],
                             "batch_size": 2, "eval_scale": 0.5},
}
TINY_PRANET = {"size": [32, 32], "size_multiple": 8, "decode_size": None, "channels": 8, "batch_size": 2,
               "eval_batch_size": 2, "max_val_items": 2}


@pytest.fixture(scope="module")
def ade_sample(tmp_path_factory):
    root = tmp_path_factory.mktemp("ade_sample")
    synthetic_ade20k.write_sample(root, n_train=4, n_val=2, size=(96, 72))
    return root


@pytest.fixture(scope="module")
def kvasir_sample(tmp_path_factory):
    root = tmp_path_factory.mktemp("kvasir_sample")
    synthetic_kvasir.write_sample(root, n_train=4, n_val=2, size_range=(64, 96), seed=1)
    return root


def test_full_profiles_follow_the_papers():
    segnet = get_recipe("segnet-camvid").full
    assert (segnet.optimizer, segnet.lr, segnet.schedule, segnet.batch_size) == ("sgd", 0.1, "constant", 12)
    assert segnet.class_weighting == "median_frequency" and segnet.pretrained_backbone
    psp = get_recipe("pspnet-camvid").full
    assert (psp.backbone, psp.output_stride, psp.aux_weight, psp.lr, psp.schedule, psp.batch_size) == \
        ("resnet50", 8, 0.4, 0.01, "poly", 16)
    ade = get_recipe("deeplabv3plus-ade20k").full
    assert (ade.output_stride, ade.crop_size, ade.lr, ade.schedule) == (16, (513, 513), 0.007, "poly")
    pra = get_recipe("pranet-kvasir").full
    assert (pra.size, pra.backbone, pra.optimizer, pra.lr, pra.epochs, pra.size_rates) == \
        ((352, 352), "res2net50", "adam", 1e-4, 20, (0.75, 1.0, 1.25))
    for name in (*TINY, "pranet-kvasir"):  # quick never downloads weights
        assert get_recipe(name).quick.pretrained_backbone is False


@pytest.mark.parametrize("name", list(TINY))
def test_recipe_trains_one_epoch_and_its_checkpoint_evaluates_the_same(name, camvid_sample, ade_sample, tmp_path):
    recipe = get_recipe(name)
    sample = ade_sample if recipe.dataset == "ade20k" else camvid_sample
    result = recipe.train(sample, profile="quick", overrides=TINY[name], epochs=1, out_dir=tmp_path,
                          progress=False, device=CPU)
    assert len(result.history) == 1 and math.isfinite(result.history[0]["train_loss"])
    assert set(result.metrics) >= {"pixel_accuracy", "mean_accuracy", "miou", "fwiou"}
    assert all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in result.metrics.values())
    model, cfg = recipe.load_model(tmp_path / "last.pt", CPU)
    again = recipe.evaluate_splits(model, sample, "val", cfg, device=CPU, progress=False)
    assert again["miou"] == pytest.approx(result.metrics["miou"], abs=1e-9)
    assert model.num_classes == recipe.info.num_classes  # 11 CamVid classes, 150 ADE20K classes


def test_pspnet_loss_weighs_the_auxiliary_head(camvid_sample):
    recipe = get_recipe("pspnet-camvid")
    cfg = recipe.config("quick", TINY["pspnet-camvid"])
    root = recipe.resolve_data_root(camvid_sample)
    train_set = recipe.build_dataset(root, "train", cfg, train=True)
    loss = recipe.build_loss(cfg, train_set)
    assert isinstance(loss, AuxCrossEntropy) and loss.aux_weight == 0.4 and loss.ignore_index == 11
    model = recipe.build_model(cfg).train()
    images, masks = next(iter(recipe.loader(train_set, cfg, train=True)))
    main, aux = model(images)
    expected = (torch.nn.functional.cross_entropy(main, masks, ignore_index=11)
                + 0.4 * torch.nn.functional.cross_entropy(aux, masks, ignore_index=11))
    assert loss((main, aux), masks).item() == pytest.approx(expected.item(), rel=1e-5)


def test_ade20k_recipe_ignores_other_and_predicts_150_classes(ade_sample):
    recipe = get_recipe("deeplabv3plus-ade20k")
    cfg = recipe.config("quick", TINY["deeplabv3plus-ade20k"])
    val = recipe.build_dataset(recipe.resolve_data_root(ade_sample), "val", cfg, train=False)
    masks = torch.cat([val[i][1].flatten() for i in range(len(val))])
    assert masks.max() == 255 and masks[masks != 255].max() < 150  # "other" (stored 0) became 255
    assert recipe.build_loss(cfg, val).ignore_index == 255


def test_multiscale_batches_rescale_images_and_masks():
    assert [multiscale_size(352, r) for r in (0.75, 1.0, 1.25)] == [256, 352, 448]  # PraNet's 256/352/448
    masks = torch.zeros(2, 32, 32, dtype=torch.long)
    masks[:, 8:24, 8:24] = 1
    batches = list(MultiScaleBatches([(torch.randn(2, 3, 32, 32), masks)], (0.75, 1.0, 1.25), multiple=8))
    assert [tuple(x.shape) for x, _ in batches] == [(2, 3, 24, 24), (2, 3, 32, 32), (2, 3, 40, 40)]
    small = batches[0][1]
    assert small.dtype == torch.float32 and 0 <= small.min() and small.max() <= 1
    assert small.mean().item() == pytest.approx(masks.float().mean().item(), abs=0.05)  # same share of polyp
    assert torch.equal(batches[1][1], masks)  # rate 1: unchanged
    assert len(MultiScaleBatches([None] * 5, (0.75, 1.0, 1.25))) == 15


def test_pranet_recipe_trains_with_deep_supervision_at_three_scales(kvasir_sample, tmp_path):
    recipe = get_recipe("pranet-kvasir")
    cfg = recipe.config("quick", TINY_PRANET)
    root = recipe.resolve_data_root(kvasir_sample)
    train_set = recipe.build_dataset(root, "train", cfg, train=True)
    assert isinstance(recipe.build_loss(cfg, train_set), DeepSupervisionLoss)
    result = recipe.train(kvasir_sample, profile="quick", overrides=TINY_PRANET, epochs=1, out_dir=tmp_path,
                          progress=False, device=CPU)
    assert result.history[0]["step"] == 3 * (len(train_set) // 2)  # every batch at 0.75, 1 and 1.25
    for key in ("dice", "iou", "dice_pranet", "dice_pranet_max", "iou_pranet"):  # both Dice protocols
        assert 0.0 <= result.metrics[key] <= 1.0
    model, cfg2 = recipe.load_model(tmp_path / "last.pt", CPU)
    assert cfg2.size_rates == (0.75, 1.0, 1.25) and model.arch == "resnet18"


def test_command_line_trains_and_evaluates(ade_sample, tmp_path, capsys):
    overrides = [a for k, v in TINY["deeplabv3plus-ade20k"].items() for a in ("--set", f"{k}={json.dumps(v)}")]
    proc = subprocess.run([sys.executable, "-m", "course_lib.train", "deeplabv3plus-ade20k", "--data-root",
                           str(ade_sample), "--profile", "quick", "--epochs", "1", "--out", str(tmp_path),
                           "--no-progress", *overrides], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["recipe"] == "deeplabv3plus-ade20k" and summary["data"]["synthetic"] is True
    assert evaluate.main(["deeplabv3plus-ade20k", "--checkpoint", str(tmp_path / "last.pt"), "--data-root",
                          str(ade_sample), "--split", "val", "--no-progress"]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert metrics["miou"] == pytest.approx(summary["val_miou"], abs=1e-9)
