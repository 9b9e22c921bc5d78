"""Saving and loading checkpoints safely.

Introduced in Chapter 3 with the shared training loop. A checkpoint is written to a temporary file in the same
folder, flushed to disk and then atomically renamed over the old one (:mod:`course_lib.io.atomic`), so a crash or a
full disk never leaves a half-written file in place of a good checkpoint. Loading uses
``torch.load(weights_only=True)``: a checkpoint can hold tensors, numbers, strings, lists and dicts, but never code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from .io.atomic import atomic_write

__all__ = ["save_checkpoint", "load_checkpoint", "CheckpointError"]


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, truncated, not weights-only, or lacks the expected entries."""


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> Path:
    """Atomically write ``state`` to ``path`` (creating its folder).

    Args:
        state: plain data: tensors, state dicts, numbers, strings, lists, dicts.
        path: destination file.

    Example:
        >>> import tempfile
        >>> p = save_checkpoint({"epoch": 1}, Path(tempfile.mkdtemp()) / "last.pt")
        >>> load_checkpoint(p)["epoch"]
        1
    """
    path = Path(path)
    with atomic_write(path, "wb") as fh:
        torch.save(state, fh)
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu",
                    require: tuple[str, ...] = ()) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``; raise :class:`CheckpointError` naming the file on failure.

    Args:
        path: checkpoint file.
        map_location: where tensors go.
        require: keys that must be present (e.g. ``("model",)``).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        raise CheckpointError(f"{path}: cannot be loaded as a weights-only checkpoint "
                              f"(truncated, corrupted or not written by torch.save?): {err}") from err
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: expected a dict, found {type(state).__name__}")
    missing = [k for k in require if k not in state]
    if missing:
        raise CheckpointError(f"{path}: missing entries {missing}")
    return state
