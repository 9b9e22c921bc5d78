"""Flow-based motion detection on KITTI 2015 (Chapter 10): pixel and object precision / recall / F1 per flow.

For every flow (ground truth, Farnebäck, RAFT-small where its weights are on this machine, torchvision's RAFT-small)
and camera model (homography, essential matrix with the ``calib_cam_to_cam`` camera matrix), the protocol of
:func:`course_lib.recipes.motion.evaluate_motion`: RANSAC fit of the camera's motion, residual > ``--threshold`` px,
scored against ``obj_map``. Prints a markdown table and writes a JSON into the work folder
(``$COURSE_WORK_DIR/motion/motion.json``).

Usage::

    python benchmarks/motion_detection.py [--data-root DIR] [--flows ground-truth,farneback,raft]
                                          [--models homography,essential] [--threshold 1.0] [--max-items N]

``--data-root`` must hold KITTI 2015 (``data_scene_flow/training/{image_2,flow_occ,obj_map}`` and, for the essential
matrix, ``calib_cam_to_cam``); without it the synthetic KITTI 2015 sample is used (written into the work folder).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from course_lib.config import work_dir  # noqa: E402
from course_lib.data import registry  # noqa: E402
from course_lib.datasets import sample_folder  # noqa: E402
from course_lib.io.atomic import atomic_write_text  # noqa: E402
from course_lib.recipes.motion import FLOWS, evaluate_motion  # noqa: E402
from course_lib.recipes.zoo import machine_description  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/motion_detection.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", help="KITTI 2015 (data_scene_flow) or a folder above it; default: the sample")
    p.add_argument("--flows", default="ground-truth,farneback,raft,torchvision-raft", help=f"from {FLOWS}")
    p.add_argument("--models", default="homography,essential", help="camera models, comma-separated")
    p.add_argument("--threshold", type=float, default=1.0, help="residual threshold in px (default 1)")
    p.add_argument("--max-items", type=int, help="use the first N pairs with an obj_map")
    p.add_argument("--out", help="the JSON (default $COURSE_WORK_DIR/motion/motion.json)")
    args = p.parse_args(argv)
    flows = tuple(f.strip() for f in args.flows.split(",") if f.strip())
    root = Path(args.data_root) if args.data_root else registry.get("kitti").write_sample(sample_folder("kitti"))
    rows = []
    try:
        for model in (m.strip() for m in args.models.split(",") if m.strip()):
            rows += evaluate_motion(root, flows=flows, model=model, threshold=args.threshold,
                                    max_items=args.max_items, log=lambda m: print(m, file=sys.stderr))
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    lines = ["| flow | camera model | pairs | pixel P % | pixel R % | pixel F1 % | object P % | object R % | "
             "object F1 % |", "|" + "---|" * 9]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['flow']} | {r['error'].replace('|', '/')} |" + " |" * 7)
            continue
        cells = [f"{100 * r[k]:.1f}" for k in ("pixel_precision", "pixel_recall", "pixel_f1", "object_precision",
                                               "object_recall", "object_f1")]
        lines.append(f"| {r['flow']} | {r['model']} | {r['pairs']} | " + " | ".join(cells) + " |")
    out = Path(args.out) if args.out else work_dir() / "motion" / "motion.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps({"data": {"root": str(root), "synthetic": registry.is_sample_folder(root)},
                                       "machine": machine_description(1), "threshold": args.threshold,
                                       "date": datetime.datetime.now().isoformat(timespec="seconds"),
                                       "rows": rows}, indent=1))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
