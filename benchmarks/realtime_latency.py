"""Real-time segmentation on CamVid (Chapter 10): latency per frame against mIoU after the same CPU budget.

BiSeNet V2 (``course_lib.models.bisenetv2``, arXiv 2004.02147), the zoo's real-time models Fast-SCNN and ENet
(pytorchcv), and Chapter 3's FCN-8s and DeepLabV3+ (ResNet-50, output stride 16). For each model, with the zoo's
protocol (:mod:`course_lib.recipes.zoo`, shared with ``benchmarks/seg_zoo.py``): parameters, forward FLOPs and CPU
latency per frame (batch 1, eval mode, the median of ``--repeats`` timed runs after a warm-up, ``--threads`` torch
threads, in a fresh process per model and size) at 360x480 (CamVid) and 512x1024 (a half-resolution Cityscapes
frame); then ``--budget-minutes`` of CPU training with one recipe for all (random initialisation, Adam 1e-3, poly
schedule over the budget, batches of 4 whole frames; auxiliary and booster heads left out) and pixel accuracy /
mIoU of the 11 SegNet classes on the CamVid val and test files.

Prints a markdown table, and writes it with a JSON of every number and a latency-accuracy plot into the work folder
(``$COURSE_WORK_DIR/realtime/realtime.{json,md,png}``), never into the repository or the data root.

Usage::

    python benchmarks/realtime_latency.py [--models bisenetv2,fast-scnn] [--budget-minutes 1] [--data-root DIR]
                                          [--sizes 360x480 512x1024] [--threads 2] [--repeats 5] [--eval-items N]
                                          [--latency-only]

``--data-root`` defaults to ``$COURSE_REAL_DATA/camvid_segnet`` when present, else the synthetic CamVid sample.
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))

from seg_zoo import default_data_root, positive  # noqa: E402

from course_lib.config import work_dir  # noqa: E402
from course_lib.data import registry  # noqa: E402
from course_lib.io.atomic import atomic_write_bytes, atomic_write_text  # noqa: E402
from course_lib.models.zoo import VARIANTS, ZooVariant, unavailable_reason  # noqa: E402
from course_lib.recipes.base import data_description  # noqa: E402
from course_lib.recipes.zoo import (  # noqa: E402
    benchmark_variant,
    machine_description,
    measure_cost,
    measure_cost_isolated,
)

#: BiSeNet V2 as a zoo model (booster heads left out, as the zoo's protocol trains the main output only)
BISENETV2 = ZooVariant("bisenetv2", "BiSeNetV2", "course_lib", "bisenetv2", {"width": 1.0, "booster_channels": 0})
MODELS = {"bisenetv2": BISENETV2, **{k: VARIANTS[k] for k in ("fast-scnn", "enet", "fcn8s-vgg16",
                                                            "deeplabv3plus-resnet50", "deeplabv3plus-mobilenetv2")}}
DEFAULT = ("bisenetv2", "fast-scnn", "enet", "fcn8s-vgg16", "deeplabv3plus-resnet50")


def parse_size(text: str) -> tuple[int, int]:
    """``"360x480"`` -> ``(360, 480)`` (height x width)."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW such as 360x480, got {text!r}") from None
    if h < 32 or w < 32:
        raise argparse.ArgumentTypeError(f"sizes must be at least 32x32, got {text!r}")
    return h, w


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python benchmarks/realtime_latency.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=",".join(DEFAULT), help=f"comma-separated, from {sorted(MODELS)}")
    p.add_argument("--budget-minutes", type=positive(float), default=1.0, help="CPU training time per model")
    p.add_argument("--data-root", help="CamVid (SegNet layout) folder or one above it")
    p.add_argument("--sizes", type=parse_size, nargs="+", default=[(360, 480), (512, 1024)],
                   help="latency sizes HxW; the first is also the training and evaluation size (default 360x480 "
                        "512x1024)")
    p.add_argument("--threads", type=positive(int), default=2, help="torch threads (default 2)")
    p.add_argument("--repeats", type=positive(int), default=5, help="timed runs per model and size (default 5)")
    p.add_argument("--eval-items", type=positive(int), help="evaluate only the first N images of each split")
    p.add_argument("--latency-only", action="store_true", help="measure latency only, no training")
    p.add_argument("--no-isolate", action="store_true", help="measure in this process, not a fresh one per model")
    p.add_argument("--out", help="the JSON to write (default $COURSE_WORK_DIR/realtime/realtime.json)")
    return p


