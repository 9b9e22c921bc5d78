"""``python -m course_lib.score``: the official metric of every benchmark, on prediction files.

Students compare their numbers with papers; instructors grade submitted predictions. Each subcommand scores
prediction files in a benchmark's submission format against ground truth in its official layout, prints per-item
and overall numbers, and the overall numbers as one JSON object on its last line:

- ``semantic --dataset NAME`` (:mod:`.semantic`): label PNGs of VOC, CamVid, ADE20K, LIP, CIHP, Cityscapes;
- ``binary`` (:mod:`.binary`): polyp masks, Dice/IoU at a threshold and PraNet's protocol over 256 thresholds;
- ``brats`` (:mod:`.brats`): NIfTI label maps, Dice and HD95 of WT/TC/ET with the BraTS conventions;
- ``kitti-flow`` (:mod:`.kitti_flow`): 16-bit flow PNGs, EPE and Fl-all as the KITTI devkit computes them;
- ``matting`` (:mod:`.matting`): alpha mattes, SAD/MSE/Grad/Conn over the trimap's unknown region (Composition-1k);
- ``panoptic`` (:mod:`.panoptic`): COCO panoptic JSON + PNGs, PQ/SQ/RQ per category and for All/Things/Stuff;
- ``davis`` (:mod:`.davis`): DAVIS result PNGs, J/F/J&F with Mean, Recall and Decay as davis2017-evaluation.

Bad input (missing, extra or mismatched files, wrong encodings) is a :class:`~.common.ScoreError` naming the file;
the command prints ``error: ...`` and exits with status 2, never a silently wrong number. Introduced with
Chapter 3; later chapters add their benchmarks as modules here and a subcommand in ``__main__.py``. The modules
import their heavy dependencies (torch, nibabel, MONAI) when they score, so ``--help`` is quick.

Example:
    >>> from course_lib.score import score_binary
    >>> report = score_binary("Kvasir-SEG/masks", "predictions")  # doctest: +SKIP
    >>> report.overall["pranet_mean_dice"]  # doctest: +SKIP
"""

from __future__ import annotations

from .binary import score_binary
from .brats import score_brats
from .common import Report, ScoreError
from .davis import score_davis
from .kitti_flow import score_kitti_flow
from .matting import score_matting
from .panoptic import score_panoptic
from .semantic import SEMANTIC_DATASETS, score_semantic

__all__ = ["SEMANTIC_DATASETS", "Report", "ScoreError", "score_binary", "score_brats", "score_davis",
           "score_kitti_flow", "score_matting", "score_panoptic", "score_semantic"]
