"""BraTS (course_lib.data.brats, .brats_datasets, io.nifti, synthetic.brats, viz.volume): layout, labels and regions,
preprocessing, cache, patches, bad files, the sample and the slices."""

import gzip
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from course_lib.data import brats, registry
from course_lib.data.brats_datasets import BratsPatches, BratsVolumes, is_cached, load_cached
from course_lib.data.cache import FileCache
from course_lib.data.registry import SAMPLE_MARKER, find_root
from course_lib.io.nifti import read_nifti, save_nifti
from course_lib.synthetic.brats import write_sample
from course_lib.viz.volume import slice_plane


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    """Four small synthetic cases (case 3 has no enhancing tumour); returns the folder of the cases."""
    return write_sample(tmp_path_factory.mktemp("brats"), n_cases=4, size=40, seed=1)


@pytest.fixture()
def case_copy(sample, tmp_path) -> Path:
    """A private copy of the first case, to damage."""
    src = brats.find_cases(sample)[0].folder
    dst = tmp_path / "data" / src.name
    shutil.copytree(src, dst)
    return dst


# ------------------------------------------------------------------------------------------- sample and layout
def test_sample_has_the_official_layout_and_nifti_conventions(sample):
    cases = brats.find_cases(sample)
    assert [c.case_id for c in cases] == ["BraTS2021_00000", "BraTS2021_00002", "BraTS2021_00004", "BraTS2021_00006"]
    assert (sample / SAMPLE_MARKER).is_file()
    case = cases[0]
    assert sorted(p.name for p in case.folder.iterdir()) == sorted(
        f"{case.case_id}_{m}.nii.gz" for m in (*brats.MODALITIES, "seg"))
    flair, seg = nib.load(str(case.images["flair"])), nib.load(str(case.seg))
    assert flair.get_data_dtype() == np.int16 and seg.get_data_dtype() == np.uint8
    assert nib.aff2axcodes(flair.affine) == ("L", "P", "S")
    expected = np.diag([-1.0, -1.0, 1.0, 1.0])
    expected[1, 3] = 39
    np.testing.assert_allclose(flair.affine, expected)
    assert int(flair.header["sform_code"]) == 1 and int(flair.header["qform_code"]) == 1
    assert flair.shape == (40, 40, 40)


def test_sample_labels_are_nested_and_one_case_lacks_enhancing_tumour(sample):
    seen_without_et = False
    for case in brats.find_cases(sample):
        seg = np.asarray(nib.load(str(case.seg)).dataobj)
        assert set(np.unique(seg).tolist()) <= {0, 1, 2, 4}
        image = np.asarray(nib.load(str(case.images["t1"])).dataobj)
        assert np.all(image[seg > 0] > 0), "tumour outside the brain"
        wt, tc, et = brats.labels_to_regions(seg)
        assert wt.sum() > tc.sum() > 0 and np.all(wt >= tc) and np.all(tc >= et)
        seen_without_et |= et.sum() == 0
    assert seen_without_et


def test_write_sample_2020_naming_and_is_kept_when_current(tmp_path):
    folder = write_sample(tmp_path, n_cases=2, size=32, naming="2020")
    assert folder.name == "MICCAI_BraTS2020_TrainingData"
    assert [c.case_id for c in brats.find_cases(tmp_path)] == ["BraTS20_Training_001", "BraTS20_Training_002"]
    stamp = (folder / "BraTS20_Training_001" / "BraTS20_Training_001_t2.nii.gz").stat().st_mtime_ns
    write_sample(tmp_path, n_cases=2, size=32, naming="2020")
    assert (folder / "BraTS20_Training_001" / "BraTS20_Training_001_t2.nii.gz").stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match="naming"):
        write_sample(tmp_path, naming="2019")


def test_find_root_searches_below_and_explains_when_absent(sample, tmp_path):
    assert find_root("brats", sample.parent) == sample
    assert find_root("brats", sample) == sample
    assert brats.find_cases(sample.parent) == brats.find_cases(sample)
    with pytest.raises(FileNotFoundError, match=r"registry\.get\('brats'\)\.note"):
        find_root("brats", tmp_path)
    with pytest.raises(FileNotFoundError, match="BraTS"):
        brats.find_cases(tmp_path)
    info = registry.get("brats")  # no download: the note explains the registration
    assert "registration" in info.note and "Synapse" in info.note
    assert info.resources == () and not info.downloadable


