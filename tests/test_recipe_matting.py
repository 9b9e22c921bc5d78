"""The matting recipes (Chapter 2): dim-composition1k and modnet-composition1k trained by the shared loop on the
synthetic Composition-1k sample, checkpoints chosen by the lowest SAD, the evaluation protocol of predict_alpha,
the batch adapter, and one run of the command line."""

import json
import math
import os
import subprocess
import sys

import pytest
import torch
from torch import nn

from course_lib.checkpoint import load_checkpoint
from course_lib.recipes import MattingConfig, get_recipe, predict_alpha
from course_lib.recipes.base import Recipe
from course_lib.recipes.matting import DIM_QUICK, MattingCollate

# a second or two per epoch on a 2-core CPU
TINY = {"max_items": 8, "batch_size": 4, "crop_size": 32, "max_val_items": 2}


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: one torch thread (tests/conftest.py)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from course_lib.synthetic.matting import write_sample

    root = tmp_path_factory.mktemp("matting_sample")
    write_sample(root, n_train=4, n_test=1, size_range=(48, 64), n_backgrounds=(4, 2), photos=False)
    return root


@pytest.mark.parametrize("name", ["dim-composition1k", "modnet-composition1k"])
def test_quick_training_checkpoints_and_errors(sample, tmp_path, name):
    recipe = get_recipe(name)
    result = recipe.train(sample, profile="quick", overrides=TINY, epochs=2, out_dir=tmp_path, progress=False)
    assert (tmp_path / "last.pt").is_file() and (tmp_path / "best.pt").is_file()
    assert (tmp_path / "history.json").is_file() and len(result.history) == 2
    assert result.data["synthetic"] is True
    for key in ("sad", "mse", "grad", "conn"):
        assert math.isfinite(result.metrics[key]) and result.metrics[key] >= 0, key
    assert result.metrics["images"] == 2
    # best.pt is the epoch with the LOWEST SAD (an error, monitor_mode="min")
    best = load_checkpoint(tmp_path / "best.pt")
    assert best["best"] == pytest.approx(min(h["val_sad"] for h in result.history))
    assert best["meta"]["recipe"] == name
    # the checkpoint rebuilds the model and evaluates to the numbers of the last validation
    model, cfg = recipe.load_model(tmp_path / "last.pt", torch.device("cpu"))
    assert isinstance(cfg, MattingConfig) and cfg.crop_size == 32
    again = recipe.evaluate_splits(model, sample, "val", cfg, device=torch.device("cpu"), progress=False)
    assert again["sad"] == pytest.approx(result.metrics["sad"], rel=1e-5)
    test = recipe.evaluate_splits(model, sample, "test", cfg, device=torch.device("cpu"), progress=False)
    assert math.isfinite(test["sad"]) and test["images"] == 2  # max_val_items of Composition-1k-testset


def test_command_line_trains_dim(sample, tmp_path):
    args = [sys.executable, "-m", "course_lib.train", "dim-composition1k", "--data-root", str(sample),
            "--profile", "quick", "--epochs", "1", "--out", str(tmp_path), "--no-progress",
            *sum((["--set", f"{k}={v}"] for k, v in {**TINY, "max_val_items": 1}.items()), [])]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["recipe"] == "dim-composition1k" and summary["epochs"] == 1 and summary["data"]["synthetic"]
    assert all(math.isfinite(summary[f"val_{k}"]) for k in ("sad", "mse", "grad", "conn"))
    assert (tmp_path / "last.pt").is_file()


class _Echo(nn.Module):
    """A stand-in network: returns the first image channel as the alpha and records the input size."""

    def __init__(self, uses_trimap):
        super().__init__()
        self.uses_trimap = uses_trimap
        self.scale = nn.Parameter(torch.ones(()))
        self.seen = []

    def forward(self, image, trimap=None):
        self.seen.append((tuple(image.shape), None if trimap is None else tuple(trimap.shape)))
        return {"alpha": image[:, :1] * self.scale}


