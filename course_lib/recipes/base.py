"""Recipes: everything needed to train and evaluate one model on one dataset, shared by notebooks and the CLI.

Introduced in Chapter 3. A recipe fixes the model, the dataset, the loss, the optimiser, the schedule and the
evaluation protocol, with hyper-parameters for the ``quick`` and ``full`` profiles. The notebooks call
``recipe.train(...)`` and the command line ``python -m course_lib.train RECIPE ...`` calls the very same method,
so a model trained either way is the same model. Hyper-parameters can be overridden one by one
(``--set key=value`` on the command line, ``overrides={...}`` in Python).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import ConcatDataset, DataLoader, Dataset

from .. import distributed as D
from ..checkpoint import load_checkpoint
from ..config import get_device, get_profile, seed_everything, work_dir
from ..data import registry
from ..engine import Trainer, TrainerConfig, constant_schedule, cosine_schedule, poly_schedule, step_schedule
from ..io.atomic import atomic_write_text
from ..runlock import run_lock
from .config import RecipeConfig, apply_overrides, config_from_dict, config_to_dict, parse_override

__all__ = ["Recipe", "RecipeConfig", "TrainResult", "make_optimizer", "make_schedule", "parse_override", "SCHEDULES",
           "check_run_settings", "data_description"]

SCHEDULES: dict[str, Callable[[], Callable[[float], float]]] = {
    "constant": lambda: constant_schedule,
    "poly": lambda: poly_schedule(0.9),
    "cosine": lambda: cosine_schedule(warmup=0.03),
    "step": lambda: step_schedule(4, 0.1),
}


def make_schedule(name: str) -> Callable[[float], float]:
    """A learning-rate schedule by name: ``constant``, ``poly``, ``cosine`` or ``step`` (x0.1 at 1/4, 1/2, 3/4)."""
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; choose one of {sorted(SCHEDULES)}")
    return SCHEDULES[name]()


def make_optimizer(model: nn.Module, cfg: RecipeConfig) -> torch.optim.Optimizer:
    """SGD (with momentum), Adam or AdamW from ``cfg``; ``bias_lr_mult`` scales the biases' rate (FCN doubles it)."""
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.bias_lr_mult != 1.0:
        biases = [p for n, p in model.named_parameters() if p.requires_grad and n.endswith("bias")]
        ids = {id(p) for p in biases}
        params = [{"params": [p for p in params if id(p) not in ids]},
                  {"params": biases, "lr": cfg.lr * cfg.bias_lr_mult, "weight_decay": 0.0}]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}; choose sgd, adam or adamw")


@dataclass
class TrainResult:
    """What :meth:`Recipe.train` returns."""

    model: nn.Module
    history: list[dict[str, Any]]
    metrics: dict[str, float]
    config: RecipeConfig
    checkpoint: Path | None
    seconds: float
    data_root: Path

    @property
    def data(self) -> dict[str, Any]:
        """Which data the run measured: ``{"root": ..., "synthetic": true/false}`` (for every JSON result)."""
        return data_description(self.data_root)


def data_description(root: str | Path) -> dict[str, Any]:
    """``{"root": str, "synthetic": bool}``: the folder a result was computed on and whether it is a sample."""
    return {"root": str(root), "synthetic": registry.is_sample_folder(root)}


def check_run_settings(epochs: Any = None, time_limit: Any = None) -> None:
    """Refuse an epoch count that is not a whole number >= 1 and a time limit that is not > 0 minutes."""
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1):
        raise ValueError(f"epochs must be a whole number >= 1, got {epochs!r}")
    if time_limit is not None and (isinstance(time_limit, bool) or not isinstance(time_limit, (int, float))
                                   or not time_limit > 0 or time_limit != time_limit):
        raise ValueError(f"the time limit must be a number of minutes > 0 (omit it for no limit), got {time_limit!r}")


