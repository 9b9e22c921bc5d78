"""Time loading and sampling real ModelNet shapes with and without the ``.npy`` cache; print a table.

Usage::

    python benchmarks/modelnet_loading.py [--data-root DIR] [--points 2048] [--method uniform] [--repeats 5]

``--data-root`` defaults to ``$COURSE_REAL_DATA`` (then ``$COURSE_DATA_ROOT``); every ``.off`` mesh and (up to
``--max-txt``) resampled ``.txt`` cloud found below it is timed. Without real files there, a synthetic sample is
written to a temporary folder and timed instead (the table says which). Per shape:

* **parse**: :func:`course_lib.io.off.read_off` (or :func:`course_lib.io.points.read_point_txt` for a ``.txt``
  cloud);
* **parse + sample**: the parse plus open3d's area-weighted (``--method uniform``) or Poisson disk sampling of
  ``--points`` points: what every epoch would pay without a cache;
* **first load**: :func:`course_lib.data.modelnet.load_mesh_points` on an empty cache (a
  :class:`course_lib.data.cache.FileCache`): the above plus writing the ``.npy`` file (paid once);
* **cached**: the same call once the ``.npy`` exists (what later epochs and runs pay).

Times are the median of ``--repeats`` runs in milliseconds; the speed-up is (parse + sample) / cached. The file
system cache is warm, so the numbers are CPU costs.
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course_lib.data import modelnet  # noqa: E402
from course_lib.data.cache import FileCache  # noqa: E402
from course_lib.io.off import read_off  # noqa: E402
from course_lib.io.points import read_point_txt  # noqa: E402
from course_lib.synthetic.modelnet import write_sample  # noqa: E402


def _median_ms(fn, repeats: int, before=None) -> float:
    times = []
    for _ in range(repeats):
        if before is not None:
            before()
        start = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def _shapes(root: Path, max_txt: int) -> list[Path]:
    forms = modelnet.find_forms(root)
    found: list[Path] = []
    if "off" in forms:
        found += sorted(p for p in forms["off"].parent.rglob("*.off") if "__MACOSX" not in p.parts)
    if "resampled" in forms:
        found += sorted(p for p in forms["resampled"].glob("*/*.txt"))[:max_txt]
    return found


def time_shape(path: Path, points: int, method: str, repeats: int, cache: Path) -> dict:
    """The four timings of one mesh (or ``.txt`` cloud)."""
    def clear():
        shutil.rmtree(cache, ignore_errors=True)

    if path.suffix == ".off":
        mesh = read_off(path)
        size = f"{len(mesh.vertices)} v / {mesh.num_polygons} f"
        parse = _median_ms(lambda: read_off(path), repeats)

        def parse_and_sample():
            m = read_off(path)
            modelnet.sample_mesh(m.vertices, m.faces, points, method)

        def load():
            modelnet.load_mesh_points(path, points, method, cache_dir=cache)
    else:
        size = f"{len(read_point_txt(path))} points"
        parse = _median_ms(lambda: read_point_txt(path), repeats)
        parse_and_sample = lambda: read_point_txt(path)  # noqa: E731 (already points: nothing to sample)

        def load():
            FileCache(cache).array([path], "txt", lambda: read_point_txt(path))

    sampled = _median_ms(parse_and_sample, repeats)
    first = _median_ms(load, repeats, before=clear)
    load()
    cached = _median_ms(load, repeats)
    where = path.parents[2].name if path.suffix == ".off" else path.parents[1].name  # ModelNet10/40, resampled
    return {"shape": f"{where}/{path.name}", "size": size, "parse": parse, "sampled": sampled, "first": first,
            "cached": cached}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", type=Path, default=None)
    p.add_argument("--points", type=int, default=2048)
    p.add_argument("--method", choices=["uniform", "poisson"], default="uniform")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--max-txt", type=int, default=3, help="resampled .txt clouds to time")
    args = p.parse_args()
    root = args.data_root or Path(os.environ.get("COURSE_REAL_DATA") or os.environ.get("COURSE_DATA_ROOT") or "data")
    with tempfile.TemporaryDirectory(prefix="modelnet-bench-") as tmp:
        shapes = _shapes(root, args.max_txt) if root.is_dir() else []
        kind = f"real files under {root}"
        if not shapes:
            root = write_sample(Path(tmp) / "sample", n_train=2, n_test=1)
            shapes = _shapes(root, args.max_txt)[:6]
            kind = "SYNTHETIC sample (no real ModelNet found)"
        rows = [time_shape(s, args.points, args.method, args.repeats, Path(tmp) / "cache") for s in shapes]
    print(f"ModelNet loading, {kind}; {args.points} points, {args.method} sampling, median of {args.repeats} (ms)\n")
    header = ["shape", "size", "parse", "parse + sample", "first load", "cached", "speed-up"]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(["---"] * 2 + ["---:"] * 5) + "|")
    for r in rows:
        print(f"| {r['shape']} | {r['size']} | {r['parse']:.1f} | {r['sampled']:.1f} | {r['first']:.1f} | "
              f"{r['cached']:.2f} | {r['sampled'] / max(r['cached'], 1e-6):.0f}x |")
    print(f"\nmachine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
