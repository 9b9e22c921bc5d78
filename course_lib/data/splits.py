"""Splitting a dataset into train and validation when its release has no validation list.

Introduced in Chapter 3. Real releases differ: Kvasir-SEG has official lists, BraTS keeps its validation labels
private, ModelNet has only train/test. Every split here is deterministic (the same on every machine), by whole
item (a case, an image, a shape; never by slice or patch), and leaves at least one item on each side. Three ways
to rank items, each kept as its chapter introduced it so that a seed gives the same split as before:

- :func:`hashed_holdout`: rank by a hash of ``seed`` and the id (BraTS): stable when items are added.
- :func:`permuted_holdout`: a seeded permutation of the sorted ids (Kvasir-SEG without its lists).
- :func:`stratified_holdout`: per class, ranked by a CRC of the name (ModelNet validation).

:func:`read_id_list` reads the official list files.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Hashable, Iterable, Sequence
from pathlib import Path

import numpy as np

__all__ = ["check_inside", "hashed_holdout", "holdout_count", "permuted_holdout", "read_id_list", "read_list_lines",
           "stratified_holdout"]


def holdout_count(n: int, fraction: float) -> int:
    """How many of ``n`` items are held out: ``round(n * fraction)``, at least 1, at most ``n - 1``.

    Example:
        >>> holdout_count(10, 0.12), holdout_count(2, 0.1)
        (1, 1)
    """
    if not 0 < fraction < 1:
        raise ValueError(f"the held-out fraction must be in (0, 1), got {fraction}")
    if n < 2:
        raise ValueError(f"a train/val split needs at least 2 items, found {n}")
    return min(n - 1, max(1, round(n * fraction)))


def hashed_holdout(ids: Iterable[str], fraction: float, seed: int = 0) -> set[str]:
    """The ids held out: the first :func:`holdout_count` ids ranked by ``sha1(f"{seed}:{id}")``.

    Example:
        >>> sorted(hashed_holdout([f"case{i}" for i in range(5)], 0.2))
        ['case2']
    """
    ids = list(ids)
    count = holdout_count(len(ids), fraction)
    ranked = sorted(ids, key=lambda i: hashlib.sha1(f"{seed}:{i}".encode()).hexdigest())
    return set(ranked[:count])


def permuted_holdout(ids: Iterable[str], fraction: float, seed: int = 0) -> set[str]:
    """The ids held out: the first :func:`holdout_count` of a ``numpy`` permutation (``seed``) of the sorted ids.

    Example:
        >>> len(permuted_holdout([f"im{i}" for i in range(10)], 0.2))
        2
    """
    order = sorted(set(ids))
    count = holdout_count(len(order), fraction)
    perm = np.random.default_rng(seed).permutation(len(order))
    return {order[i] for i in perm[:count]}


def stratified_holdout(names: Sequence[str], labels: Sequence[Hashable], fraction: float) -> set[str]:
    """Per class, ``max(1, round(fraction * n))`` names ranked by ``crc32(name)``; classes of one item keep it.

    Example:
        >>> sorted(stratified_holdout(["a1", "a2", "a3", "b1"], ["a", "a", "a", "b"], 0.34))
        ['a1']
    """
    by_class: dict[Hashable, list[str]] = {}
    for name, label in zip(names, labels, strict=True):
        by_class.setdefault(label, []).append(name)
    held: set[str] = set()
    for members in by_class.values():
        if len(members) < 2:
            continue
        count = max(1, round(fraction * len(members)))
        order = sorted(members, key=lambda n: (zlib.crc32(n.encode()), n))
        held.update(order[:count])
    return held


def read_list_lines(path: str | os.PathLike, what: str = "list file") -> list[tuple[int, str]]:
    """``(line number, stripped text)`` of the non-blank lines of a text list file; the one reader of list files.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: the file is a folder, unreadable, not UTF-8 text, or empty; the message names it.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path}: {what} is a folder, expected a text file")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: {what} is missing")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: {what} is not UTF-8 text (byte {err.start}: {err.reason})") from None
    except OSError as err:
        raise ValueError(f"{path}: {what} cannot be read ({err.strerror or err})") from None
    lines = [(number, line.strip()) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        raise ValueError(f"{path}: {what} is empty")
    return lines


def check_inside(name: str, where: str, allow_absolute: bool = False) -> str:
    """Refuse a path from a list file that climbs out of the dataset folder with ``..`` (or is absolute).

    Args:
        name: the path as listed.
        where: ``file:line`` for the message.
        allow_absolute: accept absolute paths (lists such as SegNet's CamVid ones name the authors' machine and
            are re-rooted by the reader).

    Example:
        >>> check_inside("train/a.png", "train.txt:1")
        'train/a.png'
    """
    parts = name.replace("\\", "/").split("/")
    absolute = name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":")
    if (absolute and not allow_absolute) or ".." in parts:
        raise ValueError(f"{where}: path {name!r} leaves the dataset folder (absolute or '..'); list files name "
                         "files inside the dataset")
    return name


def read_id_list(path: str | os.PathLike, what: str = "split list") -> list[str]:
    """The non-blank, stripped lines of a list file; duplicates and non-UTF-8 bytes are errors naming the file.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: the file is not UTF-8 text, is empty, or names an id twice.
    """
    ids = [line for _, line in read_list_lines(path, what)]
    seen: set[str] = set()
    dupes = [i for i in ids if i in seen or seen.add(i)]
    if dupes:
        raise ValueError(f"{path}: {what} names {len(dupes)} id(s) twice, e.g. {dupes[:3]}")
    return ids
