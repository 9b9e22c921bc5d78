"""Chapter 5 models: RoIAlign by hand and mask targets (torchvision oracle), Mask R-CNN, YOLACT, PointRend."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from torchvision.models.detection.roi_heads import project_masks_on_boxes

from course_lib.losses.instance import YolactLoss, point_loss
from course_lib.models.maskrcnn import VARIANTS, load_coco_weights, maskrcnn, replace_predictors
from course_lib.models.pointrend import (
    PointHead,
    most_uncertain_points,
    point_sample,
    sample_training_points,
    subdivision_inference,
)
from course_lib.models.roi_align import bilinear, mask_targets, roi_align
from course_lib.models.yolact import crop_masks, decode_boxes, encode_boxes, fast_nms, yolact

ROIS = torch.tensor([[0, 1.3, 2.2, 9.7, 11.1], [1, -3.0, -2.0, 5.0, 4.0], [0, 10.0, 8.0, 30.0, 20.0],
                     [1, 4.0, 4.0, 4.2, 4.5], [0, 0.0, 0.0, 16.0, 12.0]])


@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize(("scale", "ratio"), [(1.0, -1), (0.5, 2), (0.25, 0)])
def test_roi_align_by_hand_equals_torchvision(aligned, scale, ratio):
    features = torch.randn(2, 3, 13, 17, generator=torch.Generator().manual_seed(0))
    ours = roi_align(features, ROIS, (7, 5), scale, ratio, aligned)
    theirs = torchvision.ops.roi_align(features, ROIS, (7, 5), scale, ratio, aligned)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_bilinear_is_exact_at_pixel_centres_and_zero_far_outside():
    f = torch.arange(12.0).view(1, 3, 4)
    assert bilinear(f, torch.tensor([2.0]), torch.tensor([3.0])).item() == 11.0
    assert bilinear(f, torch.tensor([-1.5]), torch.tensor([0.0])).item() == 0.0


def test_mask_targets_equal_torchvision_projection():
    gen = torch.Generator().manual_seed(1)
    masks = (torch.rand(3, 40, 50, generator=gen) > 0.5).float()
    proposals = torch.tensor([[3.0, 4, 20, 30], [10, 10, 45, 38], [0, 0, 50, 40]])
    matched = torch.tensor([2, 0, 1])
    ours = mask_targets(masks, proposals, matched)
    assert ours.shape == (3, 28, 28)
    torch.testing.assert_close(ours, project_masks_on_boxes(masks, proposals, matched, 28), atol=1e-5, rtol=1e-5)


def test_maskrcnn_builds_offline_and_trains_on_empty_images():
    for variant in VARIANTS[:2]:
        assert maskrcnn(num_classes=91, variant=variant).roi_heads.mask_predictor is not None
    model = maskrcnn(num_classes=3, variant="mobilenet_v3", min_size=96, max_size=128, box_batch_size_per_image=32,
                     rpn_pre_nms_top_n_train=100, rpn_post_nms_top_n_train=50)
    masks = torch.zeros(1, 80, 96, dtype=torch.uint8)
    masks[0, 10:50, 20:60] = 1
    targets = [{"boxes": torch.tensor([[20.0, 10.0, 60.0, 50.0]]), "labels": torch.tensor([2]), "masks": masks},
               {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64),
                "masks": torch.zeros(0, 80, 96, dtype=torch.uint8)}]
    losses = model([torch.rand(3, 80, 96), torch.rand(3, 80, 96)], targets)
    assert set(losses) == {"loss_classifier", "loss_box_reg", "loss_mask", "loss_objectness", "loss_rpn_box_reg"}
    sum(losses.values()).backward()
    assert all(torch.isfinite(v) for v in losses.values())
    model.eval()
    out = model([torch.rand(3, 80, 96)])[0]
    assert out["masks"].shape[1:] == (1, 80, 96)
    with pytest.raises(ValueError, match="unknown Mask R-CNN variant"):
        maskrcnn(variant="resnet9")


def test_replace_predictors_keeps_the_rest():
    model = maskrcnn(num_classes=91, variant="mobilenet_v3", min_size=64, max_size=64)
    before = model.backbone.body["0"][0].weight.clone()
    replace_predictors(model, 2)
    assert model.roi_heads.box_predictor.cls_score.out_features == 2
    assert model.roi_heads.box_predictor.bbox_pred.out_features == 8
    assert model.roi_heads.mask_predictor.mask_fcn_logits.out_channels == 2
    assert torch.equal(model.backbone.body["0"][0].weight, before)


def test_coco_weights_offline_leave_the_model_and_say_so(monkeypatch, capsys):
    import course_lib.models.weights as W

    monkeypatch.setattr(W, "torchvision_state", lambda w: (None, "no network"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: "/nonexistent")
    model = maskrcnn(num_classes=91, variant="mobilenet_v3", min_size=64, max_size=64)
    with pytest.raises(ValueError, match="no COCO weights"):
        load_coco_weights(model, "mobilenet_v3")
    big = maskrcnn(num_classes=91)
    assert load_coco_weights(big, "resnet50_fpn") is None
    assert "no network" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------------------ YOLACT
def test_fast_nms_against_standard_nms():
    # A suppresses B; B (suppressed) still suppresses C under Fast NMS; standard NMS keeps C
    boxes = torch.tensor([[0.0, 0, 10, 10], [4, 0, 14, 10], [8, 0, 18, 10], [50, 50, 60, 60], [0, 0, 10, 10]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.95])
    classes = torch.tensor([0, 0, 0, 0, 1])
    standard = torchvision.ops.batched_nms(boxes, scores, classes, 0.3)
    fast = fast_nms(boxes, scores, classes, 0.3)
    assert set(standard.tolist()) == {4, 0, 2, 3} and set(fast.tolist()) == {4, 0, 3}
    gen = torch.Generator().manual_seed(0)
    for _ in range(5):
        xy = torch.rand(60, 2, generator=gen) * 100
        b = torch.cat([xy, xy + 5 + torch.rand(60, 2, generator=gen) * 30], 1)
        s, c = torch.rand(60, generator=gen), torch.randint(0, 3, (60,), generator=gen)
        assert set(fast_nms(b, s, c, 0.5).tolist()) <= set(torchvision.ops.batched_nms(b, s, c, 0.5).tolist())


def test_box_coding_and_crop():
    anchors = torch.tensor([[0.5, 0.5, 0.2, 0.4], [0.1, 0.9, 0.05, 0.05]])
    boxes = torch.tensor([[0.3, 0.2, 0.6, 0.9], [0.0, 0.8, 0.2, 1.0]])
    torch.testing.assert_close(decode_boxes(encode_boxes(boxes, anchors), anchors), boxes)
    cropped = crop_masks(torch.ones(2, 8, 8), torch.tensor([[0.0, 0.0, 0.5, 1.0], [0.25, 0.25, 0.75, 0.75]]))
    assert cropped[0].sum() == 32 and cropped[1].sum() == 16 and cropped[0, :, 4:].sum() == 0


def test_yolact_learns_a_tiny_scene():
    torch.manual_seed(0)
    model = yolact(num_classes=2, image_size=128, num_prototypes=4, width=32)
    loss_fn = YolactLoss.for_model(model)
    masks = torch.zeros(1, 128, 128, dtype=torch.uint8)
    masks[0, 30:90, 40:100] = 1
    image = torch.full((1, 3, 128, 128), 0.2)
    image[:, :, 30:90, 40:100] = 0.9
    targets = [{"boxes": torch.tensor([[40.0, 30.0, 100.0, 90.0]]), "labels": torch.tensor([1]), "masks": masks}]
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    first = None
    for _ in range(12):
        out = model(image)
        loss = loss_fn(out, targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < first and set(loss_fn.last) == {"class", "box", "mask"}
    assert out["prototypes"].shape == (1, 32, 32, 4) and out["logits"].shape[1] == len(model.anchors)
    model.eval()
    det = model.detect(model(image), score_threshold=0.0, max_detections=5)[0]
    assert det["masks"].shape[1:] == (32, 32) and len(det["boxes"]) <= 5
    empty = loss_fn(model(image), [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long),
                                    "masks": torch.zeros(0, 128, 128)}])
    assert torch.isfinite(empty)


# ------------------------------------------------------------------------------------------------------ PointRend
def test_point_sample_equals_bilinear_of_roi_align():
    gen = torch.Generator().manual_seed(0)
    f = torch.randn(1, 2, 6, 9, generator=gen)
    pts = torch.rand(1, 20, 2, generator=gen) * 0.76 + 0.12  # inside: at the border grid_sample pads with zeros,
    # where RoIAlign clamps to the border pixel
    ours = point_sample(f, pts)
    ref = bilinear(f[0], pts[0, :, 1] * 6 - 0.5, pts[0, :, 0] * 9 - 0.5)
    torch.testing.assert_close(ours[0], ref, atol=1e-5, rtol=1e-5)


def test_importance_sampling_finds_the_uncertain_band():
    coarse = torch.full((1, 1, 28, 28), 8.0)
    coarse[..., 12:16] = 0.0  # the uncertain band: x in [12/28, 16/28)
    gen = torch.Generator().manual_seed(0)
    # 10 x 100 candidates, about 210 of them near the band: the 100 most uncertain all lie there
    important = sample_training_points(coarse, 100, oversample=10, importance=1.0, generator=gen)
    uniform = sample_training_points(coarse, 200, oversample=3, importance=0.0, generator=gen)
    near = lambda p: ((p[..., 0] > 11 / 28) & (p[..., 0] < 17 / 28)).float().mean().item()  # noqa: E731
    assert near(important) > 0.95 and near(uniform) < 0.4
    assert sample_training_points(coarse, 200, importance=0.75).shape == (1, 200, 2)
    with pytest.raises(ValueError):
        sample_training_points(coarse, 10, oversample=0.5)


def test_subdivision_with_an_exact_head_sharpens_the_boundary():
    fine = torch.full((1, 1, 112, 112), -6.0)
    yy, xx = torch.meshgrid(torch.arange(112), torch.arange(112), indexing="ij")
    fine[0, 0][(yy - 56) ** 2 + (xx - 50) ** 2 < 30 ** 2] = 6.0
    coarse = torch.nn.functional.interpolate(fine, size=(28, 28), mode="area")

    class Exact(torch.nn.Module):  # returns the fine logits at the points: what a perfect point head would
        def forward(self, fine_points, coarse_points):
            return fine_points

    truth = fine > 0
    refined = subdivision_inference(coarse, fine, Exact(), steps=2, num_points=28 * 28) > 0
    upsampled = torch.nn.functional.interpolate(coarse, size=(112, 112), mode="bilinear", align_corners=False) > 0
    assert (refined != truth).sum() < (upsampled != truth).sum()
    idx, pts = most_uncertain_points(coarse, 5)
    assert idx.shape == (1, 5) and pts.shape == (1, 5, 2)


def test_point_head_trains_on_points():
    torch.manual_seed(0)
    head = PointHead(fine_channels=4, hidden=32)
    fine, coarse = torch.randn(2, 4, 50), torch.randn(2, 1, 50)
    labels = (fine[:, 0] > 0).float()
    opt = torch.optim.Adam(head.parameters(), 1e-2)
    losses = []
    for _ in range(30):
        loss = point_loss(head(fine, coarse)[:, 0], labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_pointrend_refiner_on_maskrcnn_coarse_masks():
    from course_lib.models.pointrend import PointRendRefiner, maskrcnn_point_inputs

    torch.manual_seed(0)
    model = maskrcnn(num_classes=2, variant="mobilenet_v3", min_size=96, max_size=128).eval()
    masks = torch.zeros(2, 80, 96)
    masks[0, 10:60, 10:40] = 1
    masks[1, 20:70, 50:90] = 1
    boxes = torch.tensor([[10.0, 10.0, 40.0, 60.0], [50.0, 20.0, 90.0, 70.0]])
    with torch.no_grad():
        coarse, fine = maskrcnn_point_inputs(model, [torch.rand(3, 80, 96)], [boxes], [torch.tensor([1, 1])])
    assert coarse.shape == (2, 1, 28, 28) and fine.shape[0] == 2 and fine.shape[-2:] == (56, 56)
    truth = mask_targets(masks, boxes, torch.tensor([0, 1]), size=112)[:, None]
    refiner = PointRendRefiner(fine_channels=fine.shape[1], num_points=64, hidden=32)
    opt = torch.optim.Adam(refiner.parameters(), 1e-2)
    losses = []
    for _ in range(25):
        loss = refiner.loss(coarse, fine, truth)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    assert refiner.refine(coarse, fine, steps=2).shape == (2, 1, 112, 112)
