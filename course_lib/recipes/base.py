"""Recipes: everything needed to train and evaluate one model on one dataset, shared by notebooks and the CLI.

Introduced in Chapter 3. A recipe fixes the model, the dataset, the loss, the optimiser, the schedule and the
evaluation protocol, with hyper-parameters for the ``quick`` and ``full`` profiles. The notebooks call
``recipe.train(...)`` and the command line ``python -m course_lib.train RECIPE ...`` calls the very same method,
so a model trained either way is the same model. Hyper-parameters can be overridden one by one
(``--set key=value`` on the command line, ``overrides={...}`` in Python).
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import ConcatDataset, DataLoader, Dataset

from .. import distributed as D
from ..checkpoint import load_checkpoint
from ..config import get_device, get_profile, seed_everything
from ..engine import Trainer, TrainerConfig, constant_schedule, cosine_schedule, poly_schedule

__all__ = ["Recipe", "TrainResult", "make_optimizer", "make_schedule", "parse_override", "SCHEDULES"]

SCHEDULES: dict[str, Callable[[], Callable[[float], float]]] = {
    "constant": lambda: constant_schedule,
    "poly": lambda: poly_schedule(0.9),
    "cosine": lambda: cosine_schedule(warmup=0.03),
}


def make_schedule(name: str) -> Callable[[float], float]:
    """A learning-rate schedule by name: ``constant``, ``poly`` or ``cosine``."""
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; choose one of {sorted(SCHEDULES)}")
    return SCHEDULES[name]()


def make_optimizer(model: nn.Module, hp: dict[str, Any]) -> torch.optim.Optimizer:
    """SGD (with momentum), Adam or AdamW from ``hp``; ``bias_lr_mult`` scales the biases' rate (FCN doubles it)."""
    params = [p for p in model.parameters() if p.requires_grad]
    mult = hp.get("bias_lr_mult", 1.0)
    if mult != 1.0:
        biases = [p for n, p in model.named_parameters() if p.requires_grad and n.endswith("bias")]
        ids = {id(p) for p in biases}
        params = [{"params": [p for p in params if id(p) not in ids]},
                  {"params": biases, "lr": hp["lr"] * mult, "weight_decay": 0.0}]
    name = hp.get("optimizer", "sgd")
    if name == "sgd":
        return torch.optim.SGD(params, lr=hp["lr"], momentum=hp.get("momentum", 0.9),
                               weight_decay=hp.get("weight_decay", 0.0))
    if name == "adam":
        return torch.optim.Adam(params, lr=hp["lr"], weight_decay=hp.get("weight_decay", 0.0))
    if name == "adamw":
        return torch.optim.AdamW(params, lr=hp["lr"], weight_decay=hp.get("weight_decay", 0.01))
    raise ValueError(f"unknown optimizer {name!r}; choose sgd, adam or adamw")


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``key=value`` where value is JSON (numbers, true/false, null, lists) or a bare string."""
    if "=" not in text:
        raise ValueError(f"override {text!r} is not of the form key=value")
    key, value = text.split("=", 1)
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    return key.strip(), parsed


@dataclass
class TrainResult:
    """What :meth:`Recipe.train` returns."""

    model: nn.Module
    history: list[dict[str, Any]]
    metrics: dict[str, float]
    hparams: dict[str, Any]
    checkpoint: Path | None
    seconds: float
    data_root: Path


@dataclass
class Recipe:
    """Base class of all recipes. Subclasses implement the four ``build_*`` methods and :meth:`evaluate`.

    Args:
        name: registry name, e.g. ``"fcn8s-camvid"``.
        description: one line for ``--list``.
        chapter: the book chapter, e.g. ``"3"``.
        dataset: the dataset key in :data:`course_lib.data.DATASETS` (or another chapter's registry).
        defaults: hyper-parameters shared by both profiles.
        profiles: per-profile overrides, ``{"quick": {...}, "full": {...}}``.
        monitor: the validation metric that selects ``best.pt`` (without the ``val_`` prefix).
        splits: the dataset's split names, train first.
    """

    name: str
    description: str
    chapter: str
    dataset: str
    defaults: dict[str, Any] = field(default_factory=dict)
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    monitor: str = "miou"
    splits: tuple[str, ...] = ("train", "val")

    # ------------------------------------------------------------ to implement
    def build_model(self, hp: dict[str, Any]) -> nn.Module:
        raise NotImplementedError

    def build_dataset(self, data_root: Path, split: str, hp: dict[str, Any], train: bool) -> Dataset:
        raise NotImplementedError

    def build_loss(self, hp: dict[str, Any], train_set: Dataset) -> Callable:
        raise NotImplementedError

    def evaluate(self, model: nn.Module, dataset: Dataset, hp: dict[str, Any],
                 device: torch.device | None = None, progress: bool = True) -> dict[str, float]:
        raise NotImplementedError

    @property
    def spec(self):
        """The dataset's entry in :data:`course_lib.data.DATASETS` (classes, palette, loaders)."""
        from ..data import DATASETS

        return DATASETS[self.dataset]

    def resolve_data_root(self, data_root: str | Path) -> Path:
        """The dataset's own folder from ``data_root`` (the dataset folder or one above it)."""
        return self.spec.find_root(data_root)

    # ------------------------------------------------------------ shared logic
    def hparams(self, profile: str | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """The hyper-parameters of ``profile`` with ``overrides`` applied (unknown keys are an error)."""
        profile = get_profile(profile)
        hp = copy.deepcopy(self.defaults)
        hp.update(copy.deepcopy(self.profiles.get(profile, {})))
        for key, value in (overrides or {}).items():
            if key not in hp:
                raise KeyError(f"recipe {self.name!r} has no hyper-parameter {key!r}; known: {sorted(hp)}")
            hp[key] = value
        hp["profile"] = profile
        hp["recipe"] = self.name
        return hp

    def loader(self, dataset: Dataset, hp: dict[str, Any], train: bool) -> DataLoader:
        """A DataLoader; sharded across processes under ``torchrun``."""
        from torch.utils.data.distributed import DistributedSampler

        sampler = None
        if D.is_distributed():
            sampler = DistributedSampler(dataset, shuffle=True, seed=hp.get("seed", 0)) if train else \
                D.ShardSampler(len(dataset))
        return DataLoader(dataset, batch_size=hp["batch_size"] if train else hp.get("eval_batch_size", 1),
                          shuffle=train and sampler is None, sampler=sampler, drop_last=train and len(dataset) > 1,
                          num_workers=hp.get("num_workers", 0), collate_fn=self.collate_fn(hp),
                          pin_memory=torch.cuda.is_available(), persistent_workers=False)

    def collate_fn(self, hp: dict[str, Any]) -> Callable | None:
        return None

    @staticmethod
    def load_checkpoint_state(checkpoint: str | Path) -> dict[str, torch.Tensor]:
        """The model state dict stored in a checkpoint (weights-only load)."""
        return load_checkpoint(checkpoint, require=("model",))["model"]

    def load_model(self, checkpoint: str | Path, device: torch.device | None = None) -> tuple[nn.Module, dict]:
        """Rebuild the model a checkpoint was trained with and load its weights (weights-only load)."""
        state = load_checkpoint(checkpoint, require=("model",))
        meta = state.get("meta", {})
        if meta.get("recipe") not in (None, self.name):
            raise ValueError(f"{checkpoint}: trained with recipe {meta.get('recipe')!r}, not {self.name!r}")
        hp = dict(meta.get("hparams") or self.hparams())
        hp["pretrained_backbone"] = False
        model = self.build_model(hp)
        model.load_state_dict(state["model"])
        return model.to(device or get_device()).eval(), hp

    def train(self, data_root: str | Path, *, profile: str | None = None, overrides: dict[str, Any] | None = None,
              epochs: int | None = None, time_limit: float | None = None, out_dir: str | Path | None = None,
              device: torch.device | None = None, resume: bool = False, progress: bool = True) -> TrainResult:
        """Train on ``data_root`` and evaluate on the validation split.

        Args:
            data_root: the dataset's folder or a folder above it.
            profile: ``quick`` / ``full`` (default from the environment).
            overrides: hyper-parameters to change.
            epochs: override the profile's number of epochs.
            time_limit: training budget in *minutes*.
            out_dir: where checkpoints and ``history.json`` go (default ``runs/<recipe>``).
            device: default: CUDA if available (the process's GPU under ``torchrun``), else CPU.
            resume: continue from ``out_dir/last.pt`` when it exists.
            progress: show progress bars.
        """
        start = time.perf_counter()
        hp = self.hparams(profile, overrides)
        if epochs is not None:
            hp["epochs"] = int(epochs)
        seed_everything(hp.get("seed", 0) + D.rank())
        device = device or get_device()
        root = self.resolve_data_root(data_root)
        train_set = self.build_dataset(root, self.splits[0], hp, train=True)
        val_set = self.build_dataset(root, hp.get("val_split", self.splits[1]), hp, train=False)
        model = self.build_model(hp)
        hp["backbone_source"] = getattr(model, "backbone_source", None)
        out = Path(out_dir) if out_dir is not None else Path("runs") / self.name
        optimizer = make_optimizer(model, hp)
        config = TrainerConfig(
            epochs=hp["epochs"], time_limit=time_limit * 60 if time_limit else None, out_dir=out,
            monitor=f"val_{self.monitor}", mode="max", amp=hp.get("amp", True), grad_clip=hp.get("grad_clip"),
            lr_schedule=make_schedule(hp.get("schedule", "constant")), val_every=hp.get("val_every", 1),
            progress=progress, meta={"recipe": self.name, "hparams": _plain(hp)})

        def validate(m: nn.Module) -> dict[str, float]:
            return self.evaluate(m, val_set, hp, device=device, progress=False)

        trainer = Trainer(model, self.build_loss(hp, train_set), optimizer, self.loader(train_set, hp, True),
                          val_fn=validate, device=device, config=config)
        history = trainer.fit(resume=resume)
        if D.is_main_process():
            (out / "history.json").write_text(json.dumps(history, indent=1))
        last = {k[4:]: v for k, v in history[-1].items() if k.startswith("val_")} if history else {}
        return TrainResult(model=trainer.model, history=history, metrics=last, hparams=hp,
                           checkpoint=out / "last.pt", seconds=time.perf_counter() - start,
                           data_root=root)

    def evaluate_splits(self, model: nn.Module, data_root: str | Path, split: str, hp: dict[str, Any],
                        device: torch.device | None = None, progress: bool = True) -> dict[str, Any]:
        """Evaluate on one split, or with ``split="all"`` on every split and on their union."""
        root = self.resolve_data_root(data_root)
        names = list(self.splits) if split == "all" else [split]
        if split != "all" and split not in self.splits:
            raise ValueError(f"recipe {self.name!r} has splits {self.splits}, not {split!r}")
        results: dict[str, Any] = {}
        sets = []
        for name in names:
            try:
                ds = self.build_dataset(root, name, hp, train=False)
            except FileNotFoundError:
                if split == "all":
                    continue  # e.g. VOC has no public test labels
                raise
            sets.append(ds)
            results[name] = self.evaluate(model, ds, hp, device=device, progress=progress)
        if split == "all" and len(sets) > 1:
            results["all"] = self.evaluate(model, ConcatDataset(sets), hp, device=device, progress=progress)
        return results[split] if split != "all" else results


def _plain(obj):
    """Hyper-parameters as plain JSON-able data (checkpoints are loaded weights-only)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return str(obj)
