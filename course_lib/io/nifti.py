"""NIfTI volumes (``.nii`` / ``.nii.gz``), read and written with nibabel; errors name the file.

Introduced in Chapter 3 (BraTS). A NIfTI file holds an array and an *affine*, the 4 x 4 matrix from voxel indices
to millimetres in the scanner's coordinate system. :func:`read_nifti` reads the whole file (a truncated or damaged
file fails here, naming it, not later in training) and reorders the array axes to LPS (:func:`to_lps`: the first
axis runs towards the patient's Left, the second towards Posterior, the third towards Superior, as BraTS stores
its volumes), so that "axial slice ``k``" means the same for every file. :func:`save_nifti` writes a volume with
its sform and qform set, as the BraTS files are.

Example:
    >>> import tempfile; path = Path(tempfile.mkdtemp()) / "v.nii.gz"
    >>> affine = np.diag([-1.0, -1.0, 1.0, 1.0])
    >>> save_nifti(np.arange(24, dtype=np.int16).reshape(2, 3, 4), affine, path)
    >>> array, stored = read_nifti(path)
    >>> array.shape, array.dtype, bool(np.allclose(stored, affine))
    ((2, 3, 4), dtype('float32'), True)
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["LPS", "read_nifti", "save_nifti", "to_lps"]

#: The axis codes of the BraTS volumes: towards Left, Posterior, Superior.
LPS = ("L", "P", "S")


def read_nifti(path: str | os.PathLike, what: str = "volume", integer: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Read one NIfTI file fully, in LPS orientation; returns ``(array, affine)`` (the affine as stored).

    Args:
        path: a ``.nii`` or ``.nii.gz`` file.
        what: what the file is, for error messages (``"flair image of BraTS2021_00000"``).
        integer: return the stored integer values (label maps) instead of ``float32`` (images, with the
            header's scaling applied).

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: the file is empty, truncated, not NIfTI, not 3-D, holds NaN/inf, or (``integer``) holds
            non-integer values.

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
    if np.issubdtype(data.dtype, np.floating) and not np.isfinite(data).all():
        count = int((~np.isfinite(data)).sum())
        raise ValueError(f"{path}: {what} holds {count} NaN or infinite voxel(s) (or values beyond the float32 "
                         "range); a volume must be finite")
    if integer:
        if not np.issubdtype(data.dtype, np.integer):
            rounded = np.rint(data)
            if not np.array_equal(rounded, data):
                raise ValueError(f"{path}: {what} holds non-integer values (a label map must hold class indices)")
            data = rounded
        data = data.astype(np.int16 if data.min() < 0 or data.max() > 255 else np.uint8, copy=False)
    return to_lps(data, img.affine), np.asarray(img.affine, np.float64)


def to_lps(data: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Reorder/flip the array axes so that they run towards Left, Posterior, Superior (BraTS' own orientation).

    Args:
        data: a 3-D array as stored in the file.
        affine: the file's affine.

    Returns:
        ``data`` itself when it is already LPS, else a reoriented contiguous copy.

    Example:
        >>> ras = np.diag([1.0, 1.0, 1.0, 1.0])  # towards Right, Anterior, Superior: the first two axes flip
        >>> to_lps(np.arange(4).reshape(2, 2, 1), ras)[..., 0].tolist()
        [[3, 2], [1, 0]]
    """
    import nibabel as nib

    ornt = nib.orientations.io_orientation(affine)
    target = nib.orientations.axcodes2ornt(LPS)
    if np.array_equal(ornt, target):
        return data
    return np.ascontiguousarray(nib.orientations.apply_orientation(data, nib.orientations.ornt_transform(ornt,
                                                                                                        target)))


def save_nifti(array: np.ndarray, affine: np.ndarray, path: str | os.PathLike) -> None:
    """Write ``array`` as a NIfTI-1 file with its dtype, and sform and qform set to ``affine`` (code 1).

    Args:
        array: the volume (its dtype is stored as is: ``int16`` images, ``uint8`` label maps).
        affine: the 4 x 4 voxel-to-millimetre matrix.
        path: the file (``.nii.gz`` compresses it).
    """
    import nibabel as nib

    img = nib.Nifti1Image(array, affine)
    img.header.set_data_dtype(array.dtype)
    img.set_sform(affine, code=1)
    img.set_qform(affine, code=1)
    nib.save(img, str(path))
