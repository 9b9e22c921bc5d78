"""Profiles, data root and the real-data-or-sample choice every notebook makes."""

import shutil

import pytest
import torch

from course_lib import config
from course_lib.datasets import locate


def test_profile_from_environment(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "full")
    assert config.get_profile() == "full"
    monkeypatch.setenv("COURSE_PROFILE", "QUICK")
    assert config.get_profile() == "quick"
    monkeypatch.setenv("COURSE_PROFILE", "fast")
    with pytest.raises(ValueError, match="COURSE_PROFILE"):
        config.get_profile()
    monkeypatch.delenv("COURSE_PROFILE")
    assert config.get_profile() == ("full" if torch.cuda.is_available() else "quick")
    assert config.get_profile("quick") == "quick"  # an explicit argument wins


def test_data_root_and_setup(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("COURSE_DATA_ROOT", str(tmp_path))
    assert config.data_root() == tmp_path
    assert config.data_root("elsewhere").name == "elsewhere"
    monkeypatch.delenv("COURSE_DATA_ROOT")
    assert config.data_root().name == "data"  # inside the repository checkout
    cfg = config.setup(seed=3, profile="quick")
    assert cfg.quick and cfg.seed == 3 and "profile=quick" in capsys.readouterr().out
    config.seed_everything(3)  # seeding again gives the same stream
    b = torch.rand(3)
    config.seed_everything(3)
    assert torch.equal(b, torch.rand(3))


def test_work_dir_from_argument_environment_and_default(monkeypatch, tmp_path):
    assert config.work_dir(tmp_path / "w") == tmp_path / "w"
    monkeypatch.setenv("COURSE_WORK_DIR", str(tmp_path / "env"))
    assert config.work_dir() == tmp_path / "env"
    monkeypatch.delenv("COURSE_WORK_DIR")
    assert config.work_dir().name in ("runs", "course_runs")


def test_locate_prefers_real_data_then_sample(tmp_path, camvid_sample, capsys):
    data, work = tmp_path / "data", tmp_path / "work"
    data.mkdir()
    # no real data: the quick profile writes the sample into the work folder (never the data root), loudly
    root, is_sample = locate("camvid", data, "quick", work=work)
    assert is_sample and root == work / "samples" / "camvid" / "CamVid"
    assert not any(data.iterdir())
    assert "SYNTHETIC" in capsys.readouterr().out
    # the full profile refuses to fall back to synthetic data and says how to get the real one
    with pytest.raises(FileNotFoundError, match="python -m course_lib.download camvid"):
        locate("camvid", data, "full", work=work)
    # a path named explicitly is never replaced by a sample: a typo is an error naming it
    with pytest.raises(FileNotFoundError, match="typo"):
        locate("camvid", data / "typo", "quick", must_exist=True, work=work)
    # a real dataset (a copy without the sample marker) under data_root/camvid wins
    real = data / "camvid" / "CamVid"
    shutil.copytree(camvid_sample / "CamVid", real)
    (real / "COURSE_SAMPLE.txt").unlink()
    root, is_sample = locate("camvid", data, "full", work=work)
    assert not is_sample and root == real and "REAL" in capsys.readouterr().out


def test_locate_unknown_dataset_lists_the_known_ones(tmp_path):
    with pytest.raises(KeyError, match="unknown dataset 'nope'.*camvid"):
        locate("nope", tmp_path, "quick")
