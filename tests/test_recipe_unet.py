"""The unet-kvasir recipe: binary metrics against torchmetrics, the native-resolution protocol, training through
Recipe.train and the command line, checkpoints that evaluate to the same numbers."""

import json

import pytest
import torch
from torch import nn

from course_lib.metrics import BinarySegmentationMeter, binary_iou, binary_stats
from course_lib.recipes import get_recipe
from course_lib.recipes.unet import UNetConfig, predict_binary
from course_lib.synthetic import kvasir as synthetic_kvasir

tm_seg = pytest.importorskip("torchmetrics.functional.segmentation")
tm_cls = pytest.importorskip("torchmetrics.functional.classification")

TINY = {"width": 4, "depth": 2, "size": [32, 32], "decode_size": None, "batch_size": 2, "eval_batch_size": 2}


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    root = tmp_path_factory.mktemp("kvasir_recipe")
    synthetic_kvasir.write_sample(root, n_train=4, n_val=3, size_range=(64, 96), seed=2)
    return root


@pytest.fixture
def masks():
    g = torch.Generator().manual_seed(0)
    pred = torch.rand(6, 20, 24, generator=g) > 0.5
    target = torch.rand(6, 20, 24, generator=g) > 0.6
    target[0] = False  # no object, but a prediction: Dice 0
    pred[1], target[1] = False, False  # both empty: perfect agreement
    return pred, target


@pytest.mark.filterwarnings("ignore:dice_score metric currently defaults")
def test_per_image_scores_match_torchmetrics(masks):
    pred, target = masks
    meter = BinarySegmentationMeter()
    meter.update(pred[:4], target[:4])
    meter.update(pred[4:], target[4:])
    per_image = meter.per_image
    dice = tm_seg.dice_score(pred.long(), target.long(), num_classes=2, include_background=False,
                             input_format="index", aggregation_level="samplewise", average="micro")
    for i in (0, 2, 3, 4, 5):  # torchmetrics scores the doubly-empty image 0 or NaN; we score it 1 (agreement)
        assert per_image[i]["dice"] == pytest.approx(float(dice[i]), abs=1e-6)
        iou = tm_cls.binary_jaccard_index(pred[i].long(), target[i].long())
        assert per_image[i]["iou"] == pytest.approx(float(iou), abs=1e-6)
    assert per_image[1] == {"dice": 1.0, "iou": 1.0, "area": 0, "predicted": 0}
    scores = meter.compute()
    assert scores["dice"] == pytest.approx(sum(p["dice"] for p in per_image) / 6)
    assert binary_iou(pred, target)[3].item() == pytest.approx(per_image[3]["iou"])


def test_dataset_scores_match_torchmetrics(masks):
    pred, target = masks
    meter = BinarySegmentationMeter()
    meter.update(pred, target)
    scores = meter.compute()
    assert scores["dataset_dice"] == pytest.approx(float(tm_cls.binary_f1_score(pred.long(), target.long())), abs=1e-6)
    assert scores["dataset_iou"] == pytest.approx(float(tm_cls.binary_jaccard_index(pred.long(), target.long())),
                                                  abs=1e-6)
    assert scores["precision"] == pytest.approx(float(tm_cls.binary_precision(pred.long(), target.long())), abs=1e-6)
    assert scores["recall"] == pytest.approx(float(tm_cls.binary_recall(pred.long(), target.long())), abs=1e-6)
    # Dice = 2 IoU / (1 + IoU) holds at dataset level
    assert scores["dataset_dice"] == pytest.approx(2 * scores["dataset_iou"] / (1 + scores["dataset_iou"]))


def test_binary_stats_rejects_mismatched_shapes():
    assert [t.tolist() for t in binary_stats(torch.tensor([[1, 0]]), torch.tensor([[1, 1]]))] == [[1], [0], [1]]
    with pytest.raises(ValueError, match="does not match"):
        binary_stats(torch.zeros(1, 4), torch.zeros(1, 5))


class AllPolyp(nn.Module):
    """Predicts 'polyp' everywhere: its Dice on an image is 2 |T| / (|T| + H W) at the resolution scored."""

    def __init__(self):
        super().__init__()
        self.p = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return torch.full_like(x[:, :1], 10.0) + self.p


def test_evaluation_scores_at_the_native_mask_resolution(sample):
    recipe = get_recipe("unet-kvasir")
    cfg = recipe.config("quick", TINY)
    val = recipe.build_dataset(recipe.resolve_data_root(sample), "val", cfg, train=False)
    meter = recipe.score(AllPolyp(), val, cfg, device=torch.device("cpu"), progress=False)
    expected = []
    for i in range(len(val)):
        mask = torch.as_tensor(val.load_raw(i)[1])
        expected.append(2 * mask.sum().item() / (mask.sum().item() + mask.numel()))
    assert [p["dice"] for p in meter.per_image] == pytest.approx(expected)
    assert sum(p["area"] for p in meter.per_image) == sum(int(val.load_raw(i)[1].sum()) for i in range(len(val)))


