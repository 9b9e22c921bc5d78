"""Reading and writing triangle meshes in the Object File Format (``.off``), as ModelNet stores its shapes.

Introduced in Chapter 6 (PointNet on ModelNet40). An OFF file is plain text::

    OFF
    # comments may appear anywhere after a '#'
    <number of vertices> <number of faces> <number of edges>
    x y z                      one line per vertex
    n i_1 i_2 ... i_n          one line per face: its vertex count, then 0-based vertex indices

The real ModelNet files have quirks that :func:`read_off` accepts:

* the header glued to the counts, ``OFF490 518 0`` (and the counts on the header line after a space);
* comments and blank lines anywhere;
* faces with more than three vertices, split into triangles as a fan around their first vertex;
* the variants ``COFF``/``NOFF``/``CNOFF`` whose vertex and face lines carry extra numbers (colours,
  normals), which are ignored.

Anything else wrong (a missing header, counts that are not integers, a file that ends before all declared
vertices and faces, a face naming a vertex that does not exist, a coordinate that is NaN/inf or beyond the float32
range) raises :class:`OFFError` with the file name and the line number. Lines after the declared faces and extra
columns on the vertex lines of a plain ``OFF`` file are ignored with an :class:`OFFWarning` naming the file.

Example:
    >>> mesh = read_off("ModelNet40/bathtub/train/bathtub_0001.off")  # doctest: +SKIP
    >>> mesh.vertices.shape, mesh.faces.shape  # doctest: +SKIP
    ((3514, 3), (3546, 3))
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Mesh", "OFFError", "OFFWarning", "read_off", "write_off", "triangulate"]

_FLOAT32_MAX = float(np.finfo(np.float32).max)

_HEADER = re.compile(r"^(C?N?OFF)(.*)$")


class OFFError(ValueError):
    """An OFF file is empty, truncated or malformed; the message names the file and the line."""


@dataclass
class Mesh:
    """A triangle mesh read from a file.

    Attributes:
        vertices: ``float64 [V, 3]`` coordinates, as stored (ModelNet uses raw CAD units, not centred).
        faces: ``int64 [F, 3]`` vertex indices of the triangles (polygons already split into triangles).
        num_polygons: the number of faces declared in the file, before triangulation.
        source: the file it came from (``None`` when made in memory).
    """

    vertices: np.ndarray
    faces: np.ndarray
    num_polygons: int = 0
    source: Path | None = None

    def __repr__(self) -> str:
        name = self.source.name if self.source else "in memory"
        return f"Mesh({name}: {len(self.vertices)} vertices, {len(self.faces)} triangles)"


def triangulate(polygon: list[int] | np.ndarray) -> list[tuple[int, int, int]]:
    """Split a polygon (vertex indices in order around it) into triangles, as a fan around its first vertex.

    Exact for convex polygons, which is what CAD exports write.

    Args:
        polygon: three or more vertex indices.

    Example:
        >>> triangulate([0, 1, 2, 3])
        [(0, 1, 2), (0, 2, 3)]
    """
    if len(polygon) < 3:
        raise ValueError(f"a face needs at least 3 vertices, got {len(polygon)}")
    first = int(polygon[0])
    return [(first, int(polygon[i]), int(polygon[i + 1])) for i in range(1, len(polygon) - 1)]


def _content_lines(text: str) -> list[tuple[int, str]]:
    """``(line number, text)`` of the lines that hold something once comments are cut off."""
    if "#" not in text:  # the usual case, kept fast for meshes of 100 000 lines
        return [(number, line) for number, line in enumerate(map(str.strip, text.splitlines()), start=1) if line]
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if line:
            out.append((number, line))
    return out


def read_off(path: str | os.PathLike) -> Mesh:
    """Read an ``.off`` mesh file, accepting the quirks of real ModelNet files (see the module docstring).

    Args:
        path: the ``.off`` file.

    Returns:
        A :class:`Mesh` whose polygons are split into triangles.

    Raises:
        FileNotFoundError: the file is missing.
        OFFError: empty, truncated or malformed file; the message names the file and the line.

    Example:
        >>> mesh = read_off("ModelNet40/bed/train/bed_0001.off")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: OFF file is missing")
    raw = path.read_bytes()
    if not raw.strip():
        raise OFFError(f"{path}: OFF file is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise OFFError(f"{path}: not a text file (binary OFF is not supported)") from None
    lines = _content_lines(text)
    if not lines:
        raise OFFError(f"{path}: OFF file holds only comments and blank lines")

    # ---- header and counts: "OFF" alone, "OFF V F E", or glued "OFFV F E"
    number, first = lines[0]
    match = _HEADER.match(first)
    if not match:
        raise OFFError(f"{path}:{number}: expected the header 'OFF', found {first[:40]!r}")
    rest = match.group(2).strip()
    pos = 1
    if not rest:
        if len(lines) < 2:
            raise OFFError(f"{path}:{number}: file ends after the header, before the vertex and face counts")
        number, rest = lines[1]
        pos = 2
    counts = rest.split()
    try:
        values = [int(c) for c in counts]
    except ValueError:
        raise OFFError(f"{path}:{number}: expected '<vertices> <faces> <edges>' as integers, found {rest!r}") from None
    if len(values) not in (2, 3) or min(values) < 0:
        raise OFFError(f"{path}:{number}: expected '<vertices> <faces> <edges>', found {rest!r}")
    num_vertices, num_faces = values[0], values[1]

    # ---- vertices
    vertex_lines = lines[pos:pos + num_vertices]
    if len(vertex_lines) < num_vertices:
        last = lines[-1][0]
        raise OFFError(f"{path}:{last}: truncated: the header at line {number} declares {num_vertices} vertices "
                       f"and {num_faces} faces, but the file ends after {len(vertex_lines)} vertices")
    vertices, wide = _parse_vertices(path, vertex_lines)
    pos += num_vertices

    # ---- faces
    face_lines = lines[pos:pos + num_faces]
    if len(face_lines) < num_faces:
        last = lines[-1][0]
        raise OFFError(f"{path}:{last}: truncated: the header at line {number} declares {num_faces} faces, "
                       f"but the file ends after {len(face_lines)} of them")
    faces = _parse_faces(path, face_lines, num_vertices)
    extra = lines[pos + num_faces:]
    if extra:
        warnings.warn(f"{path}:{extra[0][0]}: {len(extra)} line(s) after the {num_vertices} vertices and {num_faces} "
                      f"faces declared at line {number} are ignored (is the header's count wrong?)", OFFWarning,
                      stacklevel=2)
    if match.group(1) == "OFF" and wide is not None:
        warnings.warn(f"{path}:{wide[0]}: vertex line holds {len(wide[1].split())} numbers, 3 expected for a plain "
                      "'OFF' file; the extra columns are ignored", OFFWarning, stacklevel=2)
    return Mesh(vertices=vertices, faces=faces, num_polygons=num_faces, source=path)


class OFFWarning(UserWarning):
    """An OFF file holds more than its header declares (lines or columns); the extra is ignored, and said."""



def _parse_vertices(path: Path, vertex_lines: list[tuple[int, str]]
                    ) -> tuple[np.ndarray, tuple[int, str] | None]:
    """The ``[V, 3]`` coordinates, and the first line holding more than 3 numbers (or ``None``)."""
    if not vertex_lines:
        return np.zeros((0, 3), np.float64), None
    try:  # fast path: every line holds exactly x y z
        flat = np.array(" ".join(text for _, text in vertex_lines).split(), dtype=np.float64)
        if flat.size == 3 * len(vertex_lines):
            vertices = flat.reshape(-1, 3)
            if np.isfinite(vertices).all() and (np.abs(vertices) <= _FLOAT32_MAX).all():
                return vertices, None
    except ValueError:
        pass
    vertices = np.empty((len(vertex_lines), 3), np.float64)  # slow path: find the bad line, allow extra columns
    wide = None
    for i, (number, text) in enumerate(vertex_lines):
        fields = text.split()
        if len(fields) > 3 and wide is None:
            wide = (number, text)
        if len(fields) < 3:
            raise OFFError(f"{path}:{number}: vertex {i} needs 3 coordinates, found {text!r}")
        try:
            vertices[i] = [float(v) for v in fields[:3]]
        except ValueError:
            raise OFFError(f"{path}:{number}: vertex {i} is not numeric: {text!r}") from None
        if not np.isfinite(vertices[i]).all():
            raise OFFError(f"{path}:{number}: vertex {i} is not finite: {text!r}")
        if (np.abs(vertices[i]) > _FLOAT32_MAX).any():
            raise OFFError(f"{path}:{number}: vertex {i} has a coordinate beyond the float32 range "
                           f"(|x| > {_FLOAT32_MAX:.3g}), which would become infinite: {text[:60]!r}")
    return vertices, wide


def _parse_faces(path: Path, face_lines: list[tuple[int, str]], num_vertices: int) -> np.ndarray:
    if not face_lines:
        return np.zeros((0, 3), np.int64)
    faces = None
    try:  # fast path: all triangles "3 a b c"
        flat = np.array(" ".join(text for _, text in face_lines).split(), dtype=np.int64)
        if flat.size == 4 * len(face_lines):
            table = flat.reshape(-1, 4)
            if (table[:, 0] == 3).all():
                faces = table[:, 1:]
    except ValueError:
        pass
    if faces is None:  # slow path: polygons (triangulated), extra columns (colours), or an error to locate
        triangles: list[tuple[int, int, int]] = []
        for i, (number, text) in enumerate(face_lines):
            fields = text.split()
            try:
                count = int(fields[0])
                polygon = [int(v) for v in fields[1:1 + count]]
            except ValueError:
                raise OFFError(f"{path}:{number}: face {i} is not a list of integers: {text!r}") from None
            if count < 3:
                raise OFFError(f"{path}:{number}: face {i} has {count} vertices; a face needs at least 3")
            if len(polygon) < count:
                raise OFFError(f"{path}:{number}: face {i} declares {count} vertices but lists {len(polygon)}")
            bad = [v for v in polygon if not 0 <= v < num_vertices]
            if bad:
                raise OFFError(f"{path}:{number}: face {i} names vertex {bad[0]}, but the mesh has "
                               f"{num_vertices} vertices (0..{num_vertices - 1})")
            triangles.extend(triangulate(polygon))
        return np.asarray(triangles, np.int64).reshape(-1, 3)
    bad_rows = np.nonzero(((faces < 0) | (faces >= num_vertices)).any(axis=1))[0]
    if bad_rows.size:
        i = int(bad_rows[0])
        number, text = face_lines[i]
        raise OFFError(f"{path}:{number}: face {i} names a vertex outside 0..{num_vertices - 1}: {text!r}")
    return faces


def write_off(path: str | os.PathLike, vertices: np.ndarray, faces, *, glued_header: bool = False,
              comment: str | None = None, precision: int = 6) -> Path:
    """Write a mesh as an ``.off`` file (used by the synthetic ModelNet sample and the tests).

    Args:
        path: the file to write (its folder is created).
        vertices: ``[V, 3]`` coordinates.
        faces: ``[F, 3]`` triangles, or a list of polygons of any size (quads, ...).
        glued_header: write the header as ``OFF<V> <F> 0`` on one line, the quirk of some real ModelNet files.
        comment: a comment line written after the header.
        precision: decimals of the coordinates.

    Example:
        >>> import tempfile
        >>> p = write_off(Path(tempfile.mkdtemp()) / "quad.off", np.eye(4, 3), [[0, 1, 2, 3]], glued_header=True)
        >>> p.read_text().splitlines()[0]
        'OFF4 1 0'
        >>> read_off(p).faces.tolist()
        [[0, 1, 2], [0, 2, 3]]
    """
    path = Path(path)
    vertices = np.asarray(vertices, np.float64)
    if vertices.ndim != 2 or vertices.shape[1] != 3:
        raise ValueError(f"vertices must be [V, 3], got shape {vertices.shape}")
    if isinstance(faces, np.ndarray) and faces.ndim == 2:  # all polygons of one size: format in one go
        table = np.concatenate([np.full((len(faces), 1), faces.shape[1]), faces], axis=1).astype(np.int64)
        face_text = ((" ".join(["%d"] * table.shape[1]) + "\n") * len(table)) % tuple(table.ravel())
        num_faces = len(faces)
    else:
        polygons = [list(map(int, f)) for f in faces]
        face_text = "".join(" ".join(map(str, [len(p), *p])) + "\n" for p in polygons)
        num_faces = len(polygons)
    path.parent.mkdir(parents=True, exist_ok=True)
    counts = f"{len(vertices)} {num_faces} 0"
    head = [f"OFF{counts}"] if glued_header else ["OFF", counts]
    if comment:
        head.insert(1, f"# {comment}")
    vertex_text = (f"%.{precision}f %.{precision}f %.{precision}f\n" * len(vertices)) % tuple(vertices.ravel())
    path.write_text("\n".join(head) + "\n" + vertex_text + face_text, encoding="ascii")
    return path
