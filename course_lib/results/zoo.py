"""The semantic segmentation zoo of Chapter 3 as data: ``course_lib/results/zoo.yaml`` and the benchmark's JSON.

Introduced in Chapter 3. ``zoo.yaml`` (package data, so a notebook on Colab or Kaggle renders the same table as the
repository) lists every model of the lecture's zoo: its paper and link, its idea in one sentence, and either the
runnable variants that measure it (keys of :data:`course_lib.models.zoo.VARIANTS`) or why it is not runnable here.
:func:`zoo_table` renders it, with where each variant runs from (the package and the builder call);
:func:`load_measurements` reads the JSON that ``benchmarks/seg_zoo.py`` writes into the work folder (the run shown in
the book is kept as :data:`ZOO_MEASURED`), and :func:`measured_table` joins the two.

Example:
    >>> entries = load_zoo()
    >>> sum(e.get("in_lecture_list", True) for e in entries)
    20
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..models.zoo import VARIANTS

__all__ = ["ZOO_FILE", "ZOO_MEASURED", "load_measurements", "load_zoo", "measured_table", "zoo_table"]

#: the file name of the zoo's facts inside ``course_lib/results``
ZOO_FILE = "zoo.yaml"
#: the benchmark run committed with the book (``benchmarks/seg_zoo.py``'s JSON, copied from the work folder)
ZOO_MEASURED = Path(__file__).with_name("seg_zoo_cpu.json")
_KEYS = {"name", "paper", "link", "idea", "variants", "not_runnable", "in_lecture_list"}


def _check(data: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(data, dict) or data.get("version") != 1 or not isinstance(data.get("models"), list):
        raise ValueError(f"{where}: not a zoo file of version 1 with a list of models")
    seen: set[str] = set()
    for i, entry in enumerate(data["models"]):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not name:
            raise ValueError(f"{where}: models[{i}] has no name")
        if name in seen:
            raise ValueError(f"{where}: model {name!r} is listed twice")
        seen.add(name)
        unknown = set(entry) - _KEYS
        if unknown:
            raise ValueError(f"{where}: model {name!r} has unknown keys {sorted(unknown)}")
        missing = {"paper", "link", "idea"} - set(entry)
        if missing:
            raise ValueError(f"{where}: model {name!r} lacks {sorted(missing)}")
        if bool(entry.get("variants")) == bool(entry.get("not_runnable")):
            raise ValueError(f"{where}: model {name!r} needs either runnable variants or a not_runnable reason")
        for key in entry.get("variants") or []:
            if key not in VARIANTS:
                raise ValueError(f"{where}: model {name!r} names variant {key!r}, not one of "
                                 "course_lib.models.zoo.VARIANTS")
            if VARIANTS[key].model != name:
                raise ValueError(f"{where}: variant {key!r} belongs to {VARIANTS[key].model!r}, not {name!r}")
    return data["models"]


@cache
def _load(path: str) -> tuple[dict[str, Any], ...]:
    text = Path(path).read_text(encoding="utf-8")
    return tuple(_check(yaml.safe_load(text), path))


def load_zoo(path: str | Path | None = None) -> list[dict[str, Any]]:
    """The zoo's entries (``name``, ``paper``, ``link``, ``idea``, ``variants`` or ``not_runnable``,
    ``in_lecture_list``), in the lecture's order; ``path`` defaults to the packaged ``zoo.yaml``.

    Raises:
        ValueError: a malformed file (the message names it and the entry), or a variant key that
            :data:`course_lib.models.zoo.VARIANTS` does not know.
    """
    if path is None:
        path = Path(str(resources.files("course_lib.results") / ZOO_FILE))
    return [dict(e) for e in _load(str(path))]


def _where(key: str) -> str:
    v = VARIANTS[key]
    return f"{v.source}: `{v.call()}`"


def zoo_table(path: str | Path | None = None):
    """The zoo as a ``pandas.DataFrame``: model, paper (with link), idea, and where each variant runs from (or
    why the model is not runnable here). One row per model."""
    import pandas as pd

    rows = []
    for e in load_zoo(path):
        runs = "; ".join(f"{k} ({_where(k)})" for k in e.get("variants") or [])
        rows.append({"model": e["name"], "paper": e["paper"], "link": e["link"], "idea": e["idea"],
                     "runs from": runs or f"not runnable here: {e['not_runnable']}",
                     "in the lecture's list": e.get("in_lecture_list", True)})
    return pd.DataFrame(rows)


def load_measurements(path: str | Path) -> dict[str, Any]:
    """The JSON written by ``benchmarks/seg_zoo.py`` (``settings``, ``machine``, ``rows``).

    Raises:
        ValueError: a file that is not such a JSON (the message names it).
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: cannot read the zoo benchmark's JSON: {err}") from None
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list) or "settings" not in data:
        raise ValueError(f"{path}: not a zoo benchmark result (needs 'settings' and a list of 'rows')")
    return data


def measured_table(path: str | Path):
    """The benchmark's rows as a ``pandas.DataFrame``, with the paper link of each model from ``zoo.yaml``."""
    import pandas as pd

    links = {e["name"]: e["link"] for e in load_zoo()}
    frame = pd.DataFrame(load_measurements(path)["rows"])
    if not frame.empty and "model" in frame:
        frame.insert(2, "link", frame["model"].map(links))
    return frame
