"""Download a dataset of the course book, list the datasets, or write the bundled samples.

Usage::

    python data_scripts/download.py --list
    python data_scripts/download.py voc [--root DIR]
    python data_scripts/download.py samples [--root DIR]

``--root`` is the data root (default: ``$COURSE_DATA_ROOT``, else ``data/`` in the checkout). Dataset ``NAME`` goes
to ``DIR/NAME/`` (archives in ``DIR/NAME/downloads/``), verified and extracted by :mod:`course_lib.download`.
``samples`` calls ``write_sample(DIR/samples/NAME)`` of every dataset module that has one.

Exit status: 0 done; 1 a download, checksum or extraction failed (re-running resumes); 2 nothing was downloaded:
an unknown dataset, a dataset module not written yet, or a dataset that needs manual steps (a registration, as
for BraTS) which the printed note explains. Scripts can therefore tell "go and register" from success.

The datasets come from :data:`course_lib.download.DATASET_MODULES`; each module in :mod:`course_lib.data` may
expose ``RESOURCES`` (a list of :class:`course_lib.download.Resource`), ``DOWNLOAD_NOTE``, ``write_sample`` and
``download(root)`` (preferred over fetching ``RESOURCES`` when present, e.g. to try mirrors).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    import course_lib  # noqa: F401
except ModuleNotFoundError:  # run from a checkout without installing course_lib
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from course_lib.config import data_root  # noqa: E402
from course_lib.download import (  # noqa: E402
    DatasetEntry,
    dataset_dir,
    dataset_registry,
    fetch_dataset,
    sample_dir,
)

#: Dataset name -> its resources and note (entries whose module is missing say so in ``problem``).
DATASETS: dict[str, DatasetEntry] = dataset_registry()

EXIT_OK, EXIT_FAILED, EXIT_NOTHING_DONE = 0, 1, 2


def _describe(entry: DatasetEntry) -> str:
    if not entry.available:
        return f"{entry.name:10s} unavailable: {entry.problem}"
    if not entry.resources:
        state = "manual download (see note)"
    else:
        sizes = [r.size for r in entry.resources]
        total = f", {sum(sizes) / 2**30:.2f} GiB" if all(s is not None for s in sizes) else ""
        state = f"{len(entry.resources)} file(s){total}"
    note = "\n".join(f"{'':11s}{line}" for line in entry.note.splitlines())
    return f"{entry.name:10s} {state}" + (f"\n{note}" if note else "")


def list_datasets(registry: dict[str, DatasetEntry]) -> int:
    """Print every dataset, whether it can be downloaded, and its note."""
    for entry in registry.values():
        print(_describe(entry))
    return EXIT_OK


def write_samples(registry: dict[str, DatasetEntry], root: Path) -> int:
    """Call ``write_sample(root/samples/<name>)`` of each available dataset module that has one."""
    written = 0
    for entry in registry.values():
        writer = getattr(entry.module, "write_sample", None) if entry.available else None
        if writer is None:
            why = entry.problem if not entry.available else "no write_sample()"
            print(f"{entry.name}: skipped ({why})")
            continue
        path = writer(sample_dir(root, entry.name))
        print(f"{entry.name}: sample written to {path}")
        written += 1
    return EXIT_OK if written else EXIT_NOTHING_DONE


def download(registry: dict[str, DatasetEntry], name: str, root: Path) -> int:
    """Download and extract dataset ``name`` into ``root/name``; return the exit status."""
    entry = registry.get(name)
    if entry is None:
        print(f"error: unknown dataset {name!r}; known datasets: {', '.join(sorted(registry))} "
              "(see --list)", file=sys.stderr)
        return EXIT_NOTHING_DONE
    if not entry.available:
        print(f"error: dataset {name!r} is not available: {entry.problem}", file=sys.stderr)
        return EXIT_NOTHING_DONE
    if not entry.resources:
        print(f"{name}: this dataset cannot be downloaded automatically.\n{entry.note}", file=sys.stderr)
        return EXIT_NOTHING_DONE
    if entry.note:
        print(f"{name}: {entry.note}")
    try:
        paths = fetch_dataset(entry, root)
    except (RuntimeError, OSError) as err:  # DownloadError, or what a module's own download() raises
        print(f"error: {err}", file=sys.stderr)
        return EXIT_FAILED
    print(f"{name}: ready in {dataset_dir(root, name)}")
    for path in paths:
        print(f"  {path}")
    return EXIT_OK


def main(argv: list[str] | None = None, registry: dict[str, DatasetEntry] | None = None) -> int:
    """Parse the command line and run it; returns the exit status (see the module docstring)."""
    registry = DATASETS if registry is None else registry
    parser = argparse.ArgumentParser(
        description="Download a dataset of the course book, or write the bundled samples.",
        epilog="Exit status: 0 done; 1 a download failed (run again to resume); 2 nothing downloaded (unknown "
               "dataset, module missing, or manual steps needed: read the printed note).")
    parser.add_argument("dataset", nargs="?", help=f"one of {', '.join(registry)}, or 'samples'")
    parser.add_argument("--root", type=Path, default=None,
                        help="data root (default: $COURSE_DATA_ROOT, else data/ in the checkout)")
    parser.add_argument("--list", action="store_true", help="list the datasets and their notes")
    args = parser.parse_args(argv)
    if args.list:
        return list_datasets(registry)
    if not args.dataset:
        parser.error("name a dataset, 'samples', or use --list")
    root = data_root(args.root)
    if args.dataset == "samples":
        return write_samples(registry, root)
    return download(registry, args.dataset, root)


if __name__ == "__main__":
    sys.exit(main())