def test_registered_for_download_and_locate(tmp_path):
    from course_lib.datasets import locate

    entry = registry.get("brats")
    assert entry.resources == () and "registration" in entry.note
    assert entry.sample_writer == "course_lib.synthetic.brats:write_sample"
    (tmp_path / "data").mkdir()
    root, is_sample = locate("brats", tmp_path / "data", profile="quick", verbose=False, work=tmp_path / "work")
    assert is_sample and len(brats.find_cases(root)) >= 2
    assert root.is_relative_to(tmp_path / "work" / "samples" / "brats") and not any((tmp_path / "data").iterdir())
    assert registry.is_sample_folder(root)
    assert entry.classes == brats.REGIONS and np.array_equal(entry.palette, brats.REGION_PALETTE)
    with pytest.raises(FileNotFoundError, match="registration"):
        locate("brats", tmp_path / "empty", profile="full", verbose=False, work=tmp_path / "work")


# ------------------------------------------------------------------------------------------- labels and regions
def test_labels_to_regions_and_back():
    seg = np.array([[0, 1], [2, 4]], np.uint8)
    wt, tc, et = brats.labels_to_regions(seg)
    assert wt.tolist() == [[False, True], [True, True]]
    assert tc.tolist() == [[False, True], [False, True]]
    assert et.tolist() == [[False, False], [False, True]]
    assert np.array_equal(brats.regions_to_labels(brats.labels_to_regions(seg)), seg)
    assert torch.equal(brats.labels_to_regions(torch.from_numpy(seg)), torch.from_numpy(brats.labels_to_regions(seg)))
    # predicted regions need not be nested: ET wins over TC over WT
    r = np.array([[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], bool)
    assert brats.regions_to_labels(r).tolist() == [0, 2, 1, 4]
    assert brats.regions_to_labels(torch.tensor([[0.2, 0.9]] * 3)).tolist() == [0, 4]
    with pytest.raises(ValueError, match="3 channels"):
        brats.regions_to_labels(np.zeros((2, 4)))


# ------------------------------------------------------------------------------------------- preprocessing
def test_load_case_stacks_crops_and_normalises(sample):
    case = brats.find_cases(sample)[0]
    raw = [np.asarray(nib.load(str(case.images[m])).dataobj).astype(np.float32) for m in brats.MODALITIES]
    seg = np.asarray(nib.load(str(case.seg)).dataobj)
    vol = brats.load_case(case, margin=1)
    assert vol.image.shape[0] == 4 and vol.image.dtype == np.float32 and vol.seg.dtype == np.uint8
    assert vol.shape == (40, 40, 40)
    # the crop keeps every brain voxel and the label map
    assert np.array_equal(vol.uncrop(vol.seg), seg)
    brain = np.any(np.stack(raw) != 0, axis=0)
    assert brain.sum() == np.any(vol.image != 0, axis=0).sum()
    assert all(b - a < 40 for a, b in vol.bbox)
    for c in range(4):  # z-scored over the brain; the background stays 0; order = MODALITIES
        values = vol.image[c][vol.image[c] != 0]
        assert abs(values.mean()) < 1e-3 and abs(values.std() - 1) < 1e-3
        full = vol.uncrop(vol.image[c])
        assert np.all(full[raw[c] == 0] == 0)
        assert np.corrcoef(full[raw[c] != 0], raw[c][raw[c] != 0])[0, 1] > 0.999


def test_normalize_nonzero_and_brain_bbox():
    x = np.zeros((2, 4, 4, 4), np.float32)
    x[0, 1, 1, 1], x[0, 2, 2, 2], x[1, 1:3, 1, 3] = 10, 20, [5, 7]
    out = brats.normalize_nonzero(x)
    assert out[0, 1, 1, 1] == -1 and out[0, 2, 2, 2] == 1 and out[0, 0, 0, 0] == 0
    assert brats.brain_bbox(x) == (slice(1, 3), slice(1, 3), slice(1, 4))
    assert brats.brain_bbox(x, margin=5) == (slice(0, 4), slice(0, 4), slice(0, 4))
    with pytest.raises(ValueError, match="empty"):
        brats.brain_bbox(np.zeros((1, 3, 3, 3)))


def test_volumes_in_another_orientation_are_reoriented(case_copy):
    reference = brats.load_case(brats.case_files(case_copy))
    for path in case_copy.iterdir():  # rewrite every file in RAS: flip the first two axes, change the affine
        img = nib.load(str(path))
        data = np.asarray(img.dataobj)[::-1, ::-1, :].copy()
        affine = img.affine @ np.array([[-1, 0, 0, data.shape[0] - 1], [0, -1, 0, data.shape[1] - 1],
                                        [0, 0, 1, 0], [0, 0, 0, 1]])
        ras = nib.Nifti1Image(data, affine)
        ras.header.set_data_dtype(data.dtype)
        nib.save(ras, str(path))
    assert nib.aff2axcodes(nib.load(str(next(case_copy.iterdir()))).affine) == ("R", "A", "S")
    again = brats.load_case(brats.case_files(case_copy))
    np.testing.assert_array_equal(again.seg, reference.seg)
    np.testing.assert_allclose(again.image, reference.image, atol=1e-5)


def test_nifti_roundtrip_reorientation_and_errors_naming_the_file(tmp_path):
    ras = np.diag([1.0, 1.0, 1.0, 1.0])  # towards Right, Anterior, Superior: read back with the first two axes flipped
    data = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    save_nifti(data, ras, tmp_path / "v.nii.gz")
    img = nib.load(str(tmp_path / "v.nii.gz"))
    assert img.get_data_dtype() == np.int16
    assert int(img.header["sform_code"]) == 1 and int(img.header["qform_code"]) == 1
    array, stored = read_nifti(tmp_path / "v.nii.gz")
    assert array.dtype == np.float32
    np.testing.assert_array_equal(array, data[::-1, ::-1, :])
    np.testing.assert_allclose(stored, ras)
    labels, _ = read_nifti(tmp_path / "v.nii.gz", integer=True)
    assert labels.dtype == np.uint8 and np.array_equal(labels, data[::-1, ::-1, :])
    with pytest.raises(FileNotFoundError, match=r"missing\.nii\.gz: label map file is missing"):
        read_nifti(tmp_path / "missing.nii.gz", "label map")
    save_nifti(np.zeros((2, 2), np.float32), ras, tmp_path / "flat.nii")
    with pytest.raises(ValueError, match=r"flat\.nii: volume has shape \(2, 2\)"):
        read_nifti(tmp_path / "flat.nii")
    save_nifti(np.full((2, 2, 2), 0.5, np.float32), ras, tmp_path / "half.nii")
    with pytest.raises(ValueError, match=r"half\.nii: label map holds non-integer values"):
        read_nifti(tmp_path / "half.nii", "label map", integer=True)


# ------------------------------------------------------------------------------------------- bad inputs
def _rewrite(path: Path, data: np.ndarray, affine: np.ndarray | None = None) -> None:
    img = nib.load(str(path))
    new = nib.Nifti1Image(data, img.affine if affine is None else affine)
    new.header.set_data_dtype(data.dtype)
    nib.save(new, str(path))


def test_label_three_is_rejected_naming_case_and_file(case_copy):
    seg_path = case_copy / f"{case_copy.name}_seg.nii.gz"
    seg = np.asarray(nib.load(str(seg_path)).dataobj).copy()
    seg[seg == 4] = 3
    _rewrite(seg_path, seg)
    with pytest.raises(ValueError, match=rf"{case_copy.name}.*_seg\.nii\.gz holds labels \[3\].*2023"):
        brats.load_case(brats.case_files(case_copy))


def test_missing_modality_is_named(case_copy):
    (case_copy / f"{case_copy.name}_t1ce.nii.gz").unlink()
    case = brats.case_files(case_copy)
    assert case.missing == (f"{case_copy.name}_t1ce.nii.gz",)
    with pytest.raises(FileNotFoundError, match=rf"case {case_copy.name}: missing {case_copy.name}_t1ce\.nii\.gz"):
        brats.load_case(case)


def test_missing_label_map(case_copy):
    (case_copy / f"{case_copy.name}_seg.nii.gz").unlink()
    with pytest.raises(FileNotFoundError, match="label map"):
        brats.load_case(brats.case_files(case_copy))
    vol = brats.load_case(brats.case_files(case_copy), require_seg=False)
    assert vol.seg is None


def test_misnamed_label_map_of_brats2020_case_355_is_found(case_copy):
    (case_copy / f"{case_copy.name}_seg.nii.gz").rename(case_copy / "W39_1998.09.19_Segm.nii.gz")
    assert brats.case_files(case_copy).seg.name == "W39_1998.09.19_Segm.nii.gz"


def test_mismatched_shape_is_named(case_copy):
    path = case_copy / f"{case_copy.name}_t2.nii.gz"
    _rewrite(path, np.asarray(nib.load(str(path)).dataobj)[:, :, :-2].copy())
    with pytest.raises(ValueError, match=rf"{case_copy.name}.*_t2\.nii\.gz has shape \(40, 40, 38\)"):
        brats.load_case(brats.case_files(case_copy))


def test_mismatched_affine_is_named(case_copy):
    path = case_copy / f"{case_copy.name}_seg.nii.gz"
    img = nib.load(str(path))
    shifted = img.affine.copy()
    shifted[2, 3] += 5
    _rewrite(path, np.asarray(img.dataobj).copy(), shifted)
    with pytest.raises(ValueError, match=rf"{case_copy.name}.*_seg\.nii\.gz has a different affine"):
        brats.load_case(brats.case_files(case_copy))


def test_truncated_and_empty_files_are_named(case_copy):
    path = case_copy / f"{case_copy.name}_flair.nii.gz"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"_flair\.nii\.gz: flair image of case .* truncated"):
        brats.load_case(brats.case_files(case_copy))
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"_flair\.nii\.gz: flair image .* empty"):
        brats.load_case(brats.case_files(case_copy))
    path.write_bytes(gzip.compress(b"this is not a NIfTI file" * 20))
    with pytest.raises(ValueError, match="not a NIfTI"):
        brats.load_case(brats.case_files(case_copy))


