"""Where is the data? The one function every chapter, recipe and command asks: :func:`locate`.

Introduced in Chapter 3. Given a dataset name (a key of :data:`course_lib.data.registry.REGISTRY`) and the data
root, :func:`locate` returns the real dataset's folder when it is there (the dataset's folder, or anywhere up to a
few levels below the root: see :func:`course_lib.data.registry.find_root`; on Kaggle also the attached input named by
the registry's ``kaggle`` field; and a copy an earlier run downloaded into the work folder's ``data/``). When it is
not:

- in the **quick** profile, the dataset's synthetic sample, written once in the official layout into the work
  folder (``<work dir>/samples/<name>``), and says so loudly;
- in the **full** profile, a dataset with a public download is fetched (:func:`fetch`: free-space check, progress
  bar, checksum, resume, safe extraction) into ``<data root>/<name>/``, or, when the data root is read-only (Kaggle's
  ``/kaggle/input``), into ``<work dir>/data/<name>/``, which it says; a dataset behind a registration (BraTS)
  raises ``FileNotFoundError`` saying where to register, which archive to get, where to put it and which public
  Kaggle dataset to attach instead.

A path the caller names explicitly (``must_exist=True``, as ``--data-root`` on the command line) is never replaced
by a sample or a download: a typo is an error. Nothing is ever written inside a data root except the downloads
that go to its ``<name>/`` folder.

In a notebook, ``course_lib.fetch("kvasir")`` downloads a dataset ahead of time (the same as
``python -m course_lib.download kvasir``) and returns its folder.

Example:
    >>> root, is_sample = locate("camvid", "data", profile="quick")  # doctest: +SKIP
    Using the SYNTHETIC camvid sample at runs/samples/camvid/CamVid ...
"""

from __future__ import annotations

import os
from pathlib import Path

from . import runtime
from .config import data_root as default_data_root
from .config import get_profile, work_dir
from .data.registry import REGISTRY, DatasetInfo, find_root, get, is_sample_folder
from .download import dataset_dir, fetch_dataset

__all__ = ["download_root", "fetch", "how_to_get", "locate", "names", "sample_folder"]


def sample_folder(name: str, work: str | os.PathLike | None = None) -> Path:
    """Where dataset ``name``'s synthetic sample is written: ``<work dir>/samples/<name>``."""
    return work_dir(work) / "samples" / name


def _writable(folder: Path) -> bool:
    """Whether ``folder`` (or, when it does not exist yet, its nearest existing parent) can be written to."""
    probe = folder.expanduser().absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)


def download_root(data_root: str | os.PathLike | None = None, work: str | os.PathLike | None = None
                  ) -> tuple[Path, str]:
    """Where downloads go: the data root when it is writable, else the work folder's ``data/`` (Kaggle).

    Returns:
        ``(folder, why)``: ``why`` is empty for the data root, else says why the work folder is used.
    """
    root = default_data_root(data_root)
    if _writable(root):
        return root, ""
    alt = work_dir(work) / "data"
    return alt, f"the data root {root} is read-only, so the download goes to the work folder's {alt} instead"


def how_to_get(info: DatasetInfo | str, root: str | os.PathLike | None = None) -> str:
    """How to get dataset ``info`` when it is missing: the download command, or the registration steps.

    For a dataset behind a registration the text says where to register, which archive to get and where to put it
    (the registry's note) and, when the registry names one, which public Kaggle dataset to attach instead.
    """
    info = get(info) if isinstance(info, str) else info
    root = default_data_root(root)
    if info.downloadable:
        return (f"the full profile downloads it by itself; or run `python -m course_lib.download {info.name} "
                f"--root {root}` (in a notebook: course_lib.fetch({info.name!r}))\n{info.note}")
    lines = [f"{info.title} cannot be downloaded automatically (a registration is needed). Put it under "
             f"{root / info.name} as described here:", info.note]
    if info.kaggle and info.kaggle not in info.note:
        slug = info.kaggle.split("/")[-1]
        where = "on Kaggle" if runtime.detect() != "kaggle" else "here on Kaggle"
        lines.append(f"{where}: attach the public Kaggle dataset {info.kaggle} (https://www.kaggle.com/datasets/"
                     f"{info.kaggle}; 'Add Input' in the side panel); it appears as /kaggle/input/{slug} and is "
                     "found there by itself.")
    return "\n".join(lines)


def _candidates(info: DatasetInfo, root: Path, work: str | os.PathLike | None, named: bool) -> list[Path]:
    found = [root / info.name, *(root / f for f in info.folders), root]
    if info.kaggle:  # an attached Kaggle input: /kaggle/input/<slug> (older) or /kaggle/input/datasets/<owner>/<slug>
        found += [root / info.kaggle.split("/")[-1], root / "datasets" / info.kaggle]
    if not named:  # a path named by the caller is searched alone
        found.append(dataset_dir(work_dir(work) / "data", info.name))  # downloaded there on a read-only data root
    return list(dict.fromkeys(found))


