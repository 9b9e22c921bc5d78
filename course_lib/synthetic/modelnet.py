"""A synthetic ModelNet: primitive shapes made with open3d, written in the three official ModelNet layouts.

Introduced in Chapter 6. :func:`write_sample` writes spheres, boxes, tori, ... (:data:`SAMPLE_CLASSES`) as meshes
(``ModelNet40/<class>/{train,test}/*.off``), as resampled clouds (``modelnet40_normal_resampled``) and as HDF5
batches (``modelnet40_ply_hdf5_2048``), with the quirks of the real files (glued headers, comments, blank lines,
quad faces), plus a class list ``shape_names.txt`` next to the meshes because its classes are not ModelNet's.
:class:`course_lib.data.modelnet.ModelNet` reads it with the code that reads the real data.

Example:
    >>> root = write_sample("runs/samples/modelnet")  # doctest: +SKIP
    >>> sorted(find_forms(root))  # doctest: +SKIP
    ['h5', 'off', 'resampled']
"""

from __future__ import annotations

import json
import math
import os
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..data.modelnet import FORMS, sample_mesh
from ..data.point_transforms import normalize_to_unit_sphere
from ..data.registry import SAMPLE_MARKER
from ..io.off import triangulate, write_off
from ..io.points import write_point_h5, write_point_txt
from .common import mark_sample, sample_is_current

__all__ = ["SAMPLE_CLASSES", "SAMPLE_PRIMITIVES", "primitive", "write_sample"]

#: Classes of the synthetic sample written by :func:`write_sample`.
SAMPLE_CLASSES = (
    "sphere", "hemisphere", "box", "cylinder", "cone", "torus", "tetrahedron", "octahedron", "cross", "arrow",
    "mobius", "table",
)  # fmt: skip
#: Every primitive :func:`write_sample` can make (the icosahedron, too close to a sphere at 256 points, is left out
#: of the default classes).
SAMPLE_PRIMITIVES = (*SAMPLE_CLASSES, "icosahedron")


def _quad_box(center, half) -> tuple[np.ndarray, list[list[int]]]:
    """An axis-aligned box as 8 vertices and 6 quads, wound counter-clockwise seen from outside."""
    signs = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], np.float64)
    vertices = np.asarray(center, np.float64) + signs * np.asarray(half, np.float64)
    quads = [[0, 1, 3, 2], [4, 6, 7, 5], [0, 4, 5, 1], [2, 3, 7, 6], [0, 2, 6, 4], [1, 5, 7, 3]]
    return vertices, quads


def _boxes(boxes: Sequence[tuple]) -> tuple[np.ndarray, list[list[int]]]:
    """Several ``(center, half sizes)`` boxes as one mesh of quads."""
    parts_v, parts_f = [], []
    for center, half in boxes:
        v, f = _quad_box(center, half)
        offset = sum(len(p) for p in parts_v)
        parts_v.append(v)
        parts_f.append([[i + offset for i in q] for q in f])
    return np.concatenate(parts_v), [q for f in parts_f for q in f]