def test_all_zero_modality_is_rejected(case_copy):
    path = case_copy / f"{case_copy.name}_t1.nii.gz"
    _rewrite(path, np.zeros((40, 40, 40), np.int16))
    with pytest.raises(ValueError, match=r"_t1\.nii\.gz is empty"):
        brats.load_case(brats.case_files(case_copy))


# ------------------------------------------------------------------------------------------- cache
def test_cache_stores_memory_maps_and_notices_changed_files(case_copy, tmp_path):
    case = brats.case_files(case_copy)
    cache = FileCache(tmp_path / "cache")
    assert not is_cached(case, cache)
    first = load_cached(case, cache)
    assert is_cached(case, cache)
    assert isinstance(first.image, np.memmap) and first.image.dtype == np.float16
    direct = brats.load_case(case)
    np.testing.assert_allclose(np.asarray(first.image, np.float32), direct.image, atol=2e-2)
    np.testing.assert_array_equal(first.seg, direct.seg)
    assert first.bbox == direct.bbox and first.shape == direct.shape
    np.testing.assert_allclose(first.affine, direct.affine)
    assert len(list(cache.folder.rglob("*.meta-*.npz"))) == 1
    again = load_cached(case, cache)  # from the cache: memory-mapped, equal
    assert isinstance(again.image, np.memmap) and np.array_equal(again.image, first.image)
    assert again.bbox == first.bbox and again.shape == first.shape
    # an edited source file gives a new key, never the stale entry
    path = case.images["t2"]
    _rewrite(path, (np.asarray(nib.load(str(path)).dataobj) * 2).astype(np.int16))
    assert not is_cached(brats.case_files(case_copy), cache)
    load_cached(brats.case_files(case_copy), cache)
    assert len(list(cache.folder.rglob("*.meta-*.npz"))) == 2
    assert is_cached(brats.case_files(case_copy), cache) and not is_cached(brats.case_files(case_copy), cache,
                                                                          margin=5)
    assert len([p for p in cache.folder.rglob("*") if p.is_file()]) == 6  # image, seg, meta per version
    # mmap=False reads into memory; FileCache(None) stores nothing and decodes every time
    assert not isinstance(load_cached(brats.case_files(case_copy), cache, mmap=False).image, np.memmap)
    uncached = load_cached(brats.case_files(case_copy), FileCache(None))
    assert not is_cached(brats.case_files(case_copy), FileCache(None)) and uncached.image.dtype == np.float16


