"""The BraTS loader on real files from $COURSE_REAL_DATA (skipped when unset): shapes, affines, labels, regions."""

import nibabel as nib
import numpy as np
import pytest

from course_lib.data import brats
from course_lib.data.brats_datasets import load_cached
from course_lib.data.cache import FileCache

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def cases(request):
    real_data = request.getfixturevalue("real_data")
    try:
        found = brats.find_cases(real_data)
    except FileNotFoundError:
        pytest.skip(f"no BraTS cases under {real_data}")
    if not found:
        pytest.skip(f"no BraTS cases under {real_data}")
    return found


def test_every_case_is_complete_and_consistent(cases):
    for case in cases:
        assert not case.missing and case.seg is not None, case.case_id
        images = {m: nib.load(str(p)) for m, p in case.images.items()}
        seg = nib.load(str(case.seg))
        for modality, img in images.items():
            assert img.shape == seg.shape, f"{case.case_id} {modality}"
            np.testing.assert_allclose(img.affine, seg.affine, atol=1e-3, err_msg=f"{case.case_id} {modality}")
            assert np.issubdtype(img.get_data_dtype(), np.integer)
        assert nib.aff2axcodes(seg.affine) == ("L", "P", "S")
        np.testing.assert_allclose(np.sqrt((seg.affine[:3, :3] ** 2).sum(0)), 1.0, atol=1e-3)  # 1 mm voxels


def test_labels_and_region_conversion(cases):
    for case in cases:
        vol = brats.load_case(case)
        labels = set(np.unique(vol.seg).tolist())
        assert labels <= {0, 1, 2, 4} and 3 not in labels, case.case_id
        wt, tc, et = vol.regions()
        assert wt.sum() == (vol.seg > 0).sum() and tc.sum() == np.isin(vol.seg, (1, 4)).sum()
        assert et.sum() == (vol.seg == 4).sum()
        assert np.all(wt >= tc) and np.all(tc >= et)
        assert np.array_equal(brats.regions_to_labels(vol.regions()), vol.seg)
        full = np.asarray(nib.load(str(case.seg)).dataobj)
        assert np.array_equal(vol.uncrop(vol.seg), full), "the brain crop cut off tumour"


def test_preprocessing_of_a_real_case(cases, tmp_path):
    case = cases[0]
    vol = brats.load_case(case)
    assert vol.image.shape[0] == len(brats.MODALITIES) and vol.image.shape[1:] == vol.seg.shape
    assert all(b - a <= n for (a, b), n in zip(vol.bbox, vol.shape, strict=True))
    assert np.prod(vol.image.shape[1:]) < np.prod(vol.shape)  # the background around the brain is cut away
    for c in range(vol.image.shape[0]):
        brain = vol.image[c][vol.image[c] != 0]
        assert abs(brain.mean()) < 1e-3 and abs(brain.std() - 1) < 1e-3
    cached = load_cached(case, FileCache(tmp_path))
    np.testing.assert_allclose(np.asarray(cached.image, np.float32), vol.image, atol=2e-2)
    np.testing.assert_array_equal(cached.seg, vol.seg)
