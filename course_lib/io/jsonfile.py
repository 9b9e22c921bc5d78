"""JSON files with errors that name the file: the one reader behind the JSON annotation formats of the book.

Introduced in Chapter 10 (Cityscapes polygons, Mapillary Vistas configs).

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.json"; _ = path.write_text('{"labels": []}')
    >>> read_json(path, "Vistas config")
    {'labels': []}
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["read_json"]


def read_json(path: str | os.PathLike, what: str = "JSON file") -> Any:
    """Parse a UTF-8 JSON file.

    Args:
        path: the file.
        what: what the file should be, for the messages (``"Cityscapes polygon file"``).

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: a folder in its place, not UTF-8, not JSON, or nested too deeply; the message names the file.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: {what} is missing")
    if not path.is_file():
        raise ValueError(f"{path}: is not a file (a {what} was expected)")
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise ValueError(f"{path}: not a UTF-8 JSON {what} ({type(err).__name__})") from None
    except OSError as err:
        raise ValueError(f"{path}: {what} cannot be read ({err.strerror or err})") from None
