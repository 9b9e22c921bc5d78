"""The command line of :mod:`course_lib.score`: ``python -m course_lib.score BENCHMARK`` (semantic, binary, brats,
kitti-flow, matting, panoptic, coco-segm, davis)."""

from __future__ import annotations

import argparse
import sys

_EPILOG = "The last line printed is the overall result as one JSON object. Bad input: 'error: ...', exit status 2."


def build_parser() -> argparse.ArgumentParser:
    from .semantic import SEMANTIC_DATASETS

    parser = argparse.ArgumentParser(prog="python -m course_lib.score", description="Score prediction files with "
                                     "the official metric of a benchmark.", epilog=_EPILOG)
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help, epilog=_EPILOG)
        p.add_argument("--gt", required=True, help="ground-truth folder (searched recursively)")
        p.add_argument("--pred", required=True, help="prediction folder (files named like the ground truth)")
        p.add_argument("--ids", help="score only the names listed in this file (one per line, e.g. VOC's val.txt)")
        return p

    p = add("semantic", "label PNGs in a dataset's own encoding: pixel accuracy, mean accuracy, per-class IoU, mIoU "
            "(one confusion matrix over the whole set)")
    p.add_argument("--dataset", required=True, choices=SEMANTIC_DATASETS)
    p.add_argument("--allow-void", action="store_true",
                   help="count predictions of the void value at labelled pixels as misses instead of an error")
    p.add_argument("--pred-train-ids", action="store_true",
                   help="Cityscapes: predictions hold the 19 train ids (255 = none) instead of label ids")
    p = add("binary", "polyp masks: Dice/IoU at a threshold (per image, mean over images) and PraNet's protocol "
            "(Dice over 256 thresholds)")
    p.add_argument("--threshold", type=float, default=0.5, help="threshold of the per-image protocol (default 0.5)")
    p = add("brats", "BraTS NIfTI label maps: Dice and HD95 of WT, TC, ET per case and their mean")
    p.add_argument("--release", choices=("auto", "2021", "2023"), default="auto",
                   help="label of the enhancing tumour: 2021 (and before) 4, 2023 3; auto detects it")
    p.add_argument("--no-hd95", action="store_true", help="Dice only (HD95 needs MONAI)")
    add("kitti-flow", "KITTI 16-bit flow PNGs against flow_occ or flow_noc: EPE and Fl-all as the KITTI devkit")
    text = ("alpha mattes over the trimap's unknown region: SAD/1000, MSE, Grad/1000, Conn/1000 per image and their "
            "means, as Deep Image Matting's evaluation code (Composition-1k)")
    p = sub.add_parser("matting", help=text, description=text, epilog=_EPILOG)
    p.add_argument("--pred", required=True, help="predicted mattes (8-bit grey, named like the ground truth)")
    p.add_argument("--alpha", required=True, help="ground-truth mattes (e.g. Composition-1k-testset/alpha_copy)")
    p.add_argument("--trimap", required=True, help="trimaps of 0/128/255 (e.g. Composition-1k-testset/trimaps)")
    p.add_argument("--ids", help="score only the names listed in this file (one per line)")
    text = "COCO panoptic format (JSON + PNG folder): PQ, SQ, RQ per category and for All, Things, Stuff"
    p = sub.add_parser("panoptic", help=text, description=text, epilog=_EPILOG)
    p.add_argument("--gt-json", required=True, help="ground-truth JSON, e.g. annotations/panoptic_val2017.json")
    p.add_argument("--gt-dir", required=True, help="its PNG folder, e.g. annotations/panoptic_val2017")
    p.add_argument("--pred-json", required=True, help="predictions JSON (annotations with segments_info)")
    p.add_argument("--pred-dir", required=True, help="predicted panoptic PNGs (id = R + 256 G + 256^2 B)")
    text = ("COCO instance masks (results JSON of RLE masks) against an instances JSON: the twelve COCOeval statistics "
            "of mask AP (Chapter 5)")
    p = sub.add_parser("coco-segm", help=text, description=text, epilog=_EPILOG)
    p.add_argument("--gt", required=True, help="ground-truth instances JSON (e.g. annotations/instances_val2017.json)")
    p.add_argument("--pred", required=True, help="results JSON: [{image_id, category_id, segmentation (RLE), score}]")
    text = "DAVIS semi-supervised results (<seq>/NNNNN.png): J, F, J&F per object and global, as davis2017-evaluation"
    p = sub.add_parser("davis", help=text, description=text, epilog=_EPILOG)
    p.add_argument("--gt", required=True, help="the DAVIS folder (Annotations/<resolution>/<seq>/)")
    p.add_argument("--pred", required=True, help="results folder in the DAVIS layout (<seq>/NNNNN.png)")
    p.add_argument("--year", choices=("2016", "2017"), help="default: told by the annotations (grey = 2016)")
    p.add_argument("--sequences", nargs="+", help="score only these sequences")
    p.add_argument("--split", help="score the sequences of ImageSets' list (train, val); default: all on disk")
    p.add_argument("--resolution", default="480p", help="480p (default) or Full-Resolution")
    return parser


def run(args: argparse.Namespace):
    """Run the scorer ``args`` names; returns its :class:`~course_lib.score.common.Report`."""
    from .common import read_ids

    if args.command == "panoptic":
        from .panoptic import score_panoptic

        return score_panoptic(args.gt_json, args.gt_dir, args.pred_json, args.pred_dir)
    if args.command == "coco-segm":
        from .coco_segm import score_coco_segm

        return score_coco_segm(args.gt, args.pred)
    if args.command == "davis":
        from .davis import score_davis

        return score_davis(args.gt, args.pred, year=args.year, sequences=args.sequences, split=args.split,
                           resolution=args.resolution)
    ids = read_ids(args.ids)
    if args.command == "semantic":
        from .semantic import score_semantic

        return score_semantic(args.dataset, args.gt, args.pred, ids, allow_void=args.allow_void,
                              pred_train_ids=args.pred_train_ids)
    if args.command == "binary":
        from .binary import score_binary

        return score_binary(args.gt, args.pred, args.threshold, ids)
    if args.command == "brats":
        from .brats import score_brats

        return score_brats(args.gt, args.pred, args.release, hd95=not args.no_hd95, ids=ids)
    if args.command == "matting":
        from .matting import score_matting

        return score_matting(args.pred, args.alpha, args.trimap, ids)
    from .kitti_flow import score_kitti_flow

    return score_kitti_flow(args.gt, args.pred, ids)


def main(argv: list[str] | None = None) -> int:
    from .common import ScoreError

    args = build_parser().parse_args(argv)
    try:
        report = run(args)
    except ScoreError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print("\n".join(report.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
