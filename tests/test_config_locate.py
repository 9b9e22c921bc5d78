"""Profiles, data root, runtime, and the real-data-or-download-or-sample choice every notebook makes."""

import dataclasses
import gzip
import hashlib
import os
import shutil
import zipfile

import numpy as np
import pytest
import torch

import course_lib
from course_lib import config, datasets, runtime
from course_lib.data import brats
from course_lib.data.registry import REGISTRY, Resource, get
from course_lib.datasets import locate
from course_lib.download import DownloadError, check_free_space
from course_lib.runtime import MIRROR_ENV, mirror_url


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
    monkeypatch.setenv("COURSE_WORK_DIR", str(tmp_path / "work"))
    cfg = config.setup(seed=3, profile="quick")
    out = capsys.readouterr().out
    assert cfg.quick and cfg.seed == 3 and "profile=quick" in out
    assert cfg.runtime == runtime.detect() and f"runtime={cfg.runtime}" in out
    assert cfg.work_dir == tmp_path / "work" and f"work_dir={tmp_path / 'work'}" in out and "data_root=" in out
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
    # the full profile never falls back to synthetic data; without downloading it says how to get the real one
    with pytest.raises(FileNotFoundError, match="python -m course_lib.download camvid"):
        locate("camvid", data, "full", work=work, download=False)
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


# ------------------------------------------------------------------------------------------ runtime
def test_runtime_detection_from_the_environment():
    assert runtime.detect({}) == "local"
    assert runtime.detect({"KAGGLE_KERNEL_RUN_TYPE": "Interactive"}) == "kaggle"
    assert runtime.detect({"COLAB_RELEASE_TAG": "release-colab_20250101-060000_RC00"}) == "colab"
    hint = runtime.internet_hint("kaggle")
    assert "Session options" in hint and "Internet" in hint
    assert runtime.internet_hint("local") != hint


# ------------------------------------------------------------------------------------------ downloads in locate
@pytest.fixture()
def toy_mirror(tmp_path, camvid_sample, monkeypatch):
    """A dataset "toycam" (CamVid's layout and markers) whose one archive is served by a file:// mirror."""
    served = tmp_path / "mirror"
    served.mkdir()
    archive = served / "toycam.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted((camvid_sample / "CamVid").rglob("*")):
            if path.is_file() and path.name != "COURSE_SAMPLE.txt":
                zf.write(path, f"CamVid/{path.relative_to(camvid_sample / 'CamVid')}")
    info = dataclasses.replace(
        get("camvid"), name="toycam", folders=("CamVid",), download_size=3 * archive.stat().st_size,
        resources=(Resource("https://example.invalid/somewhere/toycam.zip", "toycam.zip",
                            sha256=hashlib.sha256(archive.read_bytes()).hexdigest(), size=archive.stat().st_size),))
    REGISTRY["toycam"] = info  # (Registry.get takes one argument, so monkeypatch.setitem cannot be used)
    monkeypatch.setenv(MIRROR_ENV, served.as_uri())
    yield info
    REGISTRY.pop("toycam", None)


def _tree(folder):
    return sorted((str(p.relative_to(folder)), p.stat().st_mtime_ns) for p in folder.rglob("*")) \
        if folder.is_dir() else []


def test_mirror_variable_replaces_host_and_path(monkeypatch):
    url = "https://example.org/a/b/data.zip"
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    assert mirror_url(url, "stored-name.zip") == url
    monkeypatch.setenv(MIRROR_ENV, "http://127.0.0.1:8000/")
    assert mirror_url(url, "stored-name.zip") == "http://127.0.0.1:8000/stored-name.zip"


def test_full_profile_downloads_a_missing_dataset_into_the_data_root(toy_mirror, tmp_path, capsys):
    data, work = tmp_path / "data", tmp_path / "work"
    root, is_sample = locate("toycam", data, "full", work=work)
    assert not is_sample and root == data / "toycam" / "CamVid"
    assert (root / "train").is_dir() and (data / "toycam" / "downloads" / "toycam.zip").is_file()
    out = capsys.readouterr().out
    assert "downloading" in out and "free" in out  # the free-space check says what it needs
    assert not work.exists(), "nothing goes to the work folder when the data root is writable"
    # found the second time, without downloading
    assert locate("toycam", data, "full", work=work) == (root, False)
    assert "downloading" not in capsys.readouterr().out