def test_predict_alpha_pads_crops_and_copies_known_regions():
    image = torch.rand(3, 40, 50)
    trimap = torch.full((1, 40, 50), 0.5)
    trimap[:, :10] = 0.0
    trimap[:, 30:] = 1.0
    dim_like = _Echo(uses_trimap=True)
    alpha = predict_alpha(dim_like, image, trimap)
    assert dim_like.seen == [((1, 3, 64, 64), (1, 1, 64, 64))]  # padded to multiples of 32
    assert alpha.shape == (1, 40, 50)
    assert torch.equal(alpha[:, 10:30], image[:1, 10:30])  # the unknown band is the network's, not shifted
    assert not alpha[:, :10].any() and (alpha[:, 30:] == 1).all()  # known pixels copied from the trimap
    # the trimap as 8-bit 0/128/255 gives the same; a trimap-free model keeps its own prediction everywhere
    assert torch.equal(predict_alpha(dim_like, image, (trimap * 255).round().to(torch.uint8)), alpha)
    free = _Echo(uses_trimap=False)
    assert torch.equal(predict_alpha(free, image, trimap), image[:1])
    assert free.seen == [((1, 3, 64, 64), None)]
    # a batch, and errors that say what is wrong
    assert predict_alpha(free, torch.rand(2, 3, 32, 32)).shape == (2, 1, 32, 32)
    with pytest.raises(ValueError, match="needs a trimap"):
        predict_alpha(dim_like, image)
    with pytest.raises(ValueError, match="does not fit"):
        predict_alpha(dim_like, image, trimap[..., :20])


def test_predict_alpha_pads_by_reflection():
    image = torch.arange(20.0).view(1, 1, 20).expand(3, 20, 20) / 20
    net = _Echo(uses_trimap=False)
    seen = {}
    net.register_forward_hook(lambda m, args, out: seen.setdefault("x", args[0]))
    predict_alpha(net, image)
    padded = seen["x"][0, 0, 0]
    assert torch.allclose(padded[20:32], image[0, 0, 7:19].flip(0))  # ... 18 19 | 18 17 ... 7 (reflection)


def test_collate_builds_network_inputs_and_loss_targets():
    item = {"image": torch.rand(3, 8, 8), "trimap": torch.full((1, 8, 8), 0.5), "alpha": torch.rand(1, 8, 8),
            "fg": torch.rand(3, 8, 8), "bg": torch.rand(3, 8, 8), "name": "x"}
    inputs, targets = MattingCollate(trimap_input=True)([item, item])
    assert inputs.shape == (2, 4, 8, 8) and torch.equal(inputs[:, 3:], targets["trimap"])
    assert set(targets) == {"image", "trimap", "alpha", "fg", "bg"}
    portrait = {k: v for k, v in item.items() if k not in ("fg", "bg")}
    inputs, targets = MattingCollate(trimap_input=False)([item, portrait])
    assert inputs.shape == (2, 3, 8, 8) and "fg" not in targets  # not every item has them: no compositional term
    with pytest.raises(KeyError, match="alpha"):
        MattingCollate()([{"image": item["image"], "trimap": item["trimap"]}])


def test_recipes_settings():
    dim, mod = get_recipe("dim-composition1k"), get_recipe("modnet-composition1k")
    assert dim.monitor == mod.monitor == "sad" and dim.monitor_mode == mod.monitor_mode == "min"
    full = dim.config("full")
    assert (full.width, full.crop_size, full.optimizer, full.lr, full.pretrained_backbone) == (64, 320, "adam", 1e-5,
                                                                                               True)
    full = mod.config("full")
    assert (full.optimizer, full.lr, full.momentum, full.batch_size, full.epochs, full.schedule) == (
        "sgd", 0.01, 0.9, 16, 40, "step")
    assert (full.semantic_weight, full.detail_weight, full.fusion_weight) == (10.0, 10.0, 1.0)
    with pytest.raises(ValueError, match="monitor_mode"):
        Recipe(name="x", description="", chapter="2", dataset="composition1k", quick=DIM_QUICK, full=DIM_QUICK,
               monitor_mode="lowest")
