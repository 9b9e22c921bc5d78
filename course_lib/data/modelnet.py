"""ModelNet40 and ModelNet10 3D shapes as point clouds, read in the three forms people download.

Introduced in Chapter 6 (PointNet, Qi et al., https://arxiv.org/abs/1612.00593, and PointNet++,
https://arxiv.org/abs/1706.02413). ModelNet40 (Wu et al., 3D ShapeNets, https://arxiv.org/abs/1406.5670) holds
12 311 CAD models of 40 object classes (9 843 for training, 2 468 for testing); ModelNet10 is its 10-class subset
(3 991 / 908). The official layouts, all read by :class:`ModelNet` with the same code:

``off`` (the original meshes, ``ModelNet40.zip`` / ``ModelNet10.zip`` from Princeton)::

    ModelNet40/<class>/train/<class>_0001.off ...     ModelNet40/<class>/test/<class>_0627.off ...

``resampled`` (``modelnet40_normal_resampled.zip``, released with PointNet++: 10 000 points with normals each)::

    modelnet40_normal_resampled/<class>/<class>_0001.txt      "x,y,z,nx,ny,nz" per line, no header
    modelnet40_normal_resampled/modelnet40_shape_names.txt    the 40 class names, one per line (index = line)
    modelnet40_normal_resampled/modelnet40_{train,test}.txt   shape ids, e.g. "airplane_0001"
    modelnet40_normal_resampled/modelnet10_{shape_names,train,test}.txt, filelist.txt

``h5`` (``modelnet40_ply_hdf5_2048.zip``, released with PointNet: 2 048 points per shape)::

    modelnet40_ply_hdf5_2048/ply_data_{train0..4,test0..1}.h5  datasets data [N,2048,3], label [N,1], normal [N,2048,3]
    modelnet40_ply_hdf5_2048/{train,test}_files.txt            the .h5 files of each split (paths of the authors' tree)
    modelnet40_ply_hdf5_2048/shape_names.txt

What the loader does about the real files:

* meshes are read by :func:`course_lib.data.off.read_off` (glued ``OFF3514 3546 0`` headers, comments, polygons),
  then sampled with open3d: area-weighted uniform sampling (``sampling="uniform"``, what PointNet did) or Poisson
  disk sampling (``"poisson"``, evenly spread points), with the normal of the triangle each point lies on. The
  samples, and the parsed ``.txt`` clouds, are cached as ``.npy`` arrays (``cache_dir``), so later epochs and runs
  neither re-parse nor re-sample; the cache key holds the file's path, size and modification time;
* mesh coordinates are raw CAD units and not centred (an airplane spans 1 200 units), so every cloud is moved to
  its centroid and scaled into the unit sphere (:func:`normalize_to_unit_sphere`);
* the official lists name shapes that may be absent from a partial copy (the real ``filelist.txt`` names 12 311):
  they are skipped and counted (``num_missing``), not an error;
* the class index is the line of the class in the official class list (``modelnet40_shape_names.txt``, or the
  built-in :data:`MODELNET40_CLASSES` for the meshes, which come without one), so a subset keeps the real indices;
* without ``modelnet40_{train,test}.txt`` the split of a ``.txt`` cloud is derived from its id and the official
  per-class training-set sizes (:data:`MODELNET40_TRAIN_COUNTS`: ids ``1..n`` are train, as in the mesh archive);
* the up axis differs: z for the meshes, y for the two point-cloud releases (:data:`UP_AXIS`). Rotation
  augmentation turns the shapes about that axis.

A validation split is carved out of the official training split (``val_fraction``, stratified by class and
deterministic), so that no model is ever selected on the test set.

``write_sample(root)`` writes primitive shapes made with open3d (spheres, boxes, tori, ...: :data:`SAMPLE_CLASSES`)
in all three layouts, with the quirks of the real files (glued headers, comments, quad faces), plus a class list
``shape_names.txt`` next to the meshes because its classes are not ModelNet's.
"""

from __future__ import annotations

import colorsys
import hashlib
import json
import math
import os
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .common import SAMPLE_MARKER, mark_sample, sample_is_current
from .off import read_off, write_off

__all__ = [
    "DOWNLOAD_NOTE",
    "FORMS",
    "MODELNET10_CLASSES",
    "MODELNET40_CLASSES",
    "MODELNET40_PALETTE",
    "IGNORE_INDEX",
    "MODELNET40_TRAIN_COUNTS",
    "ModelNet",
    "PointAugment",
    "SAMPLE_CLASSES",
    "SAMPLE_PRIMITIVES",
    "ShapeRecord",
    "UP_AXIS",
    "download",
    "find_forms",
    "find_root",
    "load_mesh_points",
    "normalize_to_unit_sphere",
    "read_point_txt",
    "rotation_about_axis",
    "sample_mesh",
    "write_sample",
]

MODELNET40_CLASSES = (
    "airplane", "bathtub", "bed", "bench", "bookshelf", "bottle", "bowl", "car", "chair", "cone", "cup", "curtain",
    "desk", "door", "dresser", "flower_pot", "glass_box", "guitar", "keyboard", "lamp", "laptop", "mantel", "monitor",
    "night_stand", "person", "piano", "plant", "radio", "range_hood", "sink", "sofa", "stairs", "stool", "table",
    "tent", "toilet", "tv_stand", "vase", "wardrobe", "xbox",
)  # fmt: skip
MODELNET10_CLASSES = (
    "bathtub", "bed", "chair", "desk", "dresser", "monitor", "night_stand", "sofa", "table", "toilet",
)  # fmt: skip
#: Official training-set size of each class (the mesh archive's ``train/`` folders); shape ids ``1..n`` are train,
#: the following ids test. 9 843 in all; ModelNet10 uses the same counts for its classes.
MODELNET40_TRAIN_COUNTS = {
    "airplane": 626, "bathtub": 106, "bed": 515, "bench": 173, "bookshelf": 572, "bottle": 335, "bowl": 64,
    "car": 197, "chair": 889, "cone": 167, "cup": 79, "curtain": 138, "desk": 200, "door": 109, "dresser": 200,
    "flower_pot": 149, "glass_box": 171, "guitar": 155, "keyboard": 145, "lamp": 124, "laptop": 149, "mantel": 284,
    "monitor": 465, "night_stand": 200, "person": 88, "piano": 231, "plant": 240, "radio": 104, "range_hood": 115,
    "sink": 128, "sofa": 680, "stairs": 124, "stool": 90, "table": 392, "tent": 163, "toilet": 344, "tv_stand": 267,
    "vase": 475, "wardrobe": 87, "xbox": 103,
}  # fmt: skip

#: One RGB colour per ModelNet40 class (evenly spaced hues), for plots and :data:`course_lib.data.DATASETS`.
MODELNET40_PALETTE = np.array(
    [[int(255 * v) for v in colorsys.hsv_to_rgb(i / 40, 0.65 + 0.35 * (i % 2), 0.95 - 0.25 * (i % 3 == 2))]
     for i in range(40)], dtype=np.uint8)