# ------------------------------------------------------------------------------------------- splits and datasets
def test_split_cases_is_disjoint_stable_and_checked(sample):
    cases = brats.find_cases(sample)
    train, val = brats.split_cases(cases, "train"), brats.split_cases(cases, "val")
    assert len(val) == 1 and len(train) == 3
    assert {c.case_id for c in train} | {c.case_id for c in val} == {c.case_id for c in cases}
    assert brats.split_cases(cases, "val") == val
    assert {c.case_id for c in brats.split_cases(cases, "val", seed=1)} | {c.case_id for c in brats.split_cases(
        cases, "val", seed=2)} | {c.case_id for c in brats.split_cases(cases, "val", seed=3)} != {val[0].case_id}
    chosen = [cases[1].case_id, cases[2].case_id]
    assert [c.case_id for c in brats.split_cases(cases, "val", val_cases=chosen)] == chosen
    with pytest.raises(ValueError, match="not among"):
        brats.split_cases(cases, "val", val_cases=["BraTS2021_99999"])
    with pytest.raises(ValueError, match="at least 2"):
        brats.split_cases(cases[:1], "train")
    with pytest.raises(ValueError, match="split"):
        brats.split_cases(cases, "test")


def test_volumes_dataset(sample, tmp_path):
    ds = BratsVolumes(sample, "val", cache_dir=tmp_path)
    image, regions = ds[0]
    assert image.dtype == torch.float32 and regions.dtype == torch.float32
    assert image.shape[0] == 4 and regions.shape[0] == 3 and image.shape[1:] == regions.shape[1:]
    assert ds.case_ids == [c.case_id for c in brats.split_cases(brats.find_cases(sample), "val")]


