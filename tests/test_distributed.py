"""DistributedDataParallel on CPU with two Gloo processes: under torchrun, and gradient averaging."""

import json
import subprocess
import sys

import torch
import torch.multiprocessing as mp
from conftest import TINY_FCN
from torch import nn


def test_torchrun_two_processes(camvid_sample, tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "course_lib.train", "fcn8s-camvid", "--data-root", str(camvid_sample), "--profile", "quick",
           "--epochs", "1", "--out", str(tmp_path), "--no-progress", *TINY_FCN]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert len(lines) == 1  # only rank 0 reports
    summary = json.loads(lines[0])
    assert summary["world_size"] == 2 and 0 <= summary["val_pixel_accuracy"] <= 1
    assert (tmp_path / "last.pt").is_file()


def _worker(rank, world, port, out):
    import os

    from course_lib import distributed as D
    from course_lib.engine import Trainer, TrainerConfig

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    D.init_distributed(torch.device("cpu"))
    torch.manual_seed(0)  # same initial weights on both ranks
    model = nn.Linear(3, 1)
    g = torch.Generator().manual_seed(100 + rank)  # different data on each rank
    data = [(torch.randn(4, 3, generator=g), torch.randn(4, 1, generator=g)) for _ in range(3)]
    tr = Trainer(model, nn.functional.mse_loss, torch.optim.SGD(model.parameters(), 0.1), data,
                 config=TrainerConfig(epochs=2, progress=False))
    tr.fit()
    torch.save({k: v.clone() for k, v in model.state_dict().items()}, f"{out}/rank{rank}.pt")
    D.cleanup()


def test_ddp_keeps_replicas_identical(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    a = torch.load(tmp_path / "rank0.pt", weights_only=True)
    b = torch.load(tmp_path / "rank1.pt", weights_only=True)
    # gradients were averaged across ranks, so the replicas trained on different data stay equal ...
    assert all(torch.equal(a[k], b[k]) for k in a)
    # ... and differ from a single-process run on rank 0's data alone
    torch.manual_seed(0)
    solo = nn.Linear(3, 1)
    assert not torch.equal(solo.weight, a["weight"])