#: Classification has no void label; -100 is PyTorch's "ignore nothing" default of ``cross_entropy``.
IGNORE_INDEX = -100

FORMS = ("off", "resampled", "h5")
#: Usual folder names of each form (tried first when searching).
FORM_FOLDERS = {
    "off": ("ModelNet40", "ModelNet10"),
    "resampled": ("modelnet40_normal_resampled",),
    "h5": ("modelnet40_ply_hdf5_2048",),
}
#: The axis that points up in each form (0 = x, 1 = y, 2 = z).
UP_AXIS = {"off": 2, "resampled": 1, "h5": 1}
SPLITS = ("train", "val", "trainval", "test")
#: Classes of the synthetic sample written by :func:`write_sample`.
SAMPLE_CLASSES = (
    "sphere", "hemisphere", "box", "cylinder", "cone", "torus", "tetrahedron", "octahedron", "cross", "arrow",
    "mobius", "table",
)  # fmt: skip
#: Every primitive :func:`write_sample` can make (the icosahedron, too close to a sphere at 256 points, is left out
#: of the default classes).
SAMPLE_PRIMITIVES = (*SAMPLE_CLASSES, "icosahedron")
_SHAPE_NAMES_FILES = ("modelnet{v}_shape_names.txt", "shape_names.txt")
_ID = re.compile(r"^(?P<cls>.+)_(?P<num>\d+)$")


# ----------------------------------------------------------------------------------------------- download
DOWNLOAD_NOTE = """\
ModelNet40 / ModelNet10 (Princeton ModelNet): 12 311 / 4 899 CAD meshes in 40 / 10 classes, official train/test split.
Get it: course_lib.data.modelnet.download(root) fetches ModelNet40.zip (the OFF meshes) from the Princeton ModelNet
page, https://modelnet.cs.princeton.edu/; download(root, forms=("off10",)) fetches ModelNet10.zip. No checksum is
published, so the hash of the first download is trusted. The point-cloud releases of the PointNet authors,
modelnet40_normal_resampled.zip and modelnet40_ply_hdf5_2048.zip, were hosted on shapenet.cs.stanford.edu, which
is often offline: download(root, forms=("resampled", "h5")) tries it; otherwise unpack a copy under root yourself.
Terms: the CAD models were collected from the Internet and belong to their authors; the labels are free to use;
academic research use only.
Cite: Z. Wu, S. Song, A. Khosla, F. Yu, L. Zhang, X. Tang, J. Xiao, "3D ShapeNets: A Deep Representation for
Volumetric Shapes", CVPR 2015 (arXiv:1406.5670)."""

_URLS = {
    "off": ("http://modelnet.cs.princeton.edu/ModelNet40.zip", "ModelNet40.zip"),
    "off10": ("http://3dvision.princeton.edu/projects/2014/3DShapeNets/ModelNet10.zip", "ModelNet10.zip"),
    "resampled": ("https://shapenet.cs.stanford.edu/media/modelnet40_normal_resampled.zip",
                  "modelnet40_normal_resampled.zip"),
    "h5": ("https://shapenet.cs.stanford.edu/media/modelnet40_ply_hdf5_2048.zip", "modelnet40_ply_hdf5_2048.zip"),
}


def _resources(forms: Sequence[str] = ("off",)) -> list:
    from course_lib.download import Resource

    out = []
    for form in forms:
        if form not in _URLS:
            raise ValueError(f"unknown ModelNet download {form!r}; choose from {sorted(_URLS)}")
        url, name = _URLS[form]
        out.append(Resource(url=url, filename=name, extract=True,
                            note="no checksum is published for this archive; the hash of the first download is "
                                 "trusted (trust on first use)."))
    return out


def __getattr__(name: str):
    # RESOURCES is built on first access, so that this module imports without course_lib.download.
    if name == "RESOURCES":
        return _resources(("off",))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def download(root: str | os.PathLike, forms: Sequence[str] = ("off",)) -> Path:
    """Download and unpack ModelNet archives under ``root``; returns the folder holding the unpacked forms.

    Args:
        root: the folder to download into (archives go to ``root/downloads``).
        forms: any of ``"off"`` (ModelNet40.zip), ``"off10"`` (ModelNet10.zip), ``"resampled"``, ``"h5"``.

    Example:
        >>> folder = download("data/modelnet")  # doctest: +SKIP
    """
    from course_lib.download import fetch

    root = Path(root).expanduser()
    for resource in _resources(forms):
        fetch(resource, root)
    return find_root(root)


# ----------------------------------------------------------------------------------------------- finding the forms
def _has_class_subfolders_with(folder: Path, pattern: str, in_split: bool) -> bool:
    try:
        children = [c for c in folder.iterdir() if c.is_dir() and not c.name.startswith((".", "__"))]
    except (PermissionError, NotADirectoryError, FileNotFoundError):
        return False
    for child in children[:64]:
        places = [child / "train", child / "test"] if in_split else [child]
        for place in places:
            if place.is_dir() and next(place.glob(pattern.format(cls=child.name)), None) is not None:
                return True
    return False


def _is_form(folder: Path, form: str) -> bool:
    if form == "off":
        return _has_class_subfolders_with(folder, "*.off", in_split=True)
    if form == "resampled":
        return _has_class_subfolders_with(folder, "{cls}_*.txt", in_split=False)
    return (folder / "train_files.txt").is_file() or next(folder.glob("*.h5"), None) is not None


def find_forms(path: str | os.PathLike, variant: int = 40, max_depth: int = 3) -> dict[str, Path]:
    """Find the ModelNet forms at ``path`` or up to ``max_depth`` folder levels below it.

    The search is breadth first and stops at the first depth where something is found; among folders of one form,
    the usual names come first (``ModelNet{variant}`` before the other mesh folder).

    Args:
        path: a form folder, the folder holding the forms, or a folder above it.
        variant: 40 or 10; picks ``ModelNet10`` over ``ModelNet40`` for the meshes when both exist.
        max_depth: how many levels to search below ``path``.

    Returns:
        ``{form: folder}`` for the forms found (possibly empty).

    Example:
        >>> find_forms("../shared/data/modelnet")  # doctest: +SKIP
        {'off': PosixPath('.../ModelNet40'), 'resampled': PosixPath('.../modelnet40_normal_resampled')}
    """
    start = Path(path).expanduser()
    if not start.is_dir():
        raise FileNotFoundError(f"{start}: no such folder (looked for ModelNet)")
    preferred = {"off": (f"ModelNet{variant}", "ModelNet40", "ModelNet10"), **{k: v for k, v in FORM_FOLDERS.items()
                                                                              if k != "off"}}
    level = [start]
    for _ in range(max_depth + 1):
        found: dict[str, list[Path]] = {}
        for folder in level:
            for form in FORMS:
                if _is_form(folder, form):
                    found.setdefault(form, []).append(folder)
        if found:
            out = {}
            for form, folders in found.items():
                rank: dict[str, int] = {}
                for i, name in enumerate(preferred[form]):
                    rank.setdefault(name, i)  # the first mention wins
                out[form] = sorted(folders, key=lambda p: (rank.get(p.name, len(rank)), str(p)))[0]
            return {form: out[form] for form in FORMS if form in out}
        children: list[Path] = []
        for folder in level:
            try:
                children += sorted(c for c in folder.iterdir() if c.is_dir() and not c.name.startswith((".", "__")))
            except (PermissionError, NotADirectoryError):
                continue
        level = children
    return {}


