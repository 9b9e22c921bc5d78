"""A synthetic BraTS: small MRI-like "brains" with nested tumours, in the official training layout (NIfTI).

Introduced in Chapter 3 (3D U-Net on BraTS). :func:`write_sample` is the registry entry ``"brats"``'s sample writer:
without the real data (which needs a registration), the quick profile trains on these cases, read by
:mod:`course_lib.data.brats` with exactly the code that reads the real files.

Example:
    >>> from course_lib.data.brats import find_cases
    >>> folder = write_sample(tmp_path, n_cases=4, size=48)  # doctest: +SKIP
    >>> [c.case_id for c in find_cases(folder)]  # doctest: +SKIP
    ['BraTS2021_00000', 'BraTS2021_00002', 'BraTS2021_00004', 'BraTS2021_00006']
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..data.brats import MODALITIES
from ..io.nifti import save_nifti
from .common import mark_sample, sample_is_current

__all__ = ["write_sample"]


def _smooth_noise(shape: tuple[int, int, int], cells: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth random field in about [-1, 1]: a coarse random grid upsampled trilinearly."""
    coarse = torch.from_numpy(rng.uniform(-1, 1, (1, 1, cells, cells, cells)).astype(np.float32))
    return F.interpolate(coarse, size=shape, mode="trilinear", align_corners=True)[0, 0].numpy()


def _blob(grid: np.ndarray, centre, radii, rng: np.random.Generator, bumpiness: float = 0.25) -> np.ndarray:
    """An ellipsoid with a wobbly surface."""
    d = sum(((g - c) / r) ** 2 for g, c, r in zip(grid, centre, radii, strict=True))
    return np.sqrt(d) < 1 + bumpiness * _smooth_noise(grid[0].shape, 5, rng)


# tissue -> mean intensity per modality (flair, t1, t1ce, t2) in units of the modality's scale
_TISSUES = {
    "wm": (0.70, 1.00, 1.00, 0.60),
    "gm": (0.85, 0.75, 0.78, 0.85),
    "csf": (0.25, 0.30, 0.30, 1.80),
    "edema": (1.60, 0.62, 0.65, 1.50),
    "necrosis": (0.90, 0.40, 0.35, 1.60),
    "enhancing": (1.20, 0.70, 2.30, 1.10),
}
_SCALES = (1200.0, 700.0, 3000.0, 900.0)


def _synthetic_case(size: int, rng: np.random.Generator, enhancing: bool = True
                    ) -> tuple[np.ndarray, np.ndarray]:
    """A skull-stripped synthetic "brain" with a tumour: ``int16 [4, S, S, S]`` images and ``uint8`` labels."""
    shape = (size, size, size)
    grid = np.mgrid[0:size, 0:size, 0:size].astype(np.float32)
    c = (size - 1) / 2
    brain_r = np.array([0.34, 0.41, 0.33]) * size * rng.uniform(0.92, 1.05)
    brain = _blob(grid, (c, c, c + 0.03 * size), brain_r, rng, 0.06)
    wm = _blob(grid, (c, c, c + 0.03 * size), brain_r * 0.68, rng, 0.25) & brain
    csf = np.zeros(shape, bool)
    for side in (-1, 1):  # two ventricles beside the midline
        csf |= _blob(grid, (c + side * 0.06 * size, c - 0.02 * size, c + 0.06 * size),
                     (0.04 * size, 0.13 * size, 0.07 * size), rng, 0.15)
    csf &= brain
    # the tumour: edema around a core; the core has an enhancing rim around necrosis (or no enhancement at all)
    side = rng.choice([-1, 1])
    centre = np.array([c + side * rng.uniform(0.10, 0.17) * size, c + rng.uniform(-0.15, 0.15) * size,
                       c + rng.uniform(-0.08, 0.12) * size])
    r_edema = rng.uniform(0.15, 0.21) * size
    edema = _blob(grid, centre, r_edema * rng.uniform(0.85, 1.15, 3), rng, 0.3) & brain
    core = _blob(grid, centre + rng.uniform(-0.2, 0.2, 3) * r_edema, r_edema * rng.uniform(0.5, 0.65, 3),
                 rng, 0.2) & edema
    necrosis = _blob(grid, centre, r_edema * rng.uniform(0.3, 0.4, 3), rng, 0.2) & core
    seg = np.zeros(shape, np.uint8)
    seg[edema] = 2
    seg[core] = 4 if enhancing else 1
    seg[necrosis] = 1
    tissue = np.where(wm, 0, 1)
    tissue[csf] = 2
    names = ["wm", "gm", "csf"]
    bias = 1 + 0.12 * _smooth_noise(shape, 3, rng)
    images = np.zeros((4,) + shape, np.int16)
    for m in range(4):
        value = np.choose(tissue, [_TISSUES[n][m] for n in names]).astype(np.float32)
        for label, name in ((2, "edema"), (4, "enhancing"), (1, "necrosis")):
            value[seg == label] = _TISSUES[name][m]
        value *= 1 + 0.08 * _smooth_noise(shape, 9, rng)  # texture
        value = torch.from_numpy(value)[None, None]
        value = F.avg_pool3d(value, 3, stride=1, padding=1, count_include_pad=False)[0, 0].numpy()  # partial volume
        scale = _SCALES[m] * rng.uniform(0.7, 1.3)
        value = value * bias * scale + rng.normal(0, 0.035 * scale, shape)
        images[m] = np.where(brain, np.clip(np.rint(value), 1, 32000), 0).astype(np.int16)
    seg[~brain] = 0
    return images, seg


