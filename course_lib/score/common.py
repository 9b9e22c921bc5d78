"""What every scorer of ``python -m course_lib.score`` shares: pairing files, bad-input errors, the printed report.

A scorer returns a :class:`Report`: one row per item (image, case, pair) and the overall numbers; the command
prints the rows, then the overall numbers, and as its last line the overall numbers as one JSON object (NaN as
``null``). Any problem with the input files is a :class:`ScoreError` naming the file and what is wrong; the command
prints it as ``error: ...`` and exits with status 2. Nothing is ever written.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Report", "ScoreError", "collect", "pair_files", "read_ids"]


class ScoreError(ValueError):
    """Bad input to a scorer (missing, extra or mismatched files, wrong encodings); the message names the file."""


@dataclass
class Report:
    """The result of a scorer.

    Args:
        benchmark: what was scored and how (``"semantic/ade20k"``).
        items: one dict per item, its ``"name"`` first.
        overall: the overall numbers (JSON-serialisable; NaN allowed, printed as ``null``).
        notes: lines printed before the overall numbers (the protocol, conventions used).
    """

    benchmark: str
    items: list[dict] = field(default_factory=list)
    overall: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def json(self) -> str:
        """The overall numbers as one line of JSON (NaN and infinities as ``null``)."""
        return json.dumps(_clean({"benchmark": self.benchmark, **self.overall}), allow_nan=False)

    def lines(self) -> list[str]:
        """The printed report: per-item rows, notes, overall numbers, and the JSON line last."""
        out = [f"{row['name']}: " + ", ".join(f"{k} {_fmt(v)}" for k, v in row.items() if k != "name")
               for row in self.items]
        out += [f"# {note}" for note in self.notes]
        for key, value in self.overall.items():
            if isinstance(value, dict):
                out.append(f"{key}:")
                out += [f"  {k}: {_fmt(v)}" for k, v in value.items()]
            else:
                out.append(f"{key}: {_fmt(value)}")
        out.append(self.json())
        return out


def _fmt(value) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def _clean(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def collect(folder: str | os.PathLike, patterns: Iterable[str], what: str,
            key: Callable[[Path], str] = lambda p: p.stem) -> dict[str, Path]:
    """The files below ``folder`` (recursively) matching any of ``patterns``, keyed by ``key(path)``.

    Raises:
        ScoreError: ``folder`` is missing or not a folder, holds no such file, or two files share a key.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ScoreError(f"{folder}: {what} folder does not exist" if not folder.exists()
                         else f"{folder}: is a file, expected the {what} folder")
    found: dict[str, Path] = {}
    for pattern in patterns:
        for path in sorted(folder.rglob(pattern)):
            if not path.is_file() or any(part.startswith(".") for part in path.relative_to(folder).parts):
                continue
            k = key(path)
            if k in found and found[k] != path:
                raise ScoreError(f"{path}: {what} file has the same name as {found[k]} (names must be unique; "
                                 f"point --{what.split()[0]} at one split's folder)")
            found[k] = path
    if not found:
        raise ScoreError(f"{folder}: no {what} files ({' or '.join(patterns)}) in this folder or below it")
    return found


def pair_files(gt: dict[str, Path], pred: dict[str, Path], pred_dir: str | os.PathLike,
               ids: list[str] | None = None, expected: str = "{key}.png") -> list[tuple[str, Path, Path]]:
    """Pair ground-truth and prediction files by name: every ground truth needs one prediction, and vice versa.

    Args:
        gt: ground-truth files by key.
        pred: prediction files by key.
        pred_dir: the prediction folder (for messages).
        ids: score only these keys (an id list such as VOC's ``val.txt``); then other files are not errors.
        expected: how a missing prediction's file name is shown.

    Raises:
        ScoreError: a ground truth without prediction, a prediction without ground truth, an id without either.
    """
    if ids is not None:
        missing = [i for i in ids if i not in gt]
        if missing:
            raise ScoreError(f"{len(missing)} id(s) of the list have no ground-truth file, e.g. {missing[:3]}")
        gt = {i: gt[i] for i in ids}
        pred = {k: v for k, v in pred.items() if k in gt}
    missing = [k for k in gt if k not in pred]
    if missing:
        shown = ", ".join(str(Path(pred_dir) / expected.format(key=k)) for k in missing[:3])
        raise ScoreError(f"{shown}: missing prediction for {len(missing)} of {len(gt)} ground-truth files "
                         f"(e.g. for {gt[missing[0]]})")
    extra = [k for k in pred if k not in gt]
    if extra:
        raise ScoreError(f"{pred[extra[0]]}: prediction without a ground-truth file ({len(extra)} such files; "
                         "a wrong folder, or pass --ids to score a subset)")
    return [(k, gt[k], pred[k]) for k in sorted(gt)]


def read_ids(path: str | os.PathLike | None) -> list[str] | None:
    """The ids of an id list file (one per line, as VOC's ``ImageSets/Segmentation/val.txt``), or ``None``."""
    if path is None:
        return None
    from ..data.splits import read_id_list

    try:
        return [re.sub(r"\.(png|jpg|jpeg)$", "", i, flags=re.I) for i in read_id_list(path, "id list")]
    except (OSError, ValueError) as err:
        raise ScoreError(str(err)) from None
