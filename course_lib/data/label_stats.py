"""A dataset's statistics table: how many pictures of which sizes, how much is void, and per class the share of
labelled pixels and of pictures it appears in.

Introduced in Chapter 10 (driving datasets: CamVid, KITTI, Cityscapes, Vistas side by side), usable for any dataset
with ``load_raw(i) -> (PIL image, uint8 mask)`` and the attributes ``classes`` and ``ignore_index`` (every
:class:`course_lib.data.common.PairedSegmentationDataset`). The shares are what class weighting
(:func:`course_lib.data.common.class_weights`) and the per-class IoU of rare classes depend on.

Example:
    >>> class Tiny:
    ...     classes, ignore_index = ("road", "car"), 255
    ...     def __len__(self): return 1
    ...     def load_raw(self, i): return None, np.array([[0, 0, 1, 255]], np.uint8)
    >>> stats = label_statistics(Tiny())
    >>> stats.summary["void_share"], [round(r["pixel_share"], 3) for r in stats.rows]
    (0.25, [0.667, 0.333])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LabelStatistics", "label_statistics"]


@dataclass(frozen=True)
class LabelStatistics:
    """The statistics of a dataset (or its first ``max_items`` pictures).

    Attributes:
        summary: ``{"pictures", "sizes" ({"WxH": count}), "pixels", "void_share", "classes_present"}``.
        rows: one dict per class: ``class``, ``pixels``, ``pixel_share`` (of the labelled pixels) and
            ``picture_share`` (of the pictures in which it appears).
    """

    summary: dict
    rows: list[dict]


def label_statistics(dataset, max_items: int | None = None) -> LabelStatistics:
    """Count the labels of ``dataset`` (through ``load_raw``, so no augmentation) into a :class:`LabelStatistics`.

    Args:
        dataset: has ``__len__``, ``load_raw(i)``, ``classes`` and ``ignore_index``.
        max_items: look at the first ``max_items`` pictures only.

    Raises:
        ValueError: a label value that is neither a class nor the void value (names the picture's index).
    """
    k, void = len(dataset.classes), dataset.ignore_index
    n = len(dataset) if max_items is None else min(len(dataset), max_items)
    pixels = np.zeros(k, np.int64)
    pictures = np.zeros(k, np.int64)
    sizes: dict[str, int] = {}
    total = void_pixels = 0
    for i in range(n):
        mask = np.asarray(dataset.load_raw(i)[1])
        size = f"{mask.shape[1]}x{mask.shape[0]}"
        sizes[size] = sizes.get(size, 0) + 1
        counts = np.bincount(mask.ravel().astype(np.int64), minlength=max(k, void + 1 if void is not None else 0))
        bad = [v for v in np.flatnonzero(counts) if v >= k and v != void]
        if bad:
            raise ValueError(f"picture {i} of {dataset!r}: label values {bad[:10]} are neither classes 0..{k - 1} "
                             f"nor void {void}")
        pixels += counts[:k]
        pictures += counts[:k] > 0
        total += mask.size
        void_pixels += int(counts[void]) if void is not None and void < counts.size else 0
    labelled = max(int(pixels.sum()), 1)
    rows = [{"class": name, "pixels": int(pixels[c]), "pixel_share": float(pixels[c] / labelled),
             "picture_share": float(pictures[c] / max(n, 1))} for c, name in enumerate(dataset.classes)]
    summary = {"pictures": n, "sizes": sizes, "pixels": total, "void_share": void_pixels / max(total, 1),
               "classes_present": int((pictures > 0).sum())}
    return LabelStatistics(summary, rows)