def write_sample(root: str | os.PathLike, n_cases: int = 8, size: int = 64, seed: int = 0, naming: str = "2021",
                 overwrite: bool = False) -> Path:
    """Write a small synthetic BraTS in the official layout and file format; returns the folder of the cases.

    Each case is a skull-stripped synthetic "brain" (white and grey matter, two ventricles, a smooth bias field
    and noise) with one tumour of nested regions: edema (2) around a core whose rim enhances (4) around necrosis
    (1); every fourth case has a non-enhancing core (no label 4, as in many low-grade gliomas). The files are real
    NIfTI-1 ``.nii.gz`` with the conventions of the real data: ``int16`` images, ``uint8`` label maps, affine
    ``diag(-1, -1, 1)`` with origin ``(0, size - 1, 0)`` (orientation LPS), sform and qform code 1, 1 mm voxels.
    Intensity scales differ per modality and case, as in the real data. A ``COURSE_SAMPLE.txt`` marks the folder
    as synthetic; an existing sample written with the same arguments is kept.

    Args:
        root: where to write (the cases go to ``root/BraTS2021_Training_Data/`` or, with ``naming="2020"``,
            ``root/MICCAI_BraTS2020_TrainingData/``).
        n_cases: number of cases.
        size: edge of the cubic volumes in voxels (the real ones are 240 x 240 x 155).
        seed: random seed (the sample is deterministic).
        naming: ``"2021"`` (``BraTS2021_00000``) or ``"2020"`` (``BraTS20_Training_001``).
        overwrite: rewrite even when an identical sample is present.

    Example:
        >>> from course_lib.data.brats import find_cases
        >>> folder = write_sample(tmp_path, n_cases=4, size=48)  # doctest: +SKIP
        >>> len(find_cases(folder))  # doctest: +SKIP
        4
    """
    if naming not in ("2020", "2021"):
        raise ValueError(f"naming must be '2020' or '2021', got {naming!r}")
    if n_cases < 1 or size < 32:
        raise ValueError(f"need n_cases >= 1 and size >= 32, got n_cases={n_cases}, size={size}")
    folder = Path(root).expanduser() / ("BraTS2021_Training_Data" if naming == "2021"
                                        else "MICCAI_BraTS2020_TrainingData")
    params = {"n_cases": n_cases, "size": size, "seed": seed, "naming": naming}
    if not overwrite and sample_is_current(folder, params):
        return folder
    rng = np.random.default_rng(seed)
    affine = np.diag([-1.0, -1.0, 1.0, 1.0])
    affine[1, 3] = size - 1
    for i in range(n_cases):
        case_id = f"BraTS2021_{2 * i:05d}" if naming == "2021" else f"BraTS20_Training_{i + 1:03d}"
        images, seg = _synthetic_case(size, rng, enhancing=i % 4 != 3)
        case_dir = folder / case_id
        case_dir.mkdir(parents=True, exist_ok=True)
        for m, modality in enumerate(MODALITIES):
            save_nifti(images[m], affine, case_dir / f"{case_id}_{modality}.nii.gz")
        save_nifti(seg, affine, case_dir / f"{case_id}_seg.nii.gz")
    mark_sample(folder, params, "Synthetic BraTS sample (official training layout, NIfTI) written by "
                "course_lib.synthetic.brats.write_sample; not real MRI.")
    return folder
