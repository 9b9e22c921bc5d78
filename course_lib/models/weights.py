"""Pretrained weights through torchvision's weight API, with a fallback when they cannot be had.

Introduced in Chapter 3 (the VGG16 backbone of FCN) and used in Chapter 9 (RAFT). A torchvision ``WeightsEnum``
value is fetched into ``$TORCH_HOME/hub/checkpoints`` (default ``~/.cache/torch``) on first use and read from
there afterwards, without the network; offline, the caller trains from scratch and says so.
"""

from __future__ import annotations

from pathlib import Path

import torch

__all__ = ["torchvision_state"]


def torchvision_state(weights) -> tuple[dict[str, torch.Tensor] | None, str]:
    """``(state dict, where it came from)`` for a torchvision weights value, or ``(None, why it could not be had)``.

    Args:
        weights: e.g. ``torchvision.models.VGG16_Weights.IMAGENET1K_V1``.

    Example:
        >>> from torchvision.models import VGG16_Weights
        >>> state, source = torchvision_state(VGG16_Weights.IMAGENET1K_V1)  # doctest: +SKIP
    """
    cached = Path(torch.hub.get_dir()) / "checkpoints" / weights.url.rsplit("/", 1)[-1]
    name = f"torchvision {type(weights).__name__}.{weights.name}"
    try:
        state = weights.get_state_dict(progress=True, map_location="cpu", weights_only=True)
    except Exception as err:  # no network (URLError), a proxy's HTML page, a truncated cache file, ...
        return None, f"{name} could not be loaded ({type(err).__name__}: {err}; cache {cached})"
    return state, f"{name} ({cached})"
