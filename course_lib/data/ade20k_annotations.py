"""The annotation files of the full ADE20K release: the per-picture ``.json`` and the release's ``index_ade20k.pkl``.

Introduced in Chapter 3 with :mod:`course_lib.data.ade20k_full` (the layout, the PNGs, the dataset), which describes
the files. The JSON is MATLAB's export, so the types of a field vary between objects (``occluded`` is "yes", "no" or
``[]``; ``ispartof`` is ``[]`` or an integer; ``attributes`` a list or a string): :func:`read_annotation` turns each
object into one typed :class:`AdeObject`. :func:`read_index` reads the index pickle without running code from it.
"""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .splits import check_inside

__all__ = ["MAX_CLASS_INDEX", "AdeObject", "Annotation", "read_annotation", "read_index"]

#: the largest class index ``_seg.png`` can hold (R // 10 * 256 + G with R <= 255)
MAX_CLASS_INDEX = 25 * 256 + 255


# ----------------------------------------------------------------------------------------------- the JSON
@dataclass(frozen=True)
class AdeObject:
    """One object or part of an ADE20K JSON file.

    Args:
        id: its number in the file (also the ``NNN`` of its instance mask).
        name: the WordNet name (``"car, auto, automobile, machine, motorcar"``); ``raw_name`` what was typed.
        class_index: the full-release class (``name_ndx``, as in ``_seg.png``).
        part_level: 0 for an object, 1 for a part, 2 for a part of a part, ...
        part_of: the ``id`` of the object (or part) it belongs to, ``None`` for objects.
        has_parts: the ``id`` of its parts.
        occluded: ``True``/``False``, or ``None`` where the file does not say.
        crop: whether the object is cut by the picture's border.
        attributes: free-text attributes ("walking", ...).
        depth_rank: the annotators' depth ordering (1 = farthest), or ``None``.
        polygon: ``float64 [K, 2]`` of (x, y) vertices in pixels (``K`` may be 0).
        mask_file: the instance mask, or ``None`` when the file names none.
    """

    id: int
    name: str
    raw_name: str
    class_index: int
    part_level: int
    part_of: int | None
    has_parts: tuple[int, ...]
    occluded: bool | None
    crop: bool
    attributes: tuple[str, ...]
    depth_rank: int | None
    polygon: np.ndarray
    mask_file: Path | None


@dataclass(frozen=True)
class Annotation:
    """The content of one ``ADE_*.json``: picture name, size ``(H, W)``, scene words and the objects and parts."""

    path: Path
    filename: str
    folder: str
    size: tuple[int, int]
    scene: tuple[str, ...]
    objects: tuple[AdeObject, ...]

    def by_id(self, object_id: int) -> AdeObject:
        """The object or part with this ``id``."""
        for obj in self.objects:
            if obj.id == object_id:
                return obj
        raise KeyError(f"{self.path}: no object with id {object_id}")

    def level(self, part_level: int) -> tuple[AdeObject, ...]:
        """Objects (``0``), parts (``1``), parts of parts (``2``), ..."""
        return tuple(o for o in self.objects if o.part_level == part_level)


def _ints(value, where: str) -> tuple[int, ...]:
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise ValueError(f"{where}: expected an integer or a list of integers, got {value!r}")
    return tuple(values)


def _flag(value, where: str) -> bool | None:
    if value in ([], "", None):
        return None
    text = str(value).strip().lower()
    if text in ("yes", "1", "true"):
        return True
    if text in ("no", "0", "false"):
        return False
    raise ValueError(f"{where}: expected yes/no or 0/1, got {value!r}")


def _object(raw, path: Path, number: int) -> AdeObject:
    where = f"{path}: object {number}"
    if not isinstance(raw, dict):
        raise ValueError(f"{where} is not a JSON object")
    try:
        oid, name, ndx, parts = raw["id"], raw["name"], raw["name_ndx"], raw["parts"]
        level = parts["part_level"]
    except (KeyError, TypeError) as err:
        raise ValueError(f"{where} lacks the field {err} (id, name, name_ndx, parts.part_level)") from None
    if not (isinstance(oid, int) and isinstance(ndx, int) and isinstance(level, int) and isinstance(name, str)):
        raise ValueError(f"{where}: id, name_ndx and part_level must be integers and name a string")
    if oid < 0 or not 0 < ndx <= MAX_CLASS_INDEX or level < 0:
        raise ValueError(f"{where}: id {oid}, class {ndx} or part level {level} out of range")
    part_of = _ints(parts.get("ispartof", []), f"{where} ispartof")
    if (level > 0) != bool(part_of) or len(part_of) > 1:
        raise ValueError(f"{where}: part level {level} but ispartof {parts.get('ispartof')!r}")
    polygon = raw.get("polygon") or {"x": [], "y": []}
    try:
        xy = np.array([polygon["x"], polygon["y"]], np.float64).T.reshape(-1, 2)
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{where}: polygon needs lists x and y of numbers of the same length") from None
    if not np.isfinite(xy).all():
        raise ValueError(f"{where}: polygon holds non-finite coordinates")
    attributes = raw.get("attributes", [])
    attributes = (attributes,) if isinstance(attributes, str) else tuple(str(a) for a in attributes)
    mask = raw.get("instance_mask")
    if mask is not None and not isinstance(mask, str):
        raise ValueError(f"{where}: instance_mask must be a relative path, got {mask!r}")
    rank = raw.get("depth_ordering_rank")
    return AdeObject(
        id=oid, name=name, raw_name=str(raw.get("raw_name", name)), class_index=ndx, part_level=level,
        part_of=part_of[0] if part_of else None, has_parts=_ints(parts.get("hasparts", []), f"{where} hasparts"),
        occluded=_flag(raw.get("occluded"), f"{where} occluded"), crop=bool(_flag(raw.get("crop"), f"{where} crop")),
        attributes=tuple(a for a in attributes if a), depth_rank=rank if isinstance(rank, int) else None,
        polygon=xy, mask_file=path.parent / check_inside(mask, f"{where} instance_mask") if mask else None)