def test_read_only_data_root_downloads_into_the_work_folder(toy_mirror, tmp_path, capsys, monkeypatch):
    data, work = tmp_path / "input", tmp_path / "work"
    data.mkdir()
    (data / "something-else").mkdir()
    before = _tree(data)
    # what os.access says about Kaggle's /kaggle/input (a read-only mount; root ignores chmod, so it is simulated)
    monkeypatch.setattr(datasets, "_writable", lambda folder: folder != data)
    root, is_sample = locate("toycam", data, "full", work=work)
    assert not is_sample and root == work / "data" / "toycam" / "CamVid"
    assert "read-only" in capsys.readouterr().out
    assert _tree(data) == before, "nothing may be written inside a read-only data root"
    # a later run finds the download in the work folder
    assert locate("toycam", data, "full", work=work) == (root, False)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a chmod-ed folder (tests/test_fresh_runtime.py "
                                                 "drops the capability instead)")
def test_writable_probe_sees_a_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert not datasets._writable(ro) and not datasets._writable(ro / "not" / "yet")
        assert datasets._writable(tmp_path / "new")
    finally:
        ro.chmod(0o755)


def test_a_download_that_does_not_fit_stops_before_starting(toy_mirror, tmp_path):
    with pytest.raises(DownloadError, match=r"needs about .* of free disk space .* only"):
        check_free_space(tmp_path, 1 << 62, "the test")
    REGISTRY["toycam"] = dataclasses.replace(toy_mirror, download_size=1 << 62)
    with pytest.raises(DownloadError, match="toycam|CamVid"):
        locate("toycam", tmp_path / "data", "full", work=tmp_path / "work")
    assert not (tmp_path / "data" / "toycam" / "downloads").exists(), "nothing downloaded before the check"


def test_fetch_in_a_notebook_is_the_package_level_function(toy_mirror, tmp_path):
    folder = course_lib.fetch("toycam", tmp_path / "data", work=tmp_path / "work", progress=False)
    assert folder == tmp_path / "data" / "toycam" / "CamVid" and (folder / "trainannot").is_dir()


def test_registration_only_dataset_says_where_to_register_and_what_to_attach(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        locate("brats", tmp_path, "full", work=tmp_path / "work")
    message = str(err.value)
    for needed in ("registration", "synapse.org", "BraTS2021_Training_Data.tar", str(tmp_path / "brats"),
                   "awsaf49/brats20-dataset-training-validation", "/kaggle/input/brats20-dataset-training-validation"):
        assert needed in message, f"{needed!r} missing from:\n{message}"
    with pytest.raises(FileNotFoundError, match="registration"):
        course_lib.fetch("brats", tmp_path)


# ------------------------------------------------------------------------------------------ BraTS 2020 naming
def _gunzip_tree(folder):
    """Turn every .nii.gz below ``folder`` into .nii, as the Kaggle mirror of BraTS 2020 ships them."""
    for path in list(folder.rglob("*.nii.gz")):
        path.with_name(path.name[:-3]).write_bytes(gzip.decompress(path.read_bytes()))
        path.unlink()


@pytest.mark.parametrize("naming", ["2020", "2021"])
def test_brats_found_in_the_kaggle_mirror_layout_in_both_namings(tmp_path, naming):
    from course_lib.synthetic.brats import write_sample

    top = tmp_path / "input" / "brats20-dataset-training-validation" / "BraTS2020_TrainingData"
    cases_folder = write_sample(tmp_path / "gen", n_cases=2, size=32, seed=2, naming=naming)
    shutil.copytree(cases_folder, top / cases_folder.name)
    (top / cases_folder.name / "COURSE_SAMPLE.txt").unlink()
    if naming == "2020":
        _gunzip_tree(top)
    root, is_sample = locate("brats", tmp_path / "input", "full", work=tmp_path / "work")
    assert not is_sample and root == top / cases_folder.name
    cases = brats.find_cases(root)
    expected = ["BraTS20_Training_001", "BraTS20_Training_002"] if naming == "2020" else \
        ["BraTS2021_00000", "BraTS2021_00002"]
    assert [c.case_id for c in cases] == expected
    suffix = ".nii" if naming == "2020" else ".nii.gz"
    assert all(p.name.endswith(suffix) and p.name.startswith(c.case_id) for c in cases for p in c.files)
    volume = brats.load_case(cases[0])
    assert set(np.unique(volume.seg).tolist()) <= {0, 1, 2, 4} and 4 in volume.seg
    regions = brats.labels_to_regions(volume.seg)
    assert np.array_equal(regions[2], volume.seg == 4), "label 4 is the enhancing tumour (ET)"
    assert get("brats").is_root(root)


def test_how_to_get_names_the_kaggle_dataset_when_the_note_does_not(tmp_path):
    info = dataclasses.replace(get("chairs"), kaggle="someone/flying-chairs-copy")
    text = datasets.how_to_get(info, tmp_path)
    assert "registration" in text and str(tmp_path / "chairs") in text and info.note in text
    assert "attach the public Kaggle dataset someone/flying-chairs-copy" in text
    assert "/kaggle/input/flying-chairs-copy" in text
    assert "Kaggle" not in datasets.how_to_get(get("chairs"), tmp_path).replace(get("chairs").note, "")
