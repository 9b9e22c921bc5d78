"""Panoptic FPN (arXiv:1901.02446): the semantic FPN head, one backbone shared by both branches, the training
targets made from COCO panoptic files, and the recipe trained by the shared loop and scored with PQ."""

import numpy as np
import pytest
import torch

from course_lib.models.panoptic_fpn import SemanticFPNHead, panoptic_fpn
from course_lib.recipes import get_recipe
from course_lib.recipes.panoptic import PanopticTargets
from course_lib.synthetic.panoptic import write_coco_sample


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return write_coco_sample(tmp_path_factory.mktemp("panoptic_fpn"), n_train=2, n_val=1, size=(80, 64))


def test_semantic_head_merges_four_levels_at_quarter_scale():
    head = SemanticFPNHead(in_channels=16, channels=32, num_classes=5)
    assert [len(b) for b in head.branches] == [1, 1, 2, 3]  # P2: one stage, P3..P5: one per 2x upsampling
    assert [isinstance(b[-1][-1], torch.nn.Upsample) for b in head.branches] == [False, True, True, True]
    feats = [torch.randn(2, 16, 16 // 2**k, 20 // 2**k) for k in range(4)]
    assert head(feats).shape == (2, 5, 16, 20)


def _target(h=64, w=80):
    masks = torch.zeros(1, h, w, dtype=torch.uint8)
    masks[0, 10:40, 20:50] = 1
    semantic = torch.full((h, w), 2)
    semantic[10:40, 20:50] = 0
    semantic[:5] = 255
    return {"boxes": torch.tensor([[20.0, 10, 50, 40]]), "labels": torch.tensor([1]), "masks": masks,
            "semantic": semantic}


def test_one_backbone_feeds_both_branches_and_outputs_come_at_input_size():
    torch.manual_seed(0)
    net = panoptic_fpn(num_things=2, num_stuff=3, backbone="resnet18", min_size=64, max_size=96, fpn_channels=32,
                       semantic_channels=32, rpn_pre_nms_top_n_train=50, rpn_post_nms_top_n_train=50,
                       box_batch_size_per_image=16, box_detections_per_img=5)
    with pytest.raises(ValueError, match="num_stuff"):
        panoptic_fpn(num_things=2, num_stuff=0)
    images = torch.rand(2, 3, 64, 80)
    losses = net.train()((images, [_target(), _target()]))  # the shared loop's (images, targets) pair
    assert set(losses) == {"loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box_reg", "loss_mask",
                           "loss_semantic"}
    losses["loss_semantic"].backward()
    first = net.detector.backbone.body.conv1.weight.grad
    assert first is not None and first.abs().sum() > 0  # the semantic loss reaches the shared backbone
    assert net.detector.roi_heads.box_predictor.cls_score.weight.grad is None
    with torch.no_grad():
        out = net.eval()(images[:1, :, :60, :70])
    assert out[0]["semantic_logits"].shape == (4, 60, 70) and out[0]["masks"].shape[-2:] == (60, 70)


def test_training_targets_from_panoptic_files(sample):
    from course_lib.data.coco_panoptic import coco_panoptic

    data = PanopticTargets(coco_panoptic(sample, "train"))
    assert data.thing_ids == [1, 3, 18] and data.stuff_ids == [149, 184, 187, 193]
    for k in range(len(data)):
        (image, target), same = data[k]
        assert same is target and image.shape[1:] == target["semantic"].shape and 0 <= image.min() <= image.max() <= 1
        _, ids, segments = data.panoptic.load_raw(k)
        things = [s for s in segments if s["category_id"] in data.thing_ids]
        assert len(target["labels"]) == sum(1 for s in things if not s["iscrowd"])
        thing_pixels = np.isin(ids, [s["id"] for s in things])
        assert (target["semantic"].numpy()[thing_pixels] == 0).all()  # crowd is "things" too
        assert (target["semantic"].numpy()[ids == 0] == 255).all()
        for box, mask in zip(target["boxes"], target["masks"], strict=True):
            ys, xs = torch.nonzero(mask, as_tuple=True)
            assert box.tolist() == [xs.min().item(), ys.min().item(), xs.max().item() + 1, ys.max().item() + 1]


@pytest.mark.slow
def test_recipe_trains_with_the_shared_loop_and_scores_pq(sample, tmp_path):
    recipe = get_recipe("panoptic-fpn-coco")
    result = recipe.train(sample, profile="quick", epochs=1, out_dir=tmp_path / "run", progress=False,
                          overrides={"max_items": 2, "max_val_items": 1, "min_size": 64, "max_size": 80})
    assert set(result.metrics) >= {"pq", "sq", "rq", "pq_things", "pq_stuff"} and 0 <= result.metrics["pq"] <= 1
    assert (tmp_path / "run" / "last.pt").is_file() and np.isfinite(result.history[0]["train_loss"])
    model, cfg = recipe.load_model(tmp_path / "run" / "last.pt", device=torch.device("cpu"))
    assert cfg.num_things == 3 and isinstance(model.semantic_head, SemanticFPNHead)
    with pytest.raises(ValueError, match="thing and .* stuff"):
        recipe.train(sample, profile="quick", epochs=1, out_dir=tmp_path / "bad", progress=False,
                     overrides={"num_things": 80})
