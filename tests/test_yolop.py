"""YOLOP (arXiv:2108.11250): the three heads on one encoder, YOLOv5's box decoding and anchor assignment, the six
losses, the synthetic driving scenes, and joint training through the shared loop."""

import numpy as np
import pytest
import torch
from torchvision.ops import complete_box_iou_loss

from course_lib.losses.yolop import YOLOPLoss
from course_lib.models import count_parameters
from course_lib.models.yolop import decode_boxes, decode_detections, yolop
from course_lib.synthetic.driving_multitask import driving_batch


def test_heads_and_sizes():
    net = yolop(width=8)
    out = net(torch.rand(2, 3, 64, 96))
    assert [tuple(o.shape) for o in out["detection"]] == [(2, 3, 8, 12, 6), (2, 3, 4, 6, 6), (2, 3, 2, 3, 6)]
    assert out["drivable"].shape == out["lane"].shape == (2, 2, 64, 96)
    assert 6.5e6 < count_parameters(yolop(width=32)) < 8.5e6  # the paper's YOLOP has 7.9 M parameters
    with pytest.raises(ValueError, match="multiples of 32"):
        net(torch.rand(1, 3, 60, 96))


def test_decoding_follows_yolov5():
    raw = torch.zeros(1, 3, 2, 2, 6)  # sigmoid(0) = 0.5: centre at the cell centre, size = the anchor
    anchors = torch.tensor([[10.0, 20.0], [5.0, 5.0], [8.0, 4.0]])
    boxes = decode_boxes(raw, anchors, stride=8)
    assert boxes[0, 0, 1, 0].tolist() == [4.0, 12.0, 10.0, 20.0]  # cell (y=1, x=0): centre (0.5, 1.5) x 8
    assert boxes[0, 2, 0, 1].tolist() == [12.0, 4.0, 8.0, 4.0]


def test_assignment_and_losses_by_hand():
    net = yolop(width=8).eval()
    out = {k: v for k, v in net(torch.zeros(1, 3, 64, 64)).items()}
    for raw in out["detection"]:
        raw.data.zero_()
    # one 12 x 10 box centred at (30, 40): within ratio 4 (strictly) of the stride-8 anchors (5, 11) and (4, 20), not
    # (3, 9) (12 / 3 = 4), of the three stride-16 ones, of none at stride 32; each assigned anchor predicts its own
    # size at its cell's centre: the loss is 1 - CIoU, averaged per level, summed over the levels
    from torchvision.ops import box_convert

    targets = {"boxes": [torch.tensor([[0, 30.0, 40.0, 12.0, 10.0]])],
               "drivable": torch.zeros(1, 64, 64, dtype=torch.long), "lane": torch.zeros(1, 64, 64, dtype=torch.long)}
    parts = YOLOPLoss(net).parts(out, targets)
    truth = box_convert(torch.tensor([[30.0, 40.0, 12.0, 10.0]]), "cxcywh", "xyxy")
    expected = 0.0
    for centre, anchors in (((28.0, 44.0), ((5, 11), (4, 20))), ((24.0, 40.0), ((7, 18), (6, 39), (12, 31)))):
        preds = box_convert(torch.tensor([[*centre, w, h] for w, h in anchors]), "cxcywh", "xyxy")
        expected += complete_box_iou_loss(preds, truth.expand(len(anchors), 4)).mean().item()
    assert parts["box"].item() == pytest.approx(expected, abs=1e-5)
    assert parts["class"].item() == 0.0  # one class: no class loss
    assert parts["lane_iou"].item() == pytest.approx(1.0)  # no lane pixels: IoU 0


def test_scenes_hold_consistent_targets():
    images, targets = driving_batch(3, 64, 96, rng=np.random.default_rng(0))
    assert images.shape == (3, 3, 64, 96) and 0 <= images.min() and images.max() <= 1
    for boxes, drivable, lane in zip(targets["boxes"], targets["drivable"], targets["lane"], strict=True):
        assert 1 <= len(boxes) <= 3 and (boxes[:, 0] == 0).all()
        assert drivable.float().mean() > 0.1 and lane.sum() > 0
        for _, cx, cy, _w, _h in boxes.tolist():  # vehicles hide the drivable area under them
            assert drivable[int(cy), int(cx)] == 0


@pytest.mark.slow
def test_joint_training_lowers_every_loss_through_the_shared_loop():
    from course_lib.engine import Trainer, TrainerConfig

    torch.manual_seed(0)
    net = yolop(width=8)
    batch = driving_batch(2, 64, 64, rng=np.random.default_rng(1))
    loss = YOLOPLoss(net)
    before = {k: v.item() for k, v in loss.parts(net(batch[0]), batch[1]).items()}
    Trainer(net, loss, torch.optim.AdamW(net.parameters(), lr=3e-3), [batch] * 8,
            config=TrainerConfig(epochs=1, progress=False, amp=False)).fit()
    net.train()  # compare in the mode the losses were computed in
    after = {k: v.item() for k, v in loss.parts(net(batch[0]), batch[1]).items()}
    for key in ("box", "objectness", "drivable", "lane"):
        assert after[key] < before[key], (key, before[key], after[key])
    dets = decode_detections(net.eval(), net(batch[0])["detection"], conf=0.0, max_det=5)
    assert len(dets) == 2 and all(len(d["boxes"]) <= 5 for d in dets)


def test_demo_trains_and_scores_the_three_tasks():
    from course_lib.recipes.yolop_demo import train_yolop

    model, history, scores = train_yolop(width=4, size=(64, 64), train_batches=1, batch_size=2, val_batches=1,
                                         epochs=1, progress=False)
    assert len(history) == 1 and np.isfinite(history[0]["train_loss"])
    assert set(scores) == {"recall", "map50", "da_miou", "lane_iou"}
    assert all(0.0 <= v <= 1.0 for v in scores.values()) and history[0]["val_da_miou"] == pytest.approx(
        scores["da_miou"])
