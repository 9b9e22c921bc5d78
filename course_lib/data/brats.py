"""BraTS: brain tumour segmentation in multi-modal MRI (NIfTI volumes): cases, labels and regions, loading.

Introduced in Chapter 3 (3D U-Net on BraTS). The module reads the official *training* layout of the BraTS 2020
and 2021 challenges, turns the label maps into the three evaluated regions, splits the cases and loads and
preprocesses one case. The torch Datasets (whole cases, training patches) and the on-disk cache that spares later
epochs the gzip decoding are in :mod:`course_lib.data.brats_datasets`. Where the data are and how to get them is
the registry's entry ``"brats"`` (:func:`course_lib.datasets.locate`); the synthetic sample is
:func:`course_lib.synthetic.brats.write_sample`; the pictures are in :mod:`course_lib.viz.volume`.

Official layout (one folder per case, five files per case; ``.nii`` instead of ``.nii.gz`` is accepted too)::

    BraTS2021_Training_Data/                       MICCAI_BraTS2020_TrainingData/
        BraTS2021_00000/                               BraTS20_Training_001/
            BraTS2021_00000_flair.nii.gz                   BraTS20_Training_001_flair.nii.gz
            BraTS2021_00000_t1.nii.gz                      BraTS20_Training_001_t1.nii.gz
            BraTS2021_00000_t1ce.nii.gz                    BraTS20_Training_001_t1ce.nii.gz
            BraTS2021_00000_t2.nii.gz                      BraTS20_Training_001_t2.nii.gz
            BraTS2021_00000_seg.nii.gz                     BraTS20_Training_001_seg.nii.gz

Every volume is 240 x 240 x 155 voxels of 1 mm, skull-stripped (background exactly 0) and co-registered; images are
``int16``, label maps ``uint8``; the affine is ``diag(-1, -1, 1)`` with origin ``(0, 239, 0)``, which nibabel
reports as orientation ``('L', 'P', 'S')``: the first array axis runs towards the patient's left, the second
towards the back, the third towards the top of the head. Volumes in another orientation are reoriented to LPS
(:func:`course_lib.io.nifti.read_nifti`).

Labels: 0 background, 1 necrotic and non-enhancing tumour core (NCR/NET), 2 peritumoral edema (ED), 4
GD-enhancing tumour (ET). **There is no label 3** (BraTS 2017-2021; BraTS 2023 renumbers ET to 3, and that data is
rejected with a message saying so). The challenge evaluates three nested *regions*, not the labels:

=======  =============================  ==========
region   meaning                        labels
=======  =============================  ==========
WT       whole tumour                   1, 2, 4
TC       tumour core                    1, 4
ET       enhancing tumour               4
=======  =============================  ==========

Preprocessing (:func:`load_case`): the four modalities are stacked in the order of :data:`MODALITIES`
(FLAIR, T1, T1ce, T2), the volume is cropped to the bounding box of the brain (the voxels that are non-zero in
any modality), and each channel is normalised to zero mean and unit variance over its own non-zero voxels; the
background stays 0. A case with a missing modality, a label outside {0, 1, 2, 4}, volumes of different shapes or
affines, or an empty or truncated file raises an error naming the case and the file.

Example:
    >>> from course_lib.synthetic.brats import write_sample
    >>> folder = write_sample(tmp_path, n_cases=4)  # doctest: +SKIP
    >>> cases = find_cases(folder)  # doctest: +SKIP
    >>> vol = load_case(cases[0])  # doctest: +SKIP
    >>> vol.image.shape[0], labels_to_regions(vol.seg).shape[0]  # doctest: +SKIP
    (4, 3)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..io.nifti import read_nifti
from .registry import BRATS_REGION_PALETTE, BRATS_REGIONS, find_root
from .splits import hashed_holdout

__all__ = [
    "LABELS",
    "LABEL_PALETTE",
    "MODALITIES",
    "REGIONS",
    "REGION_LABELS",
    "REGION_NAMES",
    "REGION_PALETTE",
    "BratsCase",
    "BratsVolume",
    "brain_bbox",
    "case_files",
    "find_cases",
    "labels_to_regions",
    "load_case",
    "normalize_nonzero",
    "regions_to_labels",
    "split_cases",
]

#: Channel order of the stacked image (documented once, used everywhere; MSD's Task01 uses another order).
MODALITIES: tuple[str, ...] = ("flair", "t1", "t1ce", "t2")
#: Label values of the BraTS 2017-2021 segmentations and their meaning.
LABELS: dict[int, str] = {0: "background", 1: "necrotic / non-enhancing core (NCR/NET)", 2: "edema (ED)",
                          4: "enhancing tumour (ET)"}
#: The evaluated regions, in the order of the network's output channels (the registry entry's classes).
REGIONS: tuple[str, ...] = BRATS_REGIONS
REGION_NAMES: dict[str, str] = {"WT": "whole tumour", "TC": "tumour core", "ET": "enhancing tumour"}
REGION_LABELS: dict[str, tuple[int, ...]] = {"WT": (1, 2, 4), "TC": (1, 4), "ET": (4,)}
#: Colours of the label values 0..4 for display (index = label; 3 does not occur).
LABEL_PALETTE = np.array([[0, 0, 0], [230, 60, 50], [60, 190, 80], [128, 128, 128], [250, 220, 40]], np.uint8)
#: One colour per region (WT, TC, ET), for contour overlays (the registry entry's palette).
REGION_PALETTE = BRATS_REGION_PALETTE

_SUFFIXES = (".nii.gz", ".nii")


# ----------------------------------------------------------------------------------------------- labels and regions
def labels_to_regions(seg: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Turn a BraTS label map into the three nested region masks WT, TC, ET (channel first).

    WT = labels {1, 2, 4}, TC = {1, 4}, ET = {4}. NumPy in, NumPy ``bool`` out; a tensor in, a ``bool`` tensor out.

    Args:
        seg: integer label map of any shape (values in {0, 1, 2, 4}).

    Returns:
        ``[3, *seg.shape]`` boolean masks in the order of :data:`REGIONS`.

    Example:
        >>> labels_to_regions(np.array([0, 1, 2, 4])).astype(int).tolist()
        [[0, 1, 1, 1], [0, 1, 0, 1], [0, 0, 0, 1]]
    """
    if torch.is_tensor(seg):
        return torch.stack([(seg == 1) | (seg == 2) | (seg == 4), (seg == 1) | (seg == 4), seg == 4])
    seg = np.asarray(seg)
    return np.stack([(seg == 1) | (seg == 2) | (seg == 4), (seg == 1) | (seg == 4), seg == 4])


