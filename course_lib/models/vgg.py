"""A VGG16-style backbone (Simonyan & Zisserman, arXiv 1409.1556) laid out like torchvision's ``vgg16``.

Introduced in Chapter 3 (FCN). The layer indices of ``features`` match torchvision's ``vgg16`` (and ``vgg16_bn``
with ``batch_norm=True``) so that torchvision's ImageNet state dict loads unchanged when ``width=1``. A ``width``
multiplier shrinks every stage for the quick profile of the book.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from .weights import torchvision_state

__all__ = ["VGG16_CFG", "make_vgg_features", "stage_ends", "load_vgg16_weights", "find_vgg16_weights",
           "VGG16_WEIGHT_FILES", "torchvision_vgg16_state", "vgg16_weight_source"]

# output channels per conv layer; "M" is a 2x2 max pooling
VGG16_CFG: list[int | str] = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]

# torchvision's file names for the ImageNet weights (the names under $TORCH_HOME/hub/checkpoints)
VGG16_WEIGHT_FILES = {False: "vgg16-397923af.pth", True: "vgg16_bn-6c64b313.pth"}


def make_vgg_features(width: float = 1.0, batch_norm: bool = False, first_padding: int = 1,
                      in_channels: int = 3) -> nn.Sequential:
    """The 13 conv + 5 pooling layers of VGG16.

    Args:
        width: channel multiplier (1.0 = the paper's 64...512 channels).
        batch_norm: add BatchNorm after every conv (as ``vgg16_bn``); helps training from scratch.
        first_padding: padding of the very first conv. FCN pads it by 100 so that any input size survives the
            7x7 ``fc6``; 1 keeps ``H / 32`` maps.
        in_channels: input channels.

    Pooling uses ``ceil_mode=True`` like the original Caffe model, so no input row is dropped.

    Example:
        >>> f = make_vgg_features(width=0.25)
        >>> f(torch.randn(1, 3, 64, 64)).shape
        torch.Size([1, 128, 2, 2])
    """
    layers: list[nn.Module] = []
    c = in_channels
    first = True
    for v in VGG16_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
            continue
        out = max(8, int(round(v * width)))
        layers.append(nn.Conv2d(c, out, 3, padding=first_padding if first else 1))
        first = False
        if batch_norm:
            layers.append(nn.BatchNorm2d(out))
        layers.append(nn.ReLU(inplace=True))
        c = out
    return nn.Sequential(*layers)


def stage_ends(features: nn.Sequential) -> list[int]:
    """Indices (exclusive ends) of ``features`` after each pooling: slices ``[0:e1], [e1:e2], ...`` are pool1..5."""
    return [i + 1 for i, m in enumerate(features) if isinstance(m, nn.MaxPool2d)]


def find_vgg16_weights(batch_norm: bool = False, search: Sequence[str | os.PathLike] = ()) -> Path | None:
    """Look for torchvision's ImageNet VGG16 weights file in the folders ``search``, in order (never downloads).

    The recipes search ``<data root>/weights`` and torch hub's cache ``$TORCH_HOME/hub/checkpoints`` (where
    ``torchvision`` saves them): see :func:`course_lib.recipes.fcn.vgg16_weight_folders`.

    Args:
        batch_norm: look for ``vgg16_bn`` instead of ``vgg16``.
        search: the folders to look in.

    Returns:
        The first file found, or ``None``.

    Example:
        >>> find_vgg16_weights(search=["/nonexistent"]) is None
        True
    """
    name = VGG16_WEIGHT_FILES[batch_norm]
    for folder in search:
        if (Path(folder) / name).is_file():
            return Path(folder) / name
    return None


def torchvision_vgg16_state(batch_norm: bool = False) -> tuple[dict[str, torch.Tensor] | None, str]:
    """torchvision's ImageNet VGG16 weights through its weight API, or ``None`` and why (offline, for example).

    ``VGG16_Weights.IMAGENET1K_V1`` (``VGG16_BN_Weights.IMAGENET1K_V1`` with ``batch_norm=True``) is fetched by
    torchvision into ``$TORCH_HOME/hub/checkpoints`` (default ``~/.cache/torch``) on first use and read from there
    afterwards, without the network.

    Returns:
        ``(state dict, where it came from)`` or ``(None, why it could not be had)``.

    Example:
        >>> state, source = torchvision_vgg16_state()  # doctest: +SKIP
        >>> source  # doctest: +SKIP
        'torchvision VGG16_Weights.IMAGENET1K_V1 (~/.cache/torch/hub/checkpoints/vgg16-397923af.pth)'
    """
    from torchvision.models import VGG16_BN_Weights, VGG16_Weights

    return torchvision_state((VGG16_BN_Weights if batch_norm else VGG16_Weights).IMAGENET1K_V1)


def vgg16_weight_source(*, batch_norm: bool, search: Sequence[str | os.PathLike],
                        use_torchvision: bool = True) -> tuple[Path | dict | None, str | None]:
    """The ImageNet VGG16 weights a VGG16-based model loads: a file in ``search`` (:func:`find_vgg16_weights`), else,
    with ``use_torchvision``, torchvision's weight API (:func:`torchvision_vgg16_state`).

    Returns:
        ``(source, described)``: ``source`` a file, a state dict or ``None``; ``described`` where torchvision's dict
        came from, or why it could not be had (``None`` for a local file or when torchvision was not asked).
    """
    source = find_vgg16_weights(batch_norm=batch_norm, search=search)
    if source is None and use_torchvision:
        return torchvision_vgg16_state(batch_norm=batch_norm)
    return source, None


def load_vgg16_weights(features: nn.Sequential, source: str | os.PathLike | dict,
                       fc6: nn.Conv2d | None = None, fc7: nn.Conv2d | None = None) -> dict[str, list[str]]:
    """Copy torchvision ImageNet VGG16 weights into ``features`` (and the convolutionalised ``fc6``/``fc7``).

    FCN turns the classifier's fully connected layers into convolutions: ``classifier.0`` (``4096 x 25088``) is
    reshaped into a ``4096 x 512 x 7 x 7`` kernel and ``classifier.3`` into ``4096 x 4096 x 1 x 1``.

    Args:
        features: a ``make_vgg_features(width=1.0)`` stack.
        source: path to a torchvision state dict (``torch.load`` with ``weights_only=True``) or the dict itself.
        fc6, fc7: optional convolutions that receive the reshaped classifier weights.

    Returns:
        ``{"loaded": [...], "skipped": [...]}`` parameter names.

    Raises:
        ValueError: naming the file when it holds no VGG16 ``features.*`` weights or shapes do not match.
    """
    where = str(source) if not isinstance(source, dict) else "<state dict>"
    if isinstance(source, dict):
        state = source
    else:
        try:
            state = torch.load(source, map_location="cpu", weights_only=True)
        except Exception as err:  # corrupt file, pickle with code, ...
            raise ValueError(f"{where}: not a loadable weights-only state dict ({err})") from err
    if not isinstance(state, dict) or not any(k.startswith("features.") for k in state):
        raise ValueError(f"{where}: no 'features.*' keys; expected a torchvision vgg16 state dict")
    own = {f"features.{k}": v for k, v in features.state_dict().items()}
    targets: dict[str, torch.Tensor] = dict(own)
    if fc6 is not None:
        targets["classifier.0.weight"] = fc6.weight
        targets["classifier.0.bias"] = fc6.bias
    if fc7 is not None:
        targets["classifier.3.weight"] = fc7.weight
        targets["classifier.3.bias"] = fc7.bias
    loaded, skipped = [], []
    with torch.no_grad():
        for key, dst in targets.items():
            if key not in state:
                skipped.append(key)
                continue
            src = state[key]
            if key.startswith("classifier") and key.endswith("weight"):
                src = src.reshape(dst.shape) if src.numel() == dst.numel() else src
            if src.shape != dst.shape:
                raise ValueError(f"{where}: {key} has shape {tuple(src.shape)}, the model expects {tuple(dst.shape)} "
                                 "(pretrained weights need width=1.0 and fc_channels=4096)")
            dst.copy_(src)
            loaded.append(key)
    missing_feats = [k for k in own if k in skipped and not k.endswith("num_batches_tracked")]
    if missing_feats:
        raise ValueError(f"{where}: missing backbone weights {missing_feats[:5]} (batch_norm setting mismatched?)")
    return {"loaded": loaded, "skipped": skipped}
