"""Profiles, data root and the real-data-or-sample choice every notebook makes."""

import shutil

import pytest
import torch

from course_lib import config
from course_lib.data import locate


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


def test_locate_prefers_real_data_then_sample(tmp_path, camvid_sample, capsys):
    # no real data: the quick profile writes and uses the sample, loudly
    root, is_sample = locate("camvid", tmp_path, "quick")
    assert is_sample and root == tmp_path / "samples" / "camvid" / "CamVid"
    assert "SYNTHETIC" in capsys.readouterr().out
    # the full profile refuses to fall back to synthetic data
    with pytest.raises(FileNotFoundError, match="download.py camvid"):
        locate("camvid", tmp_path, "full")
    # a real dataset (a copy without the sample marker) under data_root/camvid wins
    real = tmp_path / "camvid" / "CamVid"
    shutil.copytree(camvid_sample / "CamVid", real)
    (real / "COURSE_SAMPLE.txt").unlink()
    root, is_sample = locate("camvid", tmp_path, "full")
    assert not is_sample and root == real and "REAL" in capsys.readouterr().out
