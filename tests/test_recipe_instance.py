"""Chapter 5 recipes: Mask R-CNN on the Penn-Fudan and COCO samples through ``course_lib.train`` / ``evaluate``."""

from __future__ import annotations

import json

import pytest
import torch

from course_lib.data.coco import CocoInstances
from course_lib.evaluate import main as evaluate_main
from course_lib.metrics.instance_ap import coco_evaluate
from course_lib.recipes import get_recipe
from course_lib.recipes.instance import detections_to_results, targets_to_coco
from course_lib.synthetic import coco as coco_sample
from course_lib.synthetic import pennfudan as pennfudan_sample
from course_lib.train import main as train_main

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pycocotools")
TINY = ["--set", "min_size=96", "--set", "max_size=128", "--set", "max_image_size=128", "--set", "batch_size=2",
        "--set", "detections_per_image=10", "--set", "rpn_post_nms_top_n_train=50", "--no-progress"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("instances")
    pennfudan_sample.write_sample(root, n_images=6, size=(96, 80))
    coco_sample.write_sample(root, n_train=4, n_val=2, size=(128, 96))
    return root


def test_maskrcnn_pennfudan_trains_and_evaluates(data, tmp_path, capsys):
    assert train_main(["maskrcnn-pennfudan", "--data-root", str(data), "--profile", "quick", "--epochs", "1",
                       "--out", str(tmp_path / "run"), *TINY]) == 0
    trained = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"val_mask_ap", "val_box_ap", "val_mask_ap50"} <= set(trained) and trained["data"]["synthetic"]
    assert 0.0 <= trained["val_mask_ap"] <= 1.0
    assert evaluate_main(["maskrcnn-pennfudan", "--checkpoint", str(tmp_path / "run" / "last.pt"),
                          "--data-root", str(data), "--no-progress"]) == 0
    evaluated = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert evaluated["mask_ap"] == pytest.approx(trained["val_mask_ap"], abs=1e-6)


def test_maskrcnn_coco_on_a_category_subset(data, tmp_path, capsys):
    assert train_main(["maskrcnn-coco", "--data-root", str(data), "--epochs", "1", "--out", str(tmp_path / "run"),
                       "--set", 'categories=["person","car"]', *TINY]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert "val_mask_ap" in out
    recipe = get_recipe("maskrcnn-coco")
    model, cfg = recipe.load_model(tmp_path / "run" / "last.pt", torch.device("cpu"))
    assert model.detector.roi_heads.box_predictor.cls_score.out_features == 3 and cfg.categories == ("person", "car")


def test_yolact_coco_trains_and_evaluates(data, tmp_path, capsys):
    assert train_main(["yolact-coco", "--data-root", str(data), "--epochs", "1", "--out", str(tmp_path / "run"),
                       "--set", "image_size=128", "--set", "width=32", "--set", "num_prototypes=4",
                       "--set", "score_threshold=0.0", "--set", "detections_per_image=5", "--no-progress"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 0.0 <= out["val_mask_ap"] <= 1.0 and out["val_detections"] > 0
    recipe = get_recipe("yolact-coco")
    model, cfg = recipe.load_model(tmp_path / "run" / "last.pt", torch.device("cpu"))
    ds = recipe.build_dataset(recipe.resolve_data_root(data), "val", cfg, train=False)
    image, _ = ds[0]
    det = model.eval()([image])[0]
    assert image.shape[-2:] == (128, 128) and det["masks"].shape[1:] == (1, 128, 128) and len(det["boxes"]) <= 5


def test_ground_truth_as_detections_scores_one(data):
    ds = CocoInstances(data, "train", include_crowd=True, category_labels=True)
    targets, sizes, results = [], [], []
    for i in range(len(ds)):
        image, target = ds[i]
        keep = target["iscrowd"] == 0
        output = {"boxes": target["boxes"].as_subclass(torch.Tensor)[keep], "labels": target["labels"][keep],
                  "scores": torch.linspace(0.9, 0.5, int(keep.sum())),
                  "masks": target["masks"][keep][:, None].float()}
        results += detections_to_results(output, target["image_id"], ds.category_ids)[0]
        targets.append(target)
        sizes.append(tuple(image.shape[-2:]))
    gt = targets_to_coco(targets, sizes, ds.category_ids, ds.classes)
    assert sum(a["iscrowd"] for a in gt["annotations"]) >= 1
    assert coco_evaluate(gt, results)["AP"] == pytest.approx(1.0)
    official = ds.ground_truth()  # the file's own annotations give the same score (same masks, crowds ignored)
    assert coco_evaluate(official, results)["AP"] == pytest.approx(1.0)
    assert coco_evaluate(gt, results[1:])["AP"] < 1.0  # one object missed
