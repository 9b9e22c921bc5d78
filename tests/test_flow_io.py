"""Flow files (io.flow), the synthetic flow scenes and samples, the flow datasets (FlyingChairs, KITTI), Ch. 9."""

import cv2
import numpy as np
import pytest
import torch

from course_lib.data.chairs import FlyingChairs
from course_lib.data.flow import FlowAugment, FlowSample, flow_collate, sample_to_tensors
from course_lib.data.kitti_flow import KittiFlow
from course_lib.data.registry import find_root
from course_lib.datasets import locate
from course_lib.io.flow import (
    FLO_MAGIC,
    FlowFormatError,
    read_flo,
    read_flow,
    read_kitti_flow,
    write_flo,
    write_kitti_flow,
)
from course_lib.models.flow_ops import warp
from course_lib.synthetic import kitti_flow as kitti_writer
from course_lib.synthetic.chairs import write_sample as write_chairs_sample
from course_lib.synthetic.flow_scenes import make_pair, make_sequence, random_affine
from course_lib.synthetic.kitti_flow import write_sample as write_kitti_sample


@pytest.fixture(scope="module")
def chairs_sample(tmp_path_factory):
    return write_chairs_sample(tmp_path_factory.mktemp("chairs"), n_train=6, n_val=2, size=(96, 64))


@pytest.fixture(scope="module")
def kitti_sample(tmp_path_factory):
    return write_kitti_sample(tmp_path_factory.mktemp("kitti"), n_train=3, n_test=1, scale=0.15)


def random_flow(h=7, w=9, seed=0):
    return np.random.default_rng(seed).normal(0, 20, (h, w, 2)).astype(np.float32)


# ------------------------------------------------------------------------------------------------ .flo
def test_flo_round_trip_and_layout(tmp_path):
    flow = random_flow()
    write_flo(tmp_path / "a.flo", flow)
    raw = (tmp_path / "a.flo").read_bytes()
    assert raw[:4] == b"PIEH" and np.frombuffer(raw[:4], "<f4")[0] == FLO_MAGIC
    assert np.frombuffer(raw[4:12], "<i4").tolist() == [9, 7]  # width, then height
    assert len(raw) == 12 + 7 * 9 * 2 * 4
    np.testing.assert_array_equal(read_flo(tmp_path / "a.flo"), flow)
    # u and v are interleaved per pixel, rows first
    assert np.frombuffer(raw[12:20], "<f4").tolist() == flow[0, 0].tolist()


def test_flo_matches_torchvision_reader(tmp_path):
    of = pytest.importorskip("torchvision.datasets._optical_flow")
    if not hasattr(of, "_read_flo"):
        pytest.skip("torchvision has no _read_flo")
    flow = random_flow(5, 11, seed=3)
    write_flo(tmp_path / "b.flo", flow)
    theirs = of._read_flo(str(tmp_path / "b.flo")).transpose(1, 2, 0)
    np.testing.assert_array_equal(theirs, read_flo(tmp_path / "b.flo"))


@pytest.mark.parametrize("damage, message", [
    (lambda raw: b"", "empty"),
    (lambda raw: raw[:7], "truncated .flo header"),
    (lambda raw: b"XXXX" + raw[4:], "magic number"),
    (lambda raw: raw[:-5], "truncated .flo file"),
    (lambda raw: raw + b"\0\0\0\0", "unexpected bytes"),
    (lambda raw: raw[:4] + np.array([-3, 7], "<i4").tobytes() + raw[12:], "impossible .flo size"),
])
def test_flo_bad_files_raise_clear_errors(tmp_path, damage, message):
    write_flo(tmp_path / "good.flo", random_flow())
    bad = tmp_path / "bad.flo"
    bad.write_bytes(damage((tmp_path / "good.flo").read_bytes()))
    with pytest.raises(FlowFormatError, match=message) as info:
        read_flo(bad)
    assert "bad.flo" in str(info.value)


