"""The command lines: ``python -m course_lib.train`` and ``python -m course_lib.evaluate`` on sample data."""

import json
import subprocess
import sys

import pytest
from conftest import TINY_FCN


def run(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def last_json(proc):
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def trained(camvid_sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    # --data-root names the folder *above* CamVid/ here
    proc = run("course_lib.train", "fcn8s-camvid", "--data-root", str(camvid_sample), "--profile", "quick",
               "--epochs", "2", "--out", str(out), "--no-progress", *TINY_FCN)
    return out, last_json(proc)


def test_train_prints_json_and_writes_checkpoints(trained):
    out, summary = trained
    assert summary["recipe"] == "fcn8s-camvid" and summary["epochs"] == 2
    assert 0.0 <= summary["val_pixel_accuracy"] <= 1.0 and "val_miou" in summary
    assert (out / "last.pt").is_file() and (out / "best.pt").is_file() and (out / "history.json").is_file()
    assert summary["backbone"] is None  # no ImageNet weights on disk: trained from scratch


def test_evaluate_reproduces_validation_metrics(trained, camvid_sample):
    out, summary = trained
    # the dataset's own folder works as --data-root too
    proc = run("course_lib.evaluate", "fcn8s-camvid", "--checkpoint", str(out / "last.pt"),
               "--data-root", str(camvid_sample / "CamVid"), "--split", "val", "--no-progress")
    metrics = last_json(proc)
    assert metrics["pixel_accuracy"] == pytest.approx(summary["val_pixel_accuracy"], abs=1e-9)
    proc = run("course_lib.evaluate", "fcn8s-camvid", "--checkpoint", str(out / "last.pt"),
               "--data-root", str(camvid_sample), "--split", "all", "--no-progress")
    splits = last_json(proc)["splits"]
    assert set(splits) == {"train", "val", "test", "all"}


def test_time_limit_and_overrides(camvid_sample, tmp_path):
    proc = run("course_lib.train", "fcn32s-camvid", "--data-root", str(camvid_sample), "--profile", "quick",
               "--epochs", "1000", "--time-limit", "0.05", "--out", str(tmp_path), "--no-progress", *TINY_FCN)
    summary = last_json(proc)
    assert summary["epochs"] < 1000 and summary["seconds"] < 60


def test_errors_are_clear(camvid_sample, tmp_path, capsys):
    # in-process (same code path as the command line, without paying a Python start-up per case)
    from course_lib import evaluate, train

    def err(main, *argv):
        code = main(list(argv))
        return code, capsys.readouterr().err

    code, msg = err(train.main, "fcn9s-camvid", "--data-root", str(camvid_sample))
    assert code == 2 and "unknown recipe" in msg and "fcn8s-camvid" in msg
    code, msg = err(train.main, "fcn8s-camvid", "--data-root", str(tmp_path))
    assert code == 2 and str(tmp_path) in msg
    code, msg = err(train.main, "fcn8s-camvid", "--data-root", str(camvid_sample), "--set", "lr_typo=1")
    assert code == 2 and "lr_typo" in msg
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    code, msg = err(evaluate.main, "fcn8s-camvid", "--checkpoint", str(bad), "--data-root", str(camvid_sample))
    assert code == 2 and "bad.pt" in msg


def test_list(capsys):
    from course_lib import train

    assert train.main(["--list"]) == 0
    out = capsys.readouterr().out
    assert "fcn8s-camvid" in out and "fcn32s-voc" in out


def test_voc_recipe_runs(voc_sample, tmp_path):
    proc = run("course_lib.train", "fcn16s-voc", "--data-root", str(voc_sample), "--profile", "quick",
               "--epochs", "1", "--out", str(tmp_path), "--no-progress", *TINY_FCN)
    assert "val_miou" in last_json(proc)
