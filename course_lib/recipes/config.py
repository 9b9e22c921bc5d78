"""Typed recipe settings: one dataclass per recipe family, with documented fields and checked overrides.

Introduced in Chapter 3. Every recipe has a ``quick`` and a ``full`` instance of its family's config class (a
subclass of :class:`RecipeConfig`); ``--set key=value`` on the command line and ``overrides={...}`` in Python are
checked against the class's fields: an unknown key or a value of the wrong type is an error that lists the valid
keys. The settings are stored in every checkpoint as plain data and rebuilt from it with the same checks.

Example:
    >>> cfg = apply_overrides(RecipeConfig(), {"lr": "0.01", "epochs": 3})
    >>> cfg.lr, cfg.epochs
    (0.01, 3)
    >>> apply_overrides(RecipeConfig(), {"learning_rate": 0.1})
    Traceback (most recent call last):
    ...
    KeyError: "RecipeConfig has no setting 'learning_rate'; valid keys: amp, batch_size, ..."
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass
from typing import Any

__all__ = ["RecipeConfig", "apply_overrides", "config_from_dict", "config_to_dict", "parse_override"]


@dataclass(frozen=True)
class RecipeConfig:
    """Settings every recipe shares. Families subclass it and add their own fields (each with a comment).

    Args:
        profile: the profile these settings belong to (``quick`` or ``full``; set by :meth:`Recipe.config`).
        seed: seeds Python, NumPy and torch (plus the process rank under ``torchrun``).
        epochs: passes over the training set (the time limit may stop earlier).
        batch_size: training batch size (per process under ``torchrun``).
        eval_batch_size: evaluation batch size.
        optimizer: ``sgd`` (with momentum), ``adam`` or ``adamw``.
        lr: initial learning rate.
        momentum: SGD momentum.
        weight_decay: L2 penalty (decoupled for AdamW).
        bias_lr_mult: learning-rate multiplier of the biases (FCN doubles it, as in Caffe).
        schedule: learning-rate schedule over training progress: ``constant``, ``poly``, ``cosine`` or ``step``.
        amp: mixed precision on a GPU (no effect on a CPU).
        grad_clip: clip the gradient norm to this value (``None``: no clipping).
        val_every: validate every this many epochs (and after the last).
        num_workers: DataLoader worker processes.
        max_items: use only the first this many training items (``None``: all).
    """

    profile: str = "quick"
    seed: int = 0
    epochs: int = 1
    batch_size: int = 8
    eval_batch_size: int = 1
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    bias_lr_mult: float = 1.0
    schedule: str = "constant"
    amp: bool = True
    grad_clip: float | None = None
    val_every: int = 1
    num_workers: int = 0
    max_items: int | None = None


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``key=value`` where value is JSON (numbers, true/false, null, lists) or a bare string.

    Example:
        >>> parse_override("crop_size=[256,256]")
        ('crop_size', [256, 256])
    """
    if "=" not in text:
        raise ValueError(f"override {text!r} is not of the form key=value")
    key, value = text.split("=", 1)
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    return key.strip(), parsed


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _describe(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _coerce(value: Any, hint: Any, key: str) -> Any:
    """``value`` converted to the type ``hint`` where that loses nothing; else a ``TypeError`` naming ``key``."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, key)
            except TypeError as err:
                errors.append(str(err))
        raise TypeError(f"setting {key!r} must be {_describe(hint)}, got {value!r}")
    if hint is Any:
        return value
    if origin in (tuple, list):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                pass
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"setting {key!r} must be a list ({_describe(hint)}), got {value!r}")
        args = typing.get_args(hint)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise TypeError(f"setting {key!r} must have {len(args)} values ({_describe(hint)}), got {value!r}")
            return tuple(_coerce(v, a, key) for v, a in zip(value, args, strict=True))
        item = args[0] if args else Any
        return origin(_coerce(v, item, key) for v in value)
    if origin is dict:
        if not isinstance(value, dict):
            raise TypeError(f"setting {key!r} must be a mapping, got {value!r}")
        return dict(value)
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise TypeError(f"setting {key!r} must be true or false, got {value!r}")
    if hint in (int, float):
        return _number(value, hint, key)
    if hint is str:
        if isinstance(value, str):
            return value
        raise TypeError(f"setting {key!r} must be a string, got {value!r}")
    if isinstance(hint, type) and not isinstance(value, hint):
        raise TypeError(f"setting {key!r} must be {_describe(hint)}, got {value!r}")
    return value


def _number(value: Any, kind: type, key: str) -> int | float:
    """``value`` as an ``int`` (whole numbers only) or a ``float``; booleans and other text are errors."""
    what, given = ("a whole number" if kind is int else "a number"), value
    if not isinstance(value, bool):
        if isinstance(value, str):
            try:
                value = float(value) if kind is float else int(value)
            except ValueError:
                value = None
        if kind is float and isinstance(value, (int, float)):
            return float(value)
        if kind is int and isinstance(value, int):
            return value
        if kind is int and isinstance(value, float) and value.is_integer():
            return int(value)
    raise TypeError(f"setting {key!r} must be {what}, got {given!r}")


def apply_overrides(cfg: RecipeConfig, overrides: dict[str, Any] | None) -> RecipeConfig:
    """A copy of ``cfg`` with ``overrides`` applied, each checked against the field's type.

    Raises:
        KeyError: a key that is not a field (the message lists the valid keys).
        TypeError: a value of the wrong type (the message names the key, its type and the value).
    """
    if not overrides:
        return cfg
    hints = _hints(type(cfg))
    names = [f.name for f in dataclasses.fields(cfg)]
    changes = {}
    for key, value in overrides.items():
        if key not in names:
            raise KeyError(f"{type(cfg).__name__} has no setting {key!r}; valid keys: {', '.join(sorted(names))}")
        changes[key] = _coerce(value, hints[key], key)
    return dataclasses.replace(cfg, **changes)


def config_to_dict(cfg: RecipeConfig) -> dict[str, Any]:
    """The settings as plain JSON-able data (checkpoints are loaded weights-only), tuples as lists."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def config_from_dict(cls: type[RecipeConfig], data: dict[str, Any], where: str = "") -> RecipeConfig:
    """Rebuild settings of class ``cls`` from :func:`config_to_dict` output, checking every key and type.

    Raises:
        ValueError: keys that ``cls`` does not have, or values of the wrong type (``where`` names the source, e.g.
            a checkpoint file).
    """
    prefix = f"{where}: " if where else ""
    try:
        return apply_overrides(cls(), data)
    except (KeyError, TypeError) as err:
        raise ValueError(f"{prefix}settings do not fit {cls.__name__} (another recipe's?): "
                         f"{err.args[0] if err.args else err}") from None