def regions_to_labels(regions: np.ndarray | torch.Tensor) -> np.ndarray:
    """Turn region masks (WT, TC, ET; channel first) back into a BraTS label map for display.

    ET -> 4; TC but not ET -> 1 (necrosis / non-enhancing core); WT but not TC -> 2 (edema); else 0. The regions
    a network predicts need not be nested; this conversion gives ET priority over TC over WT, so
    ``labels_to_regions(regions_to_labels(r))`` is the nested closure of ``r`` (equal to ``r`` when ``r`` is nested).

    Args:
        regions: ``[3, ...]`` booleans (or probabilities / 0-1 values, thresholded at 0.5).

    Returns:
        ``uint8`` label map ``[...]``.

    Example:
        >>> regions_to_labels(labels_to_regions(np.array([0, 1, 2, 4]))).tolist()
        [0, 1, 2, 4]
    """
    r = regions.detach().cpu().numpy() if torch.is_tensor(regions) else np.asarray(regions)
    if r.ndim < 1 or r.shape[0] != 3:
        raise ValueError(f"regions must have 3 channels first (WT, TC, ET), got shape {r.shape}")
    if r.dtype != bool:
        r = r > 0.5
    out = np.zeros(r.shape[1:], np.uint8)
    out[r[0]] = 2
    out[r[1]] = 1
    out[r[2]] = 4
    return out


