"""Saving and loading checkpoints safely.

Introduced in Chapter 3 with the shared training loop. A checkpoint is written to a temporary file in the same
folder, flushed to disk and then atomically renamed over the old one (:mod:`course_lib.io.atomic`), so a crash or a
full disk never leaves a half-written file in place of a good checkpoint. Loading uses
``torch.load(weights_only=True)``: a checkpoint can hold tensors, numbers, strings, lists and dicts, but never code.

Every checkpoint carries ``content_sha256``, the SHA-256 over its tensors' bytes (in a fixed order, with their names,
dtypes and shapes); loading recomputes it, so a file whose bytes were flipped on disk or in transfer is refused
instead of loading different weights. Temporary files left beside a checkpoint by a crashed run are removed on the
next save.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import torch

from .io.atomic import atomic_write, remove_stale_temps

__all__ = ["save_checkpoint", "load_checkpoint", "content_hash", "CheckpointError", "HASH_KEY"]

#: the checkpoint entry holding the SHA-256 of the tensors' bytes.
HASH_KEY = "content_sha256"


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
    remove_stale_temps(path)
    state = {k: v for k, v in state.items() if k != HASH_KEY}
    state[HASH_KEY] = content_hash(state)
    with atomic_write(path, "wb") as fh:
        torch.save(state, fh)
    return path


def content_hash(state: Any) -> str:
    """SHA-256 over every tensor in ``state`` (nested dicts/lists), with its key path, dtype and shape.

    Example:
        >>> content_hash({"w": torch.zeros(2)}) == content_hash({"w": torch.zeros(2)})
        True
        >>> content_hash({"w": torch.zeros(2)}) == content_hash({"w": torch.ones(2)})
        False
    """
    digest = hashlib.sha256()

    def walk(obj: Any, where: str) -> None:
        if torch.is_tensor(obj):
            t = obj.detach().cpu().contiguous()
            digest.update(f"{where}|{t.dtype}|{tuple(t.shape)}|".encode())
            if t.numel():
                digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(obj, dict):
            for key in sorted(obj, key=str):
                if not (where == "" and key == HASH_KEY):
                    walk(obj[key], f"{where}/{key}")
        elif isinstance(obj, (list, tuple)):
            for i, item in enumerate(obj):
                walk(item, f"{where}/{i}")

    walk(state, "")
    return digest.hexdigest()


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
    stored = state.get(HASH_KEY)
    if stored is not None and stored != content_hash(state):
        raise CheckpointError(f"{path}: the tensors' content hash does not match the one stored when it was saved "
                              "(bytes changed on disk or in transfer): the file is corrupt; use another checkpoint")
    missing = [k for k in require if k not in state]
    if missing:
        raise CheckpointError(f"{path}: missing entries {missing}")
    return state
