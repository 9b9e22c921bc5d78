"""BiSeNet V2 (arXiv 2004.02147): the paper's structure and size, booster heads in training only, the
bisenetv2-camvid recipe through the shared loop, and the real-time benchmark's table."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from course_lib.losses import AuxCrossEntropy
from course_lib.models import BiSeNetV2, bisenetv2
from course_lib.models.bisenetv2 import GatherExpansion, StemBlock
from course_lib.recipes import get_recipe

CPU = torch.device("cpu")


def _depthwise(module: nn.Module) -> int:
    return sum(1 for m in module.modules() if isinstance(m, nn.Conv2d) and m.groups == m.in_channels > 1)


def test_structure_follows_the_paper():
    net = bisenetv2(num_classes=19, booster_channels=0).eval()
    # Table 1: detail branch 64, 64, 128 channels in 8 convs; the semantic branch ends at 128 channels
    convs = [m for m in net.detail.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 64, 64, 64, 64, 128, 128, 128]
    assert [c.stride[0] for c in convs] == [2, 1, 2, 1, 1, 2, 1, 1]
    assert _depthwise(GatherExpansion(16, 32, stride=2)) == 3  # two on the main path, one on the shortcut
    assert _depthwise(GatherExpansion(32, 32)) == 1 and isinstance(GatherExpansion(32, 32).shortcut, nn.Identity)
    assert StemBlock(16)(torch.randn(1, 3, 64, 64)).shape == (1, 16, 16, 16)  # 1/4
    # the paper's model has 3.4 M parameters (Table 7, BiSeNetV2); boosters are training-only extras
    params = sum(p.numel() for p in net.parameters())
    assert 3.2e6 < params < 3.6e6
    x = torch.randn(1, 3, 128, 160)
    stages, out = net.semantic(x)
    assert [tuple(s.shape[1:]) for s in stages] == [(16, 32, 40), (32, 16, 20), (64, 8, 10), (128, 4, 5)]
    assert net.detail(x).shape == (1, 128, 16, 20)


def test_boosters_in_training_only_and_gradients_reach_both_branches():
    net = BiSeNetV2(num_classes=4, detail_channels=(16, 32), semantic_channels=(8, 16, 16, 32), head_channels=16,
                    booster_channels=8)
    x, target = torch.randn(2, 3, 70, 90), torch.randint(0, 4, (2, 70, 90))
    outputs = net.train()(x)
    assert len(outputs) == 5 and all(o.shape == (2, 4, 70, 90) for o in outputs)  # odd sizes come back whole
    AuxCrossEntropy(aux_weight=1.0)(outputs, target).backward()
    assert net.detail[0][0].weight.grad.abs().sum() > 0 and net.semantic.stem.conv[0].weight.grad.abs().sum() > 0
    assert net.eval()(x).shape == (2, 4, 70, 90)
    with pytest.raises(ValueError, match="must equal"):
        BiSeNetV2(num_classes=3, detail_channels=(16, 32), semantic_channels=(8, 16, 16, 64))
    with pytest.raises(ValueError, match="width"):
        bisenetv2(num_classes=3, width=0)


def test_recipe_trains_one_epoch_through_the_shared_loop(camvid_sample, tmp_path):
    recipe = get_recipe("bisenetv2-camvid")
    full = recipe.full
    assert (full.optimizer, full.lr, full.weight_decay, full.schedule, full.batch_size, full.aux_weight) == \
        ("sgd", 0.05, 5e-4, "poly", 16, 1.0) and not full.pretrained_backbone
    tiny = {"width": 0.25, "head_channels": 8, "booster_channels": 8, "crop_size": [48, 64], "batch_size": 2,
            "eval_scale": 0.5}
    result = recipe.train(camvid_sample, profile="quick", overrides=tiny, epochs=1, out_dir=tmp_path,
                          progress=False, device=CPU)
    assert len(result.history) == 1 and math.isfinite(result.history[0]["train_loss"])
    assert 0.0 <= result.metrics["miou"] <= 1.0
    model, cfg = recipe.load_model(tmp_path / "last.pt", CPU)
    assert isinstance(model, BiSeNetV2) and model.num_classes == 11
    again = recipe.evaluate_splits(model, camvid_sample, "val", cfg, device=CPU, progress=False)
    assert again["miou"] == pytest.approx(result.metrics["miou"], abs=1e-9)


def _benchmark():
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "realtime_latency.py"
    spec = importlib.util.spec_from_file_location("realtime_latency", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_latency_rows_and_table(tmp_path):
    bench = _benchmark()
    args = bench.build_parser().parse_args(["--latency-only", "--sizes", "64x96", "96x128", "--repeats", "1",
                                            "--no-isolate", "--threads", "1"])
    row = bench.measure_row(bench.MODELS["bisenetv2"], None, args)
    assert row["params"] == sum(p.numel() for p in bisenetv2(num_classes=11, booster_channels=0).parameters())
    assert row["latency_ms_64x96"] > 0 and row["gflops_96x128"] > row["gflops_64x96"]
    rows = [row, {"key": "enet", "model": "ENet", "source": "pytorchcv", "error": "not runnable here: x"},
            {**row, "key": "b", "val_miou": 0.5, "test_miou": 0.25, "test_pixel_accuracy": 0.75, "steps": 3}]
    table = bench.markdown(rows, [(64, 96), (96, 128)], 1).splitlines()
    assert table[0].startswith("| model | variant | params (M) | ms/frame 64x96 (1 thr)") and len(table) == 5
    assert "not runnable here" in table[3] and table[4].endswith("| 3 | 50.0 | 25.0 | 75.0 |")
    with pytest.raises(SystemExit):
        bench.build_parser().parse_args(["--sizes", "10x10"])
