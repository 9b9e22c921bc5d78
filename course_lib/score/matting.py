"""``score matting``: predicted alpha mattes against ground truth and trimaps -> SAD, MSE, Grad, Conn.

The protocol of Deep Image Matting's evaluation code (``compute_*.m``, used by the Composition-1k tables of DIM,
IndexNet, GCA, MatteFormer, ...), as :mod:`course_lib.metrics.matting` writes it: each error over the pixels where the
trimap is 128, per image, in the tables' units (SAD/1000, MSE, Grad/1000, Conn/1000), then the mean over images.

Files, matched by name across extensions (``boy-1518482_1920_0.png`` scores against ``boy-1518482_1920_0.jpg``):

* ``--alpha``: ground-truth mattes, 8-bit grey (Composition-1k's ``alpha_copy``; RGB files with equal channels are
  read as grey, as the MATLAB script takes the first channel);
* ``--trimap``: trimaps holding only 0/128/255 (Composition-1k's ``trimaps``), one per ground truth;
* ``--pred``: predicted mattes, 8-bit grey PNGs, one per ground truth.

A prediction, alpha or trimap that is missing, of another size (never resized), not a single-channel grey image
(RGBA, colour) or a trimap with other values is a :class:`~.common.ScoreError` naming the file.
"""

from __future__ import annotations

import os
from pathlib import Path

from .common import Report, ScoreError, collect, pair_files

__all__ = ["score_matting"]

_PATTERNS = tuple(f"*.{ext}" for e in ("png", "jpg", "jpeg", "bmp", "tif", "tiff") for ext in (e, e.upper()))


def _read(reader, path: Path):
    try:
        return reader(path)
    except (OSError, ValueError) as err:
        message = str(err)
        raise ScoreError(message if str(path) in message else f"{path}: {message}") from None


def score_matting(pred_dir: str | os.PathLike, alpha_dir: str | os.PathLike, trimap_dir: str | os.PathLike,
                  ids: list[str] | None = None) -> Report:
    """Score the mattes under ``pred_dir`` against ``alpha_dir`` over the unknown region of ``trimap_dir``'s trimaps.

    Args:
        pred_dir: folder of predicted mattes (searched recursively), named like the ground truth.
        alpha_dir: folder of ground-truth mattes.
        trimap_dir: folder of trimaps, named like the ground truth.
        ids: score only these names.

    Returns:
        a :class:`~.common.Report`: per image ``sad``, ``mse``, ``grad``, ``conn``; overall their means and
        ``images``.

    Raises:
        ScoreError: missing or extra files, sizes that differ, unreadable or non-grey mattes, bad trimap values.
    """
    from ..io.matting import read_alpha, read_trimap
    from ..metrics.matting import MattingMeter

    alphas = collect(alpha_dir, _PATTERNS, "alpha matte")
    preds = collect(pred_dir, _PATTERNS, "pred matte")
    trimaps = collect(trimap_dir, _PATTERNS, "trimap")
    pairs = pair_files(alphas, preds, pred_dir, ids)
    missing = [name for name, _, _ in pairs if name not in trimaps]
    if missing:
        raise ScoreError(f"{Path(trimap_dir) / (missing[0] + '.png')}: missing trimap for {len(missing)} of "
                         f"{len(pairs)} ground-truth mattes (e.g. for {alphas[missing[0]]})")
    if ids is None:
        extra = sorted(set(trimaps) - set(alphas))
        if extra:
            raise ScoreError(f"{trimaps[extra[0]]}: trimap without a ground-truth matte ({len(extra)} such files; "
                             "a wrong folder, or pass --ids to score a subset)")
    meter = MattingMeter()
    for name, alpha_path, pred_path in pairs:
        alpha = _read(read_alpha, alpha_path)
        pred = _read(read_alpha, pred_path)
        trimap = _read(read_trimap, trimaps[name])
        for path, array, what in ((pred_path, pred, "prediction"), (trimaps[name], trimap, "trimap")):
            if array.shape != alpha.shape:
                raise ScoreError(f"{path}: {what} is {array.shape[1]}x{array.shape[0]} (WxH), its ground truth "
                                 f"{alpha_path} is {alpha.shape[1]}x{alpha.shape[0]} (never resized for scoring)")
        meter.update(pred, alpha, trimap, name=name)
    overall = meter.compute()
    overall = {"images": overall.pop("images"), **overall}
    notes = ["Deep Image Matting's evaluation (compute_*.m): over trimap == 128, per image, mean over images; "
             "sad = SAD/1000, mse = MSE, grad = Grad/1000 (mat2gray, Gaussian derivative sigma 1.4), "
             "conn = Conn/1000 (step 0.1, 4-connectivity)",
             "mse_image, mad_image: over every pixel, no trimap (the protocol of MODNet's PPM-100 table)"]
    return Report("matting", meter.per_image, overall, notes)
