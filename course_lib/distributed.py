"""Helpers for multi-process training with ``torchrun`` and DistributedDataParallel.

Introduced in Chapter 3 with the shared training loop. Launch any recipe on several processes with::

    torchrun --nproc_per_node 2 -m course_lib.train fcn8s-camvid --data-root data

``torchrun`` sets ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``; :func:`init_distributed` reads them and joins the
process group (NCCL on GPUs, Gloo on CPUs). Without them everything runs in one process.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

__all__ = ["init_distributed", "is_distributed", "rank", "world_size", "is_main_process", "barrier",
           "cleanup", "ShardSampler"]


def init_distributed(device: torch.device | None = None) -> torch.device | None:
    """Join the process group if launched by ``torchrun``; return this process's device (None if not distributed)."""
    if "WORLD_SIZE" not in os.environ or int(os.environ["WORLD_SIZE"]) < 2:
        return None
    if not dist.is_initialized():
        use_cuda = torch.cuda.is_available() and (device is None or device.type == "cuda")
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    if torch.cuda.is_available() and (device is None or device.type == "cuda"):
        local = int(os.environ.get("LOCAL_RANK", 0))
        torch.cuda.set_device(local)
        return torch.device("cuda", local)
    return torch.device("cpu")


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    return rank() == 0


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def cleanup() -> None:
    if is_distributed():
        dist.destroy_process_group()


class ShardSampler(Sampler[int]):
    """Evaluation sampler: process ``r`` of ``w`` takes items ``r, r + w, ...`` (no padding, no duplicates).

    ``torch.utils.data.DistributedSampler`` repeats items to give every process the same count, which would count
    some pixels twice in a summed confusion matrix.
    """

    def __init__(self, length: int, rank_: int | None = None, world: int | None = None):
        self.length = length
        self.rank = rank() if rank_ is None else rank_
        self.world = world_size() if world is None else world

    def __iter__(self):
        return iter(range(self.rank, self.length, self.world))

    def __len__(self) -> int:
        return len(range(self.rank, self.length, self.world))