# ----------------------------------------------------------------------------------------------- finding cases
@dataclass(frozen=True)
class BratsCase:
    """The files of one case.

    Args:
        case_id: the folder name, e.g. ``"BraTS2021_00000"`` or ``"BraTS20_Training_001"``.
        folder: the case folder.
        images: modality name -> file, for every name in :data:`MODALITIES` that was found.
        seg: the label map file, or ``None`` (validation/test cases have none).
        missing: expected files that are absent (names as the official layout spells them).
    """

    case_id: str
    folder: Path
    images: dict[str, Path]
    seg: Path | None
    missing: tuple[str, ...] = ()

    @property
    def files(self) -> list[Path]:
        """All files of the case (images in :data:`MODALITIES` order, then the label map)."""
        return [self.images[m] for m in MODALITIES if m in self.images] + ([self.seg] if self.seg else [])


def _find_file(folder: Path, stem: str) -> Path | None:
    for suffix in _SUFFIXES:
        path = folder / f"{stem}{suffix}"
        if path.is_file():
            return path
    return None


def case_files(folder: str | os.PathLike) -> BratsCase:
    """Collect the files of one case folder (``<case>/<case>_<modality>.nii.gz``).

    The label map is ``<case>_seg.nii.gz``; if that is absent but exactly one other NIfTI file in the folder has
    ``seg`` in its name, that one is used (one BraTS 2020 training case, 355, ships a label map named
    ``W39_1998.09.19_Segm.nii``).

    Args:
        folder: the case folder.

    Example:
        >>> case = case_files("data/brats/BraTS2021_Training_Data/BraTS2021_00000")  # doctest: +SKIP
        >>> sorted(case.images)  # doctest: +SKIP
        ['flair', 't1', 't1ce', 't2']
    """
    folder = Path(folder)
    name = folder.name
    images, missing = {}, []
    for modality in MODALITIES:
        path = _find_file(folder, f"{name}_{modality}")
        if path is None:
            missing.append(f"{name}_{modality}.nii.gz")
        else:
            images[modality] = path
    seg = _find_file(folder, f"{name}_seg")
    if seg is None:
        others = [p for p in folder.iterdir() if p.is_file() and p.name.endswith(_SUFFIXES)
                  and "seg" in p.name.lower() and p not in images.values()]
        seg = others[0] if len(others) == 1 else None
    return BratsCase(name, folder, images, seg, tuple(missing))


def _is_case_folder(path: Path) -> bool:
    return path.is_dir() and any(_find_file(path, f"{path.name}_{m}") for m in (*MODALITIES, "seg"))


def find_cases(root: str | os.PathLike) -> list[BratsCase]:
    """All cases in the BraTS folder at or below ``root`` (:func:`course_lib.data.registry.find_root`), by case id.

    Cases with missing files are listed too (their :attr:`BratsCase.missing` says which); :func:`load_case`
    raises for them, naming the file.

    Raises:
        FileNotFoundError: no folder with BraTS case folders at or below ``root`` (the message says how to get
            the data).

    Example:
        >>> [c.case_id for c in find_cases("../shared/data/brats")][:2]  # doctest: +SKIP
        ['BraTS2021_00000', 'BraTS2021_00002']
    """
    folder = find_root("brats", root)
    return [case_files(p) for p in sorted(folder.iterdir(), key=lambda p: p.name)
            if not p.name.startswith(".") and _is_case_folder(p)]


