"""Point cloud files as the PointNet authors released ModelNet: comma-separated text and HDF5 batches.

Introduced in Chapter 6. Two formats, both read and written here (file formats only: which files form a split and
what a label means is :mod:`course_lib.data.modelnet`'s business):

* ``.txt`` (``modelnet40_normal_resampled``, PointNet++): one point per line, ``x,y,z,nx,ny,nz`` (or ``x,y,z``),
  no header;
* ``.h5`` (``modelnet40_ply_hdf5_2048``, PointNet): datasets ``data`` ``[shapes, points, 3]``, ``label``
  ``[shapes, 1]`` and optionally ``normal`` ``[shapes, points, 3]``.

Errors name the file (and the line for text files).

Example:
    >>> import tempfile
    >>> p = write_point_txt(Path(tempfile.mkdtemp()) / "cup_0001.txt", np.ones((2, 6)))
    >>> read_point_txt(p).shape
    (2, 6)
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

__all__ = ["read_point_h5", "read_point_txt", "write_point_h5", "write_point_txt"]

_FLOAT32_MAX = float(np.finfo(np.float32).max)


def read_point_txt(path: str | os.PathLike) -> np.ndarray:
    """Read a ``modelnet40_normal_resampled`` file: comma-separated ``x,y,z,nx,ny,nz`` rows, no header.

    Args:
        path: the ``.txt`` file.

    Returns:
        ``float32 [N, 6]`` (or ``[N, 3]`` for a file of three columns).

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: empty or truncated file, ragged rows, non-numbers, NaN/inf or values beyond float32; the
            message names the file (and the line).

    Example:
        >>> cloud = read_point_txt("modelnet40_normal_resampled/cup/cup_0075.txt")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: point file is missing")
    text = path.read_text(encoding="utf-8", errors="replace")
    first = next((ln for ln in text.splitlines() if ln.strip()), None)
    if first is None:
        raise ValueError(f"{path}: point file is empty")
    if not text.endswith(("\n", "\r")):
        last = len(text.splitlines())
        raise ValueError(f"{path}:{last}: the file ends in the middle of a line (truncated?); point files end with a "
                         "line break")
    columns = len(first.replace(",", " ").split())
    if columns not in (3, 6):
        raise ValueError(f"{path}:1: expected 3 or 6 comma-separated columns (x,y,z[,nx,ny,nz]), found {columns}")
    try:
        with np.errstate(over="ignore"):  # a value beyond float32 becomes inf, refused below with its line
            flat = np.array(text.replace(",", " ").split(), dtype=np.float32)
    except ValueError:
        flat = None
    rows = [ln for ln in text.splitlines() if ln.strip()]
    ragged = any(len(ln.replace(",", " ").split()) != columns for ln in rows)
    if flat is None or ragged or flat.size != columns * len(rows) or not np.isfinite(flat).all():
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            fields = line.replace(",", " ").split()
            try:
                ok = len(fields) == columns and all(math.isfinite(float(f)) and abs(float(f)) <= _FLOAT32_MAX
                                                    for f in fields)
            except ValueError:
                ok = False
            if not ok:
                raise ValueError(f"{path}:{number}: expected {columns} finite numbers (as on line 1), found "
                                 f"{len(fields)} values {line.strip()[:60]!r} (ragged rows, NaN/inf, truncated or "
                                 "corrupt file?)")
        raise ValueError(f"{path}: cannot be read as a {columns}-column point file")
    return flat.reshape(-1, columns)


def write_point_txt(path: str | os.PathLike, points: np.ndarray, decimals: int = 6) -> Path:
    """Write ``points [N, 3 or 6]`` as comma-separated rows (the resampled form's format); returns ``path``.

    The folder is created.
    """
    path = Path(path)
    rows = np.asarray(points, np.float64)
    if rows.ndim != 2 or rows.shape[1] not in (3, 6):
        raise ValueError(f"points must be [N, 3] or [N, 6], got shape {rows.shape}")
    path.parent.mkdir(parents=True, exist_ok=True)
    line = ",".join([f"%.{decimals}f"] * rows.shape[1]) + "\n"
    path.write_text(line * len(rows) % tuple(rows.ravel()), encoding="ascii")
    return path


def read_point_h5(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read one HDF5 file of the PointNet release: ``data`` ``float32 [S, P, 3]``, ``label`` ``int64 [S]`` and,
    when present, ``normal`` ``float32 [S, P, 3]``.

    Raises:
        ValueError: the file is not readable HDF5 (truncated, corrupt), lacks ``data`` or ``label``, or the
            datasets' shapes do not fit together; the message names the file.
    """
    import h5py

    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            if "data" not in f or "label" not in f:
                raise ValueError(f"{path}: HDF5 file lacks the 'data' or 'label' dataset (has {list(f)})")
            arrays = {"data": np.asarray(f["data"], np.float32),
                      "label": np.asarray(f["label"]).reshape(-1).astype(np.int64)}
            if "normal" in f:
                arrays["normal"] = np.asarray(f["normal"], np.float32)
    except OSError as err:
        raise ValueError(f"{path}: cannot be read as HDF5 (truncated or corrupt?): {err}") from None
    data, labels = arrays["data"], arrays["label"]
    for key in ("data", "normal"):
        if key in arrays and not np.isfinite(arrays[key]).all():
            bad = np.argwhere(~np.isfinite(arrays[key]))[0].tolist()
            raise ValueError(f"{path}: '{key}' holds NaN or infinite values (first at index {bad}, or a value beyond "
                             "the float32 range)")
    if data.ndim != 3 or data.shape[2] != 3:
        raise ValueError(f"{path}: 'data' must be [shapes, points, 3], found shape {data.shape}")
    if len(labels) != len(data):
        raise ValueError(f"{path}: {len(data)} clouds in 'data' but {len(labels)} entries in 'label'")
    if "normal" in arrays and arrays["normal"].shape != data.shape:
        raise ValueError(f"{path}: 'normal' has shape {arrays['normal'].shape}, 'data' {data.shape}")
    return arrays


def write_point_h5(path: str | os.PathLike, points: np.ndarray, labels: np.ndarray) -> Path:
    """Write clouds ``[S, P, 3 or 6]`` and labels ``[S]`` in the PointNet HDF5 layout (``data``, ``normal`` when
    the clouds have 6 columns, ``label`` as ``uint8 [S, 1]``); returns ``path``."""
    import h5py

    path = Path(path)
    points = np.asarray(points)
    if points.ndim != 3 or points.shape[2] not in (3, 6):
        raise ValueError(f"points must be [S, P, 3] or [S, P, 6], got shape {points.shape}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=points[:, :, :3].astype(np.float32))
        if points.shape[2] == 6:
            f.create_dataset("normal", data=points[:, :, 3:6].astype(np.float32))
        f.create_dataset("label", data=np.asarray(labels, np.uint8).reshape(-1, 1))
    return path
