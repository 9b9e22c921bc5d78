"""Collate functions: how ``(image, mask)`` pairs of one batch become tensors.

Introduced in Chapter 3. PASCAL VOC pictures differ in size, so evaluation batches are padded (:func:`pad_collate`,
the padding marked void so that the loss and the metrics skip it); Kvasir-SEG is scored at each mask's own
resolution, so its masks may stay a list (:func:`binary_collate`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["binary_collate", "pad_collate"]


def pad_collate(
    batch: Sequence[tuple[torch.Tensor, torch.Tensor]], ignore_index: int, multiple: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack ``(image, mask)`` pairs of different sizes by padding them at the bottom and right.

    Images are padded with zeros (the mean colour after normalisation), masks with ``ignore_index`` so that the
    padding is left out of the loss and the metrics.

    Args:
        batch: ``(image [3, H, W], mask [H, W])`` pairs.
        ignore_index: the mask value of padded pixels.
        multiple: round the padded height and width up to a multiple of this (e.g. 32 for an encoder that
            halves the resolution five times).

    Returns:
        ``images [B, 3, Hmax, Wmax]`` and ``masks [B, Hmax, Wmax]`` (``int64``).

    Example:
        >>> from functools import partial
        >>> collate = partial(pad_collate, ignore_index=255)
        >>> x, y = collate([(torch.zeros(3, 4, 5), torch.zeros(4, 5, dtype=torch.long)),
        ...                 (torch.zeros(3, 6, 3), torch.zeros(6, 3, dtype=torch.long))])
        >>> tuple(x.shape), tuple(y.shape), int(y[0, 5, 0])
        ((2, 3, 6, 5), (2, 6, 5), 255)
    """
    if len(batch) == 0:
        raise ValueError("pad_collate got an empty batch")
    for i, item in enumerate(batch):
        if len(item) != 2:
            raise ValueError(f"pad_collate expects (image, mask) pairs; item {i} has {len(item)} elements")
        image, mask = item
        if image.ndim != 3 or mask.ndim != 2 or image.shape[-2:] != mask.shape:
            raise ValueError(
                f"pad_collate: item {i} has image {tuple(image.shape)} and mask {tuple(mask.shape)}; "
                "expected [C, H, W] and [H, W] of the same H, W"
            )
    height = max(image.shape[-2] for image, _ in batch)
    width = max(image.shape[-1] for image, _ in batch)
    height = -(-height // multiple) * multiple
    width = -(-width // multiple) * multiple
    first = batch[0][0]
    images = first.new_zeros((len(batch), first.shape[0], height, width))
    masks = torch.full((len(batch), height, width), ignore_index, dtype=torch.int64)
    for i, (image, mask) in enumerate(batch):
        h, w = mask.shape
        images[i, :, :h, :w] = image
        masks[i, :h, :w] = mask
    return images, masks


def binary_collate(batch: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor | list]:
    """Stack ``(image, mask)`` pairs; masks of different sizes (native resolution) stay a list.

    Example:
        >>> batch = [(torch.zeros(3, 8, 8), torch.zeros(5, 6)), (torch.zeros(3, 8, 8), torch.zeros(7, 4))]
        >>> x, y = binary_collate(batch)
        >>> tuple(x.shape), [tuple(m.shape) for m in y]
        ((2, 3, 8, 8), [(5, 6), (7, 4)])
    """
    if not batch:
        raise ValueError("binary_collate got an empty batch")
    images = [b[0] for b in batch]
    if len({tuple(i.shape) for i in images}) != 1:
        raise ValueError(f"images of one batch must share a size, got {sorted({tuple(i.shape) for i in images})}; "
                         "resize them in the transforms")
    masks = [b[1] for b in batch]
    same = len({tuple(m.shape) for m in masks}) == 1
    return torch.stack(images), (torch.stack(masks) if same else masks)