def find_root(root: str | os.PathLike) -> Path:
    """The folder that holds the ModelNet form folders (or the form folder itself when ``root`` is one).

    Raises:
        FileNotFoundError: no ModelNet form at ``root`` or up to three levels below it.

    Example:
        >>> find_root("../shared/data")  # doctest: +SKIP
        PosixPath('../shared/data/modelnet')
    """
    forms = find_forms(root)
    if not forms:
        raise FileNotFoundError(f"{root}: found no ModelNet data there or up to 3 levels below it (looked for "
                                "ModelNet40/<class>/train/*.off, modelnet40_normal_resampled/<class>/*.txt, "
                                "modelnet40_ply_hdf5_2048/*.h5). Get it with course_lib.data.modelnet.download(root) "
                                "or write the synthetic sample with course_lib.data.modelnet.write_sample(root).")
    folders = {p.resolve() for p in forms.values()}
    start = Path(root).expanduser()
    if len(folders) == 1 and start.resolve() in folders:
        return start
    parents = {p.parent for p in forms.values()}
    return parents.pop() if len(parents) == 1 else start


# ----------------------------------------------------------------------------------------------- geometry
def normalize_to_unit_sphere(points: np.ndarray) -> np.ndarray:
    """Move a cloud's centroid to the origin and scale it so that its farthest point lies on the unit sphere.

    Only the first three columns (x, y, z) change; normals in columns 3..5 are kept.

    Args:
        points: ``[N, 3]`` or ``[N, 6]``.

    Example:
        >>> p = normalize_to_unit_sphere(np.array([[10., 0, 0], [14., 0, 0]]))
        >>> p[:, 0].tolist()
        [-1.0, 1.0]
    """
    points = np.array(points, dtype=np.float32, copy=True)
    xyz = points[:, :3]
    xyz -= xyz.mean(axis=0)
    radius = float(np.sqrt((xyz ** 2).sum(axis=1)).max()) if len(xyz) else 0.0
    if radius > 0:
        xyz /= radius
    return points


def rotation_about_axis(angle: float | torch.Tensor, axis: int) -> torch.Tensor:
    """The 3x3 rotation matrix of ``angle`` radians about coordinate axis ``axis`` (0 = x, 1 = y, 2 = z).

    Points are row vectors here: a cloud ``P [N, 3]`` is rotated as ``P @ R.T``.

    Example:
        >>> R = rotation_about_axis(math.pi / 2, axis=2)
        >>> (torch.tensor([[1.0, 0.0, 0.0]]) @ R.T).round().abs().tolist()
        [[0.0, 1.0, 0.0]]
    """
    angle = torch.as_tensor(angle, dtype=torch.float32)
    c, s = torch.cos(angle), torch.sin(angle)
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    R = torch.eye(3)
    R[i, i], R[i, j], R[j, i], R[j, j] = c, -s, s, c
    return R


@dataclass
class PointAugment:
    """Training augmentation of a cloud ``[N, 3 or 6]`` (normals, when present, turn with the points).

    Applied in this order, each with the PointNet / PointNet++ defaults:

    * ``rotate``: a random rotation about the up axis (ModelNet shapes stand upright but face any direction);
    * ``scale``: one random factor in ``scale`` for the whole cloud;
    * ``shift``: a random translation of up to ``shift`` per axis;
    * ``jitter``: Gaussian noise of standard deviation ``jitter[0]`` clipped to ``+-jitter[1]`` on each coordinate;
    * ``dropout``: drop a random fraction (up to ``dropout``) of the points, replacing them by the first point so
      that the number of points stays fixed (PointNet++'s random input dropout).

    Random numbers come from torch, so DataLoader workers get independent streams.

    Args:
        up_axis: 0, 1 or 2 (see :data:`UP_AXIS`).
        rotate: rotate about the up axis.
        scale: ``(low, high)`` or ``None``.
        shift: maximum translation or 0.
        jitter: ``(sigma, clip)`` or ``None``.
        dropout: maximum dropped fraction or 0.

    Example:
        >>> aug = PointAugment(up_axis=2, dropout=0.0)
        >>> aug(torch.randn(128, 3)).shape
        torch.Size([128, 3])
    """

    up_axis: int = 1
    rotate: bool = True
    scale: tuple[float, float] | None = (0.8, 1.25)
    shift: float = 0.1
    jitter: tuple[float, float] | None = (0.01, 0.05)
    dropout: float = 0.875

    def __call__(self, points: torch.Tensor) -> torch.Tensor:
        points = points.clone()
        xyz = points[:, :3]
        if self.rotate:
            R = rotation_about_axis(torch.rand(()) * 2 * math.pi, self.up_axis)
            xyz = xyz @ R.T
            if points.shape[1] >= 6:
                points[:, 3:6] = points[:, 3:6] @ R.T
        if self.scale:
            low, high = self.scale
            xyz = xyz * (low + (high - low) * torch.rand(()))
        if self.shift:
            xyz = xyz + (torch.rand(3) * 2 - 1) * self.shift
        if self.jitter:
            sigma, clip = self.jitter
            xyz = xyz + (torch.randn_like(xyz) * sigma).clamp(-clip, clip)
        points[:, :3] = xyz
        if self.dropout:
            ratio = torch.rand(()) * self.dropout
            drop = torch.rand(len(points)) <= ratio
            if drop.any():
                points[drop] = points[0].clone()
        return points


