"""Time loading BraTS cases with and without the on-disk cache (course_lib.data.brats_datasets.load_cached).

Usage::

    python benchmarks/brats_loading.py [--data-root DIR] [--repeats 3] [--patch 128]

``--data-root`` defaults to ``$COURSE_REAL_DATA`` (then ``$COURSE_DATA_ROOT``); without real cases there, a synthetic
sample is written to a temporary folder and timed instead (the table says which). Per case:

* **decode**: ``load_case``: gunzip and parse five NIfTI files with nibabel, check, crop, normalise (what every
  epoch pays without a cache);
* **first load**: ``load_cached`` on an empty cache (a :class:`course_lib.data.cache.FileCache`): the decode plus
  writing the ``float16`` ``.npy`` entries (paid once);
* **cached volume**: ``load_cached`` of a cached case, reading the whole memory-mapped volume into ``float32``;
* **cached patch**: the same, but reading only one ``--patch``-sized cube, as a training step does.

Times are the median of ``--repeats`` runs, in milliseconds; the speed-up is decode / cached volume. The file
system cache is warm in every run (the compressed files are read from memory), so the decode column is the CPU
cost of gzip and NIfTI parsing, the cost a cache removes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course_lib.data import brats  # noqa: E402
from course_lib.data.brats_datasets import load_cached  # noqa: E402
from course_lib.data.cache import FileCache  # noqa: E402
from course_lib.synthetic.brats import write_sample  # noqa: E402


def _median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def time_case(case: brats.BratsCase, cache_dir: Path, repeats: int, patch: int) -> dict:
    """Timings (ms) of one case; see the module docstring."""
    decode = _median_ms(lambda: brats.load_case(case), repeats)
    first = []
    for _ in range(repeats):
        shutil.rmtree(cache_dir, ignore_errors=True)
        t0 = time.perf_counter()
        load_cached(case, FileCache(cache_dir))
        first.append(time.perf_counter() - t0)
    cache = FileCache(cache_dir)
    vol = load_cached(case, cache)
    shape = vol.image.shape

    def full():
        np.asarray(load_cached(case, cache).image, dtype=np.float32)

    def one_patch():
        v = load_cached(case, cache)
        starts = [max(0, (s - patch) // 2) for s in v.image.shape[1:]]
        np.asarray(v.image[:, starts[0]:starts[0] + patch, starts[1]:starts[1] + patch, starts[2]:starts[2] + patch],
                   dtype=np.float32)

    return {"case": case.case_id, "shape": "x".join(map(str, shape[1:])), "decode": decode,
            "first": 1000 * statistics.median(first), "cached": _median_ms(full, repeats),
            "patch": _median_ms(one_patch, repeats)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", default=os.environ.get("COURSE_REAL_DATA") or os.environ.get("COURSE_DATA_ROOT"))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--patch", type=int, default=128)
    p.add_argument("--max-cases", type=int, default=8)
    args = p.parse_args(argv)
    what = "real"
    tmp = tempfile.TemporaryDirectory()
    try:
        cases = brats.find_cases(args.data_root) if args.data_root else []
    except FileNotFoundError:
        cases = []
    if not cases:
        what = "SYNTHETIC sample (no real cases found)"
        cases = brats.find_cases(write_sample(Path(tmp.name) / "sample", n_cases=4, size=96))
    cases = cases[: args.max_cases]
    print(f"BraTS loading times, {what} data: {len(cases)} case(s) from {cases[0].folder.parent}; "
          f"median of {args.repeats} runs, ms; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n")
    rows = [time_case(c, Path(tmp.name) / "cache", args.repeats, args.patch) for c in cases]
    header = ["case", "crop (voxels)", "decode (no cache)", "first load (decode + write)", "cached volume",
              f"cached {args.patch}^3 patch", "speed-up"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        print(f"| {r['case']} | {r['shape']} | {r['decode']:.0f} | {r['first']:.0f} | {r['cached']:.0f} | "
              f"{r['patch']:.1f} | {r['decode'] / r['cached']:.1f}x |")
    mean = {k: statistics.mean(r[k] for r in rows) for k in ("decode", "first", "cached", "patch")}
    print(f"| **mean** | | {mean['decode']:.0f} | {mean['first']:.0f} | {mean['cached']:.0f} | {mean['patch']:.1f} | "
          f"{mean['decode'] / mean['cached']:.1f}x |")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
