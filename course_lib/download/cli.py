"""``python -m course_lib.download``: list the datasets, download one, or write the synthetic samples.

Introduced in Chapter 3. The work is done by :mod:`course_lib.download` (verified, resumable downloads of the
registry's resources); this module is its command line (``course_lib/download/__main__.py`` runs it)::

    python -m course_lib.download --list                 # datasets, downloadable or not, their notes
    python -m course_lib.download NAME [--root DIR]      # -> DIR/NAME/ (archives in DIR/NAME/downloads/)
    python -m course_lib.download samples [--root DIR]   # every dataset's synthetic sample -> DIR/samples/NAME/

Exit status: 0 done; 1 a download, checksum or extraction failed (re-running resumes); 2 nothing was downloaded
(an unknown dataset, or one that needs manual steps, which the printed note explains).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config import data_root
from ..data.registry import REGISTRY, DatasetInfo
from ..io.archive import ArchiveError
from . import DownloadError, dataset_dir, fetch_dataset, gib, sample_dir

__all__ = ["EXIT_FAILED", "EXIT_NOTHING_DONE", "EXIT_OK", "main"]

EXIT_OK, EXIT_FAILED, EXIT_NOTHING_DONE = 0, 1, 2


def _describe(info: DatasetInfo) -> str:
    if not info.resources:
        state = "manual download (see note)"
    else:
        total = f", about {gib(info.download_size)} with its unpacked files" if info.download_size else ""
        state = f"{len(info.resources)} file(s){total}"
    note = "\n".join(f"{'':11s}{line}" for line in info.note.splitlines())
    return f"{info.name:10s} {state}" + (f"\n{note}" if note else "")


def _write_samples(registry: dict[str, DatasetInfo], root: Path) -> int:
    for info in registry.values():
        if not info.sample_writer:  # a later chapter adds its loader and sample writer
            print(f"{info.name}: no sample writer yet (skipped)")
            continue
        path = info.write_sample(sample_dir(root, info.name))
        print(f"{info.name}: sample written to {path}")
    return EXIT_OK if registry else EXIT_NOTHING_DONE


def _download(registry: dict[str, DatasetInfo], name: str, root: Path) -> int:
    info = registry[name] if name in registry else None  # (Registry.get raises for an unknown name)
    if info is None:
        print(f"error: unknown dataset {name!r}; known datasets: {', '.join(sorted(registry))} (see --list)",
              file=sys.stderr)
        return EXIT_NOTHING_DONE
    if not info.resources:
        print(f"{name}: this dataset cannot be downloaded automatically.\n{info.note}", file=sys.stderr)
        return EXIT_NOTHING_DONE
    print(f"{name}: {info.note}")
    try:
        paths = fetch_dataset(info, root)
    except (DownloadError, ArchiveError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_FAILED
    print(f"{name}: ready in {dataset_dir(root, name)}")
    for path in paths:
        print(f"  {path}")
    return EXIT_OK


def main(argv: list[str] | None = None, registry: dict[str, DatasetInfo] | None = None) -> int:
    """``python -m course_lib.download``: parse the command line and run it; returns the exit status."""
    registry = REGISTRY if registry is None else registry
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.download",
        description="Download a dataset of the course book, or write the synthetic samples.",
        epilog="Exit status: 0 done; 1 a download failed (run again to resume); 2 nothing downloaded (unknown "
               "dataset, or manual steps needed: read the printed note).")
    parser.add_argument("dataset", nargs="?", help=f"one of {', '.join(registry)}, or 'samples'")
    parser.add_argument("--root", type=Path, default=None,
                        help="data root (default: $COURSE_DATA_ROOT, else data/ in the checkout)")
    parser.add_argument("--list", action="store_true", help="list the datasets and their notes")
    args = parser.parse_args(argv)
    if args.list:
        for info in registry.values():
            print(_describe(info))
        return EXIT_OK
    if not args.dataset:
        parser.error("name a dataset, 'samples', or use --list")
    root = data_root(args.root)
    if args.dataset == "samples":
        return _write_samples(registry, root)
    return _download(registry, args.dataset, root)