def _size(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def measure_row(variant: ZooVariant, root: Path | None, args) -> dict:
    """One row: latency at every size, then (unless latency only) training and evaluation at the first size."""
    first, *others = args.sizes
    if args.latency_only or root is None:
        row = {"key": variant.key, "model": variant.model, "source": variant.source}
        reason = unavailable_reason(variant)
        if reason:
            return {**row, "error": f"not runnable here: {reason}"}
        sizes = [first, *others]
    else:
        row = benchmark_variant(variant, root, minutes=args.budget_minutes, size=first, threads=args.threads,
                                repeats=args.repeats, eval_items=args.eval_items, isolate=not args.no_isolate)
        if "error" in row:
            return row
        row[f"latency_ms_{_size(first)}"] = row["latency_ms"]
        sizes = others
    for size in sizes:
        try:
            cost = (measure_cost(variant.build(11, size), size, repeats=args.repeats, threads=args.threads)
                    if args.no_isolate else
                    measure_cost_isolated(variant, 11, size, repeats=args.repeats, threads=args.threads))
        except (RuntimeError, ImportError) as err:
            row[f"latency_ms_{_size(size)}"] = None
            row.setdefault("notes", []).append(str(err).splitlines()[0])
            continue
        row[f"latency_ms_{_size(size)}"] = cost["latency_ms"]
        row.setdefault("params", cost["params"])
        row[f"gflops_{_size(size)}"] = cost["gflops"]
    return row


def markdown(rows: list[dict], sizes: list[tuple[int, int]], threads: int) -> str:
    """The table: model, parameters, latency per size (ms, median, ``threads`` threads), val/test mIoU."""
    heads = ["model", "variant", "params (M)"] + [f"ms/frame {_size(s)} ({threads} thr)" for s in sizes]
    heads += ["train steps", "val mIoU %", "test mIoU %", "test acc %"]
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for r in rows:
        if "error" in r:
            cells = [r["model"], r["key"], str(r["error"]).replace("|", "/")] + [""] * (len(heads) - 3)
        else:
            def pct(key: str, r: dict = r) -> str:
                return f"{100 * r[key]:.1f}" if r.get(key) is not None else ""

            lat = [f"{r[f'latency_ms_{_size(s)}']:.0f}" if r.get(f"latency_ms_{_size(s)}") else "" for s in sizes]
            cells = [r["model"], r["key"], f"{r['params'] / 1e6:.2f}" if r.get("params") else "", *lat,
                     str(r.get("steps", "")), pct("val_miou"), pct("test_miou"), pct("test_pixel_accuracy")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_png(rows: list[dict], size: tuple[int, int]) -> bytes | None:
    """Latency (log scale) against val mIoU, one point per trained model; ``None`` without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    points = [(r[f"latency_ms_{_size(size)}"], 100 * r["val_miou"], r["key"]) for r in rows
              if r.get("val_miou") is not None and r.get(f"latency_ms_{_size(size)}")]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for ms, miou, key in points:
        ax.scatter(ms, miou)
        ax.annotate(key, (ms, miou), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xscale("log")
    ax.set(xlabel=f"CPU ms per {_size(size)} frame (median)", ylabel="CamVid val mIoU %",
           title="latency against accuracy after the same budget")
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    keys = [k.strip() for k in args.models.split(",") if k.strip()]
    unknown = [k for k in keys if k not in MODELS]
    if unknown:
        print(f"error: unknown models {unknown}; choose from {sorted(MODELS)}", file=sys.stderr)
        return 2
    try:
        root = None if args.latency_only else registry.find_root(
            "camvid", args.data_root if args.data_root else default_data_root())
        rows = []
        for key in keys:
            print(f"[realtime] {key} ...", file=sys.stderr, flush=True)
            rows.append(measure_row(MODELS[key], root, args))
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else work_dir() / "realtime" / "realtime.json"
    table = markdown(rows, args.sizes, args.threads)
    settings = {"budget_minutes": None if args.latency_only else args.budget_minutes,
                "sizes": [list(s) for s in args.sizes], "threads": args.threads, "repeats": args.repeats,
                "eval_items": args.eval_items, "latency": "median of the timed runs after one warm-up, batch 1"}
    result = {"settings": settings, "data": data_description(root) if root else None,
              "machine": machine_description(args.threads), "date": datetime.datetime.now().isoformat(
                  timespec="seconds"),
              "command": "python benchmarks/realtime_latency.py " + " ".join(argv if argv is not None
                                                                             else sys.argv[1:]),
              "rows": rows}
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(result, indent=1))
    atomic_write_text(out.with_suffix(".md"), table + "\n")
    png = plot_png(rows, args.sizes[0])
    if png:
        atomic_write_bytes(out.with_suffix(".png"), png)
    print(table)
    print(f"\n[realtime] wrote {out} (.md, .png)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
