"""The registry of training recipes: ``get_recipe("fcn8s-camvid")``; ``python -m course_lib.train --list``.

Each chapter adds its recipes here. Introduced in Chapter 3.
"""

from __future__ import annotations

from .base import Recipe, TrainResult, parse_override
from .brats import brats_recipes
from .fcn import fcn_recipes
from .flow import flow_recipes
from .pointnet import pointnet_recipes
from .unet import unet_recipes

RECIPES: dict[str, Recipe] = {}


def register(recipe: Recipe) -> Recipe:
    """Add ``recipe`` to :data:`RECIPES` (names must be unique)."""
    if recipe.name in RECIPES:
        raise ValueError(f"recipe {recipe.name!r} is registered twice")
    RECIPES[recipe.name] = recipe
    return recipe


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name``; a clear error lists the known ones."""
    try:
        return RECIPES[name]
    except KeyError:
        raise KeyError(f"unknown recipe {name!r}; known recipes: {', '.join(sorted(RECIPES))}") from None


for _r in fcn_recipes():
    register(_r)
for _r in flow_recipes():
    register(_r)
for _r in brats_recipes():
    register(_r)
for _r in unet_recipes():
    register(_r)
for _r in pointnet_recipes():
    register(_r)

__all__ = ["RECIPES", "Recipe", "TrainResult", "get_recipe", "parse_override", "register"]
