"""BraTS: brain tumour segmentation in multi-modal MRI (NIfTI volumes), read with nibabel.

Introduced in Chapter 3 (3D U-Net on BraTS). The module reads the official *training* layout of the BraTS 2020
and 2021 challenges, turns the label maps into the three evaluated regions, caches the preprocessed volumes so
that later epochs skip the gzip decoding, samples training patches, and writes a synthetic sample in exactly the
same layout and file format.

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
towards the back, the third towards the top of the head. Volumes in another orientation are reoriented to LPS.

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
    >>> from course_lib.data import brats
    >>> folder = brats.write_sample(tmp_path, n_cases=4)  # doctest: +SKIP
    >>> cases = brats.find_cases(folder)  # doctest: +SKIP
    >>> vol = brats.load_case(cases[0])  # doctest: +SKIP
    >>> vol.image.shape[0], brats.labels_to_regions(vol.seg).shape[0]  # doctest: +SKIP
    (4, 3)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from .common import find_dataset_root, mark_sample, sample_is_current

__all__ = [
    "DOWNLOAD_NOTE",
    "LABELS",
    "LABEL_PALETTE",
    "MODALITIES",
    "REGIONS",
    "REGION_LABELS",
    "REGION_NAMES",
    "REGION_PALETTE",
    "RESOURCES",
    "BratsCache",
    "BratsCase",
    "BratsPatches",
    "BratsVolume",
    "BratsVolumes",
    "brain_bbox",
    "download",
    "find_cases",
    "find_root",
    "labels_to_regions",
    "load_case",
    "normalize_nonzero",
    "read_nifti",
    "region_overlay",
    "regions_to_labels",
    "slice_figure",
    "slice_picture",
    "slice_plane",
    "to_gray",
    "tumour_centre",
    "viewer",
    "split_cases",
    "write_sample",
]

#: Channel order of the stacked image (documented once, used everywhere; MSD's Task01 uses another order).
MODALITIES: tuple[str, ...] = ("flair", "t1", "t1ce", "t2")
#: Label values of the BraTS 2017-2021 segmentations and their meaning.
LABELS: dict[int, str] = {0: "background", 1: "necrotic / non-enhancing core (NCR/NET)", 2: "edema (ED)",
                          4: "enhancing tumour (ET)"}
#: The evaluated regions, in the order of the network's output channels.
REGIONS: tuple[str, ...] = ("WT", "TC", "ET")
REGION_NAMES: dict[str, str] = {"WT": "whole tumour", "TC": "tumour core", "ET": "enhancing tumour"}
REGION_LABELS: dict[str, tuple[int, ...]] = {"WT": (1, 2, 4), "TC": (1, 4), "ET": (4,)}
#: Colours of the label values 0..4 for display (index = label; 3 does not occur).
LABEL_PALETTE = np.array([[0, 0, 0], [230, 60, 50], [60, 190, 80], [128, 128, 128], [250, 220, 40]], np.uint8)
#: One colour per region (WT, TC, ET), for contour overlays.
REGION_PALETTE = np.array([[60, 190, 80], [230, 60, 50], [250, 220, 40]], np.uint8)

DATASET_FOLDERS = ("BraTS2021_Training_Data", "MICCAI_BraTS2020_TrainingData", "BraTS2020_TrainingData",
                   "RSNA_ASNR_MICCAI_BraTS2021_TrainingData_16July2021", "brats")
_SUFFIXES = (".nii.gz", ".nii")
_LPS = ("L", "P", "S")

DOWNLOAD_NOTE = """\
BraTS cannot be downloaded automatically: the challenge data require a (free) registration.
  1. BraTS 2021 (Task 1): create a Synapse account (https://www.synapse.org), request access to the RSNA-ASNR-MICCAI
     BraTS 2021 challenge data (see http://braintumorsegmentation.org/), accept the data-use terms and download
     the training archive (BraTS2021_Training_Data.tar, about 12 GB, 1251 cases).
     BraTS 2020: the training data (MICCAI_BraTS2020_TrainingData, 369 cases) come from the CBICA image processing
     portal after registration.
  2. Unpack it under <data root>/brats/ so that the case folders sit like this:
         <data root>/brats/BraTS2021_Training_Data/BraTS2021_00000/BraTS2021_00000_flair.nii.gz
     (the case folders may also sit directly in <data root>/brats/; 2020 names BraTS20_Training_001 work too).
  3. Cite the papers the challenge asks for: Baid et al. arXiv:2107.02314, Menze et al. IEEE TMI 2015,
     Bakas et al. Scientific Data 2017. The data are for research and education; do not redistribute them.
Without the real data the quick profile uses a synthetic sample (course_lib.data.brats.write_sample)."""

#: Nothing can be fetched without a registration: see :data:`DOWNLOAD_NOTE`.
RESOURCES: list = []


def download(root: str | os.PathLike) -> Path:
    """BraTS needs a registration: return the dataset folder if it is already there, else explain the steps.

    Args:
        root: where the data should be (``<data root>/brats``).

    Raises:
        FileNotFoundError: with :data:`DOWNLOAD_NOTE` when no case is found under ``root``.

    Example:
        >>> folder = download("data/brats")  # doctest: +SKIP
    """
    try:
        return find_root(root)
    except FileNotFoundError:
        raise FileNotFoundError(f"no BraTS cases under {root}.\n{DOWNLOAD_NOTE}") from None


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


def _is_dataset_folder(path: Path) -> bool:
    try:
        with os.scandir(path) as entries:
            return any(e.is_dir() and not e.name.startswith(".") and _is_case_folder(Path(e.path)) for e in entries)
    except (PermissionError, NotADirectoryError, FileNotFoundError):
        return False


def find_root(root: str | os.PathLike) -> Path:
    """The folder that holds the case folders, at ``root`` or up to three levels below it.

    Args:
        root: e.g. ``data/brats``, ``data`` or the ``BraTS2021_Training_Data`` folder itself.

    Raises:
        FileNotFoundError: no folder with BraTS case folders was found (the message says how to get the data).

    Example:
        >>> find_root("../shared/data")  # doctest: +SKIP
        PosixPath('../shared/data/brats/BraTS2021_Training_Data')
    """
    return find_dataset_root(root, _is_dataset_folder, DATASET_FOLDERS, max_depth=3,
                             what="BraTS folder (case folders like BraTS2021_00000/ holding <case>_flair.nii.gz)",
                             hint="BraTS needs a registration: see course_lib.data.brats.DOWNLOAD_NOTE, or write the "
                             "synthetic sample with course_lib.data.brats.write_sample(root).")


def find_cases(root: str | os.PathLike) -> list[BratsCase]:
    """All cases under ``root`` (see :func:`find_root`), sorted by case id.

    Cases with missing files are listed too (their :attr:`BratsCase.missing` says which); :func:`load_case`
    raises for them, naming the file.

    Example:
        >>> [c.case_id for c in find_cases("../shared/data/brats")][:2]  # doctest: +SKIP
        ['BraTS2021_00000', 'BraTS2021_00002']
    """
    folder = find_root(root)
    return [case_files(p) for p in sorted(folder.iterdir(), key=lambda p: p.name)
            if not p.name.startswith(".") and _is_case_folder(p)]


def split_cases(cases: Sequence[BratsCase], split: str, val_fraction: float = 0.2, seed: int = 0,
                val_cases: Sequence[str] | None = None) -> list[BratsCase]:
    """Split cases into ``train`` and ``val`` by whole case (never by slice or patch); ``all`` keeps every case.

    The official BraTS validation and test labels are not public, so a validation split is held out of the
    training data. Cases are ranked by a hash of ``seed`` and their id, and the first ``max(1, round(n *
    val_fraction))`` go to ``val``: the split is stable on every machine and barely moves when cases are added.

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
        if len(cases) < 2:
            raise ValueError(f"a train/val split needs at least 2 cases, found {len(cases)}")
        n_val = min(len(cases) - 1, max(1, round(len(cases) * val_fraction)))
        ranked = sorted(cases, key=lambda c: hashlib.sha1(f"{seed}:{c.case_id}".encode()).hexdigest())
        held = {c.case_id for c in ranked[:n_val]}
    return [c for c in cases if (c.case_id in held) == (split == "val")]


# ----------------------------------------------------------------------------------------------- reading volumes
def read_nifti(path: str | os.PathLike, what: str = "volume", integer: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Read one NIfTI file fully, in LPS orientation; returns ``(array, affine)`` (the affine as stored).

    Args:
        path: a ``.nii`` or ``.nii.gz`` file.
        what: what the file is, for error messages (``"flair image of BraTS2021_00000"``).
        integer: return the stored integer values (label maps) instead of ``float32`` (images, with the
            header's scaling applied).

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: the file is empty, truncated, not NIfTI, not 3-D, or (``integer``) holds non-integer values.

    Example:
        >>> array, affine = read_nifti("BraTS2021_00000_flair.nii.gz")  # doctest: +SKIP
    """
    import nibabel as nib

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: {what} file is missing")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: {what} file is empty (0 bytes)")
    try:
        img = nib.load(str(path))
        data = np.asanyarray(img.dataobj) if integer else img.get_fdata(dtype=np.float32)
    except Exception as err:  # nibabel, gzip and zlib raise many types for damaged files
        raise ValueError(f"{path}: {what} file is truncated or not a NIfTI volume ({type(err).__name__}: {err})") \
            from err
    if data.ndim == 4 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise ValueError(f"{path}: {what} has shape {data.shape}, expected a 3-D volume")
    if integer:
        if not np.issubdtype(data.dtype, np.integer):
            rounded = np.rint(data)
            if not np.array_equal(rounded, data):
                raise ValueError(f"{path}: {what} holds non-integer values (a label map must hold class indices)")
            data = rounded
        data = data.astype(np.int16 if data.min() < 0 or data.max() > 255 else np.uint8, copy=False)
    return _to_lps(data, img.affine), np.asarray(img.affine, np.float64)


def _to_lps(data: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Reorder/flip the array axes so that they run towards Left, Posterior, Superior (BraTS' own orientation)."""
    import nibabel as nib

    ornt = nib.orientations.io_orientation(affine)
    target = nib.orientations.axcodes2ornt(_LPS)
    if np.array_equal(ornt, target):
        return data
    return np.ascontiguousarray(nib.orientations.apply_orientation(data, nib.orientations.ornt_transform(ornt,
                                                                                                        target)))


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


# ----------------------------------------------------------------------------------------------- cache
class BratsCache:
    """A folder of preprocessed cases as ``.npy`` files, so that later epochs skip gzip decoding.

    Each case is stored as ``<case>-<key>.image.npy`` (``float16``, the normalised crop), ``.seg.npy`` (``uint8``)
    and ``.json`` (shape, affine, crop box). ``key`` hashes the name, size and modification time of the five
    source files, the preprocessing settings and :attr:`VERSION`, so an edited or replaced file, or new settings,
    give a new entry instead of a stale one. Files are written under temporary names and renamed, the ``.json``
    last, so an interrupted write is never read. Arrays are memory-mapped on reading: a patch costs the bytes it
    touches.

    Args:
        folder: the cache folder (created when needed).
        margin: the crop margin of :func:`load_case`.

    Example:
        >>> cache = BratsCache("data/cache/brats")  # doctest: +SKIP
        >>> vol = cache.load(find_cases("data/brats")[0])  # decodes and stores  # doctest: +SKIP
        >>> vol = cache.load(find_cases("data/brats")[0])  # memory-maps the .npy files  # doctest: +SKIP
    """

    VERSION = 1

    def __init__(self, folder: str | os.PathLike, margin: int = 2):
        self.folder = Path(folder).expanduser()
        self.margin = margin

    def key(self, case: BratsCase) -> str:
        """The hash that identifies a case's files and the preprocessing settings."""
        parts: list = [self.VERSION, self.margin, case.case_id]
        for path in case.files:
            st = path.stat()
            parts.append([str(path.resolve()), st.st_size, st.st_mtime_ns])
        return hashlib.sha1(json.dumps(parts).encode()).hexdigest()[:16]

    def paths(self, case: BratsCase) -> dict[str, Path]:
        stem = self.folder / f"{case.case_id}-{self.key(case)}"
        return {"image": stem.with_suffix(".image.npy"), "seg": stem.with_suffix(".seg.npy"),
                "meta": stem.with_suffix(".json")}

    def is_cached(self, case: BratsCase) -> bool:
        return self.paths(case)["meta"].is_file()

    def load(self, case: BratsCase, mmap: bool = True) -> BratsVolume:
        """The preprocessed case: read from the cache, or loaded with :func:`load_case` and stored first.

        Args:
            case: the case.
            mmap: memory-map the arrays (``False`` reads them into memory).
        """
        paths = self.paths(case)
        if not paths["meta"].is_file():
            vol = load_case(case, margin=self.margin, require_seg=case.seg is not None)
            self._store(vol, paths)
        meta = json.loads(paths["meta"].read_text())
        mode = "r" if mmap else None
        image = np.load(paths["image"], mmap_mode=mode)
        seg = np.load(paths["seg"], mmap_mode=mode) if meta["has_seg"] else None
        return BratsVolume(case.case_id, image, seg, np.array(meta["affine"]), tuple(meta["shape"]),
                           tuple(tuple(b) for b in meta["bbox"]), {"cached": True})

    def _store(self, vol: BratsVolume, paths: dict[str, Path]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tag = f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        arrays = {"image": vol.image.astype(np.float16)}
        if vol.seg is not None:
            arrays["seg"] = vol.seg.astype(np.uint8)
        for name, array in arrays.items():
            tmp = paths[name].with_name(paths[name].name + tag)
            with open(tmp, "wb") as f:
                np.save(f, array)
            os.replace(tmp, paths[name])
        meta = {"case_id": vol.case_id, "shape": list(vol.shape), "bbox": [list(b) for b in vol.bbox],
                "affine": np.asarray(vol.affine).tolist(), "has_seg": vol.seg is not None,
                "version": self.VERSION, "margin": self.margin}
        tmp = paths["meta"].with_name(paths["meta"].name + tag)
        tmp.write_text(json.dumps(meta))
        os.replace(tmp, paths["meta"])

    def clear(self) -> int:
        """Delete every cached file of this folder; returns how many were removed."""
        n = 0
        if self.folder.is_dir():
            for p in self.folder.iterdir():
                if re.search(r"\.(image\.npy|seg\.npy|json)$", p.name) or ".tmp-" in p.name:
                    p.unlink()
                    n += 1
        return n


# ----------------------------------------------------------------------------------------------- datasets
class _BratsCases(Dataset):
    """Cases of one split and the way to load them (through a :class:`BratsCache` or decoding every time)."""

    def __init__(self, root: str | os.PathLike | Sequence[BratsCase], split: str = "all", *, val_fraction: float = 0.2,
                 seed: int = 0, val_cases: Sequence[str] | None = None, cache_dir: str | os.PathLike | None = None,
                 margin: int = 2, max_cases: int | None = None):
        cases = find_cases(root) if isinstance(root, (str, os.PathLike)) else list(root)
        if not cases:
            raise ValueError(f"no BraTS cases in {root}")
        self.cases = split_cases(cases, split, val_fraction, seed, val_cases)[:max_cases]
        if not self.cases:
            raise ValueError(f"split {split!r} of {root} holds no case")
        self.split, self.margin = split, margin
        self.cache = BratsCache(cache_dir, margin) if cache_dir is not None else None

    @property
    def case_ids(self) -> list[str]:
        return [c.case_id for c in self.cases]

    def volume(self, index: int) -> BratsVolume:
        """The preprocessed case ``index`` (memory-mapped from the cache when there is one)."""
        case = self.cases[index]
        if self.cache is not None:
            return self.cache.load(case)
        return load_case(case, margin=self.margin)


class BratsVolumes(_BratsCases):
    """Whole cases for evaluation: ``(image float32 [4, X, Y, Z], regions float32 [3, X, Y, Z])``.

    The volumes are cropped to the brain and normalised (:func:`load_case`); :meth:`volume` gives the
    :class:`BratsVolume` with the crop box and affine, to put a prediction back into the original grid.

    Args:
        root: a folder (see :func:`find_root`) or a list of :class:`BratsCase`.
        split: ``"train"``, ``"val"`` or ``"all"`` (see :func:`split_cases`).
        val_fraction, seed, val_cases: the split.
        cache_dir: a :class:`BratsCache` folder, or ``None`` to decode the NIfTI files on every access.
        margin: crop margin in voxels.
        max_cases: keep only the first cases of the split.

    Example:
        >>> ds = BratsVolumes(write_sample(tmp_path), "val")  # doctest: +SKIP
        >>> image, regions = ds[0]; image.shape[0], regions.shape[0]  # doctest: +SKIP
        (4, 3)
    """

    def __len__(self) -> int:
        return len(self.cases)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        vol = self.volume(index)
        image = torch.from_numpy(np.asarray(vol.image, dtype=np.float32))
        regions = torch.from_numpy(vol.regions().astype(np.float32))
        return image, regions


class BratsPatches(_BratsCases):
    """Random training patches ``(image float32 [4, P, P, P], regions float32 [3, P, P, P])``.

    Each item draws one patch from case ``index % len(cases)``: with probability ``foreground_ratio`` the patch
    holds a tumour voxel (a label among 1, 2, 4 present in the case is drawn first, then a voxel of it, so the
    small enhancing and necrotic parts are seen as often as the large edema), otherwise it lies anywhere in the
    brain's box. Volumes smaller than the patch are padded with zeros. With ``downsample = f > 1`` a patch of
    ``P * f`` voxels is cut and averaged down by ``f`` (the image by area, the region masks into fractions: soft
    targets that keep the partial volume). Augmentation: a flip along each axis with probability 0.5, and per
    channel a random intensity scale ``1 + U(-s, s)`` and shift ``U(-s, s)`` of the brain voxels.

    Args:
        root: a folder (see :func:`find_root`) or a list of :class:`BratsCase`.
        split: usually ``"train"``.
        patch_size: edge ``P`` of the cubic patch (or three edges), in (downsampled) voxels.
        downsample: integer factor ``f``.
        foreground_ratio: share of patches centred on tumour.
        samples_per_case: items per case and epoch.
        augment: flips and intensity changes.
        intensity: ``s`` above.
        val_fraction, seed, val_cases, cache_dir, margin, max_cases: see :class:`BratsVolumes`.

    Example:
        >>> ds = BratsPatches(write_sample(tmp_path), "train", patch_size=32)  # doctest: +SKIP
        >>> [t.shape for t in ds[0]]  # doctest: +SKIP
        [torch.Size([4, 32, 32, 32]), torch.Size([3, 32, 32, 32])]
    """

    def __init__(self, root, split: str = "train", *, patch_size: int | Sequence[int] = 64, downsample: int = 1,
                 foreground_ratio: float = 0.5, samples_per_case: int = 4, augment: bool = True,
                 intensity: float = 0.1, **kwargs):
        super().__init__(root, split, **kwargs)
        size = (patch_size,) * 3 if isinstance(patch_size, int) else tuple(int(s) for s in patch_size)
        if len(size) != 3 or min(size) < 1:
            raise ValueError(f"patch_size must be a positive int or three of them, got {patch_size!r}")
        if not 0.0 <= foreground_ratio <= 1.0:
            raise ValueError(f"foreground_ratio must lie in [0, 1], got {foreground_ratio}")
        if int(downsample) != downsample or downsample < 1:
            raise ValueError(f"downsample must be a positive integer, got {downsample!r}")
        self.patch_size, self.downsample = size, int(downsample)
        self.foreground_ratio, self.samples_per_case = foreground_ratio, int(samples_per_case)
        self.augment, self.intensity = augment, intensity
        self._foreground: dict[int, list[np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.cases) * self.samples_per_case

    def foreground(self, index: int, seg: np.ndarray) -> list[np.ndarray]:
        """Voxel coordinates ``[N, 3]`` of each tumour label present in case ``index`` (at most 20 000 each)."""
        if index not in self._foreground:
            coords = []
            for label in (1, 2, 4):
                found = np.argwhere(np.asarray(seg) == label)
                if len(found):
                    coords.append(found[:: max(1, len(found) // 20000)].astype(np.int32))
            self._foreground[index] = coords
        return self._foreground[index]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        case_index = index % len(self.cases)
        vol = self.volume(case_index)
        native = tuple(s * self.downsample for s in self.patch_size)
        shape = vol.image.shape[1:]
        lo = [min(0, d - p) for d, p in zip(shape, native, strict=True)]
        hi = [max(0, d - p) for d, p in zip(shape, native, strict=True)]
        fg = self.foreground(case_index, vol.seg) if vol.seg is not None else []
        if fg and float(torch.rand(())) < self.foreground_ratio:
            coords = fg[int(torch.randint(len(fg), ()))]
            centre = coords[int(torch.randint(len(coords), ()))]
            start = [int(c) - p // 2 + int(torch.randint(-(p // 4), p // 4 + 1, ())) for c, p in zip(centre, native,
                                                                                                     strict=True)]
        else:
            start = [int(torch.randint(a, b + 1, ())) for a, b in zip(lo, hi, strict=True)]
        start = [min(max(s, a), b) for s, a, b in zip(start, lo, hi, strict=True)]
        image = torch.from_numpy(_extract(vol.image, start, native).astype(np.float32))
        seg = _extract(vol.seg[None], start, native)[0] if vol.seg is not None else np.zeros(native, np.uint8)
        regions = torch.from_numpy(labels_to_regions(seg).astype(np.float32))
        if self.downsample > 1:
            image = F.avg_pool3d(image[None], self.downsample)[0]
            regions = F.avg_pool3d(regions[None], self.downsample)[0]
        if self.augment:
            image, regions = self._augment(image, regions)
        return image, regions

    def _augment(self, image: torch.Tensor, regions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        axes = [d + 1 for d in range(3) if float(torch.rand(())) < 0.5]
        if axes:
            image, regions = image.flip(axes), regions.flip(axes)
        s = self.intensity
        if s > 0:
            scale = 1 + (torch.rand(image.shape[0], 1, 1, 1) * 2 - 1) * s
            shift = (torch.rand(image.shape[0], 1, 1, 1) * 2 - 1) * s
            image = torch.where(image != 0, image * scale + shift, image)
        return image.contiguous(), regions.contiguous()


def _extract(array: np.ndarray, start: Sequence[int], size: Sequence[int]) -> np.ndarray:
    """``array[:, start:start+size]`` over the last three axes, zero-padded where the box leaves the array."""
    src, dst = [], []
    for s, n, d in zip(start, size, array.shape[-3:], strict=True):
        a, b = max(s, 0), min(s + n, d)
        src.append(slice(a, b))
        dst.append(slice(a - s, b - s))
    out = np.zeros(array.shape[:-3] + tuple(size), dtype=array.dtype)
    out[(...,) + tuple(dst)] = array[(...,) + tuple(src)]
    return out


# ----------------------------------------------------------------------------------------------- display
def slice_plane(volume: np.ndarray, plane: str, index: int | None = None) -> np.ndarray:
    """One 2-D slice of an LPS volume ``[..., X, Y, Z]``, oriented as radiologists look at it.

    ``axial`` (a horizontal cut, seen from the feet: patient's right on the left of the picture, front at the
    top), ``coronal`` (seen from the front, head at the top) or ``sagittal`` (seen from the side, face on the
    left, head at the top).

    Args:
        volume: a 3-D array (or with leading axes, e.g. ``[C, X, Y, Z]``), axes in LPS order as loaded here.
        plane: ``"axial"``, ``"coronal"`` or ``"sagittal"``.
        index: the slice along the plane's normal (default: the middle one).

    Example:
        >>> slice_plane(np.zeros((4, 5, 6)), "axial").shape
        (5, 4)
    """
    axis = {"sagittal": -3, "coronal": -2, "axial": -1}.get(plane)
    if axis is None:
        raise ValueError(f"unknown plane {plane!r}; choose axial, coronal or sagittal")
    n = volume.shape[axis]
    index = n // 2 if index is None else int(index)
    if not 0 <= index < n:
        raise IndexError(f"{plane} slice {index} is outside 0..{n - 1}")
    cut = np.take(np.asarray(volume), index, axis=axis)  # [..., a, b]
    cut = np.swapaxes(cut, -1, -2)
    return cut if plane == "axial" else cut[..., ::-1, :]


def to_gray(slice2d: np.ndarray, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """Map an intensity slice to ``uint8`` grey values: ``lo`` -> 0, ``hi`` -> 255 (default: the 0.5 and 99.5
    percentiles of the non-zero voxels, so a few very bright voxels do not darken the picture)."""
    x = np.asarray(slice2d, dtype=np.float32)
    values = x[x != 0]
    if lo is None or hi is None:
        p_lo, p_hi = np.percentile(values, (0.5, 99.5)) if values.size else (0.0, 1.0)
        lo = p_lo if lo is None else lo
        hi = p_hi if hi is None else hi
    out = np.clip((x - lo) / max(hi - lo, 1e-6), 0, 1) * 255
    out[x == 0] = 0
    return out.astype(np.uint8)


def _edges(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` that touch a pixel outside it (4-neighbourhood): the contour."""
    m = np.pad(mask, 1)
    inner = m[1:-1, 1:-1] & m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]
    return mask & ~inner


def region_overlay(gray: np.ndarray, regions: np.ndarray | None = None, contours: np.ndarray | None = None,
                   alpha: float = 0.45) -> np.ndarray:
    """Draw regions over a grey slice: ``regions`` filled with the label colours, ``contours`` as outlines.

    Args:
        gray: ``uint8 [H, W]`` (see :func:`to_gray`).
        regions: ``[3, H, W]`` WT/TC/ET masks drawn filled (as labels: edema green, core red, enhancing yellow).
        contours: ``[3, H, W]`` masks drawn as outlines in :data:`REGION_PALETTE` (WT green, TC red, ET yellow).
        alpha: opacity of the filled colours.

    Returns:
        ``uint8 [H, W, 3]``.

    Example:
        >>> g = np.zeros((8, 8), np.uint8); r = np.zeros((3, 8, 8), bool); r[:, 2:6, 2:6] = True
        >>> region_overlay(g, contours=r)[2, 2].tolist()
        [250, 220, 40]
    """
    rgb = np.repeat(np.asarray(gray, np.float32)[..., None], 3, axis=-1)
    if regions is not None:
        labels = regions_to_labels(np.asarray(regions, bool))
        tint = labels > 0
        rgb[tint] = (1 - alpha) * rgb[tint] + alpha * LABEL_PALETTE[labels[tint]]
    if contours is not None:
        for r in range(3):
            rgb[_edges(np.asarray(contours[r], bool))] = REGION_PALETTE[r]
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def slice_picture(image: np.ndarray, plane: str, index: int, modality: str = "flair",
                  truth: np.ndarray | None = None, prediction: np.ndarray | None = None, zoom: int = 1) -> np.ndarray:
    """One slice of one modality with the ground truth as outlines and the prediction filled (either optional).

    Args:
        image: ``[4, X, Y, Z]`` (channels in :data:`MODALITIES` order).
        plane, index: see :func:`slice_plane`.
        modality: one of :data:`MODALITIES`.
        truth: ``[3, X, Y, Z]`` region masks, drawn as outlines.
        prediction: ``[3, X, Y, Z]`` region masks, drawn filled.
        zoom: enlarge by pixel repetition (small volumes).

    Returns:
        ``uint8 [H, W, 3]``.
    """
    if modality not in MODALITIES:
        raise ValueError(f"unknown modality {modality!r}; choose one of {MODALITIES}")
    gray = to_gray(slice_plane(np.asarray(image[MODALITIES.index(modality)], np.float32), plane, index))
    t = slice_plane(np.asarray(truth), plane, index) if truth is not None else None
    p = slice_plane(np.asarray(prediction), plane, index) if prediction is not None else None
    pic = region_overlay(gray, p, t)
    return np.repeat(np.repeat(pic, zoom, axis=0), zoom, axis=1) if zoom > 1 else pic


def _png(rgb: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="png")
    return buf.getvalue()


def viewer(image: np.ndarray, truth: np.ndarray | None = None, prediction: np.ndarray | None = None,
           zoom: int = 2):
    """An ipywidgets viewer: modality, plane (axial/coronal/sagittal) and slice, with truth and prediction.

    The ground truth is drawn as outlines (WT green, TC red, ET yellow), the prediction filled with the label
    colours; a drop-down picks what is shown. Needs a running Python kernel (Jupyter, Colab, Kaggle); on the
    static web page use :func:`slice_figure`.

    Args:
        image: ``[4, X, Y, Z]``.
        truth, prediction: ``[3, X, Y, Z]`` region masks (optional).
        zoom: pixel repetition of the picture.

    Returns:
        An ``ipywidgets.VBox`` (display it as the last line of a cell).
    """
    import ipywidgets as widgets

    planes = {"axial": -1, "coronal": -2, "sagittal": -3}
    modality = widgets.Dropdown(options=list(MODALITIES), value="flair", description="modality")
    plane = widgets.ToggleButtons(options=list(planes), value="axial", description="plane")
    shown = ["image only"] + (["ground truth"] if truth is not None else []) + \
        (["prediction"] if prediction is not None else []) + \
        (["truth + prediction"] if truth is not None and prediction is not None else [])
    overlay = widgets.Dropdown(options=shown, value=shown[-1], description="overlay")
    centre = tumour_centre(truth) if truth is not None else [s // 2 for s in image.shape[1:]]
    index = widgets.IntSlider(value=int(centre[2]), min=0, max=image.shape[-1] - 1, description="slice",
                              continuous_update=True)
    picture = widgets.Image(format="png")

    def update(change=None):
        axis = planes[plane.value]
        if change is not None and change.get("owner") is plane:
            index.max = image.shape[axis] - 1
            index.value = int(centre[axis])
        t = truth if overlay.value in ("ground truth", "truth + prediction") else None
        p = prediction if overlay.value in ("prediction", "truth + prediction") else None
        picture.value = _png(slice_picture(image, plane.value, index.value, modality.value, t, p, zoom))

    for w in (modality, plane, overlay, index):
        w.observe(update, names="value")
    update()
    return widgets.VBox([widgets.HBox([modality, overlay]), plane, index, picture])


def tumour_centre(regions: np.ndarray) -> list[int]:
    """Voxel indices of the whole tumour's centre of mass (the volume's centre when there is none).

    Args:
        regions: ``[3, X, Y, Z]`` region masks (WT first).

    Example:
        >>> r = np.zeros((3, 5, 5, 5), bool); r[0, 1, 2, 3] = True
        >>> tumour_centre(r)
        [1, 2, 3]
    """
    wt = np.asarray(regions[0], bool)
    if not wt.any():
        return [s // 2 for s in wt.shape]
    return [int(round(c)) for c in np.argwhere(wt).mean(axis=0)]


def slice_figure(image: np.ndarray, truth: np.ndarray | None = None, prediction: np.ndarray | None = None,
                 plane: str = "axial", modality: str = "flair", max_slices: int = 24, zoom: int = 2):
    """A plotly figure with a slider over the slices that hold tumour: the static-page twin of :func:`viewer`.

    Each slice is embedded as a small PNG, so the figure stays light (tens of kB per slice) and works on the
    built web page without a kernel.

    Args:
        image: ``[4, X, Y, Z]``.
        truth, prediction: ``[3, X, Y, Z]`` region masks (optional): outlines and fill.
        plane: ``axial``, ``coronal`` or ``sagittal``.
        modality: the modality shown.
        max_slices: at most this many slices (evenly spread over the tumour, or over the volume without one).
        zoom: pixel repetition.

    Returns:
        A ``plotly.graph_objects.Figure``.
    """
    import base64

    import plotly.graph_objects as go

    axis = {"axial": -1, "coronal": -2, "sagittal": -3}[plane]
    n = image.shape[axis]
    if truth is not None and np.asarray(truth[0]).any():
        other = tuple(a for a in (-3, -2, -1) if a != axis)
        hit = np.flatnonzero(np.asarray(truth[0], bool).any(axis=other))
        first, last = int(hit[0]), int(hit[-1])
    else:
        first, last = 0, n - 1
    indices = sorted(set(np.linspace(first, last, min(max_slices, last - first + 1)).round().astype(int).tolist()))
    fig = go.Figure()
    for k, i in enumerate(indices):
        pic = slice_picture(image, plane, i, modality, truth, prediction, zoom)
        uri = "data:image/png;base64," + base64.b64encode(_png(pic)).decode()
        fig.add_trace(go.Image(source=uri, visible=k == len(indices) // 2, name=f"slice {i}"))
    steps = [{"method": "update", "label": str(i),
              "args": [{"visible": [j == k for j in range(len(indices))]}, {"title": f"{plane} slice {i}"}]}
             for k, i in enumerate(indices)]
    fig.update_layout(sliders=[{"active": len(indices) // 2, "steps": steps, "currentvalue": {"prefix": "slice "}}],
                      title=f"{plane} slice {indices[len(indices) // 2]}", margin={"l": 10, "r": 10, "t": 40,
                                                                                     "b": 10},
                      height=420, xaxis={"visible": False}, yaxis={"visible": False})
    return fig


# ----------------------------------------------------------------------------------------------- sample
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


def _save_nifti(array: np.ndarray, affine: np.ndarray, path: Path) -> None:
    import nibabel as nib

    img = nib.Nifti1Image(array, affine)
    img.header.set_data_dtype(array.dtype)
    img.set_sform(affine, code=1)
    img.set_qform(affine, code=1)
    nib.save(img, str(path))


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
            _save_nifti(images[m], affine, case_dir / f"{case_id}_{modality}.nii.gz")
        _save_nifti(seg, affine, case_dir / f"{case_id}_seg.nii.gz")
    mark_sample(folder, params, "Synthetic BraTS sample (official training layout, NIfTI) written by "
                "course_lib.data.brats.write_sample; not real MRI.")
    return folder
