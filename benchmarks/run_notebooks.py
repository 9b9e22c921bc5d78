"""Time every notebook of the book in the quick profile, and the whole book build; print a table.

Usage::

    python benchmarks/run_notebooks.py [--notebooks notebooks/ch03_fcn.ipynb ...] [--no-book]

Each notebook runs in a fresh kernel (as the book build and nbval run it) on the synthetic sample data in a
temporary data root. Reported per notebook: wall time and peak resident memory of its kernel. Targets (on the
2-core CPU of the course's CI machine): each notebook under 90 s, the whole book build under 10 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_TARGET_S = 90
BOOK_TARGET_S = 600


def toc_notebooks() -> list[Path]:
    """The notebooks listed in ``_toc.yml``, in book order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    found: list[Path] = []

    def walk(node):
        if isinstance(node, dict):
            for key in ("root", "file"):
                if key in node and (ROOT / f"{node[key]}.ipynb").is_file():
                    found.append(ROOT / f"{node[key]}.ipynb")
            for value in node.values():
                if isinstance(value, (list, dict)):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return found


def run_one(path: Path) -> dict:
    """Execute one notebook in a fresh kernel (child process) and measure it."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    client = NotebookClient(nb, timeout=1200, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    wall = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the kernel, after it was reaped
    return {"notebook": str(path.relative_to(ROOT)), "seconds": round(wall, 1), "peak_mib": round(peak_kib / 1024)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--notebooks", nargs="*", type=Path, help="default: every notebook in _toc.yml")
    p.add_argument("--no-book", action="store_true", help="skip the book build")
    p.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one.resolve())))
        return 0

    env = dict(os.environ, COURSE_PROFILE="quick")
    rows = []
    with tempfile.TemporaryDirectory(prefix="course-bench-") as tmp:
        env["COURSE_DATA_ROOT"] = str(Path(tmp) / "data")
        for nb in args.notebooks or toc_notebooks():
            proc = subprocess.run([sys.executable, __file__, "--one", str(nb)], env=env, capture_output=True,
                                  text=True, cwd=ROOT)
            if proc.returncode != 0:
                rows.append({"notebook": str(nb), "seconds": float("nan"), "peak_mib": 0, "error": proc.stderr[-500:]})
                continue
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        book = None
        if not args.no_book:
            out = Path(tmp) / "book"
            shutil.copytree(ROOT, out, ignore=shutil.ignore_patterns(".venv", "_build", ".git", "data", "runs",
                                                                   ".jupyter_cache"))
            start = time.perf_counter()
            proc = subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", str(out), "-W",
                                   "--keep-going"], env=env, capture_output=True, text=True)
            book = (time.perf_counter() - start, proc.returncode)
    width = max(len(r["notebook"]) for r in rows) if rows else 10
    print(f"\n{'notebook':{width}s}  {'wall s':>7s}  {'peak MiB':>8s}  target")
    for r in rows:
        ok = r["seconds"] < NOTEBOOK_TARGET_S
        verdict = f"{'ok' if ok else 'OVER'} (<{NOTEBOOK_TARGET_S}s)"
        print(f"{r['notebook']:{width}s}  {r['seconds']:7.1f}  {r['peak_mib']:8d}  {verdict}"
              + (f"  ERROR {r['error']}" if "error" in r else ""))
    if book:
        status = "ok" if book[1] == 0 and book[0] < BOOK_TARGET_S else ("FAILED" if book[1] else "OVER")
        print(f"{'book build (jupyter-book build -W)':{width}s}  {book[0]:7.1f}  {'':8s}  {status} (<{BOOK_TARGET_S}s)")
    print(f"\nmachine: {os.cpu_count()} CPUs, python {sys.version.split()[0]}")
    return 0 if all("error" not in r for r in rows) and (book is None or book[1] == 0) else 1


if __name__ == "__main__":
    sys.exit(main())
