"""Real KITTI and FlyingChairs files from ``$COURSE_REAL_DATA``, checked against torchvision as an oracle (Chapter 9).

The files are discovered (no names or counts are assumed); every test skips cleanly when the variable is unset, the
folder is absent, or it holds no such files. torchvision's ``KittiFlow`` expects the KITTI 2015 layout
(``KittiFlow/training/image_2`` + ``flow_occ``), so the real pairs, whatever their layout (the shared folder holds
KITTI 2012 ``image_0`` + ``flow_noc``), are linked into that layout in a temporary folder and read by both.
"""

from pathlib import Path

import numpy as np
import pytest
import torch

from course_lib.data import kitti_flow
from course_lib.data.chairs import FlyingChairs
from course_lib.io.flow import read_flo, read_kitti_flow
from course_lib.metrics import FlowMetrics, flow_outliers

pytestmark = [pytest.mark.realdata, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def _kitti_roots(root: Path) -> list[Path]:
    found = set()
    for split_dir in root.rglob("training"):
        if split_dir.is_dir() and kitti_flow._image_dir(split_dir) is not None:
            found.add(split_dir.parent)
    return sorted(found)


def _flow_pngs(root: Path) -> list[Path]:
    """Every 16-bit KITTI flow PNG: ``flow_occ``/``flow_noc`` files and the devkits' ``flow_*.png`` samples."""
    files = [p for p in root.rglob("*.png") if p.parent.name in ("flow_occ", "flow_noc")]
    files += [p for p in root.rglob("flow_*.png") if "devkit" in str(p)]
    return sorted(set(files))


@pytest.fixture(scope="module")
def kitti_roots(real_root):
    roots = _kitti_roots(real_root)
    if not roots:
        pytest.skip(f"no KITTI flow folder (training/ with image_2, colored_0 or image_0) under {real_root}")
    return roots


def test_every_real_flow_png_decodes_like_torchvision(real_root):
    of = pytest.importorskip("torchvision.datasets._optical_flow")
    files = _flow_pngs(real_root)
    if not files:
        pytest.skip("no KITTI flow PNGs found")
    for path in files:
        flow, valid = read_kitti_flow(path)
        tv_flow, tv_valid = of._read_16bits_png_with_flow_and_valid_mask(str(path))
        np.testing.assert_array_equal(valid, tv_valid, err_msg=str(path))
        np.testing.assert_array_equal(flow[valid], tv_flow.transpose(1, 2, 0)[tv_valid], err_msg=str(path))
        assert valid.any(), f"{path}: no valid pixel"
        # 16 bits kept: sub-pixel values exist (Pillow's 8-bit reading would leave multiples of 4 px only)
        assert (np.abs(flow[valid] * 64 % 256) > 0).any(), f"{path}: low bytes lost?"


def test_real_pairs_match_torchvision_kittiflow(kitti_roots, tmp_path):
    from torchvision.datasets import KittiFlow as TorchvisionKitti

    for root in kitti_roots:
        ours = kitti_flow.KittiFlow(root, "train")
        pairs = [(i, item) for i, item in enumerate(ours.items) if item.flow is not None or item.flow_noc is not None]
        if not pairs:
            continue
        # the 2015 layout torchvision expects, linked from whatever this folder holds
        layout = tmp_path / root.name / "KittiFlow" / "training"
        (layout / "image_2").mkdir(parents=True)
        (layout / "flow_occ").mkdir()
        for _, item in pairs:
            for frame in (item.image1, item.image2):
                (layout / "image_2" / frame.name).symlink_to(frame.resolve())
            source = item.flow if item.flow is not None else item.flow_noc
            (layout / "flow_occ" / item.image1.name).symlink_to(source.resolve())
        theirs = TorchvisionKitti(str(layout.parent.parent), split="train")
        assert len(theirs) == len(pairs)
        for k, (i, item) in enumerate(pairs):
            img1, img2, tv_flow, tv_valid = theirs[k]
            sample = ours.load_raw(i)
            np.testing.assert_array_equal(np.asarray(img1.convert("RGB")), sample.image1, err_msg=str(item.image1))
            np.testing.assert_array_equal(np.asarray(img2.convert("RGB")), sample.image2, err_msg=str(item.image2))
            mask = sample.valid_occ if item.flow is not None else sample.valid_noc
            np.testing.assert_array_equal(tv_valid, mask)
            np.testing.assert_array_equal(tv_flow.transpose(1, 2, 0)[tv_valid], sample.flow[mask])


def test_real_pairs_have_kitti_properties(kitti_roots):
    for root in kitti_roots:
        ds = kitti_flow.KittiFlow(root, "train")
        for i in range(len(ds)):
            images, target = ds[i]
            h, w = images.shape[-2:]
            assert 300 <= h <= 400 and 1100 <= w <= 1300, f"{ds.items[i].image1}: {w}x{h} is not a KITTI size"
            if bool(target["has_noc"]) and bool(target["has_occ"]):
                assert (target["valid_noc"] <= target["valid_occ"]).all()
            valid = target["valid"] > 0
            assert 0.02 < valid.float().mean() < 0.95  # sparse LiDAR ground truth
            # zero flow scores the mean true flow length by definition
            m = FlowMetrics()
            m.update(torch.zeros_like(target["flow"])[None], target["flow"][None], valid[None])
            lengths = torch.linalg.vector_norm(target["flow"], dim=0)[valid]
            assert m.compute()["epe"] == pytest.approx(float(lengths.mean()), rel=1e-6)


def test_devkit_estimate_against_its_ground_truth(real_root):
    pairs = [(p, p.with_name("flow_est.png")) for p in real_root.rglob("flow_gt.png") if p.with_name("flow_est.png")
             .is_file()]
    if not pairs:
        pytest.skip("no devkit flow_gt.png / flow_est.png pair found")
    for gt_path, est_path in pairs:
        gt, valid = read_kitti_flow(gt_path)
        est, _ = read_kitti_flow(est_path)
        m = FlowMetrics()
        g, e = torch.from_numpy(gt).permute(2, 0, 1), torch.from_numpy(est).permute(2, 0, 1)
        m.update(e[None], g[None], torch.from_numpy(valid)[None])
        r = m.compute()
        # the same numbers with NumPy, written as the devkit's flow_error does (E > 3 & E / |F_gt| > 0.05)
        err = np.linalg.norm(est - gt, axis=-1)
        mag = np.linalg.norm(gt, axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            outlier = (err > 3) & (err / mag > 0.05)
        assert r["fl_all"] == pytest.approx(100 * outlier[valid].mean(), rel=1e-9)
        assert r["epe"] == pytest.approx(err[valid].mean(), rel=1e-6)
        assert flow_outliers(e, g)[torch.from_numpy(valid)].float().mean() * 100 == pytest.approx(r["fl_all"])
        assert 0 < r["fl_all"] < 50, f"{est_path}: a devkit demo estimate should be decent, Fl = {r['fl_all']:.1f} %"


def test_real_flyingchairs_files(real_root, tmp_path):
    of = pytest.importorskip("torchvision.datasets._optical_flow")
    flos = sorted(p for p in real_root.rglob("*.flo"))
    if not flos:
        pytest.skip("no .flo files found")
    for path in flos:
        np.testing.assert_array_equal(read_flo(path), of._read_flo(str(path)).transpose(1, 2, 0))
    folders = sorted({p.parent for p in flos})
    for folder in folders:
        ds = FlyingChairs(folder, "all")
        assert not ds.is_sample and len(ds) >= 1
        sample = ds.load_raw(0)
        assert sample.image1.shape[:2] == sample.flow.shape[:2] and sample.valid_occ.all()
    # torchvision's FlyingChairs reads the release layout: link the examples into it and compare
    from torchvision.datasets import FlyingChairs as TorchvisionChairs

    ds = FlyingChairs(folders[0], "all")
    data = tmp_path / "FlyingChairs" / "data"
    data.mkdir(parents=True)
    # torchvision reads its split list with np.loadtxt, which makes a one-line list a 0-d array that cannot be
    # indexed: a folder holding a single pair is linked twice, so that the oracle works for any number of files
    items = list(ds.items) if len(ds.items) > 1 else list(ds.items) * 2
    for k, item in enumerate(items, start=1):
        (data / f"{k:05d}_img1.ppm").symlink_to(item.image1.resolve())
        (data / f"{k:05d}_img2.ppm").symlink_to(item.image2.resolve())
        (data / f"{k:05d}_flow.flo").symlink_to(item.flow.resolve())
    (tmp_path / "FlyingChairs" / "FlyingChairs_train_val.txt").write_text("1\n" * len(items))
    theirs = TorchvisionChairs(str(tmp_path), split="train")
    img1, _, tv_flow = theirs[0][:3]  # (img1, img2, flow) for FlyingChairs
    sample = ds.load_raw(0)
    np.testing.assert_array_equal(np.asarray(img1), sample.image1)
    np.testing.assert_array_equal(tv_flow.transpose(1, 2, 0), sample.flow)