def test_predict_binary_resizes_each_map():
    probs = predict_binary(AllPolyp(), torch.zeros(2, 3, 8, 8), [(5, 7), (9, 3)])
    assert [tuple(p.shape) for p in probs] == [(5, 7), (9, 3)] and all((p > 0.99).all() for p in probs)
    with pytest.raises(ValueError, match="output sizes"):
        predict_binary(AllPolyp(), torch.zeros(2, 3, 8, 8), [(5, 7)])


def test_recipe_trains_and_its_checkpoint_evaluates_the_same(sample, tmp_path):
    recipe = get_recipe("unet-kvasir")
    result = recipe.train(sample, profile="quick", overrides=TINY, epochs=2, out_dir=tmp_path, progress=False,
                          device=torch.device("cpu"))
    assert len(result.history) == 2 and "val_dice" in result.history[-1]
    assert set(result.metrics) >= {"dice", "iou", "dataset_dice", "dataset_iou"}
    assert (tmp_path / "best.pt").is_file() and (tmp_path / "history.json").is_file()
    model, cfg = recipe.load_model(tmp_path / "last.pt", torch.device("cpu"))
    assert cfg.width == 4 and model.skip and cfg == result.config
    again = recipe.evaluate_splits(model, sample, "val", cfg, device=torch.device("cpu"), progress=False)
    assert again["dice"] == pytest.approx(result.metrics["dice"], abs=1e-9)


def test_settings_of_the_profiles():
    recipe = get_recipe("unet-kvasir")
    full, quick = recipe.config("full"), recipe.config("quick")
    assert isinstance(full, UNetConfig) and isinstance(quick, UNetConfig)
    assert full.size in ((352, 352), (256, 256)) and full.optimizer == "adam" and full.amp
    assert full.schedule in ("poly", "cosine") and quick.size[0] % 2 ** quick.depth == 0
    assert recipe.config("quick", {"skip": False}).skip is False
    assert recipe.config("quick", {"size": "[32, 48]"}).size == (32, 48)  # --set size=[32,48]
    with pytest.raises(KeyError, match="lr_typo"):
        recipe.config("quick", {"lr_typo": 1})
    with pytest.raises(TypeError, match="depth"):
        recipe.config("quick", {"depth": "deep"})


def test_command_line(sample, tmp_path, capsys):
    # the same entry points as `python -m course_lib.train` / `python -m course_lib.evaluate`, called in-process
    from course_lib import evaluate, train

    sets = [a for k, v in TINY.items() for a in ("--set", f"{k}={json.dumps(v)}")]
    assert train.main(["unet-kvasir", "--data-root", str(sample), "--profile", "quick", "--epochs", "1",
                       "--out", str(tmp_path), "--no-progress", *sets]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["recipe"] == "unet-kvasir" and 0.0 <= summary["val_dice"] <= 1.0
    assert evaluate.main(["unet-kvasir", "--checkpoint", str(tmp_path / "last.pt"),
                          "--data-root", str(sample / "Kvasir-SEG"), "--no-progress"]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert metrics["dice"] == pytest.approx(summary["val_dice"], abs=1e-9)
    assert train.main(["unet-kvasir", "--data-root", str(tmp_path / "nowhere"), "--profile", "quick"]) == 2
    assert "nowhere" in capsys.readouterr().err


def test_evaluation_reports_pranets_dice_over_thresholds(sample):
    """AllPolyp's map is constant at sigmoid(10) < 1: PraNet's evaluation leaves a constant map unstretched, so every
    threshold k/255 below 1 marks all pixels (Dice 2|T| / (|T| + HW)) and the threshold 1 none (Dice 0)."""
    recipe = get_recipe("unet-kvasir")
    cfg = recipe.config("quick", TINY)
    val = recipe.build_dataset(recipe.resolve_data_root(sample), "val", cfg, train=False)
    scores = recipe.evaluate(AllPolyp(), val, cfg, device=torch.device("cpu"), progress=False)
    per_image = []
    for i in range(len(val)):
        mask = torch.as_tensor(val.load_raw(i)[1])
        per_image.append(2 * mask.sum().item() / (mask.sum().item() + mask.numel()))
    assert scores["dice"] == pytest.approx(sum(per_image) / len(per_image))
    assert scores["dice_pranet"] == pytest.approx(scores["dice"] * 255 / 256)
    assert scores["dice_pranet_max"] == pytest.approx(scores["dice"])
    assert 0 < scores["iou_pranet"] < scores["dice_pranet"]
