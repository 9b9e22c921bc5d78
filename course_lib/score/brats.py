"""``score brats``: NIfTI label maps -> Dice and HD95 of the BraTS regions WT, TC, ET, per case and their mean.

BraTS conventions (the challenge's evaluation): labels 1 (necrotic / non-enhancing core), 2 (oedema) and the
enhancing tumour, 4 in the 2017-2021 releases and 3 in the 2023 release, become nested regions: whole tumour WT =
{1, 2, ET}, tumour core TC = {1, ET}, enhancing tumour ET. Per case and region: Dice ``2|P & T| / (|P| + |T|)`` and
the 95th-percentile Hausdorff distance in mm (MONAI's ``compute_hausdorff_distance``, the voxel spacing from the
files); a region empty in both scores Dice 1, HD95 0; empty in exactly one, Dice 0, HD95 373.13
(:mod:`course_lib.metrics.volume`). The release is detected from the label values (4 -> 2021, 3 -> 2023) unless
``release`` is given; files of one set that disagree are an error.

Ground truth: ``<case>_seg.nii[.gz]`` below ``--gt`` (the BraTS layout); predictions: ``<case>.nii[.gz]`` (the
challenge's submission names) or ``<case>_seg.nii[.gz]`` below ``--pred``. Both are read in LPS orientation
(:func:`course_lib.io.nifti.read_nifti`), so a prediction stored in another orientation is compared voxel by voxel
correctly; a different grid (shape or voxel size) is an error.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from .common import Report, ScoreError, collect, pair_files

__all__ = ["REGIONS", "score_brats", "to_regions"]

REGIONS = ("WT", "TC", "ET")
_SUFFIX = re.compile(r"(_seg)?\.nii(\.gz)?$")


def _key(path: Path) -> str:
    return _SUFFIX.sub("", path.name)


def to_regions(labels: np.ndarray, et_label: int) -> np.ndarray:
    """``bool [3, *spatial]``: WT, TC, ET of a BraTS label map whose enhancing tumour is ``et_label`` (4 or 3)."""
    return np.stack([np.isin(labels, (1, 2, et_label)), np.isin(labels, (1, et_label)), labels == et_label])


def _read(path: Path, what: str) -> tuple[np.ndarray, np.ndarray]:
    import nibabel as nib

    from ..io.nifti import read_nifti

    try:
        labels, affine = read_nifti(path, what, integer=True)
    except (OSError, ValueError) as err:
        raise ScoreError(str(err)) from None
    zooms = np.linalg.norm(affine[:3, :3], axis=0)
    spacing = np.empty(3)
    spacing[nib.orientations.io_orientation(affine)[:, 0].astype(int)] = zooms
    return labels, spacing


def _release(values: set[int], path: Path) -> int | None:
    bad = sorted(values - {0, 1, 2, 3, 4})
    if bad:
        raise ScoreError(f"{path}: label values {bad[:10]} are no BraTS labels (0 background, 1 core, 2 oedema, "
                         "4 or 3 enhancing tumour)")
    if 3 in values and 4 in values:
        raise ScoreError(f"{path}: holds both 3 and 4; BraTS uses 4 (2021 and before) or 3 (2023) for the "
                         "enhancing tumour, not both")
    return 4 if 4 in values else 3 if 3 in values else None


def score_brats(gt_dir: str | os.PathLike, pred_dir: str | os.PathLike, release: str = "auto",
                hd95: bool = True, ids: list[str] | None = None) -> Report:
    """Score the label maps under ``pred_dir`` against the ``*_seg.nii[.gz]`` files under ``gt_dir``.

    Args:
        gt_dir: the BraTS case folders (or a folder of ``<case>_seg.nii.gz`` files).
        pred_dir: ``<case>.nii.gz`` (or ``<case>_seg.nii.gz``) predictions.
        release: ``"auto"`` (from the label values), ``"2021"`` (ET = 4; also 2017-2020) or ``"2023"`` (ET = 3).
        hd95: compute HD95 (needs MONAI); ``False`` reports Dice only.
        ids: score only these cases.

    Raises:
        ScoreError: missing or extra files, grids that differ, labels outside the BraTS sets, mixed releases,
            MONAI missing for HD95.
    """
    from ..metrics.volume import dice_per_region, hd95_per_region

    if release not in ("auto", "2021", "2023"):
        raise ScoreError(f"--release must be auto, 2021 or 2023, not {release!r}")
    if hd95:
        try:
            import monai.metrics  # noqa: F401
        except ImportError:
            raise ScoreError("HD95 needs MONAI: pip install monai (or pass --no-hd95 for Dice only)") from None
    gt = collect(gt_dir, ("*_seg.nii.gz", "*_seg.nii"), "gt segmentation", _key)
    pred = collect(pred_dir, ("*.nii.gz", "*.nii"), "pred segmentation", _key)
    pairs = pair_files(gt, pred, pred_dir, ids, expected="{key}.nii.gz")
    et_label = {"2021": 4, "2023": 3}.get(release)
    decided_by: Path | None = None
    items = []
    for name, g, p in pairs:
        truth, spacing = _read(g, f"ground truth of {name}")
        guess, pred_spacing = _read(p, f"prediction of {name}")
        if truth.shape != guess.shape:
            raise ScoreError(f"{p}: prediction has shape {guess.shape} (in LPS), its ground truth {g} {truth.shape}")
        if not np.allclose(spacing, pred_spacing, rtol=1e-3):
            raise ScoreError(f"{p}: voxel size {pred_spacing.round(3).tolist()} mm differs from its ground truth's "
                             f"{spacing.round(3).tolist()} ({g})")
        for path, array in ((g, truth), (p, guess)):
            found = _release(set(np.unique(array).tolist()), path)
            if found is None:
                continue
            if et_label is None:
                et_label, decided_by = found, path
            elif found != et_label:
                origin = f"--release {release}" if decided_by is None else f"{decided_by}"
                raise ScoreError(f"{path}: enhancing tumour is labelled {found}, but {origin} uses {et_label} "
                                 "(2021 and before: 4; 2023: 3)")
        et = et_label if et_label is not None else 4  # no enhancing tumour anywhere yet: both readings agree
        pr, tr = to_regions(guess, et), to_regions(truth, et)
        row = {"name": name}
        row.update({f"dice_{r.lower()}": d for r, d in zip(REGIONS, dice_per_region(pr, tr), strict=True)})
        if hd95:
            hd = hd95_per_region(pr, tr, spacing=tuple(float(s) for s in spacing))
            row.update({f"hd95_{r.lower()}": h for r, h in zip(REGIONS, hd, strict=True)})
        items.append(row)
    overall = {"cases": len(items), "release": {4: "2021 (ET = 4)", 3: "2023 (ET = 3)", None: "no ET label seen"}[
        et_label]}
    for key in items[0]:
        if key != "name":
            overall[key] = float(np.mean([row[key] for row in items]))
    notes = ["BraTS regions WT = {1, 2, ET}, TC = {1, ET}; per case, then the mean over cases; both empty: Dice 1, "
             "HD95 0; one empty: Dice 0, HD95 373.13 mm"]
    return Report("brats", items, overall, notes)