# ----------------------------------------------------------------------------------------------- reading one shape
def read_point_txt(path: str | os.PathLike) -> np.ndarray:
    """Read a ``modelnet40_normal_resampled`` file: comma-separated ``x,y,z,nx,ny,nz`` rows, no header.

    Args:
        path: the ``.txt`` file.

    Returns:
        ``float32 [N, 6]`` (or ``[N, 3]`` for a file of three columns).

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: empty file, ragged rows or non-numbers; the message names the file (and the line).

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
    columns = len(first.replace(",", " ").split())
    if columns not in (3, 6):
        raise ValueError(f"{path}:1: expected 3 or 6 comma-separated columns (x,y,z[,nx,ny,nz]), found {columns}")
    try:
        flat = np.array(text.replace(",", " ").split(), dtype=np.float32)
    except ValueError:
        flat = None
    rows = [ln for ln in text.splitlines() if ln.strip()]
    if flat is None or flat.size != columns * len(rows) or not np.isfinite(flat).all():
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            fields = line.replace(",", " ").split()
            try:
                ok = len(fields) == columns and all(math.isfinite(float(f)) for f in fields)
            except ValueError:
                ok = False
            if not ok:
                raise ValueError(f"{path}:{number}: expected {columns} numbers, found {line.strip()[:60]!r} "
                                 "(truncated or corrupt file?)")
        raise ValueError(f"{path}: cannot be read as a {columns}-column point file")
    return flat.reshape(-1, columns)


def sample_mesh(vertices: np.ndarray, faces: np.ndarray, num_points: int, method: str = "uniform", seed: int = 0,
                source: str = "mesh") -> np.ndarray:
    """Sample points on a triangle mesh with open3d; each point carries the normal of its triangle.

    Args:
        vertices: ``[V, 3]``.
        faces: ``[F, 3]`` triangles.
        num_points: how many points.
        method: ``"uniform"`` (area-weighted uniform sampling: each triangle gets points in proportion to its
            area, so the density is the same everywhere on the surface) or ``"poisson"`` (Poisson disk sampling:
            evenly spaced points, slower).
        seed: open3d's random seed (the same seed gives the same points).
        source: a name for error messages (the file).

    Returns:
        ``float32 [num_points, 6]``: x, y, z and the unit normal.

    Example:
        >>> v = np.array([[0., 0, 0], [1, 0, 0], [0, 1, 0]]); f = np.array([[0, 1, 2]])
        >>> sample_mesh(v, f, 5).shape
        (5, 6)
    """
    import open3d as o3d

    if method not in ("uniform", "poisson"):
        raise ValueError(f"unknown sampling method {method!r}; choose 'uniform' or 'poisson'")
    if len(faces) == 0:
        raise ValueError(f"{source}: the mesh has no faces, nothing to sample")
    mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(np.asarray(vertices, np.float64)),
                                     o3d.utility.Vector3iVector(np.asarray(faces, np.int32)))
    area = mesh.get_surface_area()
    if not area > 0:
        raise ValueError(f"{source}: the mesh has zero surface area (degenerate triangles), nothing to sample")
    o3d.utility.random.seed(int(seed) % (2**31))
    if method == "uniform":
        cloud = mesh.sample_points_uniformly(number_of_points=num_points, use_triangle_normal=True)
    else:
        cloud = mesh.sample_points_poisson_disk(number_of_points=num_points, init_factor=5, use_triangle_normal=True)
    points = np.asarray(cloud.points, np.float32)
    normals = np.asarray(cloud.normals, np.float32)
    if len(points) != num_points:  # Poisson disk sampling may return a few points less
        extra = np.random.default_rng(seed).integers(0, len(points), num_points - len(points))
        points, normals = np.concatenate([points, points[extra]]), np.concatenate([normals, normals[extra]])
    return np.concatenate([points, normals], axis=1)


def _cache_path(cache_dir: Path, source: Path, how: str) -> Path:
    stat = source.stat()
    key = hashlib.sha1(f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{how}".encode()).hexdigest()
    return cache_dir / key[:2] / f"{source.stem}-{key[:16]}.npy"


def _cached(cache_dir: Path | None, source: Path, how: str, compute) -> np.ndarray:
    """``compute()`` once per (file, size, mtime, how); later calls load the saved ``.npy``."""
    if cache_dir is None:
        return compute()
    path = _cache_path(cache_dir, source, how)
    if path.is_file():
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            pass  # a damaged cache entry is recomputed
    array = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, array, allow_pickle=False)
    os.replace(tmp, path)
    return array


def load_mesh_points(path: str | os.PathLike, num_points: int = 2048, method: str = "uniform", seed: int = 0,
                     cache_dir: str | os.PathLike | None = None) -> np.ndarray:
    """Read an ``.off`` mesh and sample ``num_points`` on it (cached as ``.npy`` when ``cache_dir`` is given).

    Args:
        path: the ``.off`` file.
        num_points: points to sample.
        method: ``"uniform"`` or ``"poisson"`` (see :func:`sample_mesh`).
        seed: sampling seed.
        cache_dir: where to keep sampled clouds; ``None`` = sample every time.

    Returns:
        ``float32 [num_points, 6]`` in the mesh's own units (not normalised).

    Example:
        >>> pts = load_mesh_points("ModelNet40/bed/train/bed_0001.off", 1024, cache_dir="data/cache")  # doctest: +SKIP
    """
    path = Path(path)

    def compute() -> np.ndarray:
        mesh = read_off(path)
        return sample_mesh(mesh.vertices, mesh.faces, num_points, method, seed, source=str(path))

    return _cached(Path(cache_dir) if cache_dir else None, path, f"{method}-{num_points}-{seed}", compute)


# ----------------------------------------------------------------------------------------------- the dataset
@dataclass(frozen=True)
class ShapeRecord:
    """One shape of a split: its name (``airplane_0001``), class index, file, and row (HDF5 files only)."""

    name: str
    label: int
    path: Path
    row: int | None = None


def _read_names(path: Path) -> tuple[str, ...]:
    names = tuple(ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip())
    if not names:
        raise ValueError(f"{path}: class list is empty")
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: class list names a class twice")
    return names


def _class_list(folder: Path, variant: int) -> tuple[tuple[str, ...], Path | None]:
    """The class list of a form folder: its shape-names file, else the official list of the variant."""
    for pattern in _SHAPE_NAMES_FILES:
        candidate = folder / pattern.format(v=variant)
        if candidate.is_file():
            return _read_names(candidate), candidate
    return (MODELNET40_CLASSES if variant == 40 else MODELNET10_CLASSES), None


def _split_id(name: str, where: str) -> tuple[str, int]:
    match = _ID.match(name)
    if not match:
        raise ValueError(f"{where}: shape id {name!r} is not of the form <class>_<number>")
    return match.group("cls"), int(match.group("num"))


class ModelNet(Dataset):
    """ModelNet40 / ModelNet10 shapes as point clouds: ``(points float32 [N, 3 or 6], label int64)``.

    Reads the mesh, resampled and HDF5 forms (see the module docstring) with one code path: each shape is loaded
    (meshes sampled, cached), ``num_points`` points are picked (at random for training, the first ones for
    evaluation), moved into the unit sphere and, for training, augmented.

    Args:
        root: a form folder (``ModelNet40``, ``modelnet40_normal_resampled``, ...), the folder holding them, or a
            folder up to three levels above.
        split: ``"train"`` (the official training shapes minus the validation part), ``"val"`` (the validation
            part: ``val_fraction`` of each class, chosen deterministically), ``"trainval"`` (all official training
            shapes) or ``"test"`` (the official test shapes).
        variant: 40 or 10 (ModelNet40 or ModelNet10).
        form: ``"off"``, ``"resampled"``, ``"h5"`` or ``"auto"`` (the first of these found).
        num_points: points per cloud returned.
        use_normals: return ``[N, 6]`` with the unit normals (error if the form has none).
        sampling: ``"uniform"`` or ``"poisson"`` for meshes.
        mesh_points: points sampled (and cached) per mesh; ``num_points`` are drawn from them.
        val_fraction: share of each class's training shapes held out as ``"val"``.
        augment: a :class:`PointAugment`, ``True`` (the default augmentation, for the training splits only) or
            ``None``.
        cache_dir: where sampled/parsed clouds are cached; ``"auto"`` = ``<data root>/cache/modelnet``;
            ``None`` = no cache.
        max_per_class: keep at most this many shapes per class (quick runs).
        classes: override the class list (names in index order).
        verbose: print what was skipped.
        seed: mesh sampling seed (added to a hash of each shape's name).

    Attributes:
        classes, form, folder (the form folder), up_axis, items (list of :class:`ShapeRecord`), num_missing
        (listed shapes or files that are absent and were skipped), class_list_file.

    Example:
        >>> ds = ModelNet(write_sample(tmp), "train", num_points=512)  # doctest: +SKIP
        >>> points, label = ds[0]; points.shape  # doctest: +SKIP
        torch.Size([512, 3])
    """

    def __init__(self, root: str | os.PathLike, split: str = "train", *, variant: int = 40, form: str = "auto",
                 num_points: int = 1024, use_normals: bool = False, sampling: str = "uniform",
                 mesh_points: int = 2048, val_fraction: float = 0.1, augment: PointAugment | bool | None = None,
                 cache_dir: str | os.PathLike | None = "auto", max_per_class: int | None = None,
                 classes: Sequence[str] | None = None, verbose: bool = True, seed: int = 0) -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown ModelNet split {split!r}; choose one of {SPLITS}")
        if variant not in (10, 40):
            raise ValueError(f"variant must be 40 (ModelNet40) or 10 (ModelNet10), got {variant!r}")
        if form not in (*FORMS, "auto"):
            raise ValueError(f"unknown form {form!r}; choose one of {FORMS} or 'auto'")
        if not 0.0 <= val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
        if num_points < 1 or mesh_points < 1:
            raise ValueError("num_points and mesh_points must be positive")
        forms = find_forms(root, variant)
        if not forms:
            find_root(root)  # raises the explanatory FileNotFoundError
        if form == "auto":
            form = next(f for f in FORMS if f in forms)
        elif form not in forms:
            raise FileNotFoundError(f"{root}: no ModelNet data in the {form!r} form there (found: "
                                    f"{', '.join(f'{k} at {v}' for k, v in forms.items()) or 'nothing'})")
        self.form, self.folder, self.split, self.variant = form, forms[form], split, variant
        self.num_points, self.use_normals, self.sampling, self.mesh_points = num_points, use_normals, sampling, \
            mesh_points
        self.up_axis = UP_AXIS[form]
        self.seed, self.verbose = seed, verbose
        if cache_dir == "auto":
            from ..config import data_root

            cache_dir = data_root() / "cache" / "modelnet"
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.num_missing = 0
        self.missing_examples: list[str] = []
        if classes is not None:
            self.classes, self.class_list_file = tuple(classes), None
        else:
            self.classes, self.class_list_file = _class_list(self.folder, variant)
        self._h5: dict[Path, dict[str, np.ndarray]] = {}
        official = "test" if split == "test" else "train"
        items = {"off": self._scan_off, "resampled": self._scan_resampled, "h5": self._scan_h5}[form](official)
        if split in ("train", "val") and val_fraction > 0:
            held = _validation_names(items, val_fraction)
            items = [it for it in items if (it.name in held) == (split == "val")]
        if max_per_class is not None:
            if max_per_class < 1:
                raise ValueError(f"max_per_class must be positive or None, got {max_per_class}")
            seen: dict[int, int] = {}
            kept = []
            for it in items:
                seen[it.label] = seen.get(it.label, 0) + 1
                if seen[it.label] <= max_per_class:
                    kept.append(it)
            items = kept
        if not items:
            raise ValueError(f"{self.folder}: the {form!r} form holds no shapes of split {split!r}"
                             + (f" ({self.num_missing} listed shapes are absent)" if self.num_missing else ""))
        self.items: list[ShapeRecord] = items
        if verbose and self.num_missing:
            print(f"ModelNet {form} {split}: {self.num_missing} listed shapes are absent and were skipped "
                  f"(e.g. {', '.join(self.missing_examples[:3])}); using the {len(items)} present")
        if augment is True:
            augment = PointAugment(up_axis=self.up_axis) if split in ("train", "trainval") else None
        self.augment = augment or None
        if use_normals and form == "h5" and not all("normal" in v for v in self._h5.values()):
            raise ValueError(f"{self.folder}: use_normals=True but the HDF5 files have no 'normal' dataset")

    # ------------------------------------------------------------------ scanning the forms
    def _label(self, cls: str, where: str) -> int | None:
        """Class index of ``cls``; ``None`` when the class is not in the list (ModelNet10 inside ModelNet40 data)."""
        if cls in self.classes:
            return self.classes.index(cls)
        if self.variant == 10 and cls in MODELNET40_CLASSES:
            return None
        raise ValueError(f"{where}: class {cls!r} is not in the class list "
                         f"({self.class_list_file or f'the official ModelNet{self.variant} list'}: "
                         f"{', '.join(self.classes[:6])}, ...)")

    def _scan_off(self, official: str) -> list[ShapeRecord]:
        items = []
        class_dirs = sorted(d for d in self.folder.iterdir() if d.is_dir() and not d.name.startswith((".", "__")))
        for class_dir in class_dirs:
            split_dir = class_dir / official
            if not split_dir.is_dir():
                continue
            label = self._label(class_dir.name, str(class_dir))
            if label is None:
                continue
            for path in sorted(split_dir.glob("*.off")):
                cls, _ = _split_id(path.stem, str(path))
                if cls != class_dir.name:
                    raise ValueError(f"{path}: a shape named {cls!r} in the folder of class {class_dir.name!r} "
                                     "(mislabeled file?)")
                items.append(ShapeRecord(path.stem, label, path))
        return items

    def _scan_resampled(self, official: str) -> list[ShapeRecord]:
        list_file = self.folder / f"modelnet{self.variant}_{official}.txt"
        if self.variant == 10 and not list_file.is_file():
            list_file = self.folder / f"modelnet40_{official}.txt"
        names: list[tuple[str, str]] = []  # (shape id, where it was listed)
        if list_file.is_file():
            for number, line in enumerate(list_file.read_text(encoding="utf-8").splitlines(), start=1):
                if line.strip():
                    names.append((line.strip(), f"{list_file}:{number}"))
        else:  # no split lists: every shape named in filelist.txt (or present), split by the official counts
            filelist = self.folder / "filelist.txt"
            if filelist.is_file():
                lines = filelist.read_text(encoding="utf-8").splitlines()
                all_ids = [(Path(ln.strip()).stem, f"{filelist}:{i}") for i, ln in enumerate(lines, 1) if ln.strip()]
            else:
                all_ids = [(p.stem, str(p)) for p in sorted(self.folder.glob("*/*.txt")) if p.parent != self.folder]
            for name, where in all_ids:
                cls, num = _split_id(name, where)
                if cls not in MODELNET40_TRAIN_COUNTS:
                    raise ValueError(f"{where}: no official split is known for class {cls!r}; add the lists "
                                     f"modelnet{self.variant}_train.txt and modelnet{self.variant}_test.txt")
                if (num <= MODELNET40_TRAIN_COUNTS[cls]) == (official == "train"):
                    names.append((name, where))
            if self.verbose:
                print(f"{self.folder}: no {list_file.name}; the {official} split is derived from the official "
                      f"per-class training-set sizes (ids 1..n are train)")
        items = []
        for name, where in names:
            cls, _ = _split_id(name, where)
            label = self._label(cls, where)
            if label is None:
                continue
            path = self.folder / cls / f"{name}.txt"
            if not path.is_file():
                self._missing(name)
                continue
            items.append(ShapeRecord(name, label, path))
        return items

    def _scan_h5(self, official: str) -> list[ShapeRecord]:
        import h5py

        list_file = self.folder / f"{official}_files.txt"
        if list_file.is_file():
            listed = [ln.strip() for ln in list_file.read_text(encoding="utf-8").splitlines() if ln.strip()]
            files = [self.folder / Path(p.replace("\\", "/")).name for p in listed]  # re-rooted by file name
        else:
            files = sorted(self.folder.glob(f"ply_data_{official}*.h5"))
        items = []
        for path in files:
            if not path.is_file():
                self._missing(path.name)
                continue
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
            if data.ndim != 3 or data.shape[2] != 3:
                raise ValueError(f"{path}: 'data' must be [shapes, points, 3], found shape {data.shape}")
            if len(labels) != len(data):
                raise ValueError(f"{path}: {len(data)} clouds in 'data' but {len(labels)} entries in 'label'")
            if "normal" in arrays and arrays["normal"].shape != data.shape:
                raise ValueError(f"{path}: 'normal' has shape {arrays['normal'].shape}, 'data' {data.shape}")
            bad = labels[(labels < 0) | (labels >= len(self.classes))]
            if bad.size and self.variant == 40:
                raise ValueError(f"{path}: labels {sorted(set(bad.tolist()))[:5]} outside 0..{len(self.classes) - 1} "
                                 f"({len(self.classes)} classes)")
            self._h5[path] = arrays
            names = self._h5_names(path, len(data))
            for row, label in enumerate(labels.tolist()):
                if self.variant == 10:  # the HDF5 release is ModelNet40: keep the ModelNet10 classes, re-indexed
                    cls = MODELNET40_CLASSES[label] if 0 <= label < 40 else None
                    if cls not in self.classes:
                        continue
                    label = self.classes.index(cls)
                items.append(ShapeRecord(names[row], int(label), path, row))
        return items

    @staticmethod
    def _h5_names(path: Path, count: int) -> list[str]:
        """Shape names from the ``*_id2file.json`` beside an HDF5 file, else ``<file>#<row>``."""
        match = re.match(r"ply_data_(train|test)(\d+)\.h5$", path.name)
        if match:
            sidecar = path.with_name(f"ply_data_{match.group(1)}_{match.group(2)}_id2file.json")
            if sidecar.is_file():
                try:
                    names = [Path(str(n)).stem for n in json.loads(sidecar.read_text(encoding="utf-8"))]
                    if len(names) == count:
                        return names
                except (ValueError, TypeError):
                    pass
        return [f"{path.name}#{i}" for i in range(count)]

    def _missing(self, name: str) -> None:
        self.num_missing += 1
        if len(self.missing_examples) < 5:
            self.missing_examples.append(name)

    # ------------------------------------------------------------------ access
    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def labels(self) -> np.ndarray:
        """The class index of every shape, ``int64 [len(self)]``."""
        return np.array([it.label for it in self.items], np.int64)

    @property
    def has_normals(self) -> bool:
        return self.form != "h5" or all("normal" in v for v in self._h5.values())

    @property
    def is_sample(self) -> bool:
        """``True`` when the data was written by :func:`write_sample` (synthetic primitives)."""
        return (self.folder / SAMPLE_MARKER).is_file() or (self.folder.parent / SAMPLE_MARKER).is_file()

    def __len__(self) -> int:
        return len(self.items)

    def load_points(self, index: int) -> np.ndarray:
        """The stored (or sampled, cached) points of shape ``index``: ``float32 [M, 6]`` (``[M, 3]`` without
        normals), in the file's own units and axes, not normalised or augmented."""
        item = self.items[index]
        if self.form == "off":
            seed = self.seed + zlib.crc32(item.name.encode())
            return load_mesh_points(item.path, self.mesh_points, self.sampling, seed, self.cache_dir)
        if self.form == "resampled":
            return _cached(self.cache_dir, item.path, "txt", lambda: read_point_txt(item.path))
        arrays = self._h5[item.path]
        points = arrays["data"][item.row]
        if "normal" in arrays:
            points = np.concatenate([points, arrays["normal"][item.row]], axis=1)
        return points

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        points = self.load_points(index)
        if self.use_normals and points.shape[1] < 6:
            raise ValueError(f"{self.items[index].path}: use_normals=True but this shape has no normals")
        total = len(points)
        train = self.augment is not None
        if train:
            pick = torch.randperm(total)[:self.num_points] if total >= self.num_points else \
                torch.randint(0, total, (self.num_points,))
            points = points[pick.numpy()]
        elif total >= self.num_points and self.form != "off":
            points = points[:self.num_points]  # the released clouds are in random order: PointNet(++) take the first
        elif total >= self.num_points:  # a fixed random subset (Poisson disk samples come out in spatial order)
            points = points[np.sort(np.random.default_rng(index).choice(total, self.num_points, replace=False))]
        else:  # too few points: repeat them (deterministically)
            points = points[np.arange(self.num_points) % total]
        points = normalize_to_unit_sphere(points)
        points = torch.from_numpy(points[:, :6] if self.use_normals else points[:, :3].copy())
        if self.augment is not None:
            points = self.augment(points)
        return points, torch.tensor(self.items[index].label, dtype=torch.int64)

    def class_counts(self) -> dict[str, int]:
        """Number of shapes of each class in this split (classes without shapes included, with 0)."""
        counts = np.bincount(self.labels, minlength=self.num_classes)
        return {name: int(c) for name, c in zip(self.classes, counts, strict=True)}

    def __repr__(self) -> str:
        kind = "synthetic sample" if self.is_sample else "real data"
        return (f"ModelNet(form={self.form!r}, split={self.split!r}, n={len(self)}, classes={self.num_classes}, "
                f"points={self.num_points}{'+normals' if self.use_normals else ''}, folder={str(self.folder)!r}, "
                f"{kind})")


def _validation_names(items: list[ShapeRecord], fraction: float) -> set[str]:
    """A deterministic, class-stratified ``fraction`` of the shapes (at least one of a class with two or more)."""
    by_class: dict[int, list[ShapeRecord]] = {}
    for it in items:
        by_class.setdefault(it.label, []).append(it)
    held = set()
    for members in by_class.values():
        if len(members) < 2:
            continue
        count = max(1, round(fraction * len(members)))
        order = sorted(members, key=lambda it: (zlib.crc32(it.name.encode()), it.name))
        held.update(it.name for it in order[:count])
    return held


# ----------------------------------------------------------------------------------------------- the sample
def _quad_box(center, half) -> tuple[np.ndarray, list[list[int]]]:
    """An axis-aligned box as 8 vertices and 6 quads, wound counter-clockwise seen from outside."""
    signs = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], np.float64)
    vertices = np.asarray(center, np.float64) + signs * np.asarray(half, np.float64)
    quads = [[0, 1, 3, 2], [4, 6, 7, 5], [0, 4, 5, 1], [2, 3, 7, 6], [0, 2, 6, 4], [1, 5, 7, 3]]
    return vertices, quads


