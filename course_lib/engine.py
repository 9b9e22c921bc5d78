"""The training loop every chapter shares.

Introduced in Chapter 3 (FCN) and reused by every trained model of the book. :class:`Trainer` runs epochs with a
tqdm progress bar, records a per-epoch history of losses and validation metrics, keeps ``last.pt`` and ``best.pt``
checkpoints (written atomically), resumes from ``last.pt``, uses mixed precision on CUDA, respects a time
budget (wall-clock or CPU time), and runs unchanged under ``torchrun`` with DistributedDataParallel.

The learning-rate schedule is a function of *progress* in ``[0, 1]``: the larger of the fraction of steps done
and the fraction of the time budget used. So a run cut short by ``--time-limit`` still anneals its learning rate
to the end instead of stopping at a high one.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from . import distributed as D
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .config import autocast_dtype

#: an epoch whose mean loss exceeds this multiple of the lowest epoch loss so far is warned about as diverging.
DIVERGENCE_FACTOR = 100.0

__all__ = ["DIVERGENCE_FACTOR", "Trainer", "TrainerConfig", "poly_schedule", "cosine_schedule", "constant_schedule",
           "step_schedule", "autocast_dtype"]


def constant_schedule(progress: float) -> float:
    """Learning-rate multiplier 1 throughout."""
    return 1.0


def poly_schedule(power: float = 0.9) -> Callable[[float], float]:
    """``(1 - progress) ** power``, the "poly" policy of DeepLab and most segmentation recipes."""
    return lambda progress: max(0.0, 1.0 - progress) ** power


def step_schedule(steps: int = 4, gamma: float = 0.1) -> Callable[[float], float]:
    """``gamma ** k`` in the ``k``-th of ``steps`` equal parts of training: PyTorch's ``StepLR`` expressed in progress
    (MODNet: ``steps=4``, ``gamma=0.1`` is its rate divided by 10 every 10 of 40 epochs).

    Example:
        >>> f = step_schedule(4, 0.1)
        >>> [round(f(p), 6) for p in (0.0, 0.24, 0.25, 0.6, 1.0)]
        [1.0, 1.0, 0.1, 0.01, 0.001]
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    return lambda progress: gamma ** min(steps - 1, int(max(0.0, progress) * steps))


def cosine_schedule(warmup: float = 0.0, floor: float = 0.0) -> Callable[[float], float]:
    """Linear warm-up for the first ``warmup`` fraction, then cosine decay to ``floor``."""

    def f(progress: float) -> float:
        if warmup > 0 and progress < warmup:
            return progress / warmup
        t = (progress - warmup) / max(1e-8, 1 - warmup)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))

    return f


@dataclass
class TrainerConfig:
    """Settings of :class:`Trainer`.

    Args:
        epochs: maximum number of epochs.
        time_limit: budget in seconds for training (None = unlimited), measured by ``clock``; the current epoch is
            cut short when it runs out, then the model is validated and saved.
        clock: ``"wall"`` (elapsed time) or ``"cpu"`` (this process's CPU time, all threads: a budget that other
            jobs on the same machine do not shrink, for comparing models on a shared CPU).
        out_dir: where ``last.pt``, ``best.pt`` and ``history.json`` go (None = no files).
        monitor: history key that decides ``best.pt`` (e.g. ``"val_miou"``); None = keep only ``last.pt``.
        mode: ``"max"`` or ``"min"`` for ``monitor``.
        amp: mixed precision on CUDA (ignored on CPU).
        grad_clip: clip the gradient norm to this value (None = off).
        lr_schedule: progress -> multiplier of each param group's initial learning rate.
        val_every: validate every this many epochs (and always after the last).
        progress: show progress bars.
        meta: extra plain data stored in every checkpoint (recipe name, hyper-parameters, class names, ...).
    """

    epochs: int = 1
    time_limit: float | None = None
    clock: str = "wall"
    out_dir: str | Path | None = None
    monitor: str | None = None
    mode: str = "max"
    amp: bool = True
    grad_clip: float | None = None
    lr_schedule: Callable[[float], float] = constant_schedule
    val_every: int = 1
    progress: bool = True
    meta: dict[str, Any] = field(default_factory=dict)


