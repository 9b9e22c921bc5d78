"""The zoo of Chapter 3: zoo.yaml against the builders, the ZooNet wrapper, the cost measurements (FLOPs against a
hand count), the benchmark's table on two tiny models with a 2-second budget, and its command line."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from torch import nn

from course_lib.models.zoo import VARIANTS, ZooNet, ZooVariant, build_variant, main_output, unavailable_reason
from course_lib.recipes.zoo import markdown_table, measure_cost, measure_cost_isolated, run_zoo
from course_lib.results.zoo import load_measurements, load_zoo, zoo_table
from course_lib.synthetic import camvid as synthetic_camvid

LECTURE = ["FCN", "ENet", "PSPNet", "ICNet", "DeepLabv3", "DeepLabv3+", "DenseASPP", "EncNet", "BiSeNet", "PSANet",
           "DANet", "OCNet", "CGNet", "ESPNetv2", "DUNet", "FastFCN", "LEDNet", "Fast-SCNN", "LightSeg", "DFANet"]
TINY = [ZooVariant("tiny-segnet", "SegNet", "course_lib", "segnet", {"width": 0.0625}),
        ZooVariant("tiny-deeplab", "DeepLabv3+", "course_lib", "deeplabv3plus",
                   {"backbone": "mobilenet_v2", "aspp_channels": 16, "low_level_channels": 8}, multiple=16)]


@pytest.fixture(scope="module")
def small_camvid(tmp_path_factory):
    root = tmp_path_factory.mktemp("zoo_camvid")
    synthetic_camvid.write_sample(root, n_train=4, n_val=2, n_test=2, size=(96, 72))
    return root


def test_zoo_file_lists_the_lecture_models_and_every_variant_once():
    entries = load_zoo()
    assert [e["name"] for e in entries if e.get("in_lecture_list", True)] == LECTURE
    listed = [k for e in entries for k in e.get("variants") or []]
    assert sorted(listed) == sorted(VARIANTS)  # every builder has its paper row, and only once
    for e in entries:
        assert e["link"].startswith(("https://", "http://")) and e["idea"].endswith(".")
    table = zoo_table()
    assert len(table) == len(entries)
    assert table.set_index("model").loc["PSANet", "runs from"].startswith("not runnable here: ")
    assert "torchvision.models.segmentation.deeplabv3_resnet50(weights=None" in \
        table.set_index("model").loc["DeepLabv3", "runs from"]


def test_a_malformed_zoo_file_is_refused_with_its_name(tmp_path):
    bad = tmp_path / "zoo.yaml"
    bad.write_text("version: 1\nmodels:\n  - {name: X, paper: p, link: l, idea: i, variants: [nope]}\n")
    with pytest.raises(ValueError, match=r"zoo\.yaml: model 'X' names variant 'nope'"):
        load_zoo(bad)
    bad.write_text("version: 1\nmodels:\n  - {name: X, paper: p, link: l, idea: i}\n")
    with pytest.raises(ValueError, match="either runnable variants or a not_runnable reason"):
        load_zoo(bad)


def test_zoonet_pads_to_the_multiple_and_crops_back():
    seen = {}

    class NeedsMultipleOf8(nn.Module):
        def forward(self, x):
            seen["size"] = tuple(x.shape[-2:])
            assert x.shape[-2] % 8 == 0 and x.shape[-1] % 8 == 0
            return {"out": x[:, :2], "aux": x[:, :1]}  # torchvision's layout

    x = torch.randn(1, 3, 13, 21)
    y = ZooNet(NeedsMultipleOf8(), multiple=8)(x)
    assert seen["size"] == (16, 24) and y.shape == (1, 2, 13, 21) and torch.equal(y, x[:, :2])
    assert main_output((torch.zeros(1), torch.ones(1))).item() == 0.0
    with pytest.raises(TypeError, match="main output"):
        main_output("logits")


def test_every_zoo_variant_builds_and_keeps_the_input_size():
    for key, variant in VARIANTS.items():
        if unavailable_reason(variant):
            continue
        net = build_variant(key, num_classes=11, size=(64, 96)).eval()
        with torch.no_grad():
            assert net(torch.randn(1, 3, 64, 96)).shape == (1, 11, 64, 96), key
    with pytest.raises(KeyError, match="unknown zoo model"):
        build_variant("no-such-net", 11)


def test_measure_cost_counts_a_convolution_by_hand():
    cost = measure_cost(nn.Conv2d(3, 8, 3, padding=1), (20, 30), repeats=3, threads=1)
    assert cost["params"] == 8 * 3 * 9 + 8
    assert cost["gflops"] * 1e9 == pytest.approx(2 * 8 * 3 * 9 * 20 * 30)  # 2 FLOPs per multiply-add
    assert len(cost["latency_runs_ms"]) == 3 and cost["latency_ms"] > 0 and cost["peak_mem_mib"] >= 0
    assert 0 <= cost["cpu_ms"] <= max(cost["latency_runs_ms"]) + 50  # one thread: CPU time <= wall time


def test_isolated_measurement_sees_the_activation_memory():
    big = measure_cost_isolated(TINY[0], num_classes=11, size=(720, 960), repeats=1, threads=1)
    # SegNet keeps its first block's 4-channel map and pooling indices at full resolution: well over 10 MiB here
    assert big["peak_mem_mib"] > 10 and big["params"] == sum(p.numel() for p in TINY[0].build(11).parameters())


def test_table_of_two_tiny_models_after_a_two_second_budget(small_camvid):
    rows = run_zoo(TINY, small_camvid, minutes=2 / 60, size=(72, 96), threads=2, repeats=2, isolate=False, log=None)
    assert [r["key"] for r in rows] == ["tiny-segnet", "tiny-deeplab"]
    for row in rows:
        assert "error" not in row, row.get("error")
        assert row["steps"] >= 1 and 2.0 <= row["train_cpu_seconds"] and row["train_seconds"] < 60  # a CPU-time budget
        for split in ("val", "test"):
            assert 0.0 <= row[f"{split}_miou"] <= 1.0 and 0.0 <= row[f"{split}_pixel_accuracy"] <= 1.0
            assert row[f"{split}_images"] == 2
    assert rows[1]["input"] == "80x96"  # padded to a multiple of 16
    table = markdown_table([*rows, {"key": "gone", "model": "X", "source": "pytorchcv", "error": "not | here"}])
    lines = table.splitlines()
    assert len(lines) == 5 and lines[2].startswith("| SegNet | tiny-segnet | course_lib | 0.12 |")
    assert "not / here" in lines[4]  # a reason never breaks the table's columns
    assert all(line.count("|") == lines[0].count("|") for line in lines)


def test_benchmark_command_writes_json_and_table_into_the_work_folder(small_camvid, tmp_path, capsys):
    key = "fast-scnn"
    if unavailable_reason(VARIANTS[key]):
        pytest.skip(unavailable_reason(VARIANTS[key]))
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "seg_zoo.py"
    spec = importlib.util.spec_from_file_location("seg_zoo", path)
    seg_zoo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seg_zoo)
    out = tmp_path / "zoo" / "result.json"
    args = ["--models", key, "--budget-minutes", "0.02", "--data-root", str(small_camvid), "--size", "64", "96",
            "--eval-items", "1", "--repeats", "1", "--no-isolate", "--out", str(out)]
    assert seg_zoo.main(args) == 0
    data = load_measurements(out)
    assert [r["key"] for r in data["rows"]] == [key] and data["data"]["synthetic"] is True
    assert data["settings"]["budget_minutes"] == 0.02 and out.with_suffix(".md").read_text().startswith("| model")
    assert "| Fast-SCNN | fast-scnn | pytorchcv |" in capsys.readouterr().out
    assert not any(p.name.endswith((".json", ".md")) for p in small_camvid.rglob("*"))  # nothing in the data root
    # rows of an earlier run with the same settings are kept when other models are measured
    old = json.loads(out.read_text())
    old["rows"].append({**old["rows"][0], "key": "cgnet", "model": "CGNet"})
    out.write_text(json.dumps(old))
    assert seg_zoo.main(args) == 0
    assert [r["key"] for r in load_measurements(out)["rows"]] == ["cgnet", key]  # in the zoo's order
    assert seg_zoo.main(["--models", "nope"]) == 2
