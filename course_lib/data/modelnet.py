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

* meshes are read by :func:`course_lib.io.off.read_off` (glued ``OFF3514 3546 0`` headers, comments, polygons),
  then sampled with open3d (:func:`sample_mesh`): area-weighted uniform sampling (``sampling="uniform"``, what
  PointNet did) or Poisson disk sampling (``"poisson"``, evenly spread points), with the normal of the triangle
  each point lies on. The samples, and the parsed ``.txt`` clouds, are cached as ``.npy`` arrays
  (:class:`course_lib.data.cache.FileCache` in ``cache_dir``, by default in the work folder, never in the data
  root), so later epochs and runs neither re-parse nor re-sample; the cache key holds the file's path, size and
  modification time;
* mesh coordinates are raw CAD units and not centred (an airplane spans 1 200 units), so every cloud is moved to
  its centroid and scaled into the unit sphere (:func:`course_lib.data.point_transforms.normalize_to_unit_sphere`);
* the official lists name shapes that may be absent from a partial copy (the real ``filelist.txt`` names 12 311):
  they are skipped and counted (``num_missing``), not an error;
* the class index is the line of the class in the official class list (``modelnet40_shape_names.txt``, or the
  built-in :data:`MODELNET40_CLASSES` for the meshes, which come without one), so a subset keeps the real indices;
* without ``modelnet40_{train,test}.txt`` the split of a ``.txt`` cloud is derived from its id and the official
  per-class training-set sizes (:data:`MODELNET40_TRAIN_COUNTS`: ids ``1..n`` are train, as in the mesh archive);
* the up axis differs: z for the meshes, y for the two point-cloud releases (:data:`UP_AXIS`). Rotation
  augmentation turns the shapes about that axis.

A validation split is carved out of the official training split (``val_fraction``, stratified by class and
deterministic: :func:`course_lib.data.splits.stratified_holdout`), so that no model is ever selected on the test set.

Finding the folders is :mod:`course_lib.data.modelnet_forms`; the synthetic sample (primitive shapes in all three
layouts, with the quirks of the real files) is :func:`course_lib.synthetic.modelnet.write_sample`.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..config import work_dir
from ..io.off import read_off
from ..io.points import read_point_txt
from .cache import FileCache
from .modelnet_forms import (
    FORM_FOLDERS,
    FORMS,
    MODELNET10_CLASSES,
    MODELNET40_TRAIN_COUNTS,
    SPLITS,
    UP_AXIS,
    FormReader,
    ShapeRecord,
    class_list,
    find_forms,
)
from .point_transforms import PointAugment, normalize_to_unit_sphere
from .registry import MODELNET40_CLASSES, MODELNET40_PALETTE, find_root, is_sample_folder
from .splits import stratified_holdout

__all__ = [
    "FORMS", "FORM_FOLDERS", "IGNORE_INDEX", "MODELNET10_CLASSES", "MODELNET40_CLASSES", "MODELNET40_PALETTE",
    "MODELNET40_TRAIN_COUNTS", "ModelNet", "SPLITS", "ShapeRecord", "UP_AXIS", "default_cache_dir", "find_forms",
    "load_mesh_points", "read_classes", "resolve_form", "sample_mesh",
]  # fmt: skip

#: Classification has no void label; -100 is PyTorch's "ignore nothing" default of ``cross_entropy``.
IGNORE_INDEX = -100


def default_cache_dir() -> Path:
    """Where sampled and parsed clouds are cached by default: ``<work dir>/cache/modelnet``."""
    return work_dir() / "cache" / "modelnet"


# ----------------------------------------------------------------------------------------------- reading one shape
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


