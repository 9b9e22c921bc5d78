"""``python -m course_lib.score brats``: WT/TC/ET Dice and HD95 with the BraTS conventions, checked by hand and
against MONAI (DiceMetric, compute_hausdorff_distance at the 95th percentile)."""

import json
import re
import shutil

import numpy as np
import pytest
import torch

from course_lib.io.nifti import save_nifti
from course_lib.score import ScoreError, score_brats
from course_lib.score.__main__ import main
from course_lib.score.brats import to_regions

pytest.importorskip("nibabel")
LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def _case(folder, name, labels, affine=LPS, seg=True):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (f"{name}/{name}_seg.nii.gz" if seg else f"{name}.nii.gz")
    path.parent.mkdir(parents=True, exist_ok=True)
    save_nifti(np.asarray(labels, np.uint8), affine, path)
    return path


def test_hand_worked_2x3(tmp_path):
    truth = np.array([[[1], [2], [4]], [[0], [2], [0]]])  # a 2x3x1 volume
    guess = np.array([[[1], [1], [4]], [[2], [0], [0]]])
    _case(tmp_path / "gt", "BraTS2021_00001", truth)
    _case(tmp_path / "pred", "BraTS2021_00001", guess, seg=False)
    r = score_brats(tmp_path / "gt", tmp_path / "pred", hd95=False).overall
    # WT truth {1,2,4} = 4 voxels, guess 4 voxels, 3 shared -> 6/8; TC truth {1,4} = 2, guess 3, shared 2 -> 4/5;
    # ET one voxel each, the same -> 1
    assert r["dice_wt"] == pytest.approx(0.75) and r["dice_tc"] == pytest.approx(0.8) and r["dice_et"] == 1.0
    assert r["release"] == "2021 (ET = 4)" and r["cases"] == 1


