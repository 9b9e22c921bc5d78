"""PointRend as a refinement head on Mask R-CNN (Chapter 5): fit on coarse masks, compare with and without it."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from course_lib.metrics.boundary import boundary_f1
from course_lib.recipes import get_recipe
from course_lib.recipes.pointrend import fit_pointrend, pointrend_compare, refined_detections
from course_lib.synthetic import pennfudan as pennfudan_sample

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pycocotools")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("pennfudan")
    pennfudan_sample.write_sample(root, n_images=6, size=(96, 80))
    recipe = get_recipe("maskrcnn-pennfudan")
    cfg = dataclasses.replace(recipe.quick, min_size=96, max_size=128, max_image_size=128, detections_per_image=10)
    torch.manual_seed(0)
    model = recipe.build_model(cfg).eval()  # untrained: its detections and coarse masks are poor, but real
    data_root = recipe.resolve_data_root(root)
    val = recipe.build_dataset(data_root, "val", cfg, train=False)
    return recipe, cfg, model, val


def test_compare_scores_both_mask_sets_on_the_same_detections(setup):
    recipe, cfg, model, val = setup
    refiner = fit_pointrend(model, val, iterations=3, hidden=16, num_points=32)
    scores = pointrend_compare(model, refiner, val)
    assert set(scores) == {"coarse", "pointrend"}
    for s in scores.values():
        assert 0.0 <= s["mask_ap"] <= 1.0 and 0.0 <= s["mask_ap50"] <= 1.0
    # the coarse path reproduces torchvision's own pasted masks: the recipe's evaluation is the oracle
    assert scores["coarse"]["mask_ap"] == pytest.approx(recipe.evaluate(model, val, cfg, progress=False)["mask_ap"])
    image, _ = val[0]
    out = refined_detections(model, refiner, image)
    assert out["refined_masks"].shape == out["masks"].shape and out["masks"].shape[-2:] == image.shape[-2:]
    with pytest.raises(ValueError, match="boxes must be"):
        pointrend_compare(model, refiner, val, boxes="proposals")
    with_pixels = fit_pointrend(model, val, iterations=1, hidden=16, num_points=32, fine_source="fpn+image")
    assert with_pixels.head.layers[0].in_channels == refiner.head.layers[0].in_channels + 3
    assert pointrend_compare(model, with_pixels, val)["pointrend"]["pairs"] == scores["pointrend"]["pairs"]
    with pytest.raises(ValueError, match="fine_source"):
        fit_pointrend(model, val, iterations=1, fine_source="p2")


def test_point_head_fitted_on_the_truth_sharpens_boundaries(setup):
    recipe, cfg, _, val = setup
    torch.manual_seed(0)  # R50-FPN: its finest level is P2 (stride 4), the fine features PointRend reads
    model = recipe.build_model(dataclasses.replace(cfg, variant="resnet50_fpn")).eval()
    refiner = fit_pointrend(model, val, iterations=150, lr=3e-3, hidden=64, num_points=28 * 28)
    full = dict(boxes="ground_truth", match_iou=0.0, num_points=112 * 112)
    scores = pointrend_compare(model, refiner, val, **full)
    assert scores["coarse"]["pairs"] == scores["pointrend"]["pairs"] > 0
    assert scores["pointrend"]["boundary_f"] > scores["coarse"]["boundary_f"]
    assert scores["pointrend"]["pair_iou"] > scores["coarse"]["pair_iou"]
    # the score reads the masks: the same refined masks scored by hand give the same mean boundary F
    image, target = val[0]
    out = refined_detections(model, refiner, image, num_points=112 * 112, given=target)
    f = boundary_f1(out["refined_masks"][0, 0] >= 0.5, target["masks"][0].as_subclass(torch.Tensor), 1)
    assert 0.0 <= f <= 1.0