def _find_real(info: DatasetInfo, root: Path, work: str | os.PathLike | None, must_exist: bool) -> Path | None:
    for candidate in _candidates(info, root, work, named=must_exist):
        if not candidate.is_dir():
            continue
        try:
            found = find_root(info, candidate)
        except FileNotFoundError:
            continue
        if is_sample_folder(found) and not must_exist:
            continue
        return found
    return None


def fetch(name: str, data_root: str | os.PathLike | None = None, *, work: str | os.PathLike | None = None,
          progress: bool = True) -> Path:
    """Download dataset ``name`` (when it is not there yet) and return its folder: ``course_lib.fetch("kvasir")``.

    The files go to ``<data root>/<name>/``, or to ``<work dir>/data/<name>/`` when the data root is read-only
    (Kaggle's ``/kaggle/input``), which is printed. Before downloading, the free disk space is checked against the
    dataset's size; the archives are checked against their checksums, resumed when interrupted and unpacked
    safely (:func:`course_lib.download.fetch_dataset`).

    Args:
        name: a key of :data:`course_lib.data.registry.REGISTRY`.
        data_root: the data root (default :func:`course_lib.config.data_root`).
        work: the work folder (default :func:`course_lib.config.work_dir`).
        progress: show progress bars.

    Raises:
        FileNotFoundError: the dataset needs a registration; the message says where to register, what to get,
            where to put it and which Kaggle dataset to attach instead.
        course_lib.download.DownloadError: a download or checksum failed, or the disk is too full (the message
            says how much space is needed).

    Example:
        >>> folder = course_lib.fetch("kvasir")  # doctest: +SKIP
    """
    info = get(name)
    root = default_data_root(data_root)
    found = _find_real(info, root, work, must_exist=False)
    if found is not None:
        return found
    if not info.downloadable:
        raise FileNotFoundError(f"{info.name}: not found under {root}.\n{how_to_get(info, root)}")
    target, why = download_root(root, work)
    if why:
        print(f"{info.name}: {why}")
    print(f"{info.name}: downloading {info.title} into {dataset_dir(target, info.name)}")
    fetch_dataset(info, target, progress=progress)
    return find_root(info, dataset_dir(target, info.name))


def locate(name: str, data_root: str | os.PathLike | None = None, profile: str | None = None, *,
           verbose: bool = True, must_exist: bool = False, work: str | os.PathLike | None = None,
           download: bool = True) -> tuple[Path, bool]:
    """Find dataset ``name``; download it in the full profile, or fall back to its synthetic sample in the quick one.

    Args:
        name: a key of :data:`course_lib.data.registry.REGISTRY`.
        data_root: the data root, or the dataset's own folder (default :func:`course_lib.config.data_root`).
        profile: ``"quick"`` or ``"full"`` (default from the environment).
        verbose: print loudly which data is used.
        must_exist: the caller named ``data_root`` explicitly: never fall back to a sample or a download.
        work: the work folder for samples and for downloads on a read-only data root (default
            :func:`course_lib.config.work_dir`).
        download: in the full profile, download a missing dataset that has a public download (:func:`fetch`).

    Returns:
        ``(dataset folder, is_sample)``.

    Raises:
        KeyError: an unknown dataset name.
        FileNotFoundError: no real data, and the full profile (for a dataset behind a registration, or with
            ``download=False``) or ``must_exist``; the message says how to get it.
        course_lib.download.DownloadError: the download failed or does not fit on the disk.
    """
    info = get(name)
    profile = get_profile(profile)
    root = default_data_root(data_root)
    found = _find_real(info, root, work, must_exist)
    if found is not None:
        if verbose:
            print(f"Using the {'SYNTHETIC' if is_sample_folder(found) else 'REAL'} {name} dataset at {found}")
        return found, is_sample_folder(found)
    if must_exist:
        find_root(info, root)  # raises FileNotFoundError naming the path and what was looked for
    if profile == "full":
        if info.downloadable and download:
            return fetch(name, root, work=work, progress=verbose), False
        raise FileNotFoundError(f"the full profile needs the real {info.title} dataset, which is not under "
                                f"{root}.\n{how_to_get(info, root)}")
    if not info.sample_writer:
        raise FileNotFoundError(f"{name}: no sample writer yet (its chapter adds one), and the real {info.title} "
                                f"dataset is not under {root}.\n{how_to_get(info, root)}")
    folder = info.write_sample(sample_folder(name, work))
    if verbose:
        print(f"Using the SYNTHETIC {name} sample at {folder} (the real dataset was not found under {root}).\n"
              f"For the real data: {how_to_get(info, root).splitlines()[0]}")
    return folder, True


def names() -> list[str]:
    """The registered dataset names."""
    return sorted(REGISTRY)
