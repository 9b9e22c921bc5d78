"""Pretrained weights through torchvision's weight API, with a fallback when they cannot be had.

Introduced in Chapter 3 (the VGG16 backbone of FCN) and used in Chapter 9 (RAFT). A torchvision ``WeightsEnum``
value is fetched into ``$TORCH_HOME/hub/checkpoints`` (default ``~/.cache/torch``) on first use and read from
there afterwards, without the network; offline, the caller trains from scratch and says so.
"""

from __future__ import annotations

from pathlib import Path

import torch

__all__ = ["torchvision_state", "load_state_strict", "load_backbone_state"]


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


def _read_state(source, what: str) -> tuple[dict[str, torch.Tensor], str]:
    """A state dict from a file (a plain one or a checkpoint's ``"model"`` entry) or a dict."""
    if isinstance(source, dict):
        state, where = source, "<state dict>"
    else:
        where = str(source)
        if not Path(source).is_file():
            raise FileNotFoundError(f"{where}: {what} file not found")
        try:
            state = torch.load(source, map_location="cpu", weights_only=True)
        except Exception as err:  # truncated file, a pickle with code, an HTML page, ...
            raise ValueError(f"{where}: not a loadable weights-only state dict ({err})") from err
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]  # a course_lib checkpoint
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{where}: expected a state dict of tensors ({what})")
    return state, where


def load_state_strict(module: torch.nn.Module, source, *, what: str = "weights",
                      ignore: tuple[str, ...] = ()) -> str:
    """Load a state dict (file or dict) into ``module``; every parameter must be there with its shape.

    Args:
        module: the model or backbone.
        source: a ``torch.load(weights_only=True)`` file (a plain state dict or a course_lib checkpoint holding
            ``"model"``) or the dict itself.
        what: named in error messages.
        ignore: key prefixes of the file that the module does not have on purpose (a classifier: ``"fc."``).

    Returns:
        Where the weights came from (the path, or ``"<state dict>"``).

    Raises:
        FileNotFoundError, ValueError: naming the file and the missing, unexpected or mis-shaped keys.

    Example:
        >>> net = torch.nn.Linear(2, 1)
        >>> load_state_strict(net, {"weight": torch.ones(1, 2), "bias": torch.zeros(1)})
        '<state dict>'
    """
    state, where = _read_state(source, what)
    state = {k: v for k, v in state.items() if not k.startswith(ignore)}
    own = module.state_dict()
    missing = sorted(k for k in own if k not in state and not k.endswith("num_batches_tracked"))
    unexpected = sorted(k for k in state if k not in own)
    wrong = [f"{k}: file {tuple(v.shape)}, model {tuple(own[k].shape)}" for k, v in state.items()
             if k in own and v.shape != own[k].shape]
    if missing or unexpected or wrong:
        raise ValueError(f"{where}: {what} do not fit this model: missing {missing[:5]}, unexpected "
                         f"{unexpected[:5]}, wrong shapes {wrong[:5]} (a narrower or different variant?)")
    module.load_state_dict(state, strict=False)
    return where


def load_backbone_state(module: torch.nn.Module, source, *, folders=(), ignore: tuple[str, ...] = (),
                        what: str = "backbone weights") -> str | None:
    """Load pretrained backbone weights: a torchvision ``WeightsEnum`` value, a file or a dict.

    A ``WeightsEnum`` value is first looked for by its file name in ``folders`` and in torch hub's cache (no
    network); only then is torchvision's weight API asked (:func:`torchvision_state`, which downloads once).

    Returns:
        Where the weights came from, or ``None`` when a ``WeightsEnum`` could not be had (offline): the module is
        left as initialised and a message says so.

    Example:
        >>> load_backbone_state(torch.nn.Linear(2, 1), {"weight": torch.ones(1, 2), "bias": torch.zeros(1)})
        '<state dict>'
    """
    if hasattr(source, "url") and hasattr(source, "get_state_dict"):  # a torchvision WeightsEnum value
        name = source.url.rsplit("/", 1)[-1]
        found = [Path(d) / name for d in [*folders, Path(torch.hub.get_dir()) / "checkpoints"]
                 if (Path(d) / name).is_file()]
        if found:
            source = found[0]
        else:
            state, described = torchvision_state(source)
            if state is None:
                print(f"no {what}: {described}. The backbone starts from a random initialisation.")
                return None
            load_state_strict(module, state, what=what, ignore=ignore)
            return described
    return load_state_strict(module, source, what=what, ignore=ignore)
