"""The quick recipe's extra sampling and augmentation for few BraTS cases (course_lib.data.brats_datasets):
patches on the edema's outer rim, zoom-out (scale) augmentation and random gamma."""

import numpy as np
import pytest
import torch

from course_lib.data.brats import labels_to_regions
from course_lib.data.brats_datasets import BratsPatches, _random_gamma
from course_lib.synthetic.brats import write_sample


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return write_sample(tmp_path_factory.mktemp("brats_sampling"), n_cases=3, size=40, seed=2)


def patches(sample, tmp_path, **kwargs):
    return BratsPatches(sample, "all", patch_size=16, samples_per_case=1, augment=False, foreground_ratio=1.0,
                        cache_dir=tmp_path / "cache", **kwargs)


def mean_region_shares(ds, n=30, seed=0):
    torch.manual_seed(seed)
    shares = np.array([ds[i % len(ds)][1].mean(dim=(1, 2, 3)).numpy() for i in range(n)])
    return shares.mean(0)  # WT, TC, ET fractions of the patch voxels


def test_rim_patches_still_hold_tumour(sample, tmp_path):
    rim = mean_region_shares(patches(sample, tmp_path, rim_ratio=1.0))
    assert rim[0] > 0.02  # the edema voxel lies in the patch: still tumour in it


def test_rim_centre_lies_outside_the_edema_voxel_away_from_the_tumour(sample, tmp_path):
    ds = patches(sample, tmp_path, rim_ratio=1.0)
    vol = ds.volume(0)
    torch.manual_seed(0)
    centre = ds.rim_centre(0, vol.seg, (16, 16, 16))
    tumour = np.argwhere(np.asarray(vol.seg) > 0).mean(0)
    edema = np.argwhere(np.asarray(vol.seg) == 2)
    nearest = edema[np.linalg.norm(edema - centre, axis=1).argmin()]
    assert np.linalg.norm(centre - tumour) > np.linalg.norm(nearest - tumour)  # moved outwards
    assert ds.rim_centre(0, np.zeros_like(np.asarray(vol.seg)), (16, 16, 16)) is not None  # cached per case
    no_edema = patches(sample, tmp_path, rim_ratio=1.0)
    assert no_edema.rim_centre(1, np.where(np.asarray(vol.seg) == 2, 0, vol.seg), (16,) * 3) is None


def test_zoom_out_keeps_the_patch_size_and_shrinks_the_tumour(sample, tmp_path):
    plain = patches(sample, tmp_path)
    zoomed = BratsPatches(sample, "all", patch_size=16, samples_per_case=1, augment=True, foreground_ratio=1.0,
                          intensity=0.0, zoom_out=1.0, cache_dir=tmp_path / "cache")
    torch.manual_seed(0)
    image, regions = zoomed[0]
    assert image.shape == (4, 16, 16, 16) and regions.shape == (3, 16, 16, 16)
    assert float(regions.min()) >= 0 and float(regions.max()) <= 1  # soft targets after averaging
    # the same tumours cover a smaller share of zoomed-out patches (up to 2x larger cuts averaged down)
    plain_wt = mean_region_shares(plain, n=20)[0]
    zoomed.augment, zoomed.intensity = True, 0.0
    zoom_wt = mean_region_shares(zoomed, n=20)[0]
    assert zoom_wt < 0.8 * plain_wt


def test_random_gamma_keeps_background_range_and_order():
    torch.manual_seed(0)
    image = torch.randn(4, 6, 6, 6)
    image[:, :2] = 0  # background
    out = _random_gamma(image, 0.5)
    assert torch.equal(out[:, :2], image[:, :2])
    brain = image[0] != 0
    assert torch.allclose(out[0][brain].min(), image[0][brain].min(), atol=1e-5)
    assert torch.allclose(out[0][brain].max(), image[0][brain].max(), atol=1e-5)
    order = torch.argsort(image[0][brain])
    assert torch.all(torch.diff(out[0][brain][order]) >= -1e-6)  # monotone
    assert not torch.allclose(out, image)
    assert torch.allclose(_random_gamma(image, 0.0), image, atol=1e-5)


def test_bad_settings_are_rejected(sample, tmp_path):
    with pytest.raises(ValueError, match="rim_ratio"):
        patches(sample, tmp_path, rim_ratio=1.5)
    with pytest.raises(ValueError, match="zoom_out"):
        patches(sample, tmp_path, zoom_out=-0.1)


def test_quick_profile_uses_them():
    from course_lib.recipes.brats import BRATS_FULL, BRATS_QUICK
    assert BRATS_QUICK.rim_ratio > 0 and BRATS_QUICK.zoom_out > 0 and BRATS_QUICK.gamma_aug > 0
    assert BRATS_FULL.rim_ratio == 0 and BRATS_FULL.zoom_out == 0


def test_labels_to_regions_is_what_the_rim_test_measures():
    seg = np.array([[[0, 2, 1, 4]]], np.uint8)
    assert labels_to_regions(seg)[:, 0, 0].astype(int).tolist() == [[0, 1, 1, 1], [0, 0, 1, 1], [0, 0, 0, 1]]