def test_patches_follow_the_foreground_ratio_and_augment_consistently(sample):
    torch.manual_seed(0)
    ds = BratsPatches(sample, "train", patch_size=16, foreground_ratio=1.0, samples_per_case=4, augment=True,
                            intensity=0.2)
    assert len(ds) == 12
    for i in range(len(ds)):
        image, regions = ds[i]
        assert image.shape == (4, 16, 16, 16) and regions.shape == (3, 16, 16, 16)
        assert regions[0].sum() > 0, "foreground_ratio=1 must always show tumour"
        assert torch.all(image[:, regions[0] > 0] != 0), "flips must move image and labels together"
        assert torch.all(regions[0] >= regions[1]) and torch.all(regions[1] >= regions[2])
    # with foreground_ratio 0 the patches lie anywhere in the brain box: some miss the small tumour
    ds0 = BratsPatches(sample, "train", patch_size=8, foreground_ratio=0.0, samples_per_case=20, augment=False)
    assert any(ds0[i][1][0].sum() == 0 for i in range(len(ds0)))


def test_patches_larger_than_the_volume_are_padded_and_downsampled(sample):
    ds = BratsPatches(sample, "train", patch_size=32, downsample=2, samples_per_case=1, augment=False)
    image, regions = ds[0]
    assert image.shape == (4, 32, 32, 32) and regions.shape == (3, 32, 32, 32)
    assert (image == 0).float().mean() > 0.5  # 64^3 voxels cut from a smaller volume: mostly padding
    assert 0 < regions.max() <= 1 and ((regions > 0) & (regions < 1)).any(), "downsampled masks are fractions"
    with pytest.raises(ValueError, match="downsample"):
        BratsPatches(sample, "train", downsample=1.5)
    with pytest.raises(ValueError, match="foreground_ratio"):
        BratsPatches(sample, "train", foreground_ratio=2)


def test_slice_plane_shows_radiological_orientation():
    vol = np.zeros((4, 5, 6))  # axes: towards Left, Posterior, Superior
    vol[0, :, :] = 1  # the patient's right-most column
    vol[:, 0, :] += 2  # the front
    vol[:, :, 5] += 4  # the top of the head
    axial = slice_plane(vol, "axial", 2)
    assert axial.shape == (5, 4) and np.all(axial[:, 0] % 2 == 1) and np.all(axial[0] >= 2)  # right on the left
    coronal = slice_plane(vol, "coronal", 3)
    assert coronal.shape == (6, 4) and np.all(coronal[0] >= 4)  # head at the top
    sagittal = slice_plane(vol, "sagittal", 2)
    assert sagittal.shape == (6, 5) and np.all(sagittal[0] >= 4) and np.all(sagittal[:, 0] % 4 >= 2)  # face left
    assert slice_plane(np.zeros((3, 4, 5, 6)), "axial").shape == (3, 5, 4)
    with pytest.raises(ValueError, match="plane"):
        slice_plane(vol, "oblique")
    with pytest.raises(IndexError):
        slice_plane(vol, "axial", 6)


def test_volume_pictures_are_exported_by_viz():
    import course_lib.viz as viz

    for name in ("slice_plane", "to_gray", "region_overlay", "slice_picture", "viewer", "tumour_centre",
                 "slice_figure"):
        assert name in viz.__all__ and callable(getattr(viz, name))
    image = np.zeros((4, 6, 7, 8), np.float32)
    image[:, 1:5, 1:6, 1:7] = np.random.default_rng(0).normal(size=(4, 4, 5, 6))
    truth = np.zeros((3, 6, 7, 8), bool)
    truth[:, 2:4, 2:4, 3:5] = True
    assert viz.tumour_centre(truth) == [2, 2, 4]
    pic = viz.slice_picture(image, "axial", 4, "t1ce", truth=truth, prediction=truth, zoom=2)
    assert pic.shape == (14, 12, 3) and pic.dtype == np.uint8