def primitive(name: str, rng: np.random.Generator) -> tuple[np.ndarray, list | np.ndarray]:
    """One random instance of a sample class: ``(vertices [V, 3], faces)`` with z up: a triangle array ``[F, 3]``,
    or a list of quads (boxes, crosses, tables).

    Example:
        >>> v, f = primitive("box", np.random.default_rng(0))
        >>> v.shape, len(f)
        ((8, 3), 6)
    """
    import open3d as o3d

    T = o3d.geometry.TriangleMesh
    res = int(rng.integers(10, 24))
    if name == "box":
        return _quad_box((0, 0, 0), rng.uniform(0.3, 1.0, 3))
    if name == "cross":  # three bars along x, y and z through the centre
        length, thick = rng.uniform(0.7, 1.0), rng.uniform(0.08, 0.18)
        bars = []
        for axis in range(3):
            half = np.full(3, thick)
            half[axis] = length
            bars.append(((0, 0, 0), half))
        return _boxes(bars)
    if name == "table":
        top_half = np.array([rng.uniform(0.6, 1.0), rng.uniform(0.4, 0.8), rng.uniform(0.03, 0.08)])
        height, leg = rng.uniform(0.5, 1.0), rng.uniform(0.04, 0.09)
        legs = [((sx * (top_half[0] - leg), sy * (top_half[1] - leg), height / 2), (leg, leg, height / 2))
                for sx in (-1, 1) for sy in (-1, 1)]
        return _boxes([((0, 0, height), top_half), *legs])
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

    Raises:
        ValueError: unknown or too few classes, unknown forms, non-positive counts.
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
            vertices, faces = primitive(cls, rng)
            split = "train" if k < n_train else "test"
            shapes[split].append((f"{cls}_{k + 1:04d}", label, _random_pose(vertices, rng), faces))
    if "off" in forms:
        _write_meshes(root / "ModelNet40", shapes, classes)
    clouds: dict[str, list[tuple[str, int, np.ndarray]]] = {"train": [], "test": []}
    if "resampled" in forms or "h5" in forms:
        n = max(resampled_points, h5_points)
        for split, members in shapes.items():
            for name, label, vertices, faces in members:
                pts = sample_mesh(vertices, _triangles(faces), n, "uniform", zlib.crc32(name.encode()),
                                  source=name)
                clouds[split].append((name, label, _z_up_to_y_up(normalize_to_unit_sphere(pts))))
    if "resampled" in forms:
        _write_resampled(root / "modelnet40_normal_resampled", clouds, classes, resampled_points)
    if "h5" in forms:
        _write_h5(root / "modelnet40_ply_hdf5_2048", clouds, classes, h5_points, seed)
    mark_sample(root, params, "Synthetic ModelNet-layout sample of the course book: primitive shapes made with "
                              "open3d (not ModelNet data). Written by course_lib.synthetic.modelnet.write_sample.")
    return root


def _write_meshes(folder: Path, shapes: dict, classes: tuple[str, ...]) -> None:
    counter = 0
    for split, members in shapes.items():
        for name, label, vertices, faces in members:
            counter += 1
            write_off(folder / classes[label] / split / f"{name}.off", vertices, faces,
                      glued_header=counter % 3 == 0, comment="synthetic course sample" if counter % 5 == 0 else None)
    (folder / "shape_names.txt").write_text("\n".join(classes) + "\n", encoding="utf-8")
    for path in sorted(folder.glob("*/train/*_0002.off")):  # blank lines in a few files, as some exporters write
        lines = path.read_text(encoding="ascii").splitlines()
        path.write_text("\n".join(lines[:2] + [""] + lines[2:]) + "\n\n", encoding="ascii")


def _write_resampled(folder: Path, clouds: dict, classes: tuple[str, ...], points: int) -> None:
    for split, members in clouds.items():
        for name, label, pts in members:
            write_point_txt(folder / classes[label] / f"{name}.txt", pts[:points])
        (folder / f"modelnet40_{split}.txt").write_text("\n".join(m[0] for m in members) + "\n", encoding="utf-8")
    (folder / "modelnet40_shape_names.txt").write_text("\n".join(classes) + "\n", encoding="utf-8")
    every = sorted((m[0] for ms in clouds.values() for m in ms), key=lambda s: (s.rsplit("_", 1)[0], s))
    (folder / "filelist.txt").write_text("\n".join(f"{s.rsplit('_', 1)[0]}/{s}.txt" for s in every) + "\n",
                                         encoding="utf-8")


def _write_h5(folder: Path, clouds: dict, classes: tuple[str, ...], points: int, seed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for split, members in clouds.items():
        order = np.random.default_rng(seed + len(split)).permutation(len(members))  # the real files are shuffled
        write_point_h5(folder / f"ply_data_{split}0.h5", np.stack([members[i][2][:points] for i in order]),
                       np.array([members[i][1] for i in order]))
        names = [f"{classes[members[i][1]]}/{members[i][0]}.ply" for i in order]
        (folder / f"ply_data_{split}_0_id2file.json").write_text(json.dumps(names), encoding="utf-8")
        (folder / f"{split}_files.txt").write_text(f"data/modelnet40_ply_hdf5_2048/ply_data_{split}0.h5\n",
                                                   encoding="utf-8")
    (folder / "shape_names.txt").write_text("\n".join(classes) + "\n", encoding="utf-8")
