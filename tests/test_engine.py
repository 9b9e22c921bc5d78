"""The shared training loop: learning, checkpoints (atomic, weights-only), resume, time budget, schedules."""

import math
import os

import pytest
import torch
from torch import nn

from course_lib.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from course_lib.engine import Trainer, TrainerConfig, cosine_schedule, poly_schedule


def _problem(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = (x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) > 0).long()
    return [(x[i:i + 8], y[i:i + 8]) for i in range(0, n, 8)]


def _trainer(tmp_path, **cfg):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    data = _problem()

    def val_fn(m):
        with torch.no_grad():
            acc = sum((m(x).argmax(1) == y).float().sum() for x, y in data) / 64
        return {"accuracy": float(acc)}

    config = TrainerConfig(out_dir=tmp_path, monitor="val_accuracy", progress=False, **cfg)
    return Trainer(model, nn.functional.cross_entropy, torch.optim.Adam(model.parameters(), 1e-2), data,
                   val_fn=val_fn, config=config)


def test_fit_learns_and_records_history(tmp_path):
    tr = _trainer(tmp_path, epochs=15)
    hist = tr.fit()
    assert [h["epoch"] for h in hist] == list(range(1, 16))
    assert hist[-1]["train_loss"] < hist[0]["train_loss"] * 0.5
    assert hist[-1]["val_accuracy"] > 0.9
    assert (tmp_path / "last.pt").is_file() and (tmp_path / "best.pt").is_file()
    best = load_checkpoint(tmp_path / "best.pt")
    assert best["best"] == max(h["val_accuracy"] for h in hist)


def test_resume_continues_where_it_stopped(tmp_path):
    first = _trainer(tmp_path, epochs=3)
    first.fit()
    second = _trainer(tmp_path, epochs=5)
    hist = second.fit(resume=True)
    assert [h["epoch"] for h in hist] == [1, 2, 3, 4, 5]
    assert second.step == 5 * 8
    # the resumed model starts from the saved weights, not from a fresh initialisation
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["epoch"] == 5


def test_time_limit_stops_early_and_still_validates(tmp_path):
    tr = _trainer(tmp_path, epochs=10_000, time_limit=0.5)
    hist = tr.fit()
    assert len(hist) < 10_000
    assert "val_accuracy" in hist[-1]
    # the schedule reached its end because progress follows the time budget
    tr2 = _trainer(tmp_path / "b", epochs=10_000, time_limit=0.3, lr_schedule=poly_schedule(1.0))
    tr2.fit()
    assert tr2.optimizer.param_groups[0]["lr"] < 1e-2 * 0.2


def test_cpu_clock_counts_process_time_not_wall_time(tmp_path, monkeypatch):
    """clock="cpu": the budget follows time.process_time, so time spent waiting for other jobs does not count."""
    import course_lib.engine as engine

    ticks = {"cpu": 0.0}

    def fake_process_time():  # every call: 0.01 s of CPU time; the wall clock runs as it likes
        ticks["cpu"] += 0.01
        return ticks["cpu"]

    monkeypatch.setattr(engine.time, "process_time", fake_process_time)
    tr = _trainer(tmp_path, epochs=10_000, time_limit=0.2, clock="cpu")
    tr.fit()
    assert 5 <= tr.step <= 25, tr.step  # about 20 clock reads of 0.01 s, one per step plus a few per epoch
    with pytest.raises(ValueError, match="clock"):
        _trainer(tmp_path / "b", clock="gpu")


def test_schedules():
    assert poly_schedule(1.0)(0.0) == 1.0 and poly_schedule(1.0)(1.0) == 0.0
    cos = cosine_schedule(warmup=0.1)
    assert cos(0.05) == pytest.approx(0.5) and cos(0.1) == pytest.approx(1.0) and cos(1.0) == pytest.approx(0.0)


def test_nan_loss_raises(tmp_path):
    model = nn.Linear(2, 1)
    data = [(torch.tensor([[float("nan"), 0.0]]), torch.zeros(1, 1))]
    tr = Trainer(model, nn.functional.mse_loss, torch.optim.SGD(model.parameters(), 0.1), data,
                 config=TrainerConfig(progress=False))
    with pytest.raises(FloatingPointError, match="loss is nan"):
        tr.fit()


def test_failed_save_keeps_the_good_checkpoint(tmp_path, monkeypatch):
    path = save_checkpoint({"epoch": 1, "w": torch.ones(3)}, tmp_path / "last.pt")
    good = path.read_bytes()

    def broken_save(obj, fh):
        fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint({"epoch": 2}, path)
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temporary file left behind


def test_load_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")
    path = save_checkpoint({"model": {"w": torch.ones(100)}}, tmp_path / "ok.pt")
    trunc = tmp_path / "trunc.pt"
    trunc.write_bytes(path.read_bytes()[: os.path.getsize(path) // 2])
    with pytest.raises(CheckpointError, match="trunc.pt"):
        load_checkpoint(trunc)
    with pytest.raises(CheckpointError, match="missing entries"):
        load_checkpoint(path, require=("model", "optimizer"))

    class Payload:
        def __reduce__(self):
            return (os.system, ("echo owned",))

    evil = tmp_path / "evil.pt"
    torch.save({"model": Payload()}, evil)
    with pytest.raises(CheckpointError, match="evil.pt"):
        load_checkpoint(evil)


def test_history_values_are_plain_numbers(tmp_path):
    hist = _trainer(tmp_path, epochs=1).fit()
    assert all(isinstance(v, (int, float)) and not math.isnan(v) for v in hist[0].values())