def split_cases(cases: Sequence[BratsCase], split: str, val_fraction: float = 0.2, seed: int = 0,
                val_cases: Sequence[str] | None = None) -> list[BratsCase]:
    """Split cases into ``train`` and ``val`` by whole case (never by slice or patch); ``all`` keeps every case.

    The official BraTS validation and test labels are not public, so a validation split is held out of the
    training data. Cases are ranked by a hash of ``seed`` and their id, and the first ``max(1, round(n *
    val_fraction))`` go to ``val`` (:func:`course_lib.data.splits.hashed_holdout`): the split is stable on every
    machine and barely moves when cases are added.

    Args:
        cases: from :func:`find_cases`.
        split: ``"train"``, ``"val"`` or ``"all"``.
        val_fraction: share of the cases held out.
        seed: changes the split.
        val_cases: explicit case ids for ``val`` (overrides ``val_fraction``).

    Example:
        >>> ids = [BratsCase(f"BraTS2021_{i:05d}", Path("."), {}, None) for i in range(5)]
        >>> len(split_cases(ids, "train")), len(split_cases(ids, "val"))
        (4, 1)
    """
    cases = list(cases)
    if split == "all":
        return cases
    if split not in ("train", "val"):
        raise ValueError(f"unknown BraTS split {split!r}; choose 'train', 'val' or 'all'")
    if val_cases:
        known = {c.case_id for c in cases}
        unknown = sorted(set(val_cases) - known)
        if unknown:
            raise ValueError(f"val_cases {unknown} are not among the {len(cases)} cases found")
        held = set(val_cases)
    else:
        held = hashed_holdout([c.case_id for c in cases], val_fraction, seed)
    return [c for c in cases if (c.case_id in held) == (split == "val")]


# ----------------------------------------------------------------------------------------------- loading a case
def brain_bbox(image: np.ndarray, margin: int = 0) -> tuple[slice, slice, slice]:
    """The bounding box of the voxels that are non-zero in any channel, widened by ``margin`` (clipped).

    Args:
        image: ``[C, X, Y, Z]``.
        margin: voxels added on each side.

    Example:
        >>> img = np.zeros((1, 5, 5, 5)); img[0, 1:3, 2, 2:4] = 1
        >>> brain_bbox(img)
        (slice(1, 3, None), slice(2, 3, None), slice(2, 4, None))
    """
    mask = np.any(image != 0, axis=0)
    if not mask.any():
        raise ValueError("the volume is empty (all voxels are 0 in every channel)")
    box = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        hit = np.flatnonzero(mask.any(axis=other))
        box.append(slice(max(0, int(hit[0]) - margin), min(mask.shape[axis], int(hit[-1]) + 1 + margin)))
    return tuple(box)


def normalize_nonzero(image: np.ndarray) -> np.ndarray:
    """Z-score each channel over its non-zero voxels (the brain); zero voxels (background) stay 0.

    Args:
        image: ``[C, ...]`` float array.

    Returns:
        A new ``float32`` array.

    Example:
        >>> x = np.array([[0.0, 2.0, 4.0]])
        >>> normalize_nonzero(x).tolist()
        [[0.0, -1.0, 1.0]]
    """
    out = np.zeros(image.shape, np.float32)
    for c in range(image.shape[0]):
        channel = image[c]
        brain = channel != 0
        values = channel[brain].astype(np.float64)
        if values.size == 0:
            continue
        std = values.std()
        out[c][brain] = (values - values.mean()) / (std if std > 0 else 1.0)
    return out


@dataclass
class BratsVolume:
    """One preprocessed case.

    Args:
        case_id: e.g. ``"BraTS2021_00000"``.
        image: ``[4, X, Y, Z]`` normalised modalities (channels in :data:`MODALITIES` order), cropped to ``bbox``.
        seg: ``[X, Y, Z]`` ``uint8`` labels {0, 1, 2, 4}, cropped, or ``None``.
        affine: the 4x4 affine of the original files.
        shape: the original volume's shape ``(X, Y, Z)`` (LPS axes).
        bbox: the crop, as ``(start, stop)`` per axis in the original voxel grid.
    """

    case_id: str
    image: np.ndarray
    seg: np.ndarray | None
    affine: np.ndarray
    shape: tuple[int, int, int]
    bbox: tuple[tuple[int, int], ...]
    meta: dict = field(default_factory=dict)

    def regions(self) -> np.ndarray:
        """``[3, X, Y, Z]`` boolean WT, TC, ET masks of the (cropped) label map."""
        if self.seg is None:
            raise ValueError(f"case {self.case_id} has no label map")
        return labels_to_regions(np.asarray(self.seg))

    def uncrop(self, array: np.ndarray, fill=0) -> np.ndarray:
        """Put a cropped array ``[..., x, y, z]`` back into the original grid ``[..., X, Y, Z]``."""
        out = np.full(array.shape[:-3] + tuple(self.shape), fill, dtype=array.dtype)
        out[(...,) + tuple(slice(a, b) for a, b in self.bbox)] = array
        return out