def test_flo_missing_file_and_bad_array(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.flo"):
        read_flo(tmp_path / "missing.flo")
    with pytest.raises(ValueError, match=r"\[H, W, 2\]"):
        write_flo(tmp_path / "x.flo", np.zeros((2, 4, 4)))


def test_read_flow_marks_unknown_flo_values_invalid(tmp_path):
    flow = random_flow()
    flow[1, 2] = 1e10  # Middlebury's "unknown"
    write_flo(tmp_path / "u.flo", flow)
    values, valid = read_flow(tmp_path / "u.flo")
    assert not valid[1, 2] and valid.sum() == valid.size - 1 and values[1, 2].tolist() == [0.0, 0.0]
    with pytest.raises(FlowFormatError, match="unknown flow file type"):
        read_flow(tmp_path / "u.pfm")


# ------------------------------------------------------------------------------------------------ KITTI PNG
def test_kitti_png_round_trip_keeps_sixteen_bits(tmp_path):
    flow = np.round(random_flow(6, 8) * 64) / 64  # exactly representable
    valid = np.random.default_rng(1).random((6, 8)) > 0.3
    write_kitti_flow(tmp_path / "f.png", flow, valid)
    back, back_valid = read_kitti_flow(tmp_path / "f.png")
    np.testing.assert_array_equal(back_valid, valid)
    np.testing.assert_array_equal(back[valid], flow[valid])
    assert (back[~valid] == 0).all()
    raw = cv2.imread(str(tmp_path / "f.png"), cv2.IMREAD_UNCHANGED)  # BGR, 16 bit
    assert raw.dtype == np.uint16
    i, j = np.argwhere(~valid)[0]
    assert raw[i, j].tolist() == [0, 32768, 32768]  # invalid: (R, G) = 2**15, B = 0
    i, j = np.argwhere(valid)[0]
    assert raw[i, j, 2] == flow[i, j, 0] * 64 + 2**15 and raw[i, j, 0] == 1


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_kitti_png_matches_torchvision_decoder(tmp_path):
    of = pytest.importorskip("torchvision.datasets._optical_flow")
    if not hasattr(of, "_read_16bits_png_with_flow_and_valid_mask"):
        pytest.skip("torchvision has no KITTI decoder")
    flow, valid = random_flow(5, 6, seed=7), np.ones((5, 6), bool)
    valid[0, 0] = False
    write_kitti_flow(tmp_path / "t.png", flow, valid)
    tv_flow, tv_valid = of._read_16bits_png_with_flow_and_valid_mask(str(tmp_path / "t.png"))
    ours, ours_valid = read_kitti_flow(tmp_path / "t.png")
    np.testing.assert_array_equal(tv_valid, ours_valid)
    np.testing.assert_allclose(tv_flow.transpose(1, 2, 0)[tv_valid], ours[ours_valid])


def test_kitti_png_bad_files(tmp_path):
    write_kitti_flow(tmp_path / "ok.png", random_flow(), None)
    raw = (tmp_path / "ok.png").read_bytes()
    cases = {
        "empty.png": (b"", "empty"),
        "text.png": (b"not a png at all", "not a PNG"),
        "short.png": (raw[: len(raw) // 2], "truncated or corrupt"),
    }
    for name, (data, message) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(FlowFormatError, match=message) as info:
            read_kitti_flow(tmp_path / name)
        assert name in str(info.value)
    cv2.imwrite(str(tmp_path / "eight.png"), np.zeros((4, 4, 3), np.uint8))  # what Pillow would leave behind
    with pytest.raises(FlowFormatError, match="16-bit"):
        read_kitti_flow(tmp_path / "eight.png")
    cv2.imwrite(str(tmp_path / "gray16.png"), np.zeros((4, 4), np.uint16))
    with pytest.raises(FlowFormatError, match="3 channels"):
        read_kitti_flow(tmp_path / "gray16.png")
    with pytest.raises(FileNotFoundError):
        read_kitti_flow(tmp_path / "none.png")


def test_kitti_png_write_rejects_out_of_range_values(tmp_path):
    flow = np.zeros((2, 2, 2), np.float32)
    flow[0, 0, 0] = 600.0
    with pytest.raises(ValueError, match="512"):
        write_kitti_flow(tmp_path / "big.png", flow)
    write_kitti_flow(tmp_path / "masked.png", flow, valid=np.array([[False, True], [True, True]]))  # invalid: fine
    assert not read_kitti_flow(tmp_path / "masked.png")[1][0, 0]


# ------------------------------------------------------------------------------------------------ synthetic scenes
def test_synthetic_pair_flow_is_exact_where_visible():
    pair = make_pair(np.random.default_rng(5), size=(96, 72), noise=0.0)
    img1 = torch.from_numpy(pair.image1).permute(2, 0, 1).float()
    img2 = torch.from_numpy(pair.image2).permute(2, 0, 1).float()
    warped, inside = warp(img2, torch.from_numpy(pair.flow).permute(2, 0, 1))
    error = (warped - img1).abs().mean(0)
    visible = torch.from_numpy(~pair.occlusion) & inside
    assert 0 < pair.occlusion.mean() < 0.5
    assert error[visible].median() < 3.0  # interpolation only
    assert error[visible].mean() < 0.25 * (img2 - img1).abs().mean()  # far better than no motion
    assert error[~visible].mean() > 3 * error[visible].mean()


def test_random_affine_and_sequence():
    m = random_affine(np.random.default_rng(0), (20, 10), max_shift=0, max_rotation=0, max_zoom=0.2)
    assert np.allclose(m @ [20, 10, 1], [20, 10, 1])  # the centre stays put
    frames, flows, labels = make_sequence(np.random.default_rng(0), num_frames=4, size=(48, 32))
    assert len(frames) == 4 and len(flows) == 3 and frames[0].shape == (32, 48, 3) and flows[0].shape == (32, 48, 2)
    assert not np.array_equal(frames[0], frames[3])


# ------------------------------------------------------------------------------------------------ FlyingChairs
def test_chairs_sample_layout_and_splits(chairs_sample):
    data = chairs_sample / "data"
    assert (data / "00001_img1.ppm").read_bytes()[:2] == b"P6"
    assert read_flo(data / "00001_flow.flo").shape == (64, 96, 2)
    assert (chairs_sample / "FlyingChairs_train_val.txt").read_text().split() == ["1"] * 6 + ["2"] * 2
    train, val = FlyingChairs(chairs_sample, "train"), FlyingChairs(chairs_sample.parent, "val")
    assert (len(train), len(val), len(FlyingChairs(chairs_sample, "all"))) == (6, 2, 8)
    assert train.is_sample
    images, target = val[0]
    assert images.shape == (6, 64, 96) and 0 <= float(images.min()) and float(images.max()) <= 1
    assert bool(target["has_occ"]) and bool(target["has_noc"])
    assert target["valid_occ"].all() and 0.3 < target["valid_noc"].float().mean() < 1
    # the loader reads the written .flo exactly
    np.testing.assert_array_equal(target["flow"].permute(1, 2, 0).numpy(), read_flo(val.items[0].flow))


def test_chairs_errors(tmp_path, chairs_sample):
    import shutil

    copy = tmp_path / "FlyingChairs_release"
    shutil.copytree(chairs_sample, copy)
    (copy / "FlyingChairs_train_val.txt").write_text("1\n2\n")
    with pytest.raises(ValueError, match="2 lines but 8 pairs"):
        FlyingChairs(copy, "train")
    (copy / "FlyingChairs_train_val.txt").write_text("1\n3\n" + "1\n" * 6)
    with pytest.raises(ValueError, match=r"FlyingChairs_train_val.txt:2"):
        FlyingChairs(copy, "train")
    (copy / "data" / "00002_img2.ppm").unlink()
    with pytest.raises(FileNotFoundError, match="00002_img2.ppm"):
        FlyingChairs(copy, "all")
    with pytest.raises(ValueError, match="unknown FlyingChairs split"):
        FlyingChairs(chairs_sample, "test")
    with pytest.raises(FileNotFoundError, match="FlyingChairs"):
        find_root("chairs", tmp_path / "nothing") if (tmp_path / "nothing").mkdir() is None else None


def test_chairs_example_layout(tmp_path, chairs_sample):
    # the authors' example naming: NNNNNNN-img0.ppm, -img1.ppm, -gt.flo; only split "all"
    folder = tmp_path / "FlyingChairs_examples"
    folder.mkdir()
    for i, src in enumerate(["00001", "00002"]):
        for a, b in (("_img1.ppm", "-img0.ppm"), ("_img2.ppm", "-img1.ppm"), ("_flow.flo", "-gt.flo")):
            (folder / f"{i:07d}{b}").write_bytes((chairs_sample / "data" / f"{src}{a}").read_bytes())
    ds = FlyingChairs(tmp_path, "all")
    assert len(ds) == 2 and ds.items[1].name == "0000001"
    with pytest.raises(FileNotFoundError, match="split='all'"):
        FlyingChairs(tmp_path, "train")


# ------------------------------------------------------------------------------------------------ KITTI
def test_kitti_sample_layout_sizes_and_masks(kitti_sample):
    assert kitti_sample.name == "data_scene_flow"
    train = KittiFlow(kitti_sample.parent, "train")
    assert train.version == 2015 and train.camera == "image_2" and len(train) == 3 and train.has_ground_truth
    sizes = {tuple(train[i][0].shape[-2:]) for i in range(3)}
    assert len(sizes) >= 2  # KITTI's sizes differ from pair to pair
    images, target = train[0]
    occ, noc = target["valid_occ"], target["valid_noc"]
    assert bool(target["has_occ"]) and bool(target["has_noc"])
    assert not occ[0].any() and occ[-1].all()  # no ground truth in the "sky"
    assert (noc <= occ).all() and noc.sum() < occ.sum()  # noc is occ minus occluded pixels
    test = KittiFlow(kitti_sample, "test")
    assert len(test) == 1 and not test.has_ground_truth and not bool(test[0][1]["has_occ"])
    assert find_root("kitti", kitti_sample / "training") == kitti_sample


def test_kitti_errors(tmp_path, kitti_sample):
    import shutil

    copy = tmp_path / "data_scene_flow"
    shutil.copytree(kitti_sample, copy)
    with pytest.raises(ValueError, match="unknown KITTI split"):
        KittiFlow(copy, "val")
    (copy / "training" / "image_2" / "000001_11.png").unlink()
    with pytest.raises(FileNotFoundError, match="000001_11.png"):
        KittiFlow(copy, "train")
    (copy / "training" / "image_2" / "000001_10.png").unlink()
    cv2.imwrite(str(copy / "training" / "flow_occ" / "000000_10.png"), np.zeros((5, 5, 3), np.uint16))
    ds = KittiFlow(copy, "train")
    with pytest.raises(ValueError, match="000000_10.png"):
        ds[0]  # flow and frame sizes differ


def test_collate_pads_and_marks_padding_invalid(kitti_sample):
    ds = KittiFlow(kitti_sample, "train")
    items = [ds[0], ds[2]]
    images, target = flow_collate(items, multiple=8)
    h = max(i.shape[-2] for i, _ in items)
    assert images.shape[-2] % 8 == 0 and images.shape[-1] % 8 == 0 and images.shape[-2] >= h
    small = min(range(2), key=lambda k: items[k][0].shape[-1])
    sh, sw = items[small][0].shape[-2:]
    assert not target["valid"][small, :, sw:].any() and not target["valid"][small, sh:].any()
    assert torch.equal(target["flow"][small, :, :sh, :sw], items[small][1]["flow"])
    assert target["has_occ"].tolist() == [True, True]


def test_augmentation_keeps_flow_consistent():
    pair = make_pair(np.random.default_rng(2), size=(64, 48), noise=0.0)
    sample = FlowSample(pair.image1, pair.image2, pair.flow, np.ones((48, 64), bool), ~pair.occlusion)
    aug = FlowAugment(crop=(40, 48), hflip=1.0, vflip=1.0, brightness=0.0, contrast=0.0, noise=0.0, seed=0)
    out = aug(sample)
    assert out.image1.shape == (40, 48, 3) and out.flow.shape == (40, 48, 2)
    images, target = sample_to_tensors(out)
    warped, inside = warp(images[3:], target["flow"])
    visible = target["valid_noc"] & inside
    assert (warped - images[:3]).abs().mean(0)[visible].median() < 0.02  # still frame 2 warped = frame 1
    padded = FlowAugment(crop=(64, 80), seed=0)(sample)  # larger than the picture: padded, invalid
    assert padded.flow.shape == (64, 80, 2) and not padded.valid_occ[48:].any()


def test_locate_kitti(tmp_path, capsys, monkeypatch):
    from functools import partial

    monkeypatch.setattr(kitti_writer, "write_sample", partial(kitti_writer.write_sample, n_train=1, scale=0.1))
    root, is_sample = locate("kitti", tmp_path, "quick", work=tmp_path)
    assert is_sample and root == tmp_path / "samples" / "kitti" / "data_scene_flow"
    assert "SYNTHETIC" in capsys.readouterr().out
    with pytest.raises(FileNotFoundError, match="data_scene_flow.zip"):
        locate("kitti", tmp_path / "empty", "full", work=tmp_path, download=False)  # (full: else it downloads)
    with pytest.raises(KeyError):
        locate("sintel", tmp_path, work=tmp_path)
    real = write_kitti_sample(tmp_path / "other", n_train=1, scale=0.1)
    (real / "COURSE_SAMPLE.txt").unlink()  # now it looks like a real download
    assert locate("kitti", tmp_path / "other", "full", verbose=False, work=tmp_path) == (real, False)
