"""Chapter 8's recipes: flow propagation and OSVOS write DAVIS-layout results that the scorer reads back with the
same J&F, and one-shot fine-tuning learns an object from the first frame alone."""

from __future__ import annotations

import json

import pytest
import torch

from course_lib.data.davis import DAVIS
from course_lib.models.unet import unet
from course_lib.recipes import VOSConfig, get_recipe, osvos_segment
from course_lib.score.davis import score_davis
from course_lib.synthetic.davis import write_sample


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return write_sample(tmp_path_factory.mktemp("vos"), sequences=2, length=(6, 7), width=64, height=48)


def test_flow_recipe_writes_davis_results_that_score_the_same(sample, tmp_path, monkeypatch, capsys):
    from course_lib.evaluate import main

    monkeypatch.setenv("COURSE_WORK_DIR", str(tmp_path))
    assert main(["vos-flow-davis2017", "--data-root", str(sample), "--split", "val", "--no-progress"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 0 < result["jf"] <= 1 and result["sequences"] == 1 and result["data"]["synthetic"]
    folder = get_recipe("vos-flow-davis2017").results_dir("val")
    assert folder.is_relative_to(tmp_path)
    pngs = sorted(folder.rglob("*.png"))
    assert len(pngs) == len(DAVIS(sample, split="val")[0])
    scored = score_davis(sample, folder, split="val")
    assert scored.overall["J&F-Mean"] == pytest.approx(result["jf"], abs=1e-12)


def test_one_shot_fine_tuning_learns_the_first_frame(one_thread, moving_disc):
    """A red disc on a textured grey background, moving: the untrained parent knows nothing; 40 steps on frame 0
    suffice to segment the later frames."""
    torch.manual_seed(0)
    frames, labels = moving_disc(4, 32, 48, radius=6, step=5, grey=(80, 140))
    cfg = VOSConfig(method="osvos", depth=2, finetune_steps=40, finetune_lr=1e-2)
    out = osvos_segment(unet(in_channels=3, out_channels=1, width=8, depth=2), frames, labels[0], cfg,
                        device=torch.device("cpu"))
    inter = ((out[1:] == 1) & (labels[1:] == 1)).sum()
    union = ((out[1:] == 1) | (labels[1:] == 1)).sum()
    assert inter / union > 0.8


def test_osvos_parent_trains_and_evaluates(sample, tmp_path, one_thread):
    recipe = get_recipe("osvos-davis2017")
    result = recipe.train(sample, overrides={"epochs": 1, "width": 8, "finetune_steps": 2, "val_every": 1},
                          out_dir=tmp_path / "run", progress=False)
    assert result.checkpoint.is_file() and 0 <= result.metrics["jf"] <= 1
    model, cfg = recipe.load_model(result.checkpoint, torch.device("cpu"))
    assert cfg.width == 8 and recipe.requires_checkpoint is not False
