"""Crashes, concurrent runs and hostile command lines (issue 11): a named error and nothing lost.

- one run at a time per run folder (a lock naming its holder, recovered after a crash);
- ``--epochs``/``--time-limit``/``--set`` values that cannot work are errors before training;
- a mistyped ``--data-root`` is an error, never a synthetic sample; every JSON result says which data it measured;
- checkpoints carry a content hash; one of another recipe is refused naming both;
- ``kill -9`` during checkpoint writes and during downloads: nothing corrupt is used, nothing is left behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from conftest import TINY_FCN

from course_lib import evaluate, train
from course_lib.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from course_lib.engine import Trainer, TrainerConfig
from course_lib.runlock import LOCK_NAME, RunLockedError, read_holder, run_lock

REPO = Path(__file__).resolve().parents[1]


def _python(code: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the subprocess")
        time.sleep(0.02)


# ------------------------------------------------------------------------------------------------ the run lock
def test_run_lock_names_its_holder_and_is_released(tmp_path):
    with run_lock(tmp_path / "run") as lock:
        holder = read_holder(lock)
        assert holder["pid"] == os.getpid() and {"host", "started", "command"} <= set(holder)
        with pytest.raises(RunLockedError, match="this process already holds"):
            with run_lock(tmp_path / "run"):
                pass
    assert not lock.exists()


def test_run_lock_held_by_a_live_process_is_refused_and_a_dead_ones_recovered(tmp_path):
    holder = _python(f"""
        import sys, time
        from course_lib.runlock import run_lock
        with run_lock({str(tmp_path / 'run')!r}):
            print("locked", flush=True)
            time.sleep(60)
    """)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunLockedError, match=f"pid {holder.pid}") as err:
            with run_lock(tmp_path / "run"):
                pass
        assert str(tmp_path / "run") in str(err.value) and "-c" in str(err.value)
    finally:
        holder.send_signal(signal.SIGKILL)  # a crash: the lock file stays behind
        holder.wait()
    assert (tmp_path / "run" / LOCK_NAME).is_file()
    with run_lock(tmp_path / "run") as lock:  # the dead holder's lock is recovered
        assert read_holder(lock)["pid"] == os.getpid()


def test_a_second_training_into_a_held_run_folder_fails_naming_the_holder(camvid_sample, tmp_path, capsys):
    out = tmp_path / "run"
    holder = _python(f"""
        import time
        from course_lib.runlock import run_lock
        with run_lock({str(out)!r}):
            open({str(out / 'last.pt')!r}, "wb").write(b"the first run's weights")
            print("locked", flush=True)
            time.sleep(60)
    """)
    try:
        assert holder.stdout.readline().strip() == "locked"
        code = train.main(["fcn8s-camvid", "--data-root", str(camvid_sample), "--profile", "quick", "--epochs", "1",
                           "--out", str(out), "--no-progress", *TINY_FCN])
        err = capsys.readouterr().err
        assert code == 2 and "in use by another run" in err and f"pid {holder.pid}" in err
        assert (out / "last.pt").read_bytes() == b"the first run's weights"  # the first run's files untouched
    finally:
        holder.kill()
        holder.wait()


def test_run_folder_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "run").write_text("x")
    with pytest.raises(NotADirectoryError, match="run"):
        with run_lock(tmp_path / "run"):
            pass


# ------------------------------------------------------------------------------------------------ command lines
@pytest.mark.parametrize(("option", "value"), [("--epochs", "0"), ("--epochs", "-1"), ("--epochs", "1.5"),
                                               ("--time-limit", "0"), ("--time-limit", "-2"),
                                               ("--time-limit", "nan")])
def test_impossible_epochs_and_time_limits_are_argparse_errors(option, value, capsys):
    with pytest.raises(SystemExit) as exit_:
        train.main(["fcn8s-camvid", "--data-root", "x", option, value])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and option in err and value in err


def test_settings_that_train_nothing_or_write_nowhere_fail_before_training(camvid_sample, tmp_path, capsys,
                                                                         monkeypatch):
    monkeypatch.setenv("COURSE_WORK_DIR", str(tmp_path / "work"))
    base = ["fcn8s-camvid", "--data-root", str(camvid_sample), "--profile", "quick", "--no-progress", *TINY_FCN]
    out = tmp_path / "run"
    assert train.main([*base, "--out", str(out), "--set", "max_items=3", "--set", "batch_size=8"]) == 2
    assert "zero steps" in capsys.readouterr().err and not out.exists()  # nothing written, no empty folder left
    assert train.main([*base, "--set", "epochs=0", "--out", str(out)]) == 2
    assert "epochs" in capsys.readouterr().err
    assert train.main([*base, "--set", "lr=fast", "--out", str(out)]) == 2
    assert "lr" in capsys.readouterr().err
    (tmp_path / "file").write_text("not a folder")
    assert train.main([*base, "--out", str(tmp_path / "file")]) == 2
    assert "file" in capsys.readouterr().err and (tmp_path / "file").read_text() == "not a folder"


def test_a_mistyped_data_root_is_an_error_never_a_sample(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COURSE_WORK_DIR", str(tmp_path / "work"))
    typo = tmp_path / "dta"
    for main, argv in ((train.main, ["fcn8s-camvid", "--profile", "quick"]),
                       (train.main, ["raft-small-chairs", "--profile", "quick"]),
                       (evaluate.main, ["flow-zero"])):
        assert main([*argv, "--data-root", str(typo)]) == 2
        assert str(typo) in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert evaluate.main(["flow-zero", "--data-root", str(tmp_path / "empty")]) == 2
    assert "empty" in capsys.readouterr().err
    assert not typo.exists() and not (tmp_path / "work").exists() and not any((tmp_path / "empty").iterdir())


def test_results_name_their_data_and_checkpoints_of_another_recipe_are_refused(camvid_sample, tmp_path, capsys):
    out = tmp_path / "run"
    base = ["--data-root", str(camvid_sample), "--profile", "quick", "--no-progress", "--out", str(out), *TINY_FCN]
    assert train.main(["fcn8s-camvid", "--epochs", "1", *base]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["data"] == {"root": summary["data_root"], "synthetic": True}
    assert not (out / LOCK_NAME).exists()  # released on exit
    state = load_checkpoint(out / "last.pt")
    assert len(state["content_sha256"]) == 64

    assert evaluate.main(["fcn8s-camvid", "--checkpoint", str(out / "last.pt"), "--data-root", str(camvid_sample),
                          "--no-progress"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["data"]["synthetic"] is True and Path(result["data"]["root"]).is_dir()

    assert evaluate.main(["fcn32s-camvid", "--checkpoint", str(out / "last.pt"), "--data-root",
                          str(camvid_sample)]) == 2
    err = capsys.readouterr().err
    assert "fcn8s-camvid" in err and "fcn32s-camvid" in err and "last.pt" in err
    assert train.main(["fcn32s-camvid", "--epochs", "2", "--resume", *base]) == 2
    err = capsys.readouterr().err
    assert "fcn8s-camvid" in err and "fcn32s-camvid" in err and "last.pt" in err


# ------------------------------------------------------------------------------------------------ training
def test_diverging_training_is_warned():
    model = torch.nn.Linear(2, 1)
    scale = iter([1.0, 1.0, 1e4, 1e4])

    def loss_fn(out, target):  # the loss jumps by four orders of magnitude in the second epoch
        return torch.nn.functional.mse_loss(out, target) * 0 + next(scale) + out.sum() * 0

    data = [(torch.randn(4, 2), torch.randn(4, 1)) for _ in range(2)]
    trainer = Trainer(model, loss_fn, torch.optim.SGD(model.parameters(), 0.1), data,
                      config=TrainerConfig(epochs=2, progress=False))
    with pytest.warns(RuntimeWarning, match="diverging"):
        trainer.fit()


# ------------------------------------------------------------------------------------------------ checkpoints
def test_flipped_bytes_in_a_checkpoint_are_detected(tmp_path):
    path = save_checkpoint({"model": {"w": torch.full((256,), 0.25)}}, tmp_path / "last.pt")
    raw = bytearray(path.read_bytes())
    at = raw.find(bytes(torch.tensor([0.25]).numpy().tobytes()))
    raw[at + 2] ^= 0x40
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="last.pt.*content hash"):
        load_checkpoint(path)


def test_kill_9_during_checkpoint_writes_leaves_a_good_checkpoint_and_the_next_save_cleans_up(tmp_path):
    writer = _python(f"""
        import torch
        from course_lib.checkpoint import save_checkpoint
        step = 0
        while True:
            step += 1
            save_checkpoint({{"model": {{"w": torch.full((1_000_000,), float(step))}}, "step": step}},
                            {str(tmp_path / 'last.pt')!r})
            print(step, flush=True)
    """)
    try:
        assert writer.stdout.readline().strip() == "1"
        _wait_for(lambda: any(p.name.endswith(".tmp") for p in tmp_path.iterdir()))  # in the middle of a write
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    finally:
        if writer.poll() is None:
            writer.kill()
    state = load_checkpoint(tmp_path / "last.pt")  # a complete checkpoint, hash verified
    assert float(state["model"]["w"][0]) == state["step"] >= 1
    assert any(p.name.endswith(".tmp") for p in tmp_path.iterdir())  # the crash left its temporary file
    resume = _python(f"""
        from course_lib.checkpoint import load_checkpoint, save_checkpoint
        state = load_checkpoint({str(tmp_path / 'last.pt')!r})
        save_checkpoint(state, {str(tmp_path / 'last.pt')!r})
    """)
    assert resume.wait() == 0, resume.stderr.read()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


# ------------------------------------------------------------------------------------------------ downloads
def test_kill_9_during_a_download_then_resume_uses_nothing_corrupt(tmp_path):
    from course_lib.download import Resource, fetch

    source = tmp_path / "source.bin"
    source.write_bytes(os.urandom(3_000_000))
    root = tmp_path / "data"
    downloader = _python(f"""
        import time
        from course_lib import download as dl
        from course_lib.download import Resource, fetch
        real_open = dl._open

        class Slow:
            def __init__(self, response):
                self.response, self.headers, self.status = response, response.headers, None
            def read(self, n):
                time.sleep(0.05)
                return self.response.read(min(n, 65536))
            def close(self):
                self.response.close()
            def __enter__(self):
                return self
            def __exit__(self, *exc):
                self.close()

        dl._open = lambda url, offset, timeout: Slow(real_open(url, offset, timeout))
        fetch(Resource({source.as_uri()!r}, "source.bin", extract=False), {str(root)!r}, progress=False)
    """)
    part = root / "downloads" / "source.bin.part"
    try:
        _wait_for(lambda: part.is_file() and part.stat().st_size > 200_000)
        downloader.send_signal(signal.SIGKILL)
        downloader.wait()
    finally:
        if downloader.poll() is None:
            downloader.kill()
    assert not (root / "downloads" / "source.bin").exists() and part.is_file()
    with part.open("r+b") as fh:  # the crash also damaged the bytes already written
        fh.write(b"\x00" * 1000)
    path = fetch(Resource(source.as_uri(), "source.bin", extract=False), root, progress=False)
    assert path.read_bytes() == source.read_bytes()
    sidecar = root / "downloads" / "source.bin.sha256"
    import hashlib

    assert sidecar.read_text().split()[0] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert sorted(p.name for p in (root / "downloads").iterdir()) == ["source.bin", "source.bin.sha256"]


def test_first_use_download_is_never_resumed_from_a_partial_file(tmp_path):
    from test_download import LocalServer

    from course_lib.download import Resource, fetch

    server = LocalServer()
    server.thread.start()
    try:
        body = os.urandom(1_500_000)
        url = server.add("d.bin", body)
        root = tmp_path / "data"
        (root / "downloads").mkdir(parents=True)
        (root / "downloads" / "d.bin.part").write_bytes(b"\xff" * 700_000)  # a damaged partial download
        fetch(Resource(url, "d.bin", extract=False), root, progress=False)
        assert (root / "downloads" / "d.bin").read_bytes() == body
        assert all(r["range"] is None for r in server.requests)  # downloaded from byte 0, not resumed
        import hashlib

        assert (root / "downloads" / "d.bin.sha256").read_text().split()[0] == hashlib.sha256(body).hexdigest()
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
