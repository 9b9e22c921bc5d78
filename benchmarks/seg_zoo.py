"""The semantic segmentation zoo of Chapter 3 on CamVid: cost and accuracy after the same CPU training budget.

For every runnable model of the lecture's list (the variants of ``course_lib.models.zoo.VARIANTS``; the papers,
ideas and the reasons why the others do not run here are in ``course_lib/results/zoo.yaml``): parameters, forward
FLOPs (``torch.utils.flop_counter.FlopCounterMode``), CPU latency per 360x480 image (batch 1, median of
``--repeats`` runs, ``--threads`` torch threads), the peak resident memory of that inference (Linux's peak RSS
over the loaded model's, in a fresh process per model), and pixel accuracy / mIoU on the CamVid val and test files
after ``--budget-minutes`` of CPU training with one recipe for all (random initialisation, Adam 1e-3, poly schedule over
the time budget, batches of 4 whole frames). See :mod:`course_lib.recipes.zoo` for the exact protocol.

Prints one markdown table and writes it, with a JSON of every number and the settings, into the work folder
(``$COURSE_WORK_DIR/seg_zoo/seg_zoo.{json,md}`` by default), never into the repository or the data root. Rows of an
earlier run with the same settings are kept, so the zoo can be measured a few models at a time.

Usage::

    python benchmarks/seg_zoo.py [--models enet,fast-scnn] [--budget-minutes 1] [--data-root DIR]
                                 [--eval-items N] [--threads 2] [--repeats 5] [--out FILE.json] [--list]

``--data-root`` defaults to ``$COURSE_REAL_DATA/camvid_segnet`` when that folder exists, else CamVid under the data
root, else the synthetic CamVid sample (written into the work folder). Every model costs its budget plus its
measurement plus its evaluation, one inference per val and test frame at about the latency the table reports
(the official split's 101 val and 233 test frames take under 30 s for Fast-SCNN, about 7 minutes for the dilated
ResNet-50 models and 14 for FCN-8s on 2 idle cores); ``--eval-items`` caps each split.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from course_lib.config import work_dir  # noqa: E402
from course_lib.data import registry  # noqa: E402
from course_lib.datasets import locate  # noqa: E402
from course_lib.io.atomic import atomic_write_text  # noqa: E402
from course_lib.models.zoo import VARIANTS, unavailable_reason  # noqa: E402
from course_lib.recipes.base import data_description  # noqa: E402
from course_lib.recipes.zoo import machine_description, markdown_table, run_zoo  # noqa: E402
from course_lib.results.zoo import load_zoo  # noqa: E402


def default_data_root() -> Path:
    """``$COURSE_REAL_DATA/camvid_segnet`` when present, else CamVid under the data root (``$COURSE_DATA_ROOT``),
    else the synthetic CamVid sample in the work folder (:func:`course_lib.datasets.locate`, quick profile)."""
    real = os.environ.get("COURSE_REAL_DATA")
    if real and (Path(real) / "camvid_segnet").is_dir():
        return Path(real) / "camvid_segnet"
    root, _ = locate("camvid", profile="quick", download=False)
    return root


def positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        return value
    return parse


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python benchmarks/seg_zoo.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--models", help="comma-separated zoo keys (see --list); default: every runnable one")
    p.add_argument("--budget-minutes", type=positive(float), default=1.0,
                   help="CPU training time per model (process CPU time, all threads), in minutes (default 1)")
    p.add_argument("--data-root", help="CamVid (SegNet layout) folder or one above it (default: "
                   "$COURSE_REAL_DATA/camvid_segnet, else the synthetic sample)")
    p.add_argument("--eval-items", type=positive(int), help="evaluate only the first N images of each split")
    p.add_argument("--threads", type=positive(int), default=2, help="torch threads (default 2)")
    p.add_argument("--repeats", type=positive(int), default=5, help="timed inference runs per model (default 5)")
    p.add_argument("--size", type=positive(int), nargs=2, default=[360, 480], metavar=("H", "W"),
                   help="input and training crop size (default 360 480, CamVid's)")
    p.add_argument("--out", help="the JSON to write (default $COURSE_WORK_DIR/seg_zoo/seg_zoo.json); the markdown "
                   "table goes next to it")
    p.add_argument("--no-isolate", action="store_true", help="measure memory in this process (a lower bound) "
                   "instead of a fresh process per model")
    p.add_argument("--list", action="store_true", help="list the zoo and exit")
    return p


def list_zoo() -> None:
    for entry in load_zoo():
        keys = entry.get("variants") or []
        where = ", ".join(f"{k} [{VARIANTS[k].source}{'' if not unavailable_reason(VARIANTS[k]) else ', missing'}]"
                          for k in keys) or "not runnable: " + entry["not_runnable"]
        print(f"{entry['name']:11s} {entry['link']:40s} {where}")


def merge(previous: Path, settings: dict, rows: list[dict]) -> list[dict]:
    """The new rows, after the rows of ``previous`` (same settings) for models not measured again."""
    if not previous.is_file():
        return rows
    try:
        old = json.loads(previous.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return rows
    if old.get("settings") != settings:
        print(f"[seg_zoo] {previous} was measured with other settings: it is replaced", file=sys.stderr)
        return rows
    fresh = {r["key"] for r in rows}
    kept = [r for r in old.get("rows", []) if r.get("key") not in fresh]
    order = {k: i for i, k in enumerate(VARIANTS)}
    return sorted(kept + rows, key=lambda r: order.get(r.get("key"), len(order)))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.list:
        list_zoo()
        return 0
    keys = [k.strip() for k in args.models.split(",") if k.strip()] if args.models else list(VARIANTS)
    unknown = [k for k in keys if k not in VARIANTS]
    if unknown:
        print(f"error: unknown zoo models {unknown}; choose from {sorted(VARIANTS)}", file=sys.stderr)
        return 2
    try:
        root = registry.find_root("camvid", args.data_root if args.data_root else default_data_root())
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else work_dir() / "seg_zoo" / "seg_zoo.json"
    size = tuple(args.size)
    settings = {"budget_minutes": args.budget_minutes, "budget_clock": "process CPU time",
                "size": list(size), "threads": args.threads,
                "repeats": args.repeats, "eval_items": args.eval_items, "data_root": str(root),
                "memory": "peak resident memory of the inference over the loaded model's, " +
                          ("in this process" if args.no_isolate else "in a fresh process per model")}
    done: list[dict] = []
    table = markdown_table([])

    def save(row: dict) -> None:  # after every model: an interrupted run keeps what it measured
        nonlocal table
        done.append(row)
        rows = merge(out, settings, list(done))
        result = {"settings": settings, "data": data_description(root), "machine": machine_description(args.threads),
                  "date": datetime.datetime.now().isoformat(timespec="seconds"),
                  "command": "python benchmarks/seg_zoo.py " + " ".join(argv if argv is not None else sys.argv[1:]),
                  "rows": rows}
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out, json.dumps(result, indent=1))
        table = markdown_table(rows)
        atomic_write_text(out.with_suffix(".md"), table + "\n")

    try:
        run_zoo(keys, root, minutes=args.budget_minutes, size=size, threads=args.threads, repeats=args.repeats,
                eval_items=args.eval_items, isolate=not args.no_isolate,
                log=lambda m: print(m, file=sys.stderr, flush=True), on_row=save)
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(table)
    print(f"\n[seg_zoo] wrote {out} and {out.with_suffix('.md')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