def _primitive(name: str, rng: np.random.Generator) -> tuple[np.ndarray, list | np.ndarray]:
    """One random instance of a sample class: ``(vertices [V, 3], faces)`` with z up: a triangle array ``[F, 3]``,
    or a list of quads (boxes)."""
    import open3d as o3d

    T = o3d.geometry.TriangleMesh
    res = int(rng.integers(10, 24))
    if name == "box":
        return _quad_box((0, 0, 0), rng.uniform(0.3, 1.0, 3))
    if name == "cross":  # three bars along x, y and z through the centre
        length, thick = rng.uniform(0.7, 1.0), rng.uniform(0.08, 0.18)
        parts_v, parts_f = [], []
        for axis in range(3):
            half = np.full(3, thick)
            half[axis] = length
            v, f = _quad_box((0, 0, 0), half)
            offset = sum(len(p) for p in parts_v)
            parts_v.append(v)
            parts_f.append([[i + offset for i in q] for q in f])
        return np.concatenate(parts_v), [q for f in parts_f for q in f]
    if name == "table":
        top_half = np.array([rng.uniform(0.6, 1.0), rng.uniform(0.4, 0.8), rng.uniform(0.03, 0.08)])
        height, leg = rng.uniform(0.5, 1.0), rng.uniform(0.04, 0.09)
        vertices, faces = _quad_box((0, 0, height), top_half)
        parts_v, parts_f = [vertices], [faces]
        for sx in (-1, 1):
            for sy in (-1, 1):
                centre = (sx * (top_half[0] - leg), sy * (top_half[1] - leg), height / 2)
                v, f = _quad_box(centre, (leg, leg, height / 2))
                offset = sum(len(p) for p in parts_v)
                parts_v.append(v)
                parts_f.append([[i + offset for i in q] for q in f])
        return np.concatenate(parts_v), [q for f in parts_f for q in f]
    if name in ("sphere", "hemisphere"):
        mesh = T.create_sphere(radius=1.0, resolution=res)
        if name == "hemisphere":  # a bowl: keep the lower half, open at the top
            tri = np.asarray(mesh.triangles)
            centroids_z = np.asarray(mesh.vertices)[tri].mean(axis=1)[:, 2]
            mesh.remove_triangles_by_mask(centroids_z > 0)
            mesh.remove_unreferenced_vertices()
    elif name == "cylinder":
        mesh = T.create_cylinder(radius=rng.uniform(0.3, 0.6), height=rng.uniform(1.0, 2.0), resolution=res)
    elif name == "cone":
        mesh = T.create_cone(radius=rng.uniform(0.4, 0.8), height=rng.uniform(1.0, 2.0), resolution=res)
    elif name == "torus":
        mesh = T.create_torus(torus_radius=1.0, tube_radius=rng.uniform(0.2, 0.45), radial_resolution=res + 6,
                              tubular_resolution=res)
    elif name == "tetrahedron":
        mesh = T.create_tetrahedron(radius=1.0)
    elif name == "octahedron":
        mesh = T.create_octahedron(radius=1.0)
    elif name == "icosahedron":
        mesh = T.create_icosahedron(radius=1.0)
    elif name == "arrow":
        mesh = T.create_arrow(cylinder_radius=rng.uniform(0.08, 0.15), cone_radius=rng.uniform(0.2, 0.3),
                              cylinder_height=rng.uniform(0.8, 1.2), cone_height=rng.uniform(0.3, 0.5),
                              resolution=res)
    elif name == "mobius":
        mesh = T.create_mobius(length_split=60, width_split=6, twists=1, radius=1.0, flatness=1.0,
                               width=rng.uniform(0.4, 0.8), scale=1.0)
    else:
        raise ValueError(f"unknown sample class {name!r}; known: {SAMPLE_PRIMITIVES}")
    return np.asarray(mesh.vertices, np.float64), np.asarray(mesh.triangles, np.int64)


