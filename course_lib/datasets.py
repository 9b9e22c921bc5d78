"""Where is the data? The one function every chapter, recipe and command asks: :func:`locate`.

Introduced in Chapter 3. Given a dataset name (a key of :data:`course_lib.data.registry.REGISTRY`) and the data
root, :func:`locate` returns the real dataset's folder when it is there (the dataset's folder, or anywhere up to a
few levels below the root: see :func:`course_lib.data.registry.find_root`). When it is not:

- in the **quick** profile, the dataset's synthetic sample, written once in the official layout into the work
  folder (``<work dir>/samples/<name>``), and says so loudly;
- in the **full** profile, it raises ``FileNotFoundError`` with the dataset's note (how to download or register).

A path the caller names explicitly (``must_exist=True``, as ``--data-root`` on the command line) is never replaced
by a sample: a typo is an error. Nothing is ever written inside a data root.

Example:
    >>> root, is_sample = locate("camvid", "data", profile="quick")  # doctest: +SKIP
    Using the SYNTHETIC camvid sample at runs/samples/camvid/CamVid ...
"""

from __future__ import annotations

import os
from pathlib import Path

from .config import data_root as default_data_root
from .config import get_profile, work_dir
from .data.registry import REGISTRY, DatasetInfo, find_root, get, is_sample_folder

__all__ = ["locate", "names", "sample_folder"]


def sample_folder(name: str, work: str | os.PathLike | None = None) -> Path:
    """Where dataset ``name``'s synthetic sample is written: ``<work dir>/samples/<name>``."""
    return work_dir(work) / "samples" / name


def _how_to_get(info: DatasetInfo, root: Path) -> str:
    if info.downloadable:
        return f"python -m course_lib.download {info.name} --root {root}"
    return f"see course_lib.data.registry.get({info.name!r}).note (registration needed)"


def locate(name: str, data_root: str | os.PathLike | None = None, profile: str | None = None, *,
           verbose: bool = True, must_exist: bool = False, work: str | os.PathLike | None = None
           ) -> tuple[Path, bool]:
    """Find dataset ``name`` under ``data_root``, or fall back to its synthetic sample in the quick profile.

    Args:
        name: a key of :data:`course_lib.data.registry.REGISTRY`.
        data_root: the data root, or the dataset's own folder (default :func:`course_lib.config.data_root`).
        profile: ``"quick"`` or ``"full"`` (default from the environment).
        verbose: print loudly which data is used.
        must_exist: the caller named ``data_root`` explicitly: never fall back to a sample.
        work: the work folder for samples (default :func:`course_lib.config.work_dir`).

    Returns:
        ``(dataset folder, is_sample)``.

    Raises:
        KeyError: an unknown dataset name.
        FileNotFoundError: no real data, and the full profile or ``must_exist`` (the message says how to get it).
    """
    info = get(name)
    profile = get_profile(profile)
    root = default_data_root(data_root)
    for candidate in (root / info.name, *(root / f for f in info.folders), root):
        if not candidate.is_dir():
            continue
        try:
            found = find_root(info, candidate)
        except FileNotFoundError:
            continue
        if is_sample_folder(found):
            if must_exist:
                return found, True
            continue
        if verbose:
            print(f"Using the REAL {name} dataset at {found}")
        return found, False
    how = _how_to_get(info, root)
    if must_exist:
        find_root(info, root)  # raises FileNotFoundError naming the path and what was looked for
    if profile == "full":
        raise FileNotFoundError(f"the full profile needs the real {info.title} dataset under {root}; "
                                f"get it with: {how}\n{info.note}")
    folder = info.write_sample(sample_folder(name, work))
    if verbose:
        print(f"Using the SYNTHETIC {name} sample at {folder} (the real dataset was not found under {root}).\n"
              f"For the real data: {how}")
    return folder, True


def names() -> list[str]:
    """The registered dataset names."""
    return sorted(REGISTRY)