def load_mesh_points(path: str | os.PathLike, num_points: int = 2048, method: str = "uniform", seed: int = 0,
                     cache_dir: str | os.PathLike | None = None) -> np.ndarray:
    """Read an ``.off`` mesh and sample ``num_points`` on it (cached as ``.npy`` when ``cache_dir`` is given).

    Args:
        path: the ``.off`` file.
        num_points: points to sample.
        method: ``"uniform"`` or ``"poisson"`` (see :func:`sample_mesh`).
        seed: sampling seed.
        cache_dir: where to keep sampled clouds (a :class:`course_lib.data.cache.FileCache` folder); ``None`` =
            sample every time.

    Returns:
        ``float32 [num_points, 6]`` in the mesh's own units (not normalised).

    Example:
        >>> pts = load_mesh_points("ModelNet40/bed/train/bed_0001.off", 1024, cache_dir="runs/cache")  # doctest: +SKIP
    """
    path = Path(path)

    def compute() -> np.ndarray:
        mesh = read_off(path)
        return sample_mesh(mesh.vertices, mesh.faces, num_points, method, seed, source=str(path))

    return FileCache(cache_dir or None).array([path], f"{method}-{num_points}-{seed}", compute)


# ----------------------------------------------------------------------------------------------- the dataset
def resolve_form(root: str | os.PathLike, variant: int = 40, form: str = "auto") -> tuple[str, Path]:
    """The form to read at ``root`` (``"auto"``: the first of :data:`FORMS` found) and its folder.

    Raises:
        FileNotFoundError: no ModelNet form at ``root`` or up to three levels below it, or not the one asked for.
    """
    if form not in (*FORMS, "auto"):
        raise ValueError(f"unknown form {form!r}; choose one of {FORMS} or 'auto'")
    forms = find_forms(root, variant)
    if not forms:
        find_root("modelnet", root)  # raises the explanatory FileNotFoundError
        raise FileNotFoundError(f"{root}: found no ModelNet data there or up to 3 levels below it")
    if form == "auto":
        form = next(f for f in FORMS if f in forms)
    elif form not in forms:
        raise FileNotFoundError(f"{root}: no ModelNet data in the {form!r} form there (found: "
                                f"{', '.join(f'{k} at {v}' for k, v in forms.items()) or 'nothing'})")
    return form, forms[form]


def read_classes(root: str | os.PathLike, variant: int = 40, form: str = "auto") -> tuple[str, ...]:
    """The class list (names in label order) that :class:`ModelNet` would use for the data at ``root``."""
    return class_list(resolve_form(root, variant, form)[1], variant)[0]


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
        augment: a :class:`course_lib.data.point_transforms.PointAugment`, ``True`` (the default augmentation,
            for the training splits only) or ``None``.
        cache_dir: where sampled/parsed clouds are cached; ``"auto"`` = :func:`default_cache_dir`
            (``<work dir>/cache/modelnet``); ``None`` = no cache.
        max_per_class: keep at most this many shapes per class (quick runs).
        classes: override the class list (names in index order).
        verbose: print what was skipped.
        seed: mesh sampling seed (added to a hash of each shape's name).

    Attributes:
        classes, form, folder (the form folder), up_axis, items (list of :class:`ShapeRecord`), num_missing
        (listed shapes or files that are absent and were skipped), class_list_file.

    Raises:
        FileNotFoundError: no ModelNet form at ``root`` (or not the requested one).
        ValueError: bad arguments, malformed files, or a class missing from the class list; the message names the
            file.

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
        form, folder = resolve_form(root, variant, form)
        self.form, self.folder, self.split, self.variant = form, folder, split, variant
        self.num_points, self.use_normals, self.sampling, self.mesh_points = num_points, use_normals, sampling, \
            mesh_points
        self.up_axis = UP_AXIS[form]
        self.seed, self.verbose = seed, verbose
        if cache_dir == "auto":
            cache_dir = default_cache_dir()
        self.cache_dir = Path(cache_dir) if cache_dir else None
        if classes is not None:
            self.classes, self.class_list_file = tuple(classes), None
        else:
            self.classes, self.class_list_file = class_list(self.folder, variant)
        reader = FormReader(self.folder, self.classes, variant, self.class_list_file, verbose)
        items = reader.scan(form, "test" if split == "test" else "train")
        self.num_missing, self.missing_examples, self._h5 = reader.num_missing, reader.missing_examples, reader.arrays
        if split in ("train", "val") and val_fraction > 0:
            held = stratified_holdout([it.name for it in items], [it.label for it in items], val_fraction)
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
        """``True`` when the data is the synthetic sample of :func:`course_lib.synthetic.modelnet.write_sample`."""
        return is_sample_folder(self.folder)

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
            return FileCache(self.cache_dir).array([item.path], "txt", lambda: read_point_txt(item.path))
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