class Trainer:
    """Train ``model`` with ``loss_fn`` on batches ``(inputs, targets)`` from ``train_loader``.

    Args:
        model: the network; moved to ``device`` and wrapped in DDP when a process group is initialised.
        loss_fn: ``loss_fn(outputs, targets) -> scalar tensor``.
        optimizer: over ``model.parameters()``.
        train_loader: yields ``(inputs, targets)`` (tensors or structures of tensors).
        val_fn: ``val_fn(model) -> dict`` of metrics (computed on all processes, reduced inside); prefixed
            ``val_`` in the history.
        device: where to compute (default: the model's device).
        config: :class:`TrainerConfig`.

    Example:
        >>> model = nn.Linear(2, 1)
        >>> data = [(torch.randn(4, 2), torch.randn(4, 1)) for _ in range(3)]
        >>> tr = Trainer(model, nn.functional.mse_loss, torch.optim.SGD(model.parameters(), 0.1), data,
        ...              config=TrainerConfig(epochs=2, progress=False))
        >>> len(tr.fit())
        2
    """

    def __init__(self, model: nn.Module, loss_fn: Callable, optimizer: torch.optim.Optimizer,
                 train_loader: Iterable, val_fn: Callable[[nn.Module], dict] | None = None,
                 device: torch.device | None = None, config: TrainerConfig | None = None):
        self.config = config or TrainerConfig()
        if self.config.clock not in ("wall", "cpu"):
            raise ValueError(f"TrainerConfig.clock must be 'wall' or 'cpu', got {self.config.clock!r}")
        self.device = device or next(model.parameters()).device
        self.model = model.to(self.device)
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.train_loader = train_loader
        self.val_fn = val_fn
        self.history: list[dict[str, Any]] = []
        self.epoch = 0
        self.step = 0
        self.best: float | None = None
        self.base_lrs = [g["lr"] for g in optimizer.param_groups]
        self.amp_dtype = autocast_dtype(self.device) if self.config.amp else None
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.ddp = None
        if D.is_distributed():
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.ddp = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        self.out_dir = Path(self.config.out_dir) if self.config.out_dir else None
        self._elapsed_before = 0.0  # training seconds spent in earlier (resumed) runs
        self._start: float | None = None  # self._clock() at the start of the running fit()

    # ------------------------------------------------------------------ helpers
    @property
    def net(self) -> nn.Module:
        """The module to call in training (the DDP wrapper when distributed)."""
        return self.ddp if self.ddp is not None else self.model

    def _to_device(self, obj):
        if torch.is_tensor(obj):
            return obj.to(self.device, non_blocking=True)
        if isinstance(obj, (list, tuple)):
            return type(obj)(self._to_device(o) for o in obj)
        if isinstance(obj, dict):
            return {k: self._to_device(v) for k, v in obj.items()}
        return obj

    def _clock(self) -> float:
        return time.process_time() if self.config.clock == "cpu" else time.perf_counter()

    def _progress(self, total_steps: int | None, start: float) -> float:
        p = 0.0
        if total_steps:
            p = self.step / total_steps
        if self.config.time_limit:
            p = max(p, (self._elapsed_before + self._clock() - start) / self.config.time_limit)
        return min(1.0, p)

    def _set_lr(self, progress: float) -> None:
        mult = self.config.lr_schedule(progress)
        for group, base in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
            group["lr"] = base * mult

    def _better(self, value: float) -> bool:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return False
        if self.best is None:
            return True
        return value > self.best if self.config.mode == "max" else value < self.best

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "step": self.step,
            "best": self.best,
            "elapsed": self._elapsed_before + (self._clock() - self._start if self._start else 0.0),
            "history": self.history,
            "meta": self.config.meta,
        }

    def save(self, name: str = "last.pt") -> Path | None:
        """Write a checkpoint into ``out_dir`` (main process only); returns its path."""
        if self.out_dir is None or not D.is_main_process():
            return None
        return save_checkpoint(self.state_dict(), self.out_dir / name)

    def resume(self, path: str | Path | None = None) -> bool:
        """Restore model, optimizer, epoch counter and history from ``path`` (default ``out_dir/last.pt``).

        The saved time already spent counts against ``time_limit``, so a resumed capped run keeps its budget.
        """
        if path is None:
            if self.out_dir is None or not (self.out_dir / "last.pt").is_file():
                return False
            path = self.out_dir / "last.pt"
        state = load_checkpoint(path, map_location=self.device, require=("model", "optimizer", "epoch"))
        theirs, ours = (state.get("meta") or {}).get("recipe"), self.config.meta.get("recipe")
        if theirs is not None and ours is not None and theirs != ours:
            raise CheckpointError(f"{path}: written by recipe {theirs!r}, cannot resume recipe {ours!r} from it; "
                                  "choose another --out or drop --resume")
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError) as err:
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise CheckpointError(f"{path}: its weights (recipe {theirs!r}) do not fit this model "
                                  f"({type(self.model).__name__}, recipe {ours!r}): {first}") from None
        if "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])
        self.epoch = int(state["epoch"])
        self.step = int(state.get("step", 0))
        self.best = state.get("best")
        self._elapsed_before = float(state.get("elapsed", 0.0))
        self.history = list(state.get("history", []))
        return True

    def _warn_if_diverging(self, loss: float) -> None:
        """Warn when an epoch's mean loss is over ``DIVERGENCE_FACTOR`` times the lowest so far (diverging)."""
        losses = [r["train_loss"] for r in self.history if isinstance(r.get("train_loss"), float)
                  and r["train_loss"] > 0]
        if losses and loss > DIVERGENCE_FACTOR * min(losses):
            where = f" (run folder {self.out_dir})" if self.out_dir else ""
            warnings.warn(f"training is diverging{where}: the mean loss of epoch {self.epoch} is {loss:.4g}, over "
                          f"{DIVERGENCE_FACTOR:g} times the lowest so far ({min(losses):.4g}); lower the learning "
                          "rate or check the data", RuntimeWarning, stacklevel=3)

    # ------------------------------------------------------------------ training
    def train_one_epoch(self, total_steps: int | None, start: float) -> tuple[float, bool]:
        """One pass over ``train_loader``; returns (mean loss, whether the time budget ran out)."""
        self.net.train()
        sampler = getattr(self.train_loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(self.epoch)
        total, count, out_of_time = 0.0, 0, False
        bar = tqdm(self.train_loader, desc=f"epoch {self.epoch + 1}/{self.config.epochs}", leave=False,
                   disable=not (self.config.progress and D.is_main_process()))
        for inputs, targets in bar:
            inputs, targets = self._to_device(inputs), self._to_device(targets)
            self._set_lr(self._progress(total_steps, start))
            with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
                outputs = self.net(inputs)
                loss = self.loss_fn(outputs, targets)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss is {loss.item()} at epoch {self.epoch + 1}, step {self.step}; "
                                         "lower the learning rate or check the data")
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            if self.config.grad_clip:
                self.scaler.unscale_(self.optimizer)
                nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.step += 1
            total += loss.item()
            count += 1
            bar.set_postfix(loss=f"{total / count:.4f}")
            if self.config.time_limit and self._progress(None, start) >= 1.0:
                out_of_time = True
                break
        bar.close()
        mean = torch.tensor([total, count], dtype=torch.float64)
        if D.is_distributed():
            t = mean.to(self.device)
            torch.distributed.all_reduce(t)
            mean = t.cpu()
        return float(mean[0] / max(1.0, float(mean[1]))), out_of_time

    def fit(self, epochs: int | None = None, resume: bool = False) -> list[dict[str, Any]]:
        """Train until ``epochs`` (default ``config.epochs``) or the time budget; returns the history."""
        epochs = epochs or self.config.epochs
        self.config.epochs = epochs
        if resume:
            self.resume()
        try:
            steps_per_epoch = len(self.train_loader)
        except TypeError:
            steps_per_epoch = None
        total_steps = steps_per_epoch * epochs if steps_per_epoch else None
        start = self._start = self._clock()
        while self.epoch < epochs:
            t0 = time.perf_counter()
            loss, out_of_time = self.train_one_epoch(total_steps, start)
            self.epoch += 1
            record: dict[str, Any] = {"epoch": self.epoch, "step": self.step, "train_loss": loss,
                                      "lr": self.optimizer.param_groups[0]["lr"]}
            last = self.epoch >= epochs or out_of_time
            if self.val_fn is not None and (self.epoch % self.config.val_every == 0 or last):
                metrics = self.val_fn(self.model)
                record.update({f"val_{k}": v for k, v in metrics.items()})
            record["seconds"] = time.perf_counter() - t0
            self._warn_if_diverging(loss)
            self.history.append(record)
            monitored = record.get(self.config.monitor) if self.config.monitor else None
            if monitored is not None and self._better(monitored):
                self.best = float(monitored)
                self.save("best.pt")
            self.save("last.pt")
            if D.is_main_process() and self.config.progress:
                shown = {k: round(v, 4) if isinstance(v, float) else v for k, v in record.items()}
                tqdm.write(" ".join(f"{k}={v}" for k, v in shown.items()))
            if out_of_time:
                break
        self._elapsed_before += self._clock() - start
        self._start = None
        return self.history
