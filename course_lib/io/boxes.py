"""Bounding boxes stored as JSON: ``{id: {"height", "width", "bbox": [{"label", "xmin", "ymin", "xmax", "ymax"}]}}``.

Introduced in Chapter 3 (Kvasir-SEG ships its boxes as ``kavsir_bboxes.json``, sic). The reader checks every
field and every box against the image size, and names the file and the entry when something is wrong.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["read_bboxes"]


def read_bboxes(path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """Read a box file: ``{id: {"height": h, "width": w, "bbox": [{"label", "xmin", "ymin", "xmax", "ymax"}]}}``.

    Each entry keeps its boxes under ``"bbox"`` and the image size under ``"height"``/``"width"``; every field is
    checked and converted (coordinates to ``int``, a missing label to ``"polyp"``).

    Args:
        path: the JSON file.

    Raises:
        ValueError: not JSON, or an entry lacks a field or holds an impossible box (the message names the id).

    Example:
        >>> boxes = read_bboxes("Kvasir-SEG/kavsir_bboxes.json")  # doctest: +SKIP
        >>> boxes["cju0qkwl35piu0993l0dewei2"]["bbox"][0]["xmin"]  # doctest: +SKIP
        38
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object keyed by image id, got {type(data).__name__}")
    out = {}
    for key, entry in data.items():
        try:
            height, width = int(entry["height"]), int(entry["width"])
            boxes = []
            for box in entry["bbox"]:
                b = {"label": str(box.get("label", "polyp")),
                     **{k: int(box[k]) for k in ("xmin", "ymin", "xmax", "ymax")}}
                if not (0 <= b["xmin"] <= b["xmax"] <= width and 0 <= b["ymin"] <= b["ymax"] <= height):
                    raise ValueError(f"box {b} outside the {width}x{height} image")
                boxes.append(b)
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{path}: entry {key!r} is malformed ({type(err).__name__}: {err})") from None
        out[str(key)] = {"height": height, "width": width, "bbox": boxes}
    return out
