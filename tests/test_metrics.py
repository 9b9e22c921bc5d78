"""Confusion-matrix metrics, checked by hand and against torchmetrics as an oracle."""

import math

import pytest
import torch
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score, MulticlassJaccardIndex

from course_lib.metrics import (
    ConfusionMatrix,
    binary_dice,
    confusion_matrix,
    dice_per_class,
    frequency_weighted_iou,
    iou_per_class,
    mean_class_accuracy,
    mean_dice,
    mean_iou,
    pixel_accuracy,
)


def test_worked_example_by_hand():
    target = torch.tensor([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 2, 2]])
    pred = torch.tensor([[0, 1, 1, 1], [0, 0, 1, 2], [2, 2, 0, 2]])
    cm = confusion_matrix(pred, target, 3)
    assert cm.tolist() == [[3, 1, 0], [0, 3, 1], [1, 0, 3]]
    assert pixel_accuracy(cm) == pytest.approx(9 / 12)
    # class 0: TP 3, FP 1, FN 1 -> IoU 3/5, Dice 6/8
    assert iou_per_class(cm).tolist() == pytest.approx([3 / 5, 3 / 5, 3 / 5])
    assert dice_per_class(cm).tolist() == pytest.approx([6 / 8, 6 / 8, 6 / 8])
    assert mean_class_accuracy(cm) == pytest.approx(3 / 4)


def test_ignore_index_and_logits():
    target = torch.tensor([[[0, 255, 1]]])
    logits = torch.tensor([[[[5.0, 5.0, -1.0]], [[0.0, 0.0, 3.0]]]])  # [N=1, C=2, H=1, W=3]
    cm = confusion_matrix(logits, target, 2, ignore_index=255)
    assert cm.tolist() == [[1, 0], [0, 1]]


def test_absent_class_is_nan_not_zero():
    cm = confusion_matrix(torch.tensor([0, 0, 1]), torch.tensor([0, 0, 1]), 3)
    iou = iou_per_class(cm)
    assert math.isnan(iou[2]) and mean_iou(cm) == 1.0


def test_bad_labels_raise():
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix(torch.tensor([0, 1]), torch.tensor([0, 7]), 3)
    with pytest.raises(ValueError, match="shape"):
        confusion_matrix(torch.tensor([0, 1]), torch.tensor([0, 1, 1]), 3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_against_torchmetrics(seed):
    g = torch.Generator().manual_seed(seed)
    c, ignore = 5, 255
    target = torch.randint(0, c, (4, 17, 23), generator=g)
    target[torch.rand(target.shape, generator=g) < 0.1] = ignore
    target[target == 3] = 2  # class 3 never in the truth
    pred = torch.randint(0, c, (4, 17, 23), generator=g)
    m = ConfusionMatrix(c, ignore)
    for i in range(4):  # accumulate batch by batch: dataset-level scores
        m.update(pred[i:i + 1], target[i:i + 1])
    scores = m.compute()
    acc = MulticlassAccuracy(c, average="micro", ignore_index=ignore)(pred, target)
    assert scores["pixel_accuracy"] == pytest.approx(acc.item(), abs=1e-6)
    iou = MulticlassJaccardIndex(c, average="none", ignore_index=ignore)(pred, target)
    ours = iou_per_class(m.cm)
    present = ~torch.isnan(ours)
    assert torch.allclose(ours[present].float(), iou[present], atol=1e-6)
    f1 = MulticlassF1Score(c, average="none", ignore_index=ignore)(pred, target)
    d = dice_per_class(m.cm)
    assert torch.allclose(d[present].float(), f1[present], atol=1e-6)
    assert mean_dice(m.cm) == pytest.approx(d[present].mean().item())
    # the mean over the classes that occur equals torchmetrics' macro average restricted to them
    assert scores["miou"] == pytest.approx(iou[present].mean().item(), abs=1e-6)
    freq = m.cm.sum(1).double() / m.cm.sum()
    assert frequency_weighted_iou(m.cm) == pytest.approx(float((freq[present] * ours[present]).sum()))


def test_dataset_level_differs_from_mean_of_images():
    # one big image all right, one tiny image all wrong: dataset-level accuracy stays high
    m = ConfusionMatrix(2)
    m.update(torch.zeros(1, 10, 10, dtype=torch.long), torch.zeros(1, 10, 10, dtype=torch.long))
    m.update(torch.zeros(1, 1, 1, dtype=torch.long), torch.ones(1, 1, 1, dtype=torch.long))
    assert m.compute()["pixel_accuracy"] == pytest.approx(100 / 101)


def test_binary_dice_matches_torchmetrics_and_empty_case():
    from torchmetrics.functional.classification import binary_f1_score

    g = torch.Generator().manual_seed(0)
    p = (torch.rand(3, 8, 8, generator=g) > 0.5).long()
    t = (torch.rand(3, 8, 8, generator=g) > 0.5).long()
    ours = binary_dice(p, t)
    for i in range(3):
        assert ours[i].item() == pytest.approx(binary_f1_score(p[i], t[i]).item(), abs=1e-6)
    empty = torch.zeros(1, 4, 4)
    assert binary_dice(empty, empty).item() == 1.0
    assert mean_iou(confusion_matrix(p, t, 2)) == pytest.approx(
        MulticlassJaccardIndex(2, average="macro")(p, t).item(), abs=1e-6)


def test_per_class_names():
    m = ConfusionMatrix(2, class_names=["sky", "road"])
    m.update(torch.tensor([0, 1]), torch.tensor([0, 0]))
    pc = m.per_class()
    assert pc["sky"]["iou"] == pytest.approx(0.5) and pc["road"]["iou"] == 0.0