def _random_pose(vertices: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Stretch each axis a little, turn about z (up), and move to raw 'CAD units' like the real files."""
    v = vertices * rng.uniform(0.8, 1.25, 3)
    angle = rng.uniform(0, 2 * math.pi)
    c, s = math.cos(angle), math.sin(angle)
    v = v @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]).T
    return v * rng.uniform(10, 80) + rng.uniform(-50, 50, 3)


def _triangles(faces) -> np.ndarray:
    from .off import triangulate

    if isinstance(faces, np.ndarray) and faces.ndim == 2 and faces.shape[1] == 3:
        return faces
    return np.asarray([t for f in faces for t in triangulate(f)], np.int64)


def _z_up_to_y_up(points: np.ndarray) -> np.ndarray:
    """(x, y, z) with z up -> (x, z, -y) with y up, a rotation, applied to points and normals."""
    out = points.copy()
    for k in range(0, points.shape[1], 3):
        out[:, k + 1], out[:, k + 2] = points[:, k + 2], -points[:, k + 1]
    return out


def write_sample(root: str | os.PathLike, *, classes: Sequence[str] = SAMPLE_CLASSES, n_train: int = 20,
                 n_test: int = 8, forms: Sequence[str] = FORMS, resampled_points: int = 1024,
                 h5_points: int = 1024, seed: int = 0) -> Path:
    """Write a small synthetic dataset of primitive shapes in the three ModelNet layouts; returns ``root``.

    Shapes are open3d primitives (and boxes made of quads), each stretched, turned about the up axis and placed
    in raw units at random. ``ModelNet40/<class>/{train,test}/<class>_NNNN.off`` holds the meshes (ids
    ``1..n_train`` train, the next ``n_test`` test, as in the real archive) with the real files' quirks: every
    third file has the glued header ``OFF<V> <F> 0``, every fifth a comment and blank lines, boxes and tables
    quad faces. ``modelnet40_normal_resampled/`` holds the same shapes sampled with the same code (normalised,
    y up, ``x,y,z,nx,ny,nz``) with ``modelnet40_shape_names.txt``, ``modelnet40_{train,test}.txt`` and
    ``filelist.txt``; ``modelnet40_ply_hdf5_2048/`` one HDF5 file per split (``data``, ``label``, ``normal``)
    with ``{train,test}_files.txt`` and ``shape_names.txt``. Because the classes are not ModelNet's, the mesh
    folder also gets a ``shape_names.txt``. A marker file ``COURSE_SAMPLE.txt`` is written last; a complete
    sample written with the same arguments is kept.

    Args:
        root: the folder to write into.
        classes: class names, from :data:`SAMPLE_PRIMITIVES` (at least 2).
        n_train: training shapes per class.
        n_test: test shapes per class.
        forms: which layouts to write.
        resampled_points: points per shape of the resampled form.
        h5_points: points per shape of the HDF5 form.
        seed: random seed.

    Example:
        >>> root = write_sample("data/samples/modelnet")  # doctest: +SKIP
        >>> sorted(find_forms(root))  # doctest: +SKIP
        ['h5', 'off', 'resampled']
    """
    root = Path(root)
    classes = tuple(classes)
    unknown = [c for c in classes if c not in SAMPLE_PRIMITIVES]
    if len(classes) < 2 or unknown or len(set(classes)) != len(classes):
        raise ValueError(f"classes must be two or more different names of {SAMPLE_PRIMITIVES}; unknown: {unknown}")
    if n_train < 1 or n_test < 1:
        raise ValueError("n_train and n_test must be positive")
    bad_forms = [f for f in forms if f not in FORMS]
    if bad_forms:
        raise ValueError(f"unknown forms {bad_forms}; choose from {FORMS}")
    params = dict(classes=classes, n_train=n_train, n_test=n_test, forms=tuple(forms),
                  resampled_points=resampled_points, h5_points=h5_points, seed=seed, version=2)
    if sample_is_current(root, params):
        return root
    root.mkdir(parents=True, exist_ok=True)
    (root / SAMPLE_MARKER).unlink(missing_ok=True)
    rng = np.random.default_rng(seed)
    shapes: dict[str, list[tuple[str, int, np.ndarray, object]]] = {"train": [], "test": []}
    for label, cls in enumerate(classes):
        for k in range(n_train + n_test):
            vertices, faces = _primitive(cls, rng)
            split = "train" if k < n_train else "test"
            shapes[split].append((f"{cls}_{k + 1:04d}", label, _random_pose(vertices, rng), faces))

    counter = 0
    if "off" in forms:
        folder = root / "ModelNet40"
        for split, members in shapes.items():
            for name, label, vertices, faces in members:
                counter += 1
                write_off(folder / classes[label] / split / f"{name}.off", vertices, faces,
                          glued_header=counter % 3 == 0, comment="synthetic course sample" if counter % 5 == 0
                          else None)
        (folder / "shape_names.txt").write_text("\n".join(classes) + "\n", encoding="utf-8")
        # blank lines in a few files, as some exporters write them
        for path in sorted(folder.glob("*/train/*_0002.off")):
            lines = path.read_text(encoding="ascii").splitlines()
            path.write_text("\n".join(lines[:2] + [""] + lines[2:]) + "\n\n", encoding="ascii")

    clouds: dict[str, list[tuple[str, int, np.ndarray]]] = {"train": [], "test": []}
    if "resampled" in forms or "h5" in forms:
        n = max(resampled_points, h5_points)
        for split, members in shapes.items():
            for name, label, vertices, faces in members:
                pts = sample_mesh(vertices, _triangles(faces), n, "uniform", zlib.crc32(name.encode()),
                                  source=name)
                clouds[split].append((name, label, _z_up_to_y_up(normalize_to_unit_sphere(pts))))
    if "resampled" in forms:
        folder = root / "modelnet40_normal_resampled"
        for split, members in clouds.items():
            for name, label, pts in members:
                path = folder / classes[label] / f"{name}.txt"
                path.parent.mkdir(parents=True, exist_ok=True)
                rows = pts[:resampled_points]
                path.write_text((",".join(["%.6f"] * rows.shape[1]) + "\n") * len(rows) % tuple(rows.ravel()),
                                encoding="ascii")
            (folder / f"modelnet40_{split}.txt").write_text("\n".join(m[0] for m in members) + "\n", encoding="utf-8")
        (folder / "modelnet40_shape_names.txt").write_text("\n".join(classes) + "\n", encoding="utf-8")
        every = sorted((m[0] for ms in clouds.values() for m in ms), key=lambda s: (s.rsplit("_", 1)[0], s))
        (folder / "filelist.txt").write_text("\n".join(f"{s.rsplit('_', 1)[0]}/{s}.txt" for s in every) + "\n",
                                             encoding="utf-8")
    if "h5" in forms:
        import h5py

        folder = root / "modelnet40_ply_hdf5_2048"
        folder.mkdir(parents=True, exist_ok=True)
        for split, members in clouds.items():
            order = np.random.default_rng(seed + len(split)).permutation(len(members))  # the real files are shuffled
            stack = np.stack([members[i][2][:h5_points] for i in order])
            with h5py.File(folder / f"ply_data_{split}0.h5", "w") as f:
                f.create_dataset("data", data=stack[:, :, :3].astype(np.float32))
                f.create_dataset("normal", data=stack[:, :, 3:6].astype(np.float32))
                f.create_dataset("label", data=np.array([[members[i][1]] for i in order], np.uint8))
            names = [f"{classes[members[i][1]]}/{members[i][0]}.ply" for i in order]
            (folder / f"ply_data_{split}_0_id2file.json").write_text(json.dumps(names), encoding="utf-8")
            (folder / f"{split}_files.txt").write_text(f"data/modelnet40_ply_hdf5_2048/ply_data_{split}0.h5\n",
                                                       encoding="utf-8")
        (folder / "shape_names.txt").write_text("\n".join(classes) + "\n", encoding="utf-8")
    mark_sample(root, params, "Synthetic ModelNet-layout sample of the course book: primitive shapes made with "
                              "open3d (not ModelNet data). Written by course_lib.data.modelnet.write_sample.")
    return root
