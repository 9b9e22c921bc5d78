"""Time ``python -m course_lib.score panoptic`` (one process, one intersection table per image) against the
reference evaluator, panopticapi's ``pq_compute`` (a pool of one worker per CPU core), on the same files.

Usage::

    python benchmarks/panoptic_pq.py [--images 200] [--size 640 480] [--repeats 3] [--panopticapi DIR]

A synthetic COCO panoptic set of ``--images`` pictures (:func:`course_lib.synthetic.panoptic.write_coco_sample`)
and simulated predictions (:func:`course_lib.synthetic.panoptic.noisy_prediction`) are written to a temporary
folder; both evaluators score them ``--repeats`` times (median wall-clock seconds), and their PQ/SQ/RQ are
compared. panopticapi is not a dependency of the book (it is not on PyPI): clone
https://github.com/cocodataset/panopticapi and pass its folder with ``--panopticapi`` (or put it on
``PYTHONPATH``); without it only course_lib's time is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course_lib.data.coco_panoptic import read_panoptic_json, write_panoptic_json  # noqa: E402
from course_lib.io.panoptic import read_panoptic_png, write_panoptic_png  # noqa: E402
from course_lib.score.panoptic import score_panoptic  # noqa: E402
from course_lib.synthetic.panoptic import noisy_prediction, write_coco_sample  # noqa: E402


def make_set(root: Path, images: int, size: tuple[int, int]) -> list[Path]:
    """Ground truth and predictions in COCO panoptic format; returns [gt json, gt dir, pred json, pred dir]."""
    folder = write_coco_sample(root, n_train=1, n_val=images, size=size, seed=0)
    gt_json = folder / "annotations/panoptic_val2017.json"
    gt = read_panoptic_json(gt_json)
    rng = np.random.default_rng(1)
    annotations = []
    for a in gt.annotations.values():
        ids = read_panoptic_png(gt_json.with_suffix("") / a["file_name"])
        pred, segments = noisy_prediction(ids, a["segments_info"], list(gt.categories), rng)
        write_panoptic_png(root / "pred" / a["file_name"], pred)
        annotations.append({"image_id": a["image_id"], "file_name": a["file_name"], "segments_info": segments})
    write_panoptic_json(root / "pred.json", annotations)
    return [gt_json, gt_json.with_suffix(""), root / "pred.json", root / "pred"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--size", type=int, nargs=2, default=(640, 480), metavar=("W", "H"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--panopticapi", help="folder of a panopticapi clone (holding panopticapi/evaluation.py)")
    args = parser.parse_args(argv)
    if args.panopticapi:
        sys.path.insert(0, args.panopticapi)
    try:
        from panopticapi.evaluation import pq_compute
    except ImportError:
        pq_compute = None
    with tempfile.TemporaryDirectory() as tmp:
        files = make_set(Path(tmp), args.images, tuple(args.size))
        ours_times, ref_times, ours, ref = [], [], None, None
        for _ in range(args.repeats):
            start = time.perf_counter()
            ours = score_panoptic(*files).overall
            ours_times.append(time.perf_counter() - start)
            if pq_compute is not None:
                start = time.perf_counter()
                with contextlib.redirect_stdout(io.StringIO()):
                    ref = pq_compute(str(files[0]), str(files[2]), str(files[1]), str(files[3]))
                ref_times.append(time.perf_counter() - start)
    print(f"{args.images} images of {args.size[0]}x{args.size[1]}, median of {args.repeats} runs")
    print(f"course_lib score panoptic (1 process): {statistics.median(ours_times):.2f} s, "
          f"PQ {ours['All']['pq']:.6f}")
    if pq_compute is None:
        print("panopticapi: not found (pass --panopticapi DIR)")
        return 0
    import multiprocessing

    diff = max(abs(ours[k][m] - ref[k][m]) for k in ("All", "Things", "Stuff") for m in ("pq", "sq", "rq"))
    print(f"panopticapi pq_compute ({multiprocessing.cpu_count()} worker processes): "
          f"{statistics.median(ref_times):.2f} s, PQ {ref['All']['pq']:.6f}; largest PQ/SQ/RQ difference {diff:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
