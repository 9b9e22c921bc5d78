"""Self-correction (SCHP, Li, Dong, Sun & Yang, arXiv 1910.09777) as pieces of the shared training loop.

Introduced in Chapter 4. Labels of human parsing are noisy (parts missed, boundaries off, left and right mixed up).
SCHP trains as usual for the first part of the schedule, then runs ``cycles`` short cycles of a **cyclical
learning rate** (:func:`schp_schedule`: each restarts at half the base rate and anneals by a cosine). At the end of
each cycle:

- **online model aggregation**: the running average of the weights at the cycle ends,
  ``w_avg = m / (m + 1) * w_avg + 1 / (m + 1) * w`` (``m`` cycles so far; :func:`running_average_`);
- **label refinement**: from then on the targets are the running average of the aggregated model's soft
  predictions and the given labels, ``q = m / (m + 1) * p_avg + 1 / (m + 1) * y``
  (:func:`course_lib.losses.parsing.refine_labels`). As in SCHP's code, ``p_avg`` is computed online, on the
  training batch, by the aggregated model, which is itself the running average.

:class:`SelfCorrection` wraps a network so that the shared :class:`course_lib.engine.Trainer` runs all of it
unchanged: it counts training steps, aggregates when a cycle ends (at the next forward, training or evaluation),
adds the aggregated model's outputs for the loss, and answers evaluations with the aggregated model once there is
one (SCHP evaluates and ships that model). The BatchNorm statistics are averaged with the weights (as
``torch.optim.swa_utils.AveragedModel(use_buffers=True)``) instead of SCHP's extra pass over the training set.
The aggregated model and the counters are buffers and submodules, so checkpoints and ``--resume`` keep them.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
from torch import nn

__all__ = ["SCHP_CYCLES", "SCHP_START", "SCHP_WARMUP", "SelfCorrection", "cycle_end_steps", "running_average_",
           "schp_schedule"]

#: SCHP's LIP schedule as fractions of training: 10 warm-up epochs of 150, cycles from epoch 100, 5 cycles of 10
SCHP_WARMUP, SCHP_START, SCHP_CYCLES = 10 / 150, 100 / 150, 5


def schp_schedule(warmup: float = SCHP_WARMUP, start: float = SCHP_START, cycles: int = SCHP_CYCLES,
                  floor: float = 0.01, cyclical_base: float = 0.5) -> Callable[[float], float]:
    """SCHP's learning-rate multiplier over training progress ``[0, 1]`` (its ``SGDRScheduler``).

    Linear warm-up for the first ``warmup``, a cosine from 1 to ``floor`` until ``start``, then ``cycles`` equal
    cycles, each a cosine from ``cyclical_base`` to ``floor``.

    Example:
        >>> f = schp_schedule(warmup=0.1, start=0.5, cycles=2)
        >>> [round(f(p), 3) for p in (0.05, 0.1, 0.5, 0.625, 0.75, 1.0)]
        [0.5, 1.0, 0.5, 0.255, 0.5, 0.01]
    """
    if not 0.0 <= warmup < start < 1.0 or cycles < 1:
        raise ValueError(f"need 0 <= warmup < start < 1 and cycles >= 1, got {warmup}, {start}, {cycles}")

    def cosine(t: float, high: float) -> float:
        return floor + (high - floor) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, max(0.0, t))))

    def f(progress: float) -> float:
        if progress < warmup:
            return progress / warmup
        if progress < start:
            return cosine((progress - warmup) / (start - warmup), 1.0)
        length = (1.0 - start) / cycles
        k = min(cycles - 1, int((progress - start) / length + 1e-9))  # a cycle end starts the next cycle
        return cosine((progress - start - k * length) / length, cyclical_base)

    return f


def cycle_end_steps(total_steps: int, start: float = SCHP_START, cycles: int = SCHP_CYCLES) -> list[int]:
    """The steps after which the model is aggregated: the end of the first part and of every cycle.

    Example:
        >>> cycle_end_steps(150)
        [100, 110, 120, 130, 140, 150]
    """
    length = (1.0 - start) / cycles
    return sorted({max(1, round(total_steps * (start + k * length))) for k in range(cycles + 1)})


@torch.no_grad()
def running_average_(average: nn.Module, model: nn.Module, count: int) -> None:
    """``average = count / (count + 1) * average + 1 / (count + 1) * model``, parameters and float buffers in place.

    Integer buffers (BatchNorm's ``num_batches_tracked``) are copied.
    """
    weight = 1.0 / (count + 1.0)
    mine = dict(average.named_parameters()) | dict(average.named_buffers())
    for name, value in [*model.named_parameters(), *model.named_buffers()]:
        target = mine[name]
        if target.is_floating_point():
            target.mul_(1.0 - weight).add_(value.detach().to(target.dtype), alpha=weight)
        else:
            target.copy_(value)


class SelfCorrection(nn.Module):
    """Wrap a parsing network (with a ``branches(x) -> dict`` method, as :class:`course_lib.models.ACE2P`) for SCHP.

    Args:
        model: the network being trained.
        total_steps: the optimiser steps of the whole run (epochs x steps per epoch); the cycle ends follow it.
            ``None``: no automatic aggregation (a model rebuilt for evaluation; :meth:`aggregate` still works).
        start, cycles: where the cycles start (fraction of training) and how many (:func:`schp_schedule`'s).
        enabled: ``False`` trains the plain model (the uncorrected baseline) with the same code path.

    Training forward: the model's dict, plus ``average`` (the aggregated model's branches, no gradient) and
    ``cycles`` once a cycle has ended. Evaluation forward: the aggregated model's output once there is one, else
    the model's.

    Example:
        >>> from course_lib.models import ACE2P
        >>> net = SelfCorrection(ACE2P(3, backbone="resnet18", context_channels=8, decoder_channels=8,
        ...                            edge_channels=4), total_steps=3, start=0.3, cycles=2)
        >>> x = torch.randn(2, 3, 32, 32)
        >>> _ = net(x); _ = net(x); out = net(x)
        >>> int(net.cycles), sorted(out)
        (2, ['average', 'cycles', 'edge', 'fusion', 'parsing'])
    """

    def __init__(self, model: nn.Module, *, total_steps: int | None, start: float = SCHP_START,
                 cycles: int = SCHP_CYCLES, enabled: bool = True) -> None:
        super().__init__()
        if total_steps is not None and total_steps < 1:
            raise ValueError(f"total_steps must be >= 1 or None, got {total_steps}")
        self.model = model
        self.average = copy.deepcopy(model).requires_grad_(False)
        self.enabled = enabled
        self.ends = cycle_end_steps(total_steps, start, cycles) if enabled and total_steps else []
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))
        self.register_buffer("cycles", torch.zeros((), dtype=torch.long))

    def aggregate(self) -> None:
        """Fold the current weights into the running average (one more cycle)."""
        m = int(self.cycles)
        if m == 0:
            self.average.load_state_dict(self.model.state_dict())
        else:
            running_average_(self.average, self.model, m)
        self.cycles += 1

    def _catch_up(self) -> None:
        """Aggregate for every cycle end the step count has passed (at most once per end)."""
        done = sum(1 for end in self.ends if int(self.steps) >= end)
        while int(self.cycles) < done:
            self.aggregate()

    def forward(self, x: torch.Tensor):
        self._catch_up()
        if not self.training:
            return (self.average if int(self.cycles) > 0 else self.model)(x)
        out = dict(self.model(x))
        if int(self.cycles) > 0:
            self.average.eval()
            with torch.no_grad():
                out["average"] = self.average.branches(x)
            out["cycles"] = int(self.cycles)
        self.steps += 1
        return out