def load_case(case: BratsCase, margin: int = 2, require_seg: bool = True) -> BratsVolume:
    """Read, check, stack, crop and normalise one case (see the module docstring for the steps).

    Args:
        case: from :func:`find_cases` or :func:`case_files`.
        margin: voxels of background kept around the brain's bounding box.
        require_seg: raise when the label map is missing (training data); ``False`` for unlabelled cases.

    Raises:
        FileNotFoundError: a modality (or the required label map) is missing; names the case and the file.
        ValueError: a file is damaged, shapes or affines differ between files, a modality is empty, or the
            label map holds a value outside {0, 1, 2, 4}; names the case and the file.

    Example:
        >>> vol = load_case(find_cases("../shared/data/brats")[0])  # doctest: +SKIP
        >>> vol.image.dtype, vol.seg.dtype  # doctest: +SKIP
        (dtype('float32'), dtype('uint8'))
    """
    if case.missing:
        raise FileNotFoundError(f"case {case.case_id}: missing {', '.join(case.missing)} in {case.folder} "
                                f"(each case needs the modalities {', '.join(MODALITIES)})")
    if require_seg and case.seg is None:
        raise FileNotFoundError(f"case {case.case_id}: label map {case.folder / (case.case_id + '_seg.nii.gz')} "
                                "is missing")
    channels, ref_path, ref_affine = [], None, None
    for modality in MODALITIES:
        path = case.images[modality]
        data, affine = read_nifti(path, f"{modality} image of case {case.case_id}")
        if ref_path is None:
            ref_path, ref_affine = path, affine
        else:
            _check_same_grid(case, path, data.shape, affine, ref_path, channels[0].shape, ref_affine)
        if not np.any(data):
            raise ValueError(f"case {case.case_id}: {path} is empty (every voxel is 0)")
        channels.append(data)
    seg = None
    if case.seg is not None:
        seg, affine = read_nifti(case.seg, f"label map of case {case.case_id}", integer=True)
        _check_same_grid(case, case.seg, seg.shape, affine, ref_path, channels[0].shape, ref_affine)
        values = np.unique(seg)
        bad = sorted(set(values.tolist()) - set(LABELS))
        if bad:
            hint = " (label 3 is the BraTS 2023 numbering of ET; this loader reads BraTS 2017-2021 labels)" \
                if bad == [3] else ""
            raise ValueError(f"case {case.case_id}: {case.seg} holds labels {bad}, expected only "
                             f"{sorted(LABELS)}{hint}")
        seg = seg.astype(np.uint8, copy=False)
    image = np.stack(channels)
    box = brain_bbox(image, margin)
    image = normalize_nonzero(image[(slice(None),) + box])
    if seg is not None:
        seg = np.ascontiguousarray(seg[box])
    return BratsVolume(case.case_id, image, seg, ref_affine, tuple(channels[0].shape),
                       tuple((s.start, s.stop) for s in box))


def _check_same_grid(case, path, shape, affine, ref_path, ref_shape, ref_affine) -> None:
    if tuple(shape) != tuple(ref_shape):
        raise ValueError(f"case {case.case_id}: {path} has shape {tuple(shape)} but {ref_path.name} has "
                         f"{tuple(ref_shape)}; the modalities and the label map must share one voxel grid")
    if not np.allclose(affine, ref_affine, atol=1e-3):
        raise ValueError(f"case {case.case_id}: {path} has a different affine than {ref_path.name} "
                         f"({np.round(affine, 3).tolist()} vs {np.round(ref_affine, 3).tolist()}); the volumes "
                         "are not co-registered")