def read_annotation(path: str | os.PathLike) -> Annotation:
    """Read an ADE20K ``.json`` annotation (UTF-8) into an :class:`Annotation`.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: not UTF-8 JSON, no ``annotation`` object, an ``imsize`` that is not ``[H, W(, 3)]`` positive, an
            object without id / name / class / part level, an id used twice, a part whose owner is not in the file, a
            polygon whose x and y differ in length; the message names the file.

    Example:
        >>> ann = read_annotation("street/ADE_train_00016869.json")  # doctest: +SKIP
        >>> ann.size, len(ann.level(0)), ann.level(1)[0].part_of  # doctest: +SKIP
        ((1536, 2048), 51, 68)
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path}: ADE20K annotation is a folder, expected a .json file")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: ADE20K annotation file is missing") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise ValueError(f"{path}: not a UTF-8 JSON file ({err})") from None
    except OSError as err:
        raise ValueError(f"{path}: cannot be read ({err.strerror or err})") from None
    ann = data.get("annotation") if isinstance(data, dict) else None
    if not isinstance(ann, dict):
        raise ValueError(f"{path}: expected a JSON object with an 'annotation' object (ADE20K's format)")
    size = ann.get("imsize")
    if (not isinstance(size, list) or len(size) not in (2, 3) or not all(isinstance(v, int) for v in size)
            or min(size[:2]) < 1):
        raise ValueError(f"{path}: imsize must be [height, width, 3] in pixels, got {size!r}")
    raw_objects = ann.get("object", [])
    if not isinstance(raw_objects, list):
        raise ValueError(f"{path}: 'object' must be a list")
    objects = tuple(_object(raw, path, i) for i, raw in enumerate(raw_objects))
    ids = [o.id for o in objects]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: object ids are not unique")
    missing = sorted({o.part_of for o in objects if o.part_of is not None} - set(ids))
    if missing:
        raise ValueError(f"{path}: parts belong to ids {missing[:5]} that are not in the file")
    scene = ann.get("scene", [])
    scene = (scene,) if isinstance(scene, str) else tuple(str(s) for s in scene)
    return Annotation(path, str(ann.get("filename", "")), str(ann.get("folder", "")), (size[0], size[1]), scene,
                      objects)


# ----------------------------------------------------------------------------------------------- index_ade20k.pkl
class _ArraysOnly(pickle.Unpickler):
    """Unpickle plain containers and numpy arrays only: a pickle can run code, so nothing else is loaded."""

    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
                ("numpy._core.multiarray", "scalar"), ("numpy.core.numeric", "_frombuffer"),
                ("numpy._core.numeric", "_frombuffer"), ("builtins", "slice")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def read_index(path: str | os.PathLike) -> dict:
    """Read ``index_ade20k.pkl`` (the release's table of pictures and classes) without running code from it.

    Keys include ``filename``, ``folder``, ``scene`` (per picture), ``objectnames`` (per class: class index ``k`` of
    ``_seg.png`` is ``objectnames[k - 1]``), ``objectPresence`` ``[C, N]`` and ``description``.

    Raises:
        ValueError: not a pickle of dicts, lists and numpy arrays, or without ``objectnames``; the message names it.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            index = _ArraysOnly(f).load()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: index_ade20k.pkl is missing") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError, IndexError,
            KeyError, OSError, RecursionError, MemoryError) as err:
        raise ValueError(f"{path}: not a readable ADE20K index pickle ({type(err).__name__}: {err})") from None
    if not isinstance(index, dict) or "objectnames" not in index:
        raise ValueError(f"{path}: expected a dict with 'objectnames' (ADE20K's index_ade20k.pkl)")
    return index
