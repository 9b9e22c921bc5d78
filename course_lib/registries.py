"""A registry of named things (datasets, recipes): unique names and a lookup whose error lists the known names.

Introduced in Chapter 3. :data:`course_lib.data.registry.REGISTRY` (datasets) and
:data:`course_lib.recipes.RECIPES` (training recipes) are instances.

Example:
    >>> from types import SimpleNamespace as NS
    >>> reg = Registry("recipe")
    >>> _ = reg.register(NS(name="fcn8s-camvid"))
    >>> reg.get("fcn8s-camvid").name
    'fcn8s-camvid'
    >>> reg.get("fcn9s")
    Traceback (most recent call last):
    ...
    KeyError: "unknown recipe 'fcn9s'; known recipes: fcn8s-camvid"
"""

from __future__ import annotations

from typing import Any

__all__ = ["Registry"]


class Registry(dict):
    """A ``dict`` from name to item (anything with a ``name`` attribute), filled by :meth:`register`.

    Args:
        kind: what the items are, for messages (``"dataset"``, ``"recipe"``).
    """

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def register(self, item: Any) -> Any:
        """Add ``item`` under ``item.name``; a name registered twice is an error."""
        if item.name in self:
            raise ValueError(f"{self.kind} {item.name!r} is registered twice")
        self[item.name] = item
        return item

    def get(self, name: str) -> Any:  # type: ignore[override]
        """The item called ``name``; an unknown name is a ``KeyError`` that lists the known ones."""
        try:
            return self[name]
        except KeyError:
            raise KeyError(f"unknown {self.kind} {name!r}; known {self.kind}s: {', '.join(sorted(self))}") from None