@pytest.mark.filterwarnings("ignore::FutureWarning")  # MONAI about its own internals
def test_matches_monai(tmp_path, capsys):
    monai = pytest.importorskip("monai")
    from monai.metrics import DiceMetric, compute_hausdorff_distance

    rng = np.random.default_rng(0)
    spacing = (1.0, 1.5, 2.0)
    affine = np.diag([-spacing[0], -spacing[1], spacing[2], 1.0])
    expected = {k: [] for k in ("dice", "hd95")}
    for i in range(2):
        truth = np.zeros((20, 18, 12), np.uint8)
        truth[4:14, 3:13, 2:10] = 2
        truth[6:12, 5:11, 3:9] = 1
        truth[7:10, 6:9, 4:7 + i] = 3  # the 2023 release: ET = 3
        guess = np.roll(truth, (1, -1, i), axis=(0, 1, 2))
        guess[rng.random(guess.shape) < 0.02] = 2
        _case(tmp_path / "gt", f"BraTS-GLI-0000{i}-000", truth, affine)
        _case(tmp_path / "pred", f"BraTS-GLI-0000{i}-000", guess, affine, seg=False)
        p, t = torch.from_numpy(to_regions(guess, 3))[None], torch.from_numpy(to_regions(truth, 3))[None]
        dice = DiceMetric(include_background=True, reduction="none")(p.float(), t.float())
        expected["dice"].append(dice[0].numpy())
        hd = compute_hausdorff_distance(p, t, include_background=True, percentile=95, spacing=list(spacing))
        expected["hd95"].append(hd[0].numpy())
    assert main(["brats", "--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "pred")]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    r = json.loads(out[-1])
    assert r["release"] == "2023 (ET = 3)" and r["cases"] == 2
    for j, region in enumerate(("wt", "tc", "et")):
        assert r[f"dice_{region}"] == pytest.approx(np.mean([d[j] for d in expected["dice"]]), abs=1e-6)
        assert r[f"hd95_{region}"] == pytest.approx(np.mean([h[j] for h in expected["hd95"]]), abs=1e-4)
    assert monai is not None


def test_empty_region_conventions(tmp_path):
    pytest.importorskip("monai")
    truth = np.zeros((8, 8, 8), np.uint8)
    truth[2:6, 2:6, 2:6] = 2  # oedema only: TC and ET empty in the truth
    guess = truth.copy()
    guess[3, 3, 3] = 4  # a single predicted ET voxel: TC and ET empty in the truth but not in the prediction
    _case(tmp_path / "gt", "a", truth)
    _case(tmp_path / "pred", "a", guess, seg=False)
    _case(tmp_path / "gt", "b", truth)
    _case(tmp_path / "pred", "b", truth, seg=False)
    rows = {row["name"]: row for row in score_brats(tmp_path / "gt", tmp_path / "pred").items}
    assert rows["a"]["dice_et"] == 0.0 and rows["a"]["hd95_et"] == 373.13 and rows["a"]["dice_wt"] == 1.0
    assert rows["b"]["dice_et"] == 1.0 and rows["b"]["hd95_et"] == 0.0 and rows["b"]["hd95_tc"] == 0.0


@pytest.mark.parametrize("case, message", [
    ("missing", "missing prediction"), ("extra", "prediction without a ground-truth file"),
    ("shape", "prediction has shape (4, 4, 5)"), ("labels", "label values [5] are no BraTS labels"),
    ("mixed", "enhancing tumour is labelled 3"), ("spacing", "voxel size [1.0, 1.0, 2.0] mm differs"),
    ("both", "holds both 3 and 4"),
])
def test_bad_inputs_name_the_file(tmp_path, capsys, case, message):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    truth = np.zeros((4, 4, 4), np.uint8)
    truth[1:3, 1:3, 1:3] = 4
    _case(gt, "c1", truth)
    bad = _case(pred, "c1", truth, seg=False)
    if case == "missing":
        _case(gt, "c2", truth)
        bad = pred / "c2.nii.gz"
    elif case == "extra":
        bad = _case(pred, "c3", truth, seg=False)
    elif case == "shape":
        _case(pred, "c1", np.zeros((4, 4, 5)), seg=False)
    elif case == "labels":
        _case(pred, "c1", np.where(truth == 4, 5, 0), seg=False)
    elif case == "mixed":
        _case(pred, "c1", np.where(truth == 4, 3, 0), seg=False)
    elif case == "spacing":
        _case(pred, "c1", truth, np.diag([-1.0, -1.0, 2.0, 1.0]), seg=False)
    elif case == "both":
        _case(pred, "c1", np.where(truth == 4, 3, 0) + (np.arange(64).reshape(4, 4, 4) == 0) * 4, seg=False)
    with pytest.raises(ScoreError, match=re.escape(message)) as err:
        score_brats(gt, pred, hd95=False)
    assert str(bad) in str(err.value)
    assert main(["brats", "--gt", str(gt), "--pred", str(pred), "--no-hd95"]) == 2
    printed = capsys.readouterr().err
    assert printed.startswith("error: ") and str(bad) in printed


def test_release_flag_overrides_detection(tmp_path):
    truth = np.zeros((4, 4, 4), np.uint8)
    truth[1:3, 1:3, 1:3] = 4
    _case(tmp_path / "gt", "c1", truth)
    _case(tmp_path / "pred", "c1", truth, seg=False)
    with pytest.raises(ScoreError, match="but --release 2023 uses 3"):
        score_brats(tmp_path / "gt", tmp_path / "pred", release="2023", hd95=False)


@pytest.mark.realdata
@pytest.mark.filterwarnings("ignore::FutureWarning")  # MONAI about its own internals
def test_real_case(real_root, tmp_path):
    pytest.importorskip("monai")
    from monai.metrics import compute_hausdorff_distance

    cases = sorted((real_root / "brats").glob("*/BraTS2021_*/BraTS2021_*_seg.nii.gz"))
    if not cases:
        pytest.skip("no BraTS 2021 cases under COURSE_REAL_DATA")
    import nibabel as nib

    seg = cases[0]
    name = seg.parent.name
    (tmp_path / "gt" / name).mkdir(parents=True)
    shutil.copy(seg, tmp_path / "gt" / name / seg.name)
    (tmp_path / "same").mkdir()
    shutil.copy(seg, tmp_path / "same" / f"{name}.nii.gz")
    same = score_brats(tmp_path / "gt", tmp_path / "same").overall
    assert [same[f"dice_{r}"] for r in ("wt", "tc", "et")] == [1.0, 1.0, 1.0]
    assert [same[f"hd95_{r}"] for r in ("wt", "tc", "et")] == [0.0, 0.0, 0.0]
    img = nib.load(str(seg))
    labels = np.asanyarray(img.dataobj).astype(np.uint8)
    moved = np.roll(labels, 2, axis=0)
    (tmp_path / "moved").mkdir()
    save_nifti(moved, img.affine, tmp_path / "moved" / f"{name}.nii.gz")
    r = score_brats(tmp_path / "gt", tmp_path / "moved").overall
    p, t = to_regions(moved, 4), to_regions(labels, 4)
    for j, region in enumerate(("wt", "tc", "et")):
        dice = 2 * (p[j] & t[j]).sum() / (p[j].sum() + t[j].sum())
        assert r[f"dice_{region}"] == pytest.approx(dice, abs=1e-9) and dice < 1
    hd = compute_hausdorff_distance(torch.from_numpy(p[:1])[None], torch.from_numpy(t[:1])[None],
                                    include_background=True, percentile=95)
    assert r["hd95_wt"] == pytest.approx(float(hd.reshape(-1)[0]), abs=1e-4)