@dataclass
class Recipe:
    """Base class of all recipes. Subclasses implement the four ``build_*`` methods and :meth:`evaluate`.

    Args:
        name: registry name, e.g. ``"fcn8s-camvid"``.
        description: one line for ``--list``.
        chapter: the book chapter, e.g. ``"3"``.
        dataset: the dataset's key in :data:`course_lib.data.registry.REGISTRY`.
        quick: the settings of the quick profile (an instance of the family's :class:`RecipeConfig` subclass).
        full: the settings of the full profile (same class).
        monitor: the validation metric that selects ``best.pt`` (without the ``val_`` prefix).
        splits: the dataset's split names, train first.
        monitor_mode: ``"max"`` (a score such as mIoU) or ``"min"`` (an error such as matting's SAD) for ``monitor``.
    """

    name: str
    description: str
    chapter: str
    dataset: str
    quick: RecipeConfig
    full: RecipeConfig
    monitor: str = "miou"
    splits: tuple[str, ...] = ("train", "val")
    monitor_mode: str = "max"

    def __post_init__(self) -> None:
        if self.monitor_mode not in ("max", "min"):
            raise ValueError(f"recipe {self.name!r}: monitor_mode must be 'max' or 'min', got {self.monitor_mode!r}")
        if type(self.quick) is not type(self.full):
            raise TypeError(f"recipe {self.name!r}: quick and full settings must be of one class, got "
                            f"{type(self.quick).__name__} and {type(self.full).__name__}")

    # ------------------------------------------------------------ to implement
    def build_model(self, cfg: RecipeConfig) -> nn.Module:
        raise NotImplementedError

    def build_dataset(self, data_root: Path, split: str, cfg: RecipeConfig, train: bool) -> Dataset:
        raise NotImplementedError

    def build_loss(self, cfg: RecipeConfig, train_set: Dataset) -> Callable:
        raise NotImplementedError

    def evaluate(self, model: nn.Module, dataset: Dataset, cfg: RecipeConfig,
                 device: torch.device | None = None, progress: bool = True) -> dict[str, float]:
        raise NotImplementedError

    @property
    def info(self) -> registry.DatasetInfo:
        """The dataset's registry entry (classes, palette, void label, folders, download)."""
        return registry.get(self.dataset)

    @property
    def config_class(self) -> type[RecipeConfig]:
        return type(self.quick)

    def resolve_data_root(self, data_root: str | Path) -> Path:
        """The dataset's own folder from ``data_root`` (the dataset folder or one above it)."""
        return registry.find_root(self.dataset, data_root)

    def check_data_root(self, data_root: str | Path, purpose: str = "train") -> Path:
        """The data folder a command line named explicitly: it must hold the data, never replaced by a sample.

        Raises ``FileNotFoundError`` naming the path and what was looked for (a mistyped ``--data-root``).
        """
        return registry.find_root(self.dataset, data_root)

    # ------------------------------------------------------------ shared logic
    def config(self, profile: str | None = None, overrides: dict[str, Any] | None = None) -> RecipeConfig:
        """The settings of ``profile`` with ``overrides`` applied (unknown keys and wrong types are errors)."""
        profile = get_profile(profile)
        base = self.full if profile == "full" else self.quick
        cfg = apply_overrides(base, overrides)
        return dataclasses.replace(cfg, profile=profile)

    def loader(self, dataset: Dataset, cfg: RecipeConfig, train: bool) -> DataLoader:
        """A DataLoader; sharded across processes under ``torchrun``."""
        from torch.utils.data.distributed import DistributedSampler

        sampler = None
        if D.is_distributed():
            sampler = DistributedSampler(dataset, shuffle=True, seed=cfg.seed) if train else \
                D.ShardSampler(len(dataset))
        return DataLoader(dataset, batch_size=cfg.batch_size if train else cfg.eval_batch_size,
                          shuffle=train and sampler is None, sampler=sampler, drop_last=train and len(dataset) > 1,
                          num_workers=cfg.num_workers, collate_fn=self.collate_fn(cfg),
                          pin_memory=torch.cuda.is_available(), persistent_workers=False)

    def collate_fn(self, cfg: RecipeConfig) -> Callable | None:
        return None

    @staticmethod
    def load_checkpoint_state(checkpoint: str | Path) -> dict[str, torch.Tensor]:
        """The model state dict stored in a checkpoint (weights-only load)."""
        return load_checkpoint(checkpoint, require=("model",))["model"]

    def config_from_checkpoint(self, checkpoint: str | Path, meta: dict[str, Any]) -> RecipeConfig:
        """The settings a checkpoint was trained with (checked against this recipe's config class)."""
        if meta.get("recipe") not in (None, self.name):
            raise ValueError(f"{checkpoint}: trained with recipe {meta.get('recipe')!r}, cannot be evaluated as "
                             f"recipe {self.name!r}; name the recipe it was trained with")
        stored = meta.get("config")
        if stored is None:
            return self.config()
        return config_from_dict(self.config_class, stored, where=str(checkpoint))

    def load_model(self, checkpoint: str | Path, device: torch.device | None = None
                   ) -> tuple[nn.Module, RecipeConfig]:
        """Rebuild the model a checkpoint was trained with and load its weights (weights-only load)."""
        state = load_checkpoint(checkpoint, require=("model",))
        cfg = self.config_from_checkpoint(checkpoint, state.get("meta", {}))
        if any(f.name == "pretrained_backbone" for f in dataclasses.fields(cfg)):
            cfg = dataclasses.replace(cfg, pretrained_backbone=False)
        model = self.build_model(cfg)
        try:
            model.load_state_dict(state["model"])
        except RuntimeError as err:
            raise ValueError(f"{checkpoint}: its weights (recipe {state.get('meta', {}).get('recipe')!r}) do not fit "
                             f"the model of recipe {self.name!r}: "
                             f"{str(err).splitlines()[0]}") from None
        return model.to(device or get_device()).eval(), cfg

    def train(self, data_root: str | Path, *, profile: str | None = None, overrides: dict[str, Any] | None = None,
              epochs: int | None = None, time_limit: float | None = None, out_dir: str | Path | None = None,
              device: torch.device | None = None, resume: bool = False, progress: bool = True,
              clock: str = "wall") -> TrainResult:
        """Train on ``data_root`` and evaluate on the validation split.

        Args:
            data_root: the dataset's folder or a folder above it.
            profile: ``quick`` / ``full`` (default from the environment).
            overrides: settings to change (checked against the recipe's config class).
            epochs: override the profile's number of epochs.
            time_limit: training budget in *minutes*.
            clock: what ``time_limit`` measures: ``"wall"`` time, or this process's ``"cpu"`` time (all threads;
                comparable between runs on a shared machine).
            out_dir: where checkpoints and ``history.json`` go (default ``<work dir>/<recipe>``).
            device: default: CUDA if available (the process's GPU under ``torchrun``), else CPU.
            resume: continue from ``out_dir/last.pt`` when it exists.
            progress: show progress bars.
        """
        start = time.perf_counter()
        check_run_settings(epochs, time_limit)
        cfg = self.config(profile, overrides)
        if epochs is not None:
            cfg = dataclasses.replace(cfg, epochs=epochs)
        check_run_settings(cfg.epochs)
        out = Path(out_dir) if out_dir is not None else work_dir() / self.name
        if out.exists() and not out.is_dir():
            raise NotADirectoryError(f"{out}: the output folder is a file; choose another --out")
        # one run at a time per folder: taken before anything is read or written there, released on exit
        with run_lock(out) if D.is_main_process() else contextlib.nullcontext():
            seed_everything(cfg.seed + D.rank())
            device = device or get_device()
            root = self.resolve_data_root(data_root)
            train_set = self.build_dataset(root, self.splits[0], cfg, train=True)
            val_set = self.build_dataset(root, getattr(cfg, "val_split", None) or self.splits[1], cfg, train=False)
            train_loader = self.loader(train_set, cfg, True)
            if len(train_loader) == 0:
                raise ValueError(f"{root}: the {self.splits[0]} split has {len(train_set)} items, fewer than one "
                                 f"batch of batch_size={cfg.batch_size} (per process): training would take zero "
                                 "steps; lower batch_size or raise max_items")
            model = self.build_model(cfg)
            optimizer = make_optimizer(model, cfg)
            config = TrainerConfig(
                epochs=cfg.epochs, time_limit=time_limit * 60 if time_limit else None, clock=clock, out_dir=out,
                monitor=f"val_{self.monitor}", mode=self.monitor_mode, amp=cfg.amp, grad_clip=cfg.grad_clip,
                lr_schedule=make_schedule(cfg.schedule), val_every=cfg.val_every, progress=progress,
                meta={"recipe": self.name, "config": config_to_dict(cfg),
                      "backbone_source": getattr(model, "backbone_source", None)})

            def validate(m: nn.Module) -> dict[str, float]:
                return self.evaluate(m, val_set, cfg, device=device, progress=False)

            trainer = Trainer(model, self.build_loss(cfg, train_set), optimizer, train_loader,
                              val_fn=validate, device=device, config=config)
            history = trainer.fit(resume=resume)
            if D.is_main_process():
                atomic_write_text(out / "history.json", json.dumps(history, indent=1))
            last = {k[4:]: v for k, v in history[-1].items() if k.startswith("val_")} if history else {}
            return TrainResult(model=trainer.model, history=history, metrics=last, config=cfg,
                               checkpoint=out / "last.pt", seconds=time.perf_counter() - start,
                               data_root=root)

    def evaluate_splits(self, model: nn.Module, data_root: str | Path, split: str, cfg: RecipeConfig,
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
                ds = self.build_dataset(root, name, cfg, train=False)
            except FileNotFoundError:
                if split == "all":
                    continue  # e.g. VOC has no public test labels
                raise
            sets.append(ds)
            results[name] = self.evaluate(model, ds, cfg, device=device, progress=progress)
        if split == "all" and len(sets) > 1:
            results["all"] = self.evaluate(model, ConcatDataset(sets), cfg, device=device, progress=progress)
        return results[split] if split != "all" else results
