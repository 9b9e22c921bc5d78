"""Chapter 4: A-CE2P, SCHP's loss, self-correction (cyclical rate, weight averaging, label refinement), the recipes."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.data.parsing import flip_logits
from course_lib.losses.parsing import SCHPLoss, parsing_edges, refine_labels, soft_cross_entropy
from course_lib.models import ACE2P
from course_lib.recipes import get_recipe
from course_lib.recipes.parsing import predict_parsing
from course_lib.recipes.self_correction import (
    SelfCorrection,
    cycle_end_steps,
    running_average_,
    schp_schedule,
)

TINY = dict(backbone="resnet18", context_channels=8, decoder_channels=8, edge_channels=4)


def test_ace2p_branches_and_gradients():
    torch.manual_seed(0)
    net = ACE2P(7, **TINY)
    out = net(torch.randn(2, 3, 48, 32))
    assert {k: tuple(v.shape) for k, v in out.items()} == {"parsing": (2, 7, 12, 8), "fusion": (2, 7, 12, 8),
                                                           "edge": (2, 2, 12, 8)}
    SCHPLoss()(out, torch.randint(0, 7, (2, 48, 32))).backward()
    for part in (net.backbone.conv1, net.edge.classify, net.parsing_head, net.fusion[-1]):
        assert part.weight.grad is not None and part.weight.grad.abs().sum() > 0
    assert net.eval()(torch.randn(1, 3, 40, 30)).shape == (1, 7, 40, 30)
    with pytest.raises(ValueError, match="backbone"):
        ACE2P(7, backbone="vgg16")


def test_edges_refinement_and_soft_cross_entropy():
    labels = torch.tensor([[[0, 0, 1, 1], [0, 0, 1, 1], [255, 255, 1, 1]]])
    assert parsing_edges(labels).tolist() == [[[0, 1, 1, 0], [0, 1, 1, 0], [255, 255, 1, 0]]]
    logits = torch.randn(1, 2, 3, 4)
    onehot = refine_labels(torch.randn(1, 2, 3, 4), labels, cycles=0)
    valid = labels != 255
    expected = F.cross_entropy(logits, labels, ignore_index=255)
    assert float(soft_cross_entropy(logits, onehot, valid)) == pytest.approx(float(expected), rel=1e-5)
    q = refine_labels(torch.zeros(1, 2, 3, 4), labels, cycles=3)  # 3/4 of a uniform guess + 1/4 of the label
    assert q[0, :, 0, 2].tolist() == pytest.approx([0.375, 0.625]) and torch.allclose(q.sum(1), torch.ones(1, 3, 4))


def test_loss_uses_the_aggregated_model_once_cycles_started():
    torch.manual_seed(1)
    out = {k: torch.randn(2, 4, 6, 6) for k in ("parsing", "fusion")} | {"edge": torch.randn(2, 2, 6, 6)}
    labels = torch.zeros(2, 12, 12, dtype=torch.long)
    labels[:, 3:9, 2:7] = 2
    plain = SCHPLoss()(out, labels)
    same = SCHPLoss()(out | {"average": copy.deepcopy(out), "cycles": 0}, labels)
    soft = SCHPLoss()(out | {"average": {k: v + 1.0 * torch.randn_like(v) for k, v in out.items()}, "cycles": 2},
                      labels)
    assert float(plain) == pytest.approx(float(same)) and float(soft) != pytest.approx(float(plain))


def test_running_average_matches_torch_swa_utils():
    from torch.optim.swa_utils import AveragedModel

    torch.manual_seed(2)
    nets = [nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)) for _ in range(3)]
    for n in nets:
        n.train()(torch.randn(2, 3, 5, 5))  # different BatchNorm statistics in each
    oracle = AveragedModel(nets[0], use_buffers=True)
    oracle.update_parameters(nets[0])  # its first update copies, as SelfCorrection's first cycle end does
    ours = copy.deepcopy(nets[0])
    for count, n in enumerate(nets[1:], start=1):
        oracle.update_parameters(n)
        running_average_(ours, n, count)
    for (name, a), b in zip(ours.state_dict().items(), oracle.module.state_dict().values(), strict=True):
        torch.testing.assert_close(a.float(), b.float(), msg=name)


def test_schedule_restarts_at_each_cycle_end():
    f = schp_schedule()
    ends = cycle_end_steps(150)
    assert ends == [100, 110, 120, 130, 140, 150]
    assert f(0.0) == 0.0 and f(10 / 150) == pytest.approx(1.0)
    for end in ends[:-1]:  # the rate is low before each cycle end and restarts at half the base rate after it
        assert f(end / 150 - 1e-6) < 0.02 and f(end / 150) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        schp_schedule(warmup=0.7, start=0.5)


def test_self_correction_aggregates_at_cycle_ends_and_keeps_its_state():
    torch.manual_seed(3)
    net = SelfCorrection(ACE2P(3, **TINY), total_steps=6, start=0.5, cycles=3)
    assert net.ends == [3, 4, 5, 6]
    x, seen = torch.randn(2, 3, 32, 32), []
    for _ in range(6):
        out = net.train()(x)
        seen.append(out.get("cycles", 0))
        with torch.no_grad():
            for p in net.model.parameters():
                p.add_(0.01)  # a "training step"
    assert seen == [0, 0, 0, 1, 2, 3]
    net.eval()
    result = net(x)  # the last cycle end is folded in before the evaluation
    assert int(net.cycles) == 4
    torch.testing.assert_close(result, net.average.eval()(x))
    clone = SelfCorrection(ACE2P(3, **TINY), total_steps=None)
    clone.load_state_dict(net.state_dict())
    assert int(clone.cycles) == 4 and clone.ends == []
    torch.testing.assert_close(clone.eval()(x), result)
    plain = SelfCorrection(ACE2P(3, **TINY), total_steps=6, enabled=False)
    for _ in range(6):
        assert "average" not in plain.train()(x)
    assert int(plain.cycles) == 0


def test_flip_tta_swaps_the_channels_back():
    torch.manual_seed(4)
    model = nn.Conv2d(3, 5, 1)  # a per-pixel model: its output for a mirrored picture is the mirrored output
    x = torch.randn(1, 3, 4, 6)
    pairs = ((1, 2), (3, 4))
    plain = model(x)
    expected = 0.5 * (plain + plain[:, [0, 2, 1, 4, 3]])
    torch.testing.assert_close(predict_parsing(model, x, pairs, amp=False), expected)
    torch.testing.assert_close(flip_logits(model(x.flip(-1)), pairs), plain[:, [0, 2, 1, 4, 3]])


@pytest.mark.slow
def test_recipe_trains_evaluates_and_reloads(tmp_path):
    from course_lib.synthetic.parsing import write_lip_sample

    root = write_lip_sample(tmp_path / "data", n_train=4, n_val=2, size=(48, 32))
    recipe = get_recipe("schp-lip")
    overrides = dict(TINY, crop_size=[48, 32], batch_size=2, epochs=3, val_every=1, label_noise=0.5)
    result = recipe.train(root, profile="quick", overrides=overrides, out_dir=tmp_path / "run", progress=False)
    assert len(result.history) == 3 and 0.0 <= result.metrics["miou"] <= 1.0
    assert int(result.model.cycles) == 3  # 2 steps an epoch, 6 in all: the cycle ends fall on steps 4, 5 and 6
    model, cfg = recipe.load_model(result.checkpoint, device=torch.device("cpu"))
    again = recipe.evaluate(model, recipe.build_dataset(root, "val", cfg, train=False), cfg, progress=False)
    assert again["miou"] == pytest.approx(result.metrics["miou"])
    assert {r.name for r in [get_recipe(n) for n in ("schp-cihp", "schp-atr", "schp-ppp")]} == {
        "schp-cihp", "schp-atr", "schp-ppp"}


def test_recipe_label_set_trains_and_scores_the_mapped_classes(tmp_path):
    from course_lib.data.parsing_labels import COARSE_CLASSES
    from course_lib.synthetic.parsing import write_lip_sample

    root = write_lip_sample(tmp_path / "data", n_train=2, n_val=1, size=(48, 32))
    recipe = get_recipe("schp-lip")
    cfg = recipe.config("quick", dict(TINY, crop_size=[48, 32], label_set="coarse"))
    assert recipe.label_set(cfg) == (COARSE_CLASSES, ())
    val = recipe.build_dataset(root, "val", cfg, train=False)
    assert int(val[0][1][val[0][1] != 255].max()) < len(COARSE_CLASSES)
    model = recipe.build_model(cfg)
    assert model.eval()(val[0][0][None]).shape[1] == len(COARSE_CLASSES)
    assert 0.0 <= recipe.evaluate(model, val, cfg, progress=False)["miou"] <= 1.0
    with pytest.raises(ValueError, match="no label mapping"):
        recipe.label_set(recipe.config("quick", {"label_set": "ade20k"}))
